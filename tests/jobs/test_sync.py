"""Backfill resume, step tokens, pauses; catch-up repairs; token refresh and refusal."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.extensions import db, redis_holder
from app.store.models import Order, Shop, SyncRun
from app.store.types import utcnow
from jobs import sync
from tests.conftest import API_KEY
from tests.helpers import install, run_jobs

ROOT = Path(__file__).resolve().parent.parent.parent


def fresh(model, ident):
    db.session().expire_all()
    return db.session().get(model, ident)


def order_count(shop_id):
    return db.session().execute(select(func.count()).select_from(Order).where(Order.shop_id == shop_id)).scalar_one()


@pytest.fixture()
def installed(client, store):
    """A store with 1,200 orders of history, the app installed, no job run yet."""
    store.generate(seed=21, customers=300, products=20, orders=1200)
    install(client, store)
    redis_holder.get().flushdb()  # the set-up job is not wanted here: the test drives steps itself
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    return shop


def orders_run(shop):
    run = SyncRun(shop_id=shop.id, kind="backfill", resource="orders", status="pending")
    db.session().add(run)
    db.session().commit()
    return run


def step_until(run_id, statuses, limit=100):
    for _ in range(limit):
        run = fresh(SyncRun, run_id)
        if run.status in statuses:
            return run
        sync.backfill_resource(run_id, run.step_token)
    raise AssertionError(f"run stayed {fresh(SyncRun, run_id).status}")


def test_a_worker_killed_mid_import_resumes_where_it_stopped(installed, settings_environ, store):
    run = orders_run(installed)
    run = step_until(run.id, ("importing",))
    assert run.total_count == 1200
    # a worker process dies after two batches of 500 were committed, inside the third
    script = textwrap.dedent(f"""
        import os
        from app import create_app
        from app.store import mirror
        from jobs import sync
        sync.IMPORT_BATCH = 500
        real, calls = mirror.apply_records, []
        def apply(*args, **kwargs):
            calls.append(1)
            real(*args, **kwargs)
            if len(calls) == 3:
                os._exit(9)
        mirror.apply_records = apply
        with create_app().app_context():
            sync.backfill_resource({run.id})
    """)
    result = subprocess.run([sys.executable, "-c", script], env={**settings_environ, "PATH": "/usr/bin:/bin"},
                            cwd=str(ROOT), capture_output=True, timeout=120)
    assert result.returncode == 9, result.stderr.decode()[-2000:]
    run = fresh(SyncRun, run.id)
    assert (run.status, run.processed_count) == ("importing", 1000)
    assert order_count(installed.id) == 1000
    # when the step runs again once the dead worker's lock has run out (120 s; shortened here)
    assert 0 < redis_holder.get().ttl(f"cb:lock:backfill:{run.id}") <= sync.LOCK_SECONDS
    redis_holder.get().delete(f"cb:lock:backfill:{run.id}")
    assert sync.backfill_resource(run.id) == "completed"
    run = fresh(SyncRun, run.id)
    assert (run.status, run.processed_count) == ("completed", 1200)
    assert order_count(installed.id) == store.control("GET", "/stats")["orders"]


def test_a_step_from_a_duplicate_chain_stops(installed):
    run = orders_run(installed)
    sync._queue_next(db.session(), installed.id)
    token = fresh(SyncRun, run.id).step_token
    assert sync.backfill_resource(run.id, "an-older-token") == "stale"
    assert fresh(SyncRun, run.id).status == "pending"
    assert sync.backfill_resource(run.id, token) == "exporting"


def test_a_shop_waiting_for_reauthorization_pauses_and_resumes(installed):
    run = orders_run(installed)
    shop = fresh(Shop, installed.id)
    shop.status = "reauthorize"
    db.session().commit()
    assert sync.backfill_resource(run.id) == "paused"
    assert fresh(SyncRun, run.id).status == "pending"
    shop = fresh(Shop, installed.id)
    shop.status = "active"
    db.session().commit()
    sync.start_backfill(installed.id)
    assert run_jobs() == []
    assert fresh(SyncRun, run.id).status == "completed"


def test_retryable_failures_back_off_then_give_up(installed, devstore, monkeypatch):
    monkeypatch.setattr(sync, "MAX_STEP_ATTEMPTS", 2)
    run = orders_run(installed)
    httpx.post(f"{devstore.url}/_devstore/faults", json={"status": 503, "count": 8}, timeout=5).raise_for_status()
    assert sync.backfill_resource(run.id) == "retry"
    assert fresh(SyncRun, run.id).attempts == 1
    assert sync.backfill_resource(run.id) == "failed"
    run = fresh(SyncRun, run.id)
    assert (run.status, run.attempts) == ("failed", 2)
    assert "503" in run.last_error or "server" in run.last_error.lower()


def test_stalled_backfills_are_queued_again(installed):
    run = orders_run(installed)
    db.session().execute(SyncRun.__table__.update().where(SyncRun.id == run.id)
                         .values(updated_at=utcnow() - dt.timedelta(hours=1)))
    db.session().commit()
    assert sync.resume_stalled_backfills() == 1
    assert run_jobs() == []
    assert fresh(SyncRun, run.id).status == "completed"


def test_catch_up_repairs_a_missed_webhook(client, store, live_app):
    store.generate(seed=5, customers=20, products=5, orders=30)
    install(client, store)
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    before = order_count(shop.id)
    # an order whose webhook never arrives (deliveries held back)
    store.http.post("/_devstore/delivery", json={"shuffle": True}).raise_for_status()
    try:
        missed = store.control("POST", "/orders", email="missed@example.com")
        assert order_count(shop.id) == before
        # when the periodic catch-up runs
        counts = sync.catch_up(shop.id)
    finally:
        store.http.post("/_devstore/delivery", json={"shuffle": False}).raise_for_status()
        store.http.post("/_devstore/delivery/flush").raise_for_status()
        store.drain_deliveries()  # nothing still on its way when the next test empties the tables
    assert counts["orders"] >= 1
    repaired = db.session().execute(select(Order).where(Order.shop_id == shop.id,
                                                        Order.external_id == str(missed["id"]))).scalar_one()
    assert repaired.email == "missed@example.com"
    runs = db.session().execute(select(SyncRun).where(SyncRun.shop_id == shop.id, SyncRun.kind == "catch_up")).scalars().all()
    assert {r.status for r in runs} == {"completed"}


def test_expiring_tokens_are_refreshed_before_they_expire(client, store):
    install(client, store)
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    old_access, old_refresh = shop.access_token, shop.refresh_token
    shop.access_token_expires_at = utcnow() + dt.timedelta(minutes=2)
    db.session().commit()
    from jobs.shops import refresh_expiring_tokens

    assert refresh_expiring_tokens() == 1
    shop = fresh(Shop, shop.id)
    assert shop.access_token != old_access and shop.refresh_token != old_refresh
    assert shop.access_token_expires_at > utcnow() + dt.timedelta(minutes=50)
    assert refresh_expiring_tokens() == 0  # nothing near expiry now


def test_a_refused_token_is_refreshed_once_and_the_call_retried(client, store):
    store.generate(seed=9, customers=5, products=3, orders=5)
    install(client, store)
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    old_access = shop.access_token
    store.control("POST", "/expire-tokens")
    sync.catch_up(shop.id)
    shop = fresh(Shop, shop.id)
    assert shop.status == "active"
    assert shop.access_token != old_access


def test_revoked_credentials_mark_the_shop_for_reauthorization(client, store):
    install(client, store)
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    # the store revokes every token of the app (its uninstall webhook has not been drained)
    store.control("POST", "/uninstall", client_id=API_KEY)
    sync.catch_up(shop.id)
    assert fresh(Shop, shop.id).status == "reauthorize"


def test_a_failed_backfill_is_started_again_later(installed):
    run = orders_run(installed)
    db.session().execute(SyncRun.__table__.update().where(SyncRun.id == run.id).values(
        status="failed", finished_at=utcnow() - dt.timedelta(hours=3), last_error="store down"))
    db.session().commit()
    assert sync.resume_stalled_backfills() == 1
    assert run_jobs() == []
    runs = db.session().execute(select(SyncRun).where(SyncRun.shop_id == installed.id, SyncRun.resource == "orders")
                                .order_by(SyncRun.id)).scalars().all()
    assert [r.status for r in runs] == ["failed", "completed"]
    assert order_count(installed.id) == 1200


def test_a_busy_run_is_looked_at_again_later(installed):
    run = orders_run(installed)
    lock = redis_holder.get().lock(f"cb:lock:backfill:{run.id}", timeout=60)
    assert lock.acquire(blocking=False)
    assert sync.backfill_resource(run.id) == "busy"
    from rq.registry import ScheduledJobRegistry

    from jobs.queues import queue

    scheduled = ScheduledJobRegistry(queue=queue("bulk")).get_job_ids()
    assert len(scheduled) == 1 and "-busy-" in scheduled[0]
    lock.release()
    assert run_jobs() == []
    assert fresh(SyncRun, run.id).status == "completed"


def test_a_catch_up_longer_than_one_job_continues_in_the_next(client, store, live_app, monkeypatch):
    store.generate(seed=31, customers=10, products=3, orders=5)
    install(client, store)
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    # twelve orders whose webhooks are held back: three pages of five for the catch-up
    store.http.post("/_devstore/delivery", json={"shuffle": True}).raise_for_status()
    try:
        created = [store.control("POST", "/orders", email=f"late{n}@example.com")["id"] for n in range(12)]
        monkeypatch.setattr(sync, "CATCH_UP_PAGES_PER_JOB", 1)
        sync.catch_up(shop.id)
        assert run_jobs() == []
    finally:
        store.http.post("/_devstore/delivery", json={"shuffle": False}).raise_for_status()
        store.http.post("/_devstore/delivery/flush").raise_for_status()
    runs = db.session().execute(select(SyncRun).where(SyncRun.shop_id == shop.id, SyncRun.kind == "catch_up",
                                                      SyncRun.resource == "orders")).scalars().all()
    assert [r.status for r in runs] == ["completed"]
    assert runs[0].processed_count >= 12
    mirrored = db.session().execute(select(Order.external_id).where(Order.shop_id == shop.id)).scalars().all()
    assert {str(order_id) for order_id in created} <= set(mirrored)


def test_read_ahead_keeps_order_hands_over_errors_and_stops_early():
    import threading

    assert list(sync.read_ahead(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]

    def broken():
        yield 1
        raise ValueError("stream cut")

    with pytest.raises(ValueError, match="stream cut"):
        list(sync.read_ahead(broken(), 1))
    batches = sync.read_ahead(iter(range(10_000)), 10)
    assert next(batches) == list(range(10))
    batches.close()  # the consumer stops (the shop was uninstalled): the reader ends too
    assert not any(t.name == "backfill-read-ahead" for t in threading.enumerate())


def test_a_completed_order_backfill_computes_the_customers_figures_and_pair_counts(installed):
    from app.store.models import CustomerMetrics, ProductStat, SegmentModel

    run = orders_run(installed)
    step_until(run.id, ("completed",), limit=200)
    assert run_jobs() == []  # what the completed backfill queued
    session = db.session()
    session.expire_all()
    assert session.get(SegmentModel, installed.id).full_computed_at is not None
    buyers = session.execute(select(func.count()).select_from(CustomerMetrics).where(
        CustomerMetrics.shop_id == installed.id, CustomerMetrics.order_count > 0)).scalar_one()
    assert buyers > 0
    assert session.execute(select(func.count()).select_from(ProductStat).where(
        ProductStat.shop_id == installed.id)).scalar_one() > 0
