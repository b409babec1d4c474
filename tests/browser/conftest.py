"""Real headless Chromium (the system's, driven by Playwright) on devstore's storefront pages.

Shopify pages are opened on the shop's own host name (``<shop>.myshopify.com``, mapped to
devstore by Chromium's host resolver), so the app embed's same-origin app proxy calls go the
way they go in a real store; WooCommerce pages on devstore's HTTPS listener, calling the app
across origins as a real WordPress site does.

``COMEBACK_SCREENSHOTS=1`` writes the screenshots to ``docs/screenshots/`` (the README's);
otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger
from app.loyalty import program as programs
from app.store.models import Customer, Shop
from tests.conftest import API_KEY, API_SECRET
from tests.helpers import DevstoreShop, WooStore, connect_woo, install, run_jobs

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = os.environ.get("COMEBACK_CHROMIUM", "/usr/bin/chromium")
# No network here: without these Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--host-resolver-rules=MAP *.myshopify.com 127.0.0.1"]
PHONE = {"width": 375, "height": 667}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install the Debian package chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Tab:
    """A page in a fresh browser context that fails the test on any script error."""

    def __init__(self, browser: Any, shots: Path, **context: Any):
        self.context = browser.new_context(ignore_https_errors=True, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("console", lambda message: self.errors.append(f"console {message.type}: {message.text}")
                     if message.type == "error" else None)
        self.shots = shots

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"widget-{name}.png"
        self.page.screenshot(path=str(path), animations="disabled")
        assert path.stat().st_size > 5_000, "an empty screenshot"
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def shots(tmp_path) -> Path:
    if os.environ.get("COMEBACK_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path


@pytest.fixture()
def tab(browser, shots) -> Iterator[Tab]:
    opened = Tab(browser, shots, viewport={"width": 1280, "height": 800})
    yield opened
    opened.close()
    assert opened.errors == [], opened.errors


@pytest.fixture()
def phone_tab(browser, shots) -> Iterator[Tab]:
    opened = Tab(browser, shots, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield opened
    opened.close()
    assert opened.errors == [], opened.errors


@dataclass
class Storefront:
    """A store of one platform with the app installed and the widget on its pages."""

    platform: str
    home: str  # the storefront's home page
    shop: Shop
    control: DevstoreShop | WooStore

    def customers(self) -> list[Customer]:
        return list(db.session().execute(select(Customer).where(Customer.shop_id == self.shop.id)
                                         .order_by(Customer.id)).scalars())

    def signed_in(self, customer: Customer) -> str:
        """The home page as this customer sees it once signed in to the store."""
        if self.platform == "shopify":
            return f"{self.origin}/account/login?customer={customer.external_id}"
        return f"{self.home}?customer={customer.external_id}"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.home)
        return f"{parts.scheme}://{parts.netloc}"

    def give(self, customer: Customer, points: int) -> None:
        """Points the shopper can spend at once (an adjustment, as a merchant would make)."""
        session = db.session()
        member = ledger.member_for(session, self.shop.id, customer_external_id=customer.external_id,
                                   email=customer.email)
        ledger.adjust(session, self.shop.id, member.id, points, key=f"gift-{customer.external_id}-{points}",
                      actor="test", reason="welcome gift", program=programs.ensure(session, self.shop.id))
        session.commit()

    def program(self, **changes: Any) -> None:
        session = db.session()
        programs.update(session, self.shop.id, changes, actor="test")
        session.commit()

    def has_code(self, code: str) -> bool:
        """Whether the store itself holds this discount code (asked through its own API)."""
        if isinstance(self.control, DevstoreShop):
            return code.upper() in {d["code"].upper() for d in self.control.control("GET", "/discounts")}
        from connectors.woocommerce.client import WooClient

        shop = db.session().get(Shop, self.shop.id)
        assert shop is not None
        with WooClient(shop.domain, shop.access_token, shop.access_secret) as rest:
            return [c["code"] for c in rest.get("/coupons", {"code": code.lower()}).data] == [code.lower()]


def _shopify(client, devstore, live_app, store: DevstoreShop, locale: str) -> Storefront:
    httpx.post(f"{devstore.url}/_devstore/apps", json={
        "client_id": API_KEY, "client_secret": API_SECRET,
        "compliance_uri": f"{live_app}/webhooks/shopify",
        "app_proxy": {"url": f"{live_app}/proxy", "prefix": "apps", "subpath": "comeback"},
        "extensions": [str(ROOT / "extensions" / "comeback-widget")],
    }, timeout=5).raise_for_status()
    httpx.post(f"{devstore.url}/_devstore/shops", json={"domain": store.domain, "locale": locale},
               timeout=5).raise_for_status()
    store.generate(seed=5, customers=6, products=6, orders=10)
    install(client, store)
    assert run_jobs() == []
    store.control("POST", "/app-embeds", client_id=API_KEY, block="app-embed", enabled=True)
    port = urlsplit(devstore.url).port
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    return Storefront("shopify", f"http://{store.domain}:{port}/", shop, store)


def _woocommerce(client, woo_store: WooStore, locale: str) -> Storefront:
    # the store's home is the address the merchant connects, as on a real site
    woo_store.control("POST", "", locale=locale, home_url=woo_store.url)
    woo_store.generate(seed=5, customers=6, products=6, orders=10)
    assert connect_woo(client, woo_store).status_code == 200
    assert run_jobs() == []
    woo_store.drain_deliveries()
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.platform == "woocommerce")).scalar_one()
    return Storefront("woocommerce", f"{woo_store.url}/", shop, woo_store)


@pytest.fixture(params=["shopify", "woocommerce"])
def storefront(request, client, devstore, live_app) -> Storefront:
    """Each test with this fixture runs on both platforms."""
    return make_storefront(request.param, request, client, devstore, live_app)


def make_storefront(platform: str, request, client, devstore, live_app, locale: str | None = None) -> Storefront:
    if platform == "shopify":
        return _shopify(client, devstore, live_app, request.getfixturevalue("store"), locale or "en")
    return _woocommerce(client, request.getfixturevalue("woo_store"), locale or "en_US")


# The admin's fixtures (``admin_browser``, ``shopify_admin``, ``woo_admin``).
from tests.browser.admin_harness import admin_browser, shopify_admin, woo_admin  # noqa: E402, F401
