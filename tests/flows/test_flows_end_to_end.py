"""Cart reminders end to end through devstore on both platforms, with real webhooks and a real SMTP server.

A cart is left → the first reminder at its hour (the run's moment is moved back, not slept
for) → the shopper buys → the later steps never send; a holdout shopper gets nothing; an order
the store holds whose webhook has not arrived stops the reminder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from app.flows import definitions, holdout
from app.store.models import Customer, FlowRun, Message, Shop
from jobs.flows import request_step
from tests.conftest import API_KEY
from tests.flows import support
from tests.helpers import bearer, connect_woo, install, run_jobs

CART = definitions.ABANDONED_CART


@pytest.fixture()
def mail(app, settings, flows_smtp_server, monkeypatch):
    """The app's jobs (and the live app) send to the flows' SMTP server, at any hour."""
    configured = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=flows_smtp_server.port,
                                     messaging_quiet_hours="")
    monkeypatch.setitem(app.extensions, "comeback.settings", configured)
    return configured


def _shop(platform: str) -> Shop:
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.platform == platform)).scalar_one()


def _runs(shop: Shop) -> dict[str, FlowRun]:
    """The shop's cart runs by customer."""
    return {run.customer_external_id: run for run in support.runs_of(db.session(), shop, CART)}


def _later(shop: Shop, hours: float) -> None:
    """Let ``hours`` pass for the shop's active runs (their moments move back), then queue their due steps."""
    session = db.session()
    shift = dt.timedelta(hours=hours)
    for run in support.runs_of(session, shop, CART):
        if run.state == "active":
            session.execute(FlowRun.__table__.update().where(FlowRun.id == run.id).values(
                reference_at=run.reference_at - shift, next_at=run.next_at - shift))
    session.commit()
    for run in support.runs_of(session, shop, CART):
        request_step(run)
    assert run_jobs() == []


def _split(shop: Shop, customers: list[str]) -> tuple[str, str]:
    """One customer the 50 % holdout keeps, one it holds out."""
    kept = next(c for c in customers if not holdout.is_held_out(shop.id, CART, f"customer:{c}", 0.5))
    held = next(c for c in customers if holdout.is_held_out(shop.id, CART, f"customer:{c}", 0.5))
    return kept, held


def _links(received) -> list[str]:
    text = received.message.get_body(("plain",)).get_content()
    return re.findall(r"https?://\S+", text)


def _follow(client, tracked: str) -> str:
    parts = urlsplit(tracked)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 302
    return response.headers["Location"]


def _emails(shop: Shop) -> dict[str, str]:
    return dict(db.session().execute(select(Customer.external_id, Customer.email).where(
        Customer.shop_id == shop.id, Customer.email.is_not(None))).all())


def _reminders(mailbox) -> list:
    """The cart reminders the SMTP server received (points notices go to the same shoppers)."""
    return [r for r in mailbox.received if "your cart at" in r.message["Subject"]]


def _only_one_reminder(shop: Shop, mailbox, email: str) -> None:
    """One cart reminder was written and sent; what else went is the order's points notice (transactional)."""
    written = db.session().execute(select(Message.template, Message.email, Message.status)
                                   .where(Message.shop_id == shop.id).order_by(Message.id)).all()
    assert [tuple(row) for row in written if row.template == "cart_reminder"] == [("cart_reminder", email, "sent")]
    assert {row.template for row in written} <= {"cart_reminder", "points_earned"}
    assert [r.rcpt_tos for r in _reminders(mailbox)] == [[email]]
    assert len(mailbox.received) == len(written)


# --- Shopify --------------------------------------------------------------------------------------


def _shopify(client, store) -> Shop:
    store.generate(seed=21, customers=12, products=3, orders=0)
    install(client, store)
    assert run_jobs() == []
    return _shop("shopify")


