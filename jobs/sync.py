"""Backfill a shop through the platform's bulk export, then keep it current by ``updated_at``.

A backfill is one ``SyncRun`` per resource that moves pending → exporting → importing →
completed. The import commits the applied records and the count of root objects consumed in
one transaction, so a crash resumes at the first record not yet applied.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time

from sqlalchemy import select

from connectors import base
from connectors.base import RESOURCES
from app import installs, platforms
from app.extensions import db
from app.store import mirror
from app.store.models import Shop, SyncRun
from app.store.types import utcnow
from jobs.context import with_app
from jobs.queues import enqueue

log = logging.getLogger(__name__)

IMPORT_BATCH = 1000
POLL_EVERY = dt.timedelta(seconds=2)
# A catch-up re-reads a little before its cursor: clocks and platform indexing lag.
CATCH_UP_OVERLAP = dt.timedelta(minutes=5)
CATCH_UP_MAX_PAGES = 50


def backfill_job_prefix(shop_id: int) -> str:
    return f"backfill-{shop_id}-"


def _backfill_job_id(run: SyncRun) -> str:
    # One id per step: the step that queues the next one is still running under its own id.
    return f"{backfill_job_prefix(run.shop_id)}{run.id}-{time.monotonic_ns()}"


def catch_up_job_id(shop_id: int) -> str:
    return f"catch-up-{shop_id}"


def start_backfill(shop_id: int) -> None:
    """Create the backfill runs of a shop (if none is under way) and queue the first resource."""
    session = db.session()
    open_runs = session.execute(
        select(SyncRun).where(SyncRun.shop_id == shop_id, SyncRun.kind == "backfill",
                              SyncRun.status.in_(("pending", "exporting", "importing")))
    ).scalars().all()
    if not open_runs:
        for resource in RESOURCES:
            session.add(SyncRun(shop_id=shop_id, kind="backfill", resource=resource, status="pending"))
        session.commit()
    _queue_next(session, shop_id)


def _queue_next(session, shop_id: int, delay: dt.timedelta | None = None) -> bool:
    run = session.execute(
        select(SyncRun).where(SyncRun.shop_id == shop_id, SyncRun.kind == "backfill",
                              SyncRun.status.in_(("pending", "exporting", "importing")))
        .order_by(SyncRun.id).limit(1)
    ).scalar_one_or_none()
    if run is None:
        return False
    enqueue(backfill_resource, run.id, queue_name="bulk", job_id=_backfill_job_id(run), delay=delay)
    return True


@with_app
def backfill_resource(run_id: int) -> str:
    """Advance one backfill run by one step (start export, poll it, or import its result)."""
    session = db.session()
    run = session.get(SyncRun, run_id)
    if run is None or run.status in ("completed", "failed", "cancelled"):
        return "done"
    shop = session.get(Shop, run.shop_id)
    if shop is None or not shop.is_active:
        run.status, run.finished_at, run.last_error = "cancelled", utcnow(), "shop not active"
        session.commit()
        return "cancelled"
    connector = platforms.connector(shop.platform)
    try:
        credentials = installs.credentials_for(session, shop)
        if run.status == "pending":
            return _start_export(session, connector, credentials, run)
        if run.status == "exporting":
            return _poll_export(session, connector, credentials, run)
        return _import(session, connector, shop, run)
    except base.AuthRevokedError:
        installs.mark_reauthorize(session, shop)
        session.commit()
        return "reauthorize"
    except base.RetryableError as error:
        session.rollback()
        run = session.get(SyncRun, run_id)
        run.attempts += 1
        run.last_error = str(error)[:2000]
        session.commit()
        delay = dt.timedelta(seconds=max(error.retry_after or 5, 1))
        _queue_next(session, run.shop_id, delay)
        return "retry"
    except base.TerminalError as error:
        session.rollback()
        run = session.get(SyncRun, run_id)
        run.status, run.finished_at, run.last_error = "failed", utcnow(), str(error)[:2000]
        session.commit()
        log.error("shop=%s backfill of %s failed: %s", run.shop_id, run.resource, error)
        _queue_next(session, run.shop_id)
        return "failed"


def _start_export(session, connector, credentials, run: SyncRun) -> str:
    if base.CAP_BULK_EXPORT not in connector.capabilities:
        run.status, run.import_started_at = "importing", utcnow()
        run.started_at = run.started_at or utcnow()
        session.commit()
        _queue_next(session, run.shop_id)
        return "paging"
    job = connector.start_backfill(credentials, run.resource)
    run.platform_job_id = job.job_id
    run.status = "exporting"
    run.started_at = run.started_at or utcnow()
    session.commit()
    _queue_next(session, run.shop_id, POLL_EVERY)
    return "exporting"


def _poll_export(session, connector, credentials, run: SyncRun) -> str:
    job = connector.poll_backfill(credentials, base.BackfillJob(run.resource, run.platform_job_id or "", "running"))
    if job.status == "running":
        _queue_next(session, run.shop_id, POLL_EVERY)
        return "exporting"
    if job.status == "failed":
        raise base.TerminalError(f"platform export failed: {job.error}")
    run.result_url = job.result_url
    run.total_count = job.root_object_count if job.root_object_count is not None else job.object_count
    run.status = "importing"
    run.import_started_at = utcnow()
    session.commit()
    _queue_next(session, run.shop_id)
    return "importing"


def _import(session, connector, shop: Shop, run: SyncRun) -> str:
    if run.result_url is None and base.CAP_BULK_EXPORT in connector.capabilities:
        # A completed export without a file has nothing in it.
        return _finish(session, run)
    if run.result_url is None:
        return _import_pages(session, connector, shop, run)
    job = base.BackfillJob(run.resource, run.platform_job_id or "", "completed", result_url=run.result_url)
    records = connector.iter_backfill(job, skip=run.processed_count)
    while True:
        batch = list(itertools.islice(records, IMPORT_BATCH))
        if not batch:
            break
        mirror.apply_records(session, shop.id, shop.platform, batch)
        run.processed_count += len(batch)
        run.high_water_mark = _latest(run.high_water_mark, batch)
        session.commit()
        session.refresh(shop)
        if not shop.is_active:
            run.status, run.finished_at, run.last_error = "cancelled", utcnow(), "shop not active"
            session.commit()
            return "cancelled"
    return _finish(session, run)


def _import_pages(session, connector, shop: Shop, run: SyncRun) -> str:
    credentials = installs.credentials_for(session, shop)
    for _ in range(CATCH_UP_MAX_PAGES):
        page = connector.fetch_page(credentials, run.resource, cursor=run.cursor, updated_since=None)
        mirror.apply_records(session, shop.id, shop.platform, page.records)
        run.processed_count += len(page.records)
        run.high_water_mark = _latest(run.high_water_mark, page.records)
        run.cursor = page.next_cursor
        session.commit()
        if page.next_cursor is None:
            return _finish(session, run)
    _queue_next(session, run.shop_id)
    return "paging"


def _finish(session, run: SyncRun) -> str:
    run.status, run.finished_at = "completed", utcnow()
    if run.total_count is None:
        run.total_count = run.processed_count
    session.commit()
    log.info("shop=%s backfill of %s completed: %s records", run.shop_id, run.resource, run.processed_count)
    _queue_next(session, run.shop_id)
    return "completed"


def _latest(current: dt.datetime | None, records) -> dt.datetime | None:
    stamps = [r.updated_at for r in records if getattr(r, "updated_at", None) is not None]
    if not stamps:
        return current
    newest = max(stamps)
    return newest if current is None or newest > current else current


@with_app
def catch_up(shop_id: int) -> dict[str, int]:
    """Re-read what changed since the newest ``updated_at`` we hold: repairs a missed webhook."""
    session = db.session()
    shop = session.get(Shop, shop_id)
    counts: dict[str, int] = {}
    if shop is None or not shop.is_active:
        return counts
    busy = session.execute(
        select(SyncRun.id).where(SyncRun.shop_id == shop_id, SyncRun.kind == "backfill",
                                 SyncRun.status.in_(("pending", "exporting", "importing")))
    ).first()
    if busy:
        return counts
    connector = platforms.connector(shop.platform)
    try:
        credentials = installs.credentials_for(session, shop)
        for resource in RESOURCES:
            since = mirror.latest_update(session, shop_id, resource)
            if since is None:
                continue
            run = SyncRun(shop_id=shop_id, kind="catch_up", resource=resource, status="importing",
                          updated_since=since - CATCH_UP_OVERLAP, started_at=utcnow(),
                          import_started_at=utcnow())
            session.add(run)
            cursor = None
            for _ in range(CATCH_UP_MAX_PAGES):
                page = connector.fetch_page(credentials, resource, cursor=cursor, updated_since=run.updated_since)
                mirror.apply_records(session, shop_id, shop.platform, page.records)
                run.processed_count += len(page.records)
                cursor = page.next_cursor
                if cursor is None:
                    break
            run.status, run.finished_at, run.total_count = "completed", utcnow(), run.processed_count
            session.commit()
            counts[resource] = run.processed_count
    except base.AuthRevokedError:
        session.rollback()
        installs.mark_reauthorize(session, shop)
        session.commit()
    log.info("shop=%s catch-up applied %s", shop_id, counts)
    return counts


@with_app
def catch_up_all_shops() -> int:
    """Queue a catch-up for every active shop (periodic)."""
    session = db.session()
    shop_ids = session.execute(select(Shop.id).where(Shop.status == "active")).scalars().all()
    for shop_id in shop_ids:
        enqueue(catch_up, shop_id, queue_name="default", job_id=catch_up_job_id(shop_id))
    return len(shop_ids)
