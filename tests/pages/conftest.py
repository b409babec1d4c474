"""The merchant's admin as a merchant's browser sees it, on both platforms.

``admin`` is one shop's admin opened the platform's way: a Shopify shop inside the admin frame
(every page load carries a fresh session token, every API call a bearer token), a WooCommerce
store through the plugin's signed link (a first-party session cookie plus its CSRF token).
``other_admin`` is a second shop of the same platform, for the 404s of another shop's data.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.store.models import Shop
from connectors.woocommerce import plugin_signing
from tests.conftest import API_KEY, free_port
from tests.helpers import DevstoreShop, WooStore, bearer, connect_woo, install, run_jobs
from tests.messaging.conftest import SENDER, CapturingHandler

MERCHANT_EMAIL = "owner@example.com"
_LINKS = itertools.count()


@dataclass
class AdminView:
    """One shop's admin, with its own cookie jar."""

    platform: str
    shop: Shop
    control: DevstoreShop | WooStore
    client: Any
    email: str = MERCHANT_EMAIL
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shop_id(self) -> int:
        return self.shop.id

    def get(self, path: str, **params: Any):
        """An admin page (HTML) as the platform opens it."""
        if self.platform == "shopify":
            params = {"shop": self.shop.domain, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdGVzdA",
                      "embedded": "1", "id_token": self.control.session_token(API_KEY), **params}
        return self.client.get(path, query_string=params)

    def html(self, path: str, **params: Any) -> str:
        response = self.get(path, **params)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.get_data(as_text=True)

    def headers(self) -> dict[str, str]:
        if self.platform == "shopify":
            return bearer(self.control.session_token(API_KEY))
        with self.client.session_transaction() as stored:
            return {"X-CSRF-Token": stored["merchant"]["csrf"]}

    def api(self, method: str, path: str, json: Any = None, **kwargs: Any):
        """An admin API call with the credentials this admin's pages use."""
        return self.client.open(path, method=method, json=json, headers=self.headers(), **kwargs)


def admin_link(shop: Shop, email: str = MERCHANT_EMAIL, *, expires: int | None = None,
               secret: str | None = None) -> dict[str, str]:
    """The query of the signed link the plugin's admin page opens Comeback with."""
    # a link opens one session: each one differs (its expiry) so tests can open several
    stamp = expires if expires is not None else int(time.time()) + 30 + next(_LINKS) % 60
    return {"store": str(shop.id), "email": email, "expires": str(stamp),
            "signature": plugin_signing.admin_link_signature(secret or shop.storefront_secret, str(shop.id),
                                                             email, stamp)}


def open_shopify(app, client, devstore, domain: str | None = None, **spec: Any) -> AdminView:
    store = DevstoreShop(devstore.url, domain or f"shop-{uuid.uuid4().hex[:10]}.myshopify.com")
    store.create()
    if spec:
        store.generate(**spec)
    install(client, store)
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    return AdminView("shopify", shop, store, app.test_client())


def open_woo(app, client, devstore, **spec: Any) -> AdminView:
    store = WooStore(devstore.url, devstore.tls_url, f"shop-{uuid.uuid4().hex[:10]}")
    store.create(plugin_installed=True)
    if spec:
        store.generate(**spec)
    assert connect_woo(client, store).status_code == 200
    assert run_jobs() == []
    store.drain_deliveries()
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.platform == "woocommerce", Shop.domain == store.url)
                                ).scalar_one()
    browser = app.test_client()
    entered = browser.get("/admin/enter", query_string=admin_link(shop))
    assert entered.status_code == 303, entered.get_data(as_text=True)
    return AdminView("woocommerce", shop, store, browser)


def open_admin(platform: str, app, client, devstore, **spec: Any) -> AdminView:
    if platform == "shopify":
        return open_shopify(app, client, devstore, **spec)
    return open_woo(app, client, devstore, **spec)


@pytest.fixture(params=["shopify", "woocommerce"])
def admin(request, app, client, devstore, live_app) -> AdminView:
    """One shop's admin on each platform (a small generated store behind it)."""
    return open_admin(request.param, app, client, devstore, seed=3, customers=6, products=5, orders=10)


@pytest.fixture()
def other_admin(admin, app, client, devstore, live_app) -> AdminView:
    """Another shop of the same platform, opened in another browser."""
    return open_admin(admin.platform, app, client, devstore, seed=4, customers=3, products=3, orders=4)


@pytest.fixture(scope="session")
def admin_smtp_server():
    from aiosmtpd.controller import Controller

    controller = Controller(CapturingHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture()
def mailbox(app, settings, admin_smtp_server, monkeypatch) -> CapturingHandler:
    """What the app sends (sign-in links, test sends) lands here, at any hour."""
    configured = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=admin_smtp_server.port,
                                     smtp_from=SENDER, messaging_quiet_hours="")
    monkeypatch.setitem(app.extensions, "comeback.settings", configured)
    handler: CapturingHandler = admin_smtp_server.handler
    handler.reset()
    yield handler
    handler.reset()
