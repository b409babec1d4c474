"""The inbox drain: failures narrowed to one event, payloads erased, stale uninstalls ignored."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from app.extensions import db, redis_holder
from app.store.inbox import MAX_ATTEMPTS
from app.store.models import Customer, Order, Shop, WebhookEvent
from app.store.types import utcnow
from jobs.inbox import drain_inbox
from tests.conftest import API_SECRET
from tests.helpers import install, order_payload, run_jobs, signed_webhook


def post(client, shop, topic, payload, **kwargs):
    headers, body = signed_webhook(API_SECRET, shop.domain, topic, payload, **kwargs)
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)


def events(**where):
    query = select(WebhookEvent).order_by(WebhookEvent.id)
    for key, value in where.items():
        query = query.where(getattr(WebhookEvent, key) == value)
    db.session().expire_all()
    return db.session().execute(query).scalars().all()


def test_one_event_the_database_refuses_does_not_fail_the_others(client, shop):
    # given an order whose quantity no column can hold, between valid orders
    for n in range(5):
        post(client, shop, "orders/create", order_payload(3000 + n, "2026-11-01T10:00:00Z"))
    poison = order_payload(3999, "2026-11-01T10:00:00Z")
    poison["line_items"][0]["quantity"] = 10 ** 20
    post(client, shop, "orders/create", poison)
    for n in range(5, 10):
        post(client, shop, "orders/create", order_payload(3000 + n, "2026-11-01T10:00:00Z"))
    # when the inbox drains
    assert run_jobs() == []
    # then the ten valid orders are applied and only the bad one is parked, with its reason
    orders = db.session().execute(select(Order.external_id).order_by(Order.external_id)).scalars().all()
    assert orders == [str(3000 + n) for n in range(10)]
    (waiting,) = events(status="pending")
    assert json.loads(waiting.body)["id"] == 3999
    assert (waiting.attempts, bool(waiting.last_error)) == (1, True)
    assert len(events(status="processed")) == 10
    waiting_id = waiting.id
    # and it is tried once per drain (the sweeper comes back every minute), then parked
    for _ in range(MAX_ATTEMPTS - 1):
        drain_inbox(shop.id)
    (failed,) = events(status="failed")
    assert failed.id == waiting_id and failed.attempts == MAX_ATTEMPTS
    assert events(status="pending") == []


def test_applied_events_keep_no_raw_payload(client, shop):
    post(client, shop, "orders/create", order_payload(3100, "2026-11-01T10:00:00Z", email="pii@example.com"))
    assert run_jobs() == []
    (event,) = events()
    assert event.status == "processed"
    assert event.body == b""
    assert event.topic == "orders/create"


def test_an_uninstall_from_before_the_current_install_is_ignored(client, shop, session):
    # given the merchant reinstalled after an uninstall whose delivery is retried late
    shop.installed_at = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
    session.commit()
    headers, body = signed_webhook(API_SECRET, shop.domain, "app/uninstalled", {"id": 1, "domain": shop.domain})
    headers["X-Shopify-Triggered-At"] = "2026-11-30T10:00:00Z"
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    assert run_jobs() == []
    db.session().expire_all()
    current = db.session().get(Shop, shop.id)
    assert current.status == "active" and current.access_token == "tok"
    assert [e.status for e in events()] == ["ignored"]
    # and a fresh uninstall does uninstall
    headers, body = signed_webhook(API_SECRET, shop.domain, "app/uninstalled", {"id": 1, "domain": shop.domain})
    headers["X-Shopify-Triggered-At"] = "2026-11-30T13:00:00Z"
    client.post("/webhooks/shopify", data=body, headers=headers)
    assert run_jobs() == []
    db.session().expire_all()
    assert db.session().get(Shop, shop.id).status == "uninstalled"
    assert db.session().get(Shop, shop.id).access_token is None


def test_an_event_stored_while_the_drain_finishes_is_applied_by_that_drain(client, shop, monkeypatch):
    from app.store import inbox
    from jobs.inbox import drain_inbox

    post(client, shop, "orders/create", order_payload(3200, "2026-11-01T10:00:00Z"))
    real_drain = inbox.drain
    calls = []

    def drain_then_event_arrives(*args, **kwargs):
        result = real_drain(*args, **kwargs)
        if not calls:
            # an event stored after the batch was read, whose request found the drain running
            post(client, shop, "orders/create", order_payload(3201, "2026-11-01T10:00:00Z"))
        calls.append(result)
        return result

    monkeypatch.setattr(inbox, "drain", drain_then_event_arrives)
    totals = drain_inbox(shop.id)
    assert totals["processed"] == 2
    assert len(calls) == 2
    assert db.session().execute(select(func.count()).select_from(Order)).scalar_one() == 2


def test_redacted_customer_stays_erased_whatever_arrives_later(client, shop):
    # given a redaction for a customer we have never seen, with an order of theirs
    post(client, shop, "orders/create", order_payload(3300, "2026-11-01T10:00:00Z", customer_id=880,
                                                     email="erase.me@example.com"))
    post(client, shop, "customers/redact", {"shop_id": 1, "shop_domain": shop.domain,
                                             "customer": {"id": 880, "email": "erase.me@example.com", "phone": None},
                                             "orders_to_redact": [3300]})
    assert run_jobs() == []
    # when the customer and a newer version of the order arrive afterwards
    post(client, shop, "customers/update", {"id": 880, "email": "erase.me@example.com", "first_name": "Era",
                                             "last_name": "Sure", "state": "enabled",
                                             "created_at": "2026-10-01T10:00:00+00:00",
                                             "updated_at": "2026-11-05T10:00:00+00:00"})
    post(client, shop, "orders/updated", order_payload(3300, "2026-11-06T10:00:00Z", customer_id=880,
                                                      email="erase.me@example.com", financial_status="refunded"))
    assert run_jobs() == []
    db.session().expire_all()
    customer = db.session().execute(select(Customer).where(Customer.external_id == "880")).scalar_one()
    assert (customer.email, customer.first_name, customer.last_name) == (None, None, None)
    assert customer.redacted_at is not None
    order = db.session().execute(select(Order).where(Order.external_id == "3300")).scalar_one()
    assert order.financial_status == "refunded"  # the amounts and states keep flowing
    assert order.email is None


def test_text_with_nul_characters_is_stored_without_them(client, shop):
    post(client, shop, "products/create", {"id": 77, "title": "Mug \u0000 large", "handle": "mug", "status": "active",
                                            "vendor": "V", "product_type": "", "tags": "",
                                            "created_at": "2026-11-01T10:00:00+00:00",
                                            "updated_at": "2026-11-01T10:00:00+00:00", "variants": []})
    assert run_jobs() == []
    from app.store.models import Product

    assert db.session().execute(select(Product.title)).scalar_one() == "Mug  large"


def test_an_uninstall_still_in_the_inbox_does_not_undo_a_reinstall(client, store):
    install(client, store)
    assert run_jobs() == []
    # the uninstall arrives but is not applied yet (a backlog, or Redis down: its drain never ran)
    headers, body = signed_webhook(API_SECRET, store.domain, "app/uninstalled", {"id": 1, "domain": store.domain})
    headers["X-Shopify-Triggered-At"] = utcnow().isoformat()
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    redis_holder.get().flushdb()
    # and the merchant installs again meanwhile
    install(client, store)
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    fresh_token = shop.access_token
    # when the old uninstall is finally applied
    drain_inbox(shop.id)
    db.session().expire_all()
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    assert (shop.status, shop.access_token) == ("active", fresh_token)
    assert [e.status for e in events(topic="app/uninstalled")] == ["ignored"]


def test_erasing_a_customer_clears_their_location(client, shop):
    post(client, shop, "customers/update", {"id": 881, "email": "moved@example.com", "first_name": "Mo",
                                             "state": "enabled", "created_at": "2026-10-01T10:00:00+00:00",
                                             "updated_at": "2026-11-05T10:00:00+00:00",
                                             "default_address": {"country_code": "US", "province_code": "CA"}})
    assert run_jobs() == []
    located = db.session().execute(select(Customer).where(Customer.external_id == "881")).scalar_one()
    assert (located.country_code, located.province_code) == ("US", "CA")
    post(client, shop, "customers/redact", {"shop_id": 1, "shop_domain": shop.domain,
                                             "customer": {"id": 881, "email": "moved@example.com", "phone": None},
                                             "orders_to_redact": []})
    assert run_jobs() == []
    db.session().expire_all()
    erased = db.session().execute(select(Customer).where(Customer.external_id == "881")).scalar_one()
    assert (erased.email, erased.country_code, erased.province_code) == (None, None, None)
