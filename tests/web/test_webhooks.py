"""Webhook intake and the inbox pipeline, end to end through the HTTP endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db, redis_holder
from app.store.models import Customer, LineItem, Order, Refund, Shop, WebhookEvent
from app.store.types import utcnow
from tests.conftest import API_SECRET
from tests.helpers import order_payload, run_jobs, signed_webhook

ROOT = Path(__file__).resolve().parent.parent.parent


def post(client, shop_domain, topic, payload, webhook_id=None, secret=API_SECRET):
    headers, body = signed_webhook(secret, shop_domain, topic, payload, webhook_id)
    return client.post("/webhooks/shopify", data=body, headers=headers)


def count(model, **where):
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session().execute(query).scalar_one()


def test_bad_or_missing_signature_is_401_and_stores_nothing(client, shop):
    headers, body = signed_webhook("wrong-secret", shop.domain, "orders/create", order_payload(1, "2026-11-01T10:00:00Z"))
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 401
    del headers["X-Shopify-Hmac-Sha256"]
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 401
    assert "signature" in response.get_json()["error"]
    assert count(WebhookEvent) == 0


def test_tampered_body_is_401(client, shop):
    headers, body = signed_webhook(API_SECRET, shop.domain, "orders/create", order_payload(1, "2026-11-01T10:00:00Z"))
    assert client.post("/webhooks/shopify", data=body.replace(b"50.00", b"5.00"), headers=headers).status_code == 401
    assert count(WebhookEvent) == 0


def test_unknown_platform_is_404(client):
    assert client.post("/webhooks/nosuch", data=b"{}").status_code == 404


def test_delivery_is_stored_before_ack_and_applied_by_the_drain(client, shop):
    response = post(client, shop.domain, "orders/create", order_payload(1001, "2026-11-01T10:00:00Z"))
    assert response.status_code == 200
    assert response.get_json() == {"status": "stored"}
    assert count(WebhookEvent, status="pending") == 1
    assert run_jobs() == []
    order = db.session().execute(select(Order).where(Order.external_id == "1001")).scalar_one()
    assert order.total_price == Decimal("50.0000")
    assert order.shop_id == shop.id
    assert [li.external_id for li in order.line_items] == ["10010", "10011"]
    assert count(WebhookEvent, status="processed") == 1


def test_duplicate_delivery_gets_200_and_changes_nothing(client, shop):
    payload = order_payload(1002, "2026-11-01T10:00:00Z")
    assert post(client, shop.domain, "orders/create", payload, webhook_id="w-1").get_json() == {"status": "stored"}
    assert post(client, shop.domain, "orders/create", payload, webhook_id="w-1").get_json() == {"status": "duplicate"}
    assert count(WebhookEvent) == 1
    assert run_jobs() == []
    assert count(Order) == 1
    assert count(LineItem) == 2


def test_unknown_shop_gets_200_and_is_discarded(client):
    response = post(client, "nobody.myshopify.com", "orders/create", order_payload(5, "2026-11-01T10:00:00Z"))
    assert response.status_code == 200
    assert response.get_json() == {"status": "discarded"}
    assert count(WebhookEvent) == 0


def test_out_of_order_updates_end_with_the_newest(client, shop):
    # given the newer update arrives first, then the older create
    post(client, shop.domain, "orders/updated", order_payload(1003, "2026-11-02T10:00:00Z", financial_status="refunded", total="40.00"))
    post(client, shop.domain, "orders/create", order_payload(1003, "2026-11-01T10:00:00Z", financial_status="paid", total="40.00"))
    assert run_jobs() == []
    order = db.session().execute(select(Order).where(Order.external_id == "1003")).scalar_one()
    assert order.financial_status == "refunded"
    # and an even older one applied later still loses
    post(client, shop.domain, "orders/paid", order_payload(1003, "2026-10-30T10:00:00Z", financial_status="paid", total="40.00"))
    assert run_jobs() == []
    db.session().expire_all()
    assert db.session().get(Order, order.id).financial_status == "refunded"


def test_refund_is_recorded_once_even_when_repeated_inline(client, shop):
    refund = {"id": 77, "order_id": 1004, "created_at": "2026-11-03T10:00:00+00:00", "note": "damaged",
              "refund_line_items": [{"id": 1, "line_item_id": 10040, "quantity": 1, "subtotal": "25.00", "total_tax": "0.00"}],
              "transactions": [{"id": 5, "amount": "25.00", "kind": "refund", "status": "success"}]}
    post(client, shop.domain, "refunds/create", refund)
    post(client, shop.domain, "orders/updated", order_payload(1004, "2026-11-03T10:00:00Z", financial_status="partially_refunded", refunds=[refund]))
    assert run_jobs() == []
    refunds = db.session().execute(select(Refund)).scalars().all()
    assert [(r.external_id, r.order_external_id, r.amount) for r in refunds] == [("77", "1004", Decimal("25.0000"))]
    assert [(li.line_item_external_id, li.quantity, li.subtotal) for li in refunds[0].line_items] == [("10040", 1, Decimal("25.0000"))]


def test_consent_before_customer_create_still_ends_correct(client, shop):
    post(client, shop.domain, "customers/email_marketing_consent_update", {
        "customer_id": 501, "email_address": "grace@example.com",
        "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in",
                                    "consent_updated_at": "2026-11-05T10:00:00+00:00"}})
    post(client, shop.domain, "customers/create", {
        "id": 501, "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper", "phone": None,
        "state": "enabled", "created_at": "2026-11-04T10:00:00+00:00", "updated_at": "2026-11-04T10:00:00+00:00",
        "verified_email": True})
    assert run_jobs() == []
    customer = db.session().execute(select(Customer).where(Customer.external_id == "501")).scalar_one()
    assert (customer.first_name, customer.email, customer.email_marketing_state) == ("Grace", "grace@example.com", "subscribed")


def test_redis_down_still_stores_and_acks_then_sweeper_queues(client, shop, monkeypatch):
    import redis as redis_lib

    broken = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    working = redis_holder.client
    monkeypatch.setattr(redis_holder, "client", broken)
    response = post(client, shop.domain, "orders/create", order_payload(1005, "2026-11-01T10:00:00Z"))
    assert response.status_code == 200
    assert count(WebhookEvent, status="pending") == 1
    monkeypatch.setattr(redis_holder, "client", working)
    assert run_jobs() == []
    assert count(Order) == 0  # nothing was queued while Redis was down
    # when the sweeper runs after the grace period
    session = db.session()
    session.execute(WebhookEvent.__table__.update().values(received_at=utcnow().replace(year=2025)))
    session.commit()
    from jobs.inbox import sweep_inbox

    assert sweep_inbox() == 1
    assert run_jobs() == []
    assert count(Order) == 1


def test_database_down_is_503(shop, settings_environ):
    # given the app running against a database server that does not answer
    script = textwrap.dedent(f"""
        import json
        from app import create_app
        from tests.helpers import order_payload, signed_webhook
        app = create_app()
        headers, body = signed_webhook({API_SECRET!r}, {shop.domain!r}, "orders/create",
                                       order_payload(1006, "2026-11-01T10:00:00Z"))
        response = app.test_client().post("/webhooks/shopify", data=body, headers=headers)
        print(json.dumps({{"status": response.status_code, "retry": response.headers.get("Retry-After"),
                          "body": response.get_json()}}))
    """)
    environ = {**settings_environ, "PATH": "/usr/bin:/bin",
               "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    result = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True, timeout=120,
                            cwd=str(ROOT), text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # then the platform is told to retry, and nothing was stored anywhere
    assert outcome["status"] == 503
    assert outcome["retry"] == "5"
    assert "database" in outcome["body"]["error"]
    assert count(WebhookEvent) == 0


def test_worker_killed_mid_batch_loses_nothing_and_applies_once(client, shop, settings_environ):
    for n in range(30):
        post(client, shop.domain, "orders/create", order_payload(2000 + n, "2026-11-01T10:00:00Z"))
    assert count(WebhookEvent, status="pending") == 30
    # a worker process that dies (SIGKILL-like) after writing the batch, before committing it
    script = textwrap.dedent(f"""
        import os
        from app import create_app
        from app.store import mirror
        real = mirror.apply_records
        def apply_then_die(*args, **kwargs):
            real(*args, **kwargs)
            os._exit(9)
        mirror.apply_records = apply_then_die
        from jobs.inbox import drain_inbox
        with create_app().app_context():
            drain_inbox({shop.id})
    """)
    result = subprocess.run([sys.executable, "-c", script], env={**settings_environ, "PATH": "/usr/bin:/bin"},
                            capture_output=True, timeout=120, cwd=str(ROOT))
    assert result.returncode == 9, result.stderr.decode()[-2000:]
    db.session().expire_all()
    assert count(Order) == 0
    assert count(WebhookEvent, status="pending") == 30
    # when a healthy worker drains
    from jobs.inbox import drain_inbox

    assert drain_inbox(shop.id)["processed"] == 30
    assert count(Order) == 30
    assert count(LineItem) == 60
    assert count(WebhookEvent, status="processed") == 30
    assert drain_inbox(shop.id)["processed"] == 0


def test_malformed_payload_fails_visibly_without_blocking_others(client, shop):
    post(client, shop.domain, "orders/create", b"{not json")
    post(client, shop.domain, "orders/create", order_payload(1007, "2026-11-01T10:00:00Z"))
    assert run_jobs() == []
    failed = db.session().execute(select(WebhookEvent).where(WebhookEvent.status == "failed")).scalars().all()
    assert len(failed) == 1
    assert failed[0].last_error
    assert count(Order) == 1


def test_events_apply_only_to_their_own_shop(client, shop, session):
    other = Shop(platform="shopify", domain="other-shop.myshopify.com", status="active", access_token="t")
    session.add(other)
    session.commit()
    post(client, shop.domain, "orders/create", order_payload(1008, "2026-11-01T10:00:00Z"))
    post(client, other.domain, "orders/create", order_payload(1008, "2026-11-02T10:00:00Z", total="99.00"))
    assert run_jobs() == []
    orders = db.session().execute(select(Order.shop_id, Order.total_price).order_by(Order.shop_id)).all()
    assert orders == [(shop.id, Decimal("50.0000")), (other.id, Decimal("99.0000"))]
