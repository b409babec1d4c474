"""A WooCommerce store end to end against devstore: connect, backfill, webhooks, repair, write-back."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from app import platforms
from app.extensions import db
from app.store.models import Cart, Customer, Order, Product, Refund, RefundLineItem, Shop, Variant
from connectors import base
from jobs.shops import repair_webhooks
from jobs.sync import catch_up
from tests.helpers import connect_woo, run_jobs

VECTORS_CALLBACK = {"key_id": 1, "user_id": "st_9f2c1a", "consumer_key": "ck_...", "consumer_secret": "cs_...",
                    "key_permissions": "read_write"}


def count(model, **where):
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session().execute(query).scalar_one()


def the_shop() -> Shop:
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.platform == "woocommerce")).scalar_one()


def connected(client, woo_store, **generate):
    if generate:
        woo_store.generate(seed=3, **generate)
    page = connect_woo(client, woo_store)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "Connected" in page.get_data(as_text=True)
    assert run_jobs() == []
    woo_store.drain_deliveries()
    return the_shop()


def test_connect_through_wc_auth_sets_up_webhooks_plugin_and_backfills(client, live_app, woo_store):
    shop = connected(client, woo_store, customers=30, products=8, orders=120, checkouts=6, refund_rate=0.1)
    stats = woo_store.stats()
    assert (shop.status, shop.domain, shop.access_token.startswith("ck_"), shop.access_secret.startswith("cs_")) == (
        "active", woo_store.url, True, True)
    assert (shop.name, shop.currency) == (woo_store.summary()["name"], "EUR")
    # The keys and our secrets are encrypted at rest: the table holds none of them in clear.
    with db.engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT access_token, access_secret, webhook_secret, storefront_secret FROM shops").one()
    assert all(value and value not in (shop.access_token, shop.access_secret, shop.webhook_secret,
                                       shop.storefront_secret) for value in stored)

    summary = woo_store.summary()
    hooks = summary["webhooks"]
    assert sorted(h["topic"] for h in hooks) == sorted(platforms.connector("woocommerce").webhook_topics())
    assert {h["delivery_url"] for h in hooks} == {f"{live_app}/webhooks/woocommerce/{shop.id}"}
    assert {h["status"] for h in hooks} == {"active"}
    pings = woo_store.deliveries(topic="ping")
    assert len(pings) == len(hooks) and {p["status"] for p in pings} == {200}
    assert summary["settings"] == {"comeback_app_url": live_app, "comeback_store_id": str(shop.id),
                                   "comeback_shared_secret": shop.storefront_secret}
    assert shop.storefront_configured_at is not None

    assert count(Customer) == stats["customers"]
    assert count(Product) == stats["products"]
    drafts = stats["orders_checkout-draft"]
    assert drafts > 0
    assert count(Order) == stats["orders"] - drafts
    assert count(Refund) == stats["refunds"] > 0
    assert count(RefundLineItem) > 0
    assert count(Cart) == drafts
    assert count(Variant) >= count(Product)
    # Progress is counted in the resource's own records (refunds and completions ride along).
    from app.store.models import SyncRun

    runs = {run.resource: run for run in db.session().execute(select(SyncRun)).scalars()}
    assert (runs["orders"].processed_count, runs["orders"].total_count) == (count(Order), count(Order))
    assert runs["customers"].processed_count == stats["customers"]


def test_live_changes_reach_the_mirror_through_signed_webhooks(client, live_app, woo_store):
    connected(client, woo_store, customers=5, products=3, orders=5)
    product = woo_store.control("POST", "/products", name="Caf\u00e9 cr\u00e8me", regular_price="12.50", sku="CC-1")
    customer = woo_store.control("POST", "/customers", email="jos\u00e9@example.com", first_name="Jos\u00e9",
                                 last_name="Gr\u00fc\u00dfe")
    order = woo_store.control("POST", "/orders", customer_id=customer["id"],
                              line_items=[{"product_id": product["id"], "quantity": 2}])
    woo_store.drain_deliveries()
    assert run_jobs() == []
    stored = db.session().execute(select(Order).where(Order.external_id == str(order["id"]))).scalar_one()
    assert (stored.customer_external_id, stored.total_price) == (str(customer["id"]), Decimal(order["total"]))
    assert db.session().execute(select(Product.title).where(Product.external_id == str(product["id"]))).scalar_one() \
        == "Caf\u00e9 cr\u00e8me"
    assert db.session().execute(select(Customer.last_name).where(Customer.external_id == str(customer["id"]))
                                ).scalar_one() == "Gr\u00fc\u00dfe"

    # A partial refund arrives as order.updated; its lines are read from the refunds endpoint.
    line_id = order["line_items"][0]["id"]
    woo_store.control("POST", f"/orders/{order['id']}/refund", line_items=[{"line_item_id": line_id, "quantity": 1}])
    woo_store.drain_deliveries()
    assert run_jobs() == []
    refund = db.session().execute(select(Refund).where(Refund.order_external_id == str(order["id"]))).scalar_one()
    refunded_line = db.session().execute(select(RefundLineItem).where(RefundLineItem.refund_id == refund.id)).scalar_one()
    assert (refunded_line.line_item_external_id, refunded_line.quantity) == (str(line_id), 1)
    # Replaying the same state changes nothing (and reads nothing more).
    assert count(Refund) == 1

    # A draft checkout is a cart; completing it places the order and completes the cart.
    draft = woo_store.control("POST", "/drafts", customer_id=customer["id"],
                              line_items=[{"product_id": product["id"], "quantity": 1}])
    woo_store.drain_deliveries()
    assert run_jobs() == []
    cart = db.session().execute(select(Cart).where(Cart.external_id == f"order-{draft['id']}")).scalar_one()
    assert cart.completed_at is None
    woo_store.control("POST", f"/drafts/{draft['id']}/complete")
    woo_store.drain_deliveries()
    assert run_jobs() == []
    db.session().expire_all()
    assert db.session().execute(select(Cart.completed_at).where(Cart.id == cart.id)).scalar_one() is not None
    assert count(Order, external_id=str(draft["id"])) == 1

    # Trashing the order marks it deleted (its amounts stay); restoring it brings it back.
    def deleted_at():
        db.session().expire_all()
        return db.session().execute(select(Order.deleted_at).where(Order.external_id == str(order["id"]))
                                    ).scalar_one()

    woo_store.control("DELETE", f"/orders/{order['id']}")
    woo_store.drain_deliveries()
    assert run_jobs() == []
    assert deleted_at() is not None
    woo_store.control("POST", f"/orders/{order['id']}/restore")
    woo_store.drain_deliveries()
    assert run_jobs() == []
    assert deleted_at() is None


def test_a_disabled_webhook_is_reactivated_and_the_missed_change_is_caught_up(client, live_app, woo_store):
    shop = connected(client, woo_store, customers=5, products=3, orders=5)
    hook = next(h for h in woo_store.summary()["webhooks"] if h["topic"] == "order.created")
    woo_store.control("POST", f"/webhooks/{hook['id']}/disable")
    product = woo_store.control("POST", "/products", name="Filler", regular_price="3.00", sku="F-1")
    woo_store.drain_deliveries()
    assert run_jobs() == []
    missed = woo_store.control("POST", "/orders", email="guest@example.com",
                               line_items=[{"product_id": product["id"], "quantity": 1}])
    woo_store.drain_deliveries()
    assert run_jobs() == []
    assert count(Order, external_id=str(missed["id"])) == 0  # nothing was delivered

    assert repair_webhooks(shop.id) == "ok"
    assert {h["status"] for h in woo_store.summary()["webhooks"]} == {"active"}
    catch_up(shop.id)
    assert count(Order, external_id=str(missed["id"])) == 1
    order = db.session().execute(select(Order).where(Order.external_id == str(missed["id"]))).scalar_one()
    assert (order.email, order.customer_external_id) == ("guest@example.com", None)


def test_coupons_and_customer_meta_are_written_back(client, live_app, woo_store):
    from app import installs

    shop = connected(client, woo_store, customers=3, products=2, orders=2)
    connector = platforms.connector("woocommerce")
    spec = base.DiscountSpec(code="THANKS-ANA", kind=base.DISCOUNT_PERCENTAGE, value=Decimal("15"),
                             customer_email="Ana@Example.com", title="Loyalty reward")
    first = installs.call_with_credentials(db.session(), shop, lambda c: connector.create_discounts(c, [spec]))
    again = installs.call_with_credentials(db.session(), shop, lambda c: connector.create_discounts(c, [spec]))
    assert first[0].created is True and again[0].created is False and first[0].external_id == again[0].external_id
    coupon = _coupon(shop, "thanks-ana")
    assert (coupon["discount_type"], coupon["amount"], coupon["usage_limit"], coupon["individual_use"],
            coupon["email_restrictions"]) == ("percent", "15.00", 1, True, ["ana@example.com"])

    customer_id = db.session().execute(select(Customer.external_id).limit(1)).scalar_one()
    written = installs.call_with_credentials(db.session(), shop, lambda c: connector.set_customer_attributes(
        c, [base.CustomerAttributes(customer_id, (("points_balance", "120"), ("tier", "Gold")))]))
    assert written == 2
    meta = _customer(shop, customer_id)["meta_data"]
    assert {m["key"]: m["value"] for m in meta if m["key"].startswith("comeback_")} == {
        "comeback_points_balance": "120", "comeback_tier": "Gold"}


def _rest(shop: Shop):
    from connectors.woocommerce.client import WooClient

    return WooClient(shop.domain, shop.access_token, shop.access_secret)


def _coupon(shop, code):
    with _rest(shop) as rest:
        (coupon,) = rest.get("/coupons", {"code": code}).data
    return coupon


def _customer(shop, customer_id):
    with _rest(shop) as rest:
        return rest.get(f"/customers/{customer_id}").data


def test_unknown_or_reused_state_and_bad_keys_store_nothing(client, live_app, woo_store):
    # The published callback shape with a state we never issued.
    response = client.post("/auth/woocommerce/callback", data=json.dumps(VECTORS_CALLBACK),
                           content_type="application/json")
    assert response.status_code == 403 and "state" in response.get_json()["error"]
    assert count(Shop) == 0

    start = client.get("/auth/woocommerce/install", query_string={"store": woo_store.url})
    state = dict(httpx.URL(start.headers["Location"]).params)["user_id"]
    bad = dict(VECTORS_CALLBACK, user_id=state, consumer_key="ck_" + "0" * 40, consumer_secret="cs_" + "0" * 40)
    response = client.post("/auth/woocommerce/callback", data=json.dumps(bad), content_type="application/json")
    assert response.status_code == 400 and "did not accept these keys" in response.get_json()["error"]
    assert count(Shop) == 0
    # The state was spent by that attempt: a second try with it is refused.
    response = client.post("/auth/woocommerce/callback", data=json.dumps(bad), content_type="application/json")
    assert response.status_code == 403
    assert client.post("/auth/woocommerce/callback", data=b"{not json", content_type="application/json"
                       ).status_code == 400


def test_install_validates_the_store_url(client):
    response = client.get("/auth/woocommerce/install", query_string={"store": "ftp://example.com"})
    assert response.status_code == 400 and "https" in response.get_json()["error"]
    assert client.get("/auth/woocommerce/install").status_code == 400


def test_the_redirect_carries_what_wc_auth_needs(client, live_app, woo_store):
    response = client.get("/auth/woocommerce/install", query_string={"store": woo_store.url + "/"})
    location = httpx.URL(response.headers["Location"])
    assert str(location).startswith(f"{woo_store.url}/wc-auth/v1/authorize?")
    params = dict(location.params)
    assert (params["app_name"], params["scope"], params["callback_url"], params["return_url"]) == (
        "Comeback", "read_write", f"{live_app}/auth/woocommerce/callback", f"{live_app}/auth/woocommerce/return")
    assert len(params["user_id"]) >= 32


def test_manual_keys_over_https_fall_back_to_query_keys_when_the_header_is_stripped(client, live_app, woo_store):
    woo_store.control("POST", "", strip_authorization=True)
    woo_store.generate(seed=5, customers=4, products=2, orders=6)
    key = woo_store.control("POST", "/keys", permissions="read_write")
    response = client.post("/auth/woocommerce/keys", json={"store": woo_store.https_url,
                                                            "consumer_key": key["consumer_key"],
                                                            "consumer_secret": key["consumer_secret"]})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.get_json()["auth"], response.get_json()["store"]) == ("query", woo_store.https_url)
    assert run_jobs() == []
    stats = woo_store.stats()
    assert count(Order) == stats["orders"] - stats.get("orders_checkout-draft", 0) > 0
    wrong = client.post("/auth/woocommerce/keys", json={"store": woo_store.https_url, "consumer_key": key["consumer_key"],
                                                         "consumer_secret": "cs_wrong"})
    assert wrong.status_code == 400
    assert client.post("/auth/woocommerce/keys", json={"store": woo_store.https_url}).status_code == 400


def test_the_storefront_carries_a_customer_token_our_verifier_accepts(client, live_app, woo_store):
    import re
    import time

    from connectors.woocommerce import plugin_signing

    shop = connected(client, woo_store, customers=3, products=2, orders=2)
    customer = db.session().execute(select(Customer).limit(1)).scalar_one()
    page = httpx.get(f"{woo_store.url}/", params={"customer": customer.external_id}, timeout=10)
    config = json.loads(re.search(r'<script id="comeback-config" type="application/json">(.*?)</script>',
                                  page.text, re.S).group(1))
    assert (config["api"], config["headers"]["X-Comeback-Store"]) == (f"{live_app}/proxy", str(shop.id))
    assert config["signedIn"] is True
    assert f'src="{live_app}/widget/comeback.js"' in page.text
    token = config["headers"]["X-Comeback-Customer"]
    identity = plugin_signing.verify_customer_token(shop.storefront_secret, str(shop.id), token, now=time.time())
    assert (identity.customer_id, identity.email) == (customer.external_id, customer.email)
    assert 0 < identity.expires_at - time.time() <= 900
    # A guest gets the anonymous view; another store's secret does not verify the token.
    guest = httpx.get(f"{woo_store.url}/", timeout=10).text
    guest_config = json.loads(re.search(r'<script id="comeback-config" type="application/json">(.*?)</script>',
                                        guest, re.S).group(1))
    assert guest_config["headers"] == {"X-Comeback-Store": str(shop.id)} and guest_config["signedIn"] is False
    with pytest.raises(base.InvalidSignatureError):
        plugin_signing.verify_customer_token("another-secret", str(shop.id), token, now=time.time())


def test_a_full_customer_pass_rewrites_only_what_changed(client, live_app, woo_store):
    from app.store.models import SyncRun

    shop = connected(client, woo_store, customers=12, products=2, orders=3)
    session = db.session()  # the jobs above ended the session they found: take the current one
    # Pretend the last full read of customers began seven hours ago: the next catch-up reads all.
    for run in session.execute(select(SyncRun).where(SyncRun.resource == "customers")).scalars():
        run.started_at = run.started_at - dt.timedelta(hours=7)
    session.commit()
    customer = session.execute(select(Customer).limit(1)).scalar_one()
    woo_store.control("PATCH", f"/customers/{customer.external_id}", first_name="Renamed")
    woo_store.drain_deliveries()
    catch_up(shop.id)
    db.session().expire_all()
    run = db.session().execute(select(SyncRun).where(SyncRun.kind == "catch_up", SyncRun.resource == "customers")
                               ).scalar_one()
    assert (run.status, run.updated_since, run.processed_count) == ("completed", None, 1)
    assert db.session().execute(select(Customer.first_name).where(Customer.id == customer.id)).scalar_one() == "Renamed"


def test_keys_revoked_during_a_backfill_ask_the_merchant_to_authorize_again(client, live_app, woo_store):
    from app.store.models import SyncRun
    from jobs.sync import backfill_resource

    shop = connected(client, woo_store, customers=3, products=2, orders=3)
    session = db.session()
    run = SyncRun(shop_id=shop.id, kind="backfill", resource="orders", status="importing")
    session.add(run)
    session.commit()
    for key in woo_store.summary()["keys"]:
        woo_store.control("DELETE", f"/keys/{key['key_id']}")
    assert backfill_resource(run.id) == "reauthorize"
    assert the_shop().status == "reauthorize"
    db.session().expire_all()
    assert db.session().get(SyncRun, run.id).status == "importing"  # resumes after re-authorization
