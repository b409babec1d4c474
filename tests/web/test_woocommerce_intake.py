"""WooCommerce webhook intake per store, the creation ping, and the plugin's signed cart events."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Cart, Order, Shop, WebhookEvent
from app.store.types import utcnow
from connectors.woocommerce import plugin_signing, webhooks
from tests.helpers import run_jobs

STORE = "https://store.example"


@pytest.fixture()
def woo_shop(session):
    shop = Shop(platform="woocommerce", domain=STORE, status="active", access_token="ck_x", access_secret="cs_x",
                webhook_secret="hook-secret", storefront_secret="plugin-secret", installed_at=utcnow())
    session.add(shop)
    session.commit()
    return shop


def count(model, **where):
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session().execute(query).scalar_one()


def _order(order_id=41, modified="2026-11-01T09:05:00", status="processing"):
    return {"id": order_id, "number": str(order_id), "status": status, "currency": "EUR", "customer_id": 0,
            "date_created_gmt": "2026-11-01T09:00:00", "date_modified_gmt": modified,
            "total": "12.00", "billing": {"email": "ana@example.com"},
            "line_items": [{"id": 1, "name": "Caf\u00e9", "product_id": 9, "quantity": 1,
                            "subtotal": "12.00", "total": "12.00"}], "refunds": []}


def _wp_json(payload) -> bytes:
    """Encode as WordPress does: slashes and non-ASCII escaped."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def deliver(client, shop, payload, topic="order.created", secret="hook-secret", delivery_id="same-second"):
    body = _wp_json(payload)
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-ID": "3",
               "X-WC-Webhook-Delivery-ID": delivery_id, "X-WC-Webhook-Signature": webhooks.signature(secret, body),
               "X-WC-Webhook-Source": f"{STORE}/"}
    return client.post(f"/webhooks/woocommerce/{shop.id}", data=body, headers=headers)


def test_a_signed_delivery_is_stored_once_and_applied(client, woo_shop):
    assert deliver(client, woo_shop, _order()).get_json() == {"status": "stored"}
    # The same state again, same non-unique delivery id: a duplicate, not a second event.
    assert deliver(client, woo_shop, _order()).get_json() == {"status": "duplicate"}
    # A newer state with the same delivery id (same second) is a new event.
    assert deliver(client, woo_shop, _order(modified="2026-11-01T09:06:00", status="completed"),
                   topic="order.updated").get_json() == {"status": "stored"}
    assert count(WebhookEvent) == 2
    assert run_jobs() == []
    order = db.session().execute(select(Order)).scalar_one()
    assert (order.external_id, order.platform, order.fulfillment_status, order.total_price) == (
        "41", "woocommerce", "fulfilled", Decimal("12.00"))


def test_bad_or_missing_signature_is_401_and_stores_nothing(client, woo_shop):
    assert deliver(client, woo_shop, _order(), secret="wrong").status_code == 401
    body = _wp_json(_order())
    response = client.post(f"/webhooks/woocommerce/{woo_shop.id}", data=body,
                           headers={"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created"})
    assert response.status_code == 401
    assert "header is missing" in response.get_json()["error"]
    assert count(WebhookEvent) == 0


def test_another_stores_secret_does_not_verify(client, woo_shop, session):
    other = Shop(platform="woocommerce", domain="https://other.example", status="active", access_token="ck_o",
                 webhook_secret="other-secret", installed_at=utcnow())
    session.add(other)
    session.commit()
    # Signed for the other store but sent to ours: refused.
    assert deliver(client, woo_shop, _order(), secret="other-secret").status_code == 401
    assert count(WebhookEvent) == 0


def test_the_creation_ping_gets_200_and_is_not_stored(client, woo_shop):
    response = client.post(f"/webhooks/woocommerce/{woo_shop.id}", data=b"webhook_id=42",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status_code, response.get_json()) == (200, {"status": "ping"})
    assert count(WebhookEvent) == 0


def test_unknown_store_and_platform_paths_are_404(client, woo_shop):
    assert client.post("/webhooks/woocommerce/999999", data=b"{}").status_code == 404
    # Shopify shops sign with the app's secret: no per-shop path.
    assert client.post(f"/webhooks/shopify/{woo_shop.id}", data=b"{}").status_code == 404


def _cart_event(**overrides):
    event = {"cart_token": "tok_abc123", "updated_at": "2026-11-30T10:00:00Z", "currency": "EUR", "total": "25.00",
             "email": "Shopper@Example.com", "consent": True, "customer_id": None,
             "lines": [{"product_id": 9, "variation_id": None, "name": "Caf\u00e9", "quantity": 2, "price": "12.50"}],
             "restore_url": f"{STORE}/?comeback_restore=tok_abc123&expires=1&signature=x", "order_id": None}
    event.update(overrides)
    return event


def post_cart(client, shop, event, secret="plugin-secret", timestamp=None):
    body = json.dumps(event).encode()
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    headers = {"Content-Type": "application/json", "X-Comeback-Store": str(shop.id), "X-Comeback-Timestamp": stamp,
               "X-Comeback-Signature": plugin_signing.sign_request(secret, stamp, body)}
    return client.post("/proxy/cart-events", data=body, headers=headers)


