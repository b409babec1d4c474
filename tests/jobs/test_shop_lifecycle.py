"""A shop's life against devstore: install, backfill, live webhooks, uninstall, reinstall, erasure."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Cart, Customer, LineItem, Order, PrivacyRequest, Product, Refund, Shop, SyncRun
from tests.conftest import API_KEY
from tests.helpers import install, run_jobs


def count(model, shop_id):
    return db.session().execute(select(func.count()).select_from(model).where(model.shop_id == shop_id)).scalar_one()


def the_shop(domain):
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.domain == domain)).scalar_one()


def test_install_backfills_everything_and_live_webhooks_keep_it_current(client, store, live_app):
    # given a store with history
    store.generate(seed=7, customers=40, products=12, orders=150, checkouts=10)
    stats = store.control("GET", "/stats")
    # when the merchant installs and the jobs run
    install(client, store)
    assert run_jobs() == []
    shop = the_shop(store.domain)
    assert shop.webhooks_registered_at is not None
    # then the mirror holds exactly what the store has
    assert count(Order, shop.id) == stats["orders"]
    assert count(Customer, shop.id) == stats["customers"]
    assert count(Product, shop.id) == stats["products"]
    assert count(Refund, shop.id) == stats["refunds"]
    assert count(Cart, shop.id) == stats["checkouts"]
    assert count(LineItem, shop.id) > stats["orders"]
    runs = db.session().execute(select(SyncRun).where(SyncRun.shop_id == shop.id)).scalars().all()
    assert {(r.resource, r.status) for r in runs} == {("customers", "completed"), ("products", "completed"),
                                                       ("orders", "completed"), ("carts", "completed")}
    assert next(r for r in runs if r.resource == "orders").processed_count == stats["orders"]
    # when a live order arrives through a real signed delivery
    order = store.control("POST", "/orders", email="new.buyer@example.com")
    store.drain_deliveries()
    assert run_jobs() == []
    assert count(Order, shop.id) == stats["orders"] + 1
    mirrored = db.session().execute(select(Order).where(Order.shop_id == shop.id, Order.external_id == str(order["id"]))).scalar_one()
    assert mirrored.email == "new.buyer@example.com"


def test_uninstall_disables_discards_tokens_and_reinstall_works(client, store, live_app):
    store.generate(seed=3, customers=5, products=3, orders=10)
    install(client, store)
    assert run_jobs() == []
    store.control("POST", "/uninstall", client_id=API_KEY)
    store.drain_deliveries()
    assert run_jobs() == []
    shop = the_shop(store.domain)
    assert shop.status == "uninstalled"
    assert shop.access_token is None and shop.refresh_token is None
    # webhooks after uninstall are acknowledged and dropped
    before = count(Order, shop.id)
    # reinstall brings it back to life
    install(client, store)
    assert run_jobs() == []
    shop = the_shop(store.domain)
    assert shop.status == "active" and shop.access_token
    assert count(Order, shop.id) == before


def test_compliance_requests_export_redact_and_erase(client, store, live_app):
    store.generate(seed=11, customers=6, products=3, orders=20)
    install(client, store)
    assert run_jobs() == []
    shop = the_shop(store.domain)
    customer = db.session().execute(
        select(Customer).where(Customer.shop_id == shop.id, Customer.order_count > 0)
        .order_by(Customer.id).limit(1)
    ).scalar_one()
    orders_of_customer = db.session().execute(
        select(func.count()).select_from(Order).where(Order.shop_id == shop.id,
                                                      Order.customer_external_id == customer.external_id)
    ).scalar_one()
    # data request: an export of that customer's data
    store.control("POST", "/compliance/customers-data_request", client_id=API_KEY, customer_id=int(customer.external_id))
    store.drain_deliveries()
    assert run_jobs() == []
    export = db.session().execute(select(PrivacyRequest).where(PrivacyRequest.kind == "data_request")).scalar_one()
    assert export.export["customer"]["email"] == customer.email
    assert len(export.export["orders"]) == orders_of_customer
    # redact: PII gone, amounts kept
    total_before = db.session().execute(select(func.sum(Order.total_price)).where(Order.shop_id == shop.id)).scalar_one()
    store.control("POST", "/compliance/customers-redact", client_id=API_KEY, customer_id=int(customer.external_id))
    store.drain_deliveries()
    assert run_jobs() == []
    db.session().expire_all()
    redacted = db.session().get(Customer, customer.id)
    assert (redacted.email, redacted.first_name, redacted.last_name, redacted.phone) == (None, None, None, None)
    assert redacted.redacted_at is not None
    emails = db.session().execute(select(Order.email).where(Order.shop_id == shop.id, Order.customer_external_id == customer.external_id)).scalars().all()
    assert emails and set(emails) == {None}
    assert db.session().execute(select(func.sum(Order.total_price)).where(Order.shop_id == shop.id)).scalar_one() == total_before
    assert db.session().execute(select(PrivacyRequest.export).where(PrivacyRequest.kind == "data_request")).scalar_one() is None
    # shop redact: everything of the shop erased
    store.control("POST", "/compliance/shop-redact", client_id=API_KEY)
    store.drain_deliveries()
    assert run_jobs() == []
    shop = the_shop(store.domain)
    assert shop.status == "redacted"
    for model in (Order, Customer, Product, Refund, Cart):
        assert count(model, shop.id) == 0


def test_duplicated_and_reordered_deliveries_end_in_the_stores_state(client, store, live_app):
    store.generate(seed=13, customers=5, products=4, orders=5)
    install(client, store)
    assert run_jobs() == []
    shop = the_shop(store.domain)
    # every delivery twice, and all of them held back, then released newest first
    store.http.post("/_devstore/delivery", json={"duplicate": True, "shuffle": True}).raise_for_status()
    try:
        order = store.control("POST", "/orders", email="twice@example.com")
        line = order["line_items"][0]
        store.control("POST", f"/orders/{order['id']}/refund",
                      line_items=[{"line_item_id": line["id"], "quantity": 1}])
        store.control("PATCH", f"/orders/{order['id']}", tags="vip")
    finally:
        store.http.post("/_devstore/delivery", json={"duplicate": False, "shuffle": False}).raise_for_status()
        store.http.post("/_devstore/delivery/flush").raise_for_status()
    store.drain_deliveries()
    assert run_jobs() == []
    truth = store.control("GET", f"/orders/{order['id']}")
    mirrored = db.session().execute(select(Order).where(Order.shop_id == shop.id,
                                                        Order.external_id == str(order["id"]))).scalar_one()
    assert mirrored.financial_status == truth["financial_status"]
    assert mirrored.tags == ["vip"]
    refunds = db.session().execute(select(Refund).where(Refund.shop_id == shop.id,
                                                        Refund.order_external_id == str(order["id"]))).scalars().all()
    assert len(refunds) == len(truth["refunds"]) == 1
    assert [li.quantity for li in refunds[0].line_items] == [1]
    deliveries = store.deliveries()
    webhook_ids = [d["webhook_id"] for d in deliveries if d["topic"] in ("orders/create", "refunds/create", "orders/updated")]
    assert len(webhook_ids) > len(set(webhook_ids))  # duplicates really were sent
