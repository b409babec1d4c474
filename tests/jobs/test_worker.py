"""The worker command, the queue order and the periodic jobs declared as data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rq import SimpleWorker
from sqlalchemy import func, select

from app.extensions import db, redis_holder
from app.store.models import Order, Shop
from app.store.types import utcnow
from jobs import cron
from jobs.queues import QUEUE_NAMES, enqueue, queue
from tests.conftest import API_SECRET
from tests.helpers import order_payload, record_call, signed_webhook

ROOT = Path(__file__).resolve().parent.parent.parent


def test_webhook_events_run_before_default_and_bulk_work(app_context):
    enqueue(record_call, "bulk", queue_name="bulk", job_id="t-bulk")
    enqueue(record_call, "default", queue_name="default", job_id="t-default")
    enqueue(record_call, "events", queue_name="events", job_id="t-events")
    SimpleWorker([queue(name) for name in QUEUE_NAMES], connection=redis_holder.get()).work(burst=True)
    assert [c.decode() for c in redis_holder.get().lrange("test:calls", 0, -1)] == ["events", "default", "bulk"]


def test_a_job_already_waiting_is_not_queued_twice(app_context):
    assert enqueue(record_call, "x", queue_name="default", job_id="t-once") is not None
    assert enqueue(record_call, "x", queue_name="default", job_id="t-once") is None
    assert queue("default").count == 1


def test_periodic_jobs_are_registered_with_rq_cron(app_context):
    scheduler = cron.build_scheduler(redis_holder.get(), catch_up_minutes=7)
    registered = {(job.func.__name__, job.queue_name, job.interval) for job in scheduler.get_jobs()}
    assert registered == {
        ("sweep_inbox", "events", 60),
        ("refresh_expiring_tokens", "default", 600),
        ("catch_up_all_shops", "default", 420),
        ("resume_stalled_backfills", "default", 300),
        ("resume_unfinished_set_ups", "default", 300),
        ("repair_webhooks_all_shops", "default", 1800),
        ("resume_pending_redemptions", "events", 300),
        ("loyalty_upkeep_all_shops", "default", 3600),
        ("sweep_messages", "default", 60),
        ("sweep_flows", "default", 60),
        ("flow_upkeep_all_shops", "default", 3600),
        ("recompute_due_shops", "default", 3600),
        ("sweep_tag_write_backs", "default", 300),
        ("update_pairs_all_shops", "default", 3600),
    }


def test_the_worker_command_drains_the_inbox(client, session, shop_domain, settings_environ):
    shop = Shop(platform="shopify", domain=shop_domain, status="active", access_token="t", installed_at=utcnow())
    session.add(shop)
    session.commit()
    headers, body = signed_webhook(API_SECRET, shop_domain, "orders/create", order_payload(4100, "2026-11-01T10:00:00Z"))
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    # a real worker process (forking a work horse per job), run until the queues are empty
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst", "--no-cron"],
                            env={**settings_environ, "PATH": "/usr/bin:/bin"}, cwd=str(ROOT),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    db.session().expire_all()
    assert db.session().execute(select(func.count()).select_from(Order)).scalar_one() == 1