def test_a_signed_cart_event_becomes_a_cart_and_its_order_completes_it(client, woo_shop):
    assert post_cart(client, woo_shop, _cart_event()).status_code == 202
    assert post_cart(client, woo_shop, _cart_event()).get_json() == {"status": "duplicate"}
    assert run_jobs() == []
    cart = db.session().execute(select(Cart)).scalar_one()
    assert (cart.external_id, cart.email, cart.total_price, cart.completed_at) == (
        "cart-tok_abc123", "shopper@example.com", Decimal("25.00"), None)
    assert cart.lines[0]["title"] == "Caf\u00e9"
    assert post_cart(client, woo_shop, _cart_event(order_id=41, updated_at="2026-11-30T10:05:00Z")).status_code == 202
    assert run_jobs() == []
    db.session().expire_all()
    assert db.session().execute(select(Cart.completed_at)).scalar_one() is not None


def test_without_consent_the_email_is_not_kept(client, woo_shop):
    assert post_cart(client, woo_shop, _cart_event(consent=False)).status_code == 202
    assert run_jobs() == []
    assert db.session().execute(select(Cart.email)).scalar_one() is None


@pytest.mark.parametrize(("event", "secret", "age", "status", "message"), [
    (_cart_event(), "wrong", 0, 401, "signature"),
    (_cart_event(), "plugin-secret", 3600, 401, "outside the allowed window"),
    (_cart_event(lines="x"), "plugin-secret", 0, 400, "lines"),
    (_cart_event(currency="euro"), "plugin-secret", 0, 400, "currency"),
    (_cart_event(cart_token="a b"), "plugin-secret", 0, 400, "cart_token"),
    (_cart_event(restore_url="https://phish.example/?x"), "plugin-secret", 0, 400, "restore_url"),
])
def test_bad_cart_events_are_refused_and_store_nothing(client, woo_shop, event, secret, age, status, message):
    response = post_cart(client, woo_shop, event, secret=secret, timestamp=time.time() - age)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert count(WebhookEvent) == 0


def test_cart_events_for_an_unknown_store_or_without_one_are_refused(client, woo_shop):
    body = json.dumps(_cart_event()).encode()
    response = client.post("/proxy/cart-events", data=body, headers={"X-Comeback-Store": "999999"})
    assert response.status_code == 404
    assert client.post("/proxy/cart-events", data=body).status_code == 401
    assert count(WebhookEvent) == 0


def _product(modified="2026-11-01T09:00:00", name="Caf\u00e9"):
    return {"id": 9, "name": name, "slug": "cafe", "type": "simple", "status": "publish", "price": "10.00",
            "date_created_gmt": "2026-10-01T09:00:00", "date_modified_gmt": modified}


def test_a_trashed_then_restored_product_or_order_comes_back(client, woo_shop):
    from app.store.models import Product

    assert deliver(client, woo_shop, _product(), topic="product.created").status_code == 200
    assert deliver(client, woo_shop, {"id": 9}, topic="product.deleted", delivery_id="t1").status_code == 200
    assert run_jobs() == []
    assert db.session().execute(select(Product.deleted_at)).scalar_one() is not None
    restored = _product(modified="2026-11-02T09:00:00", name="Caf\u00e9 (back)")
    assert deliver(client, woo_shop, restored, topic="product.restored").status_code == 200
    assert run_jobs() == []
    db.session().expire_all()
    product = db.session().execute(select(Product)).scalar_one()
    assert (product.deleted_at, product.title) == (None, "Caf\u00e9 (back)")

    assert deliver(client, woo_shop, _order()).status_code == 200
    assert deliver(client, woo_shop, {"id": 41}, topic="order.deleted", delivery_id="t2").status_code == 200
    assert run_jobs() == []
    back = _order(modified="2026-11-03T09:00:00", status="completed")
    assert deliver(client, woo_shop, back, topic="order.restored").status_code == 200
    # Trashed again later: a deletion of the same id is a new event, not a duplicate.
    assert deliver(client, woo_shop, {"id": 41}, topic="order.deleted", delivery_id="t3").get_json() == {
        "status": "stored"}
    assert run_jobs() == []
    db.session().expire_all()
    order = db.session().execute(select(Order)).scalar_one()
    assert order.deleted_at is not None and order.fulfillment_status == "fulfilled"


def test_an_order_webhook_earns_points_and_its_cancellation_takes_them_back(client, woo_shop, session):
    import datetime as dt

    from app.loyalty import program as programs
    from app.store.models import LedgerEntry, LoyaltyProgram

    programs.ensure(session, woo_shop.id)
    session.execute(LoyaltyProgram.__table__.update().values(created_at=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)))
    session.commit()
    assert deliver(client, woo_shop, _order()).status_code == 200
    assert run_jobs() == []
    entries = lambda: db.session().execute(  # noqa: E731
        select(LedgerEntry.cause_key, LedgerEntry.points).order_by(LedgerEntry.id)).all()
    assert entries() == [("order:41", 12)]
    cancelled = _order(modified="2026-11-02T09:00:00", status="cancelled")
    assert deliver(client, woo_shop, cancelled, topic="order.updated").status_code == 200
    assert run_jobs() == []
    assert entries() == [("order:41", 12), ("order:41:cancelled", -12)]