def test_shopify_a_reminder_an_hour_after_the_checkout_then_the_purchase_ends_it(client, live_app, store, mail,
                                                                                 mailbox):
    shop = _shopify(client, store)
    token = store.session_token(API_KEY)
    assert client.put(f"/api/admin/flows/{CART}", json={"holdout_share": 0.5},
                      headers=bearer(token)).status_code == 200
    emails = _emails(shop)
    kept, held = _split(shop, sorted(emails))
    checkouts = {}
    for customer in (kept, held):
        store.control("POST", f"/customers/{customer}/consent", state="subscribed")
        checkouts[customer] = store.control("POST", "/checkouts", customer_id=int(customer))
    store.drain_deliveries()
    assert run_jobs() == []
    runs = _runs(shop)
    assert {c: (r.state, r.is_holdout, r.subject_id) for c, r in runs.items()} == {
        kept: ("active", False, str(checkouts[kept]["id"])), held: ("active", True, str(checkouts[held]["id"]))}
    assert mailbox.received == []  # nothing before the hour

    # an hour later: the first reminder, to the kept shopper only
    _later(shop, 1)
    (received,) = _reminders(mailbox)
    assert received.rcpt_tos == [emails[kept]]
    assert "your cart at" in received.message["Subject"]
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    recovery = checkouts[kept]["abandoned_checkout_url"]
    tracked = [link for link in _links(received) if "/m/c/" in link]
    assert recovery in [_follow(client, link) for link in tracked]  # the link takes them to their checkout
    runs = _runs(shop)
    assert [(e["step"], e["outcome"]) for e in runs[kept].steps] == [(0, "sent")]
    assert [(e["step"], e["outcome"]) for e in runs[held].steps] == [(0, "held_out")]

    # the shopper buys through the link: the run ends at the order's webhooks
    store.control("POST", f"/checkouts/{checkouts[kept]['id']}/complete")
    store.drain_deliveries()
    assert run_jobs() == []
    ended = _runs(shop)[kept]
    assert ended.state == "exited" and ended.exit_reason.startswith("purchased: ")

    # a day and three days later: no more mail to anyone
    _later(shop, 23)
    _later(shop, 48)
    assert [e["outcome"] for e in _runs(shop)[held].steps] == ["held_out", "held_out", "held_out"]
    _only_one_reminder(shop, mailbox, emails[kept])


def test_shopify_an_order_whose_webhook_has_not_arrived_stops_the_reminder(client, live_app, store, mail, mailbox):
    shop = _shopify(client, store)
    assert client.put(f"/api/admin/flows/{CART}", json={"holdout_share": 0},
                      headers=bearer(store.session_token(API_KEY))).status_code == 200
    customer = sorted(_emails(shop))[0]
    store.control("POST", f"/customers/{customer}/consent", state="subscribed")
    checkout = store.control("POST", "/checkouts", customer_id=int(customer))
    store.drain_deliveries()
    assert run_jobs() == []
    store.http.post("/_devstore/delivery", json={"shuffle": True}).raise_for_status()  # webhooks held back
    try:
        placed = store.control("POST", f"/checkouts/{checkout['id']}/complete")
        _later(shop, 1)
        run = _runs(shop)[customer]
        assert (run.state, run.exit_reason) == (
            "exited", f"purchased: order {placed['order']['id']} in the store since the cart was left "
                      "(not yet in the mirror)")
        assert mailbox.received == []
    finally:
        store.http.post("/_devstore/delivery", json={"shuffle": False}).raise_for_status()
        store.http.post("/_devstore/delivery/flush").raise_for_status()
    store.drain_deliveries()
    assert run_jobs() == []
    _later(shop, 24)
    assert _reminders(mailbox) == []


# --- WooCommerce ----------------------------------------------------------------------------------


def _woo(client, woo_store) -> Shop:
    woo_store.generate(seed=21, customers=2, products=3, orders=0)
    assert connect_woo(client, woo_store).status_code == 200
    assert run_jobs() == []
    woo_store.drain_deliveries()
    return _shop("woocommerce")


def _subscribers(woo_store, count: int) -> list[dict]:
    """Customers who ticked the plugin's email consent (customer.created carries the meta)."""
    return [woo_store.control("POST", "/customers", email=f"shopper{n}-{woo_store.handle}@example.com",
                              first_name=f"Shopper{n}",
                              meta_data=[{"key": "comeback_email_consent", "value": "yes"}])
            for n in range(count)]


def _cart_event(client, shop: Shop, token: str, customer: dict, **extra) -> None:
    """The companion plugin's signed cart event, as its PHP backend posts it."""
    from connectors.woocommerce import plugin_signing

    secret = shop.storefront_secret
    restore = plugin_signing.sign_restore_link(secret, str(shop.id), shop.domain, token, int(time.time()) + 7 * 86400)
    event = {"cart_token": token, "updated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "currency": "EUR", "total": "25.00", "email": customer["email"], "consent": True,
             "customer_id": customer["id"], "order_id": None, "restore_url": restore,
             "lines": [{"product_id": 9, "variation_id": None, "name": "Caf\u00e9", "quantity": 2, "price": "12.50"}],
             **extra}
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    response = client.post("/proxy/cart-events", data=body, headers={
        "Content-Type": "application/json", "X-Comeback-Store": str(shop.id), "X-Comeback-Timestamp": stamp,
        "X-Comeback-Signature": plugin_signing.sign_request(secret, stamp, body)})
    assert response.status_code == 202, response.get_data(as_text=True)


def test_woocommerce_a_reminder_an_hour_after_the_cart_then_the_purchase_ends_it(client, live_app, woo_store, mail,
                                                                                 mailbox):
    shop = _woo(client, woo_store)
    session = db.session()
    definitions.update(session, shop.id, CART, {"holdout_share": 0.5}, actor="test")
    session.commit()
    people = _subscribers(woo_store, 12)
    woo_store.drain_deliveries()
    assert run_jobs() == []
    by_id = {str(p["id"]): p for p in people}
    kept, held = _split(shop, sorted(by_id))
    for customer in (kept, held):
        _cart_event(client, shop, f"tok{customer}", by_id[customer])
    assert run_jobs() == []
    runs = _runs(shop)
    assert {c: (r.is_holdout, r.subject_id) for c, r in runs.items()} == {
        kept: (False, f"cart-tok{kept}"), held: (True, f"cart-tok{held}")}

    _later(shop, 1)
    (received,) = _reminders(mailbox)
    assert received.rcpt_tos == [by_id[kept]["email"]]
    assert received.message["Subject"] == f"Shopper{people.index(by_id[kept])}, your cart at {shop.name} is waiting"
    restored = [_follow(client, link) for link in _links(received) if "/m/c/" in link]
    assert any(link.startswith(f"{shop.domain}/?comeback_restore=tok{kept}&") for link in restored)

    # the shopper orders; the plugin reports the cart became an order
    order = woo_store.control("POST", "/orders", customer_id=int(kept))
    _cart_event(client, shop, f"tok{kept}", by_id[kept], order_id=order["id"])
    woo_store.drain_deliveries()
    assert run_jobs() == []
    ended = _runs(shop)[kept]
    assert ended.state == "exited" and ended.exit_reason.startswith("purchased: ")

    _later(shop, 23)
    _later(shop, 48)
    assert [e["outcome"] for e in _runs(shop)[held].steps] == ["held_out", "held_out", "held_out"]
    _only_one_reminder(shop, mailbox, by_id[kept]["email"])


def test_woocommerce_an_order_whose_webhook_has_not_arrived_stops_the_reminder(client, live_app, woo_store, mail,
                                                                               mailbox):
    shop = _woo(client, woo_store)
    session = db.session()
    definitions.update(session, shop.id, CART, {"holdout_share": 0}, actor="test")
    session.commit()
    (person,) = _subscribers(woo_store, 1)
    woo_store.drain_deliveries()
    assert run_jobs() == []
    _cart_event(client, shop, "tokslow", person)
    assert run_jobs() == []
    # the order's webhook waits in the store's queue (WooCommerce delivers it later)
    woo_store.http.post("/_devstore/woo/delivery", json={"coalesce_seconds": 4}).raise_for_status()
    try:
        order = woo_store.control("POST", "/orders", customer_id=person["id"])
        _later(shop, 1)
        run = _runs(shop)[str(person["id"])]
        assert (run.state, run.exit_reason) == (
            "exited", f"purchased: order {order['id']} in the store since the cart was left (not yet in the mirror)")
        assert _reminders(mailbox) == []
    finally:
        woo_store.http.post("/_devstore/woo/delivery", json={"coalesce_seconds": 0.05}).raise_for_status()
    woo_store.drain_deliveries()
    assert run_jobs() == []
    _later(shop, 24)
    assert _reminders(mailbox) == []
