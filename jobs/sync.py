"""Backfill a shop through the platform's bulk export, then keep it current by ``updated_at``.

A backfill is one ``SyncRun`` per resource that moves pending → exporting → importing →
completed, one job per step. The import commits the applied records and the count of root
objects consumed in one transaction, so a crash resumes at the first record not yet applied.
Each queued step carries the run's ``step_token``; a step holding an older token (a duplicate
chain) stops, and a lock per run keeps two steps of one run from overlapping.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from redis.exceptions import LockError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import installs, platforms
from app.extensions import db, redis_holder
from app.store import mirror
from app.store.models import Shop, SyncRun
from app.store.types import utcnow
from connectors import base
from connectors.base import RESOURCES
from jobs.context import with_app
from jobs.queues import enqueue

log = logging.getLogger(__name__)

IMPORT_BATCH = 1000
FIRST_POLL = dt.timedelta(seconds=1)
MAX_POLL = dt.timedelta(seconds=30)
MAX_STEP_ATTEMPTS = 12
STALLED_AFTER = dt.timedelta(minutes=15)
# A catch-up re-reads a little before its cursor: clocks and platform indexing lag.
CATCH_UP_OVERLAP = dt.timedelta(minutes=5)
CATCH_UP_PAGES_PER_JOB = 50
_OPEN = ("pending", "exporting", "importing")
_NOW = dt.timedelta(0)


def backfill_job_prefix(shop_id: int) -> str:
    return f"backfill-{shop_id}-"


def catch_up_job_id(shop_id: int) -> str:
    return f"catch-up-{shop_id}"


def _open_backfill(session: Session, shop_id: int) -> SyncRun | None:
    return session.execute(
        select(SyncRun).where(SyncRun.shop_id == shop_id, SyncRun.kind == "backfill", SyncRun.status.in_(_OPEN))
        .order_by(SyncRun.id).limit(1)
    ).scalar_one_or_none()


def start_backfill(shop_id: int) -> None:
    """Create the backfill runs of a shop (unless some are open: those resume) and queue the next step."""
    session = db.session()
    if _open_backfill(session, shop_id) is None and not _has_completed_backfill(session, shop_id):
        for resource in RESOURCES:
            session.add(SyncRun(shop_id=shop_id, kind="backfill", resource=resource, status="pending"))
        session.commit()
    _queue_next(session, shop_id)


def _has_completed_backfill(session: Session, shop_id: int) -> bool:
    completed = session.execute(
        select(SyncRun.resource).where(SyncRun.shop_id == shop_id, SyncRun.kind == "backfill",
                                       SyncRun.status == "completed")
    ).scalars().all()
    return set(completed) >= set(RESOURCES)


def _queue_next(session: Session, shop_id: int, delay: dt.timedelta | None = None) -> bool:
    """Queue the step that advances the shop's first open run; older queued steps go stale."""
    run = _open_backfill(session, shop_id)
    if run is None:
        return False
    run.step_token = str(uuid.uuid4())
    run.updated_at = utcnow()
    session.commit()
    enqueue(backfill_resource, run.id, run.step_token, queue_name="bulk",
            job_id=f"{backfill_job_prefix(shop_id)}{run.id}-{run.step_token}",
            delay=delay if delay else None)
    return True


# Short, and renewed after every committed batch: a worker that dies holding it blocks the run
# for at most this long.
LOCK_SECONDS = 120
BUSY_RETRY = dt.timedelta(seconds=30)


@with_app
def backfill_resource(run_id: int, step_token: str | None = None) -> str:
    """Advance one backfill run by one step (start the export, poll it, or import its result)."""
    session = db.session()
    lock = redis_holder.get().lock(f"cb:lock:backfill:{run_id}", timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        # Another step holds the run, or a dead worker's lock has not expired yet: look again
        # later (if the holder is alive, the step it queues retires this one).
        run = session.get(SyncRun, run_id)
        if run is not None and run.status in _OPEN and (step_token is None or run.step_token == step_token):
            enqueue(backfill_resource, run_id, step_token, queue_name="bulk",
                    job_id=f"{backfill_job_prefix(run.shop_id)}{run_id}-busy-{uuid.uuid4()}", delay=BUSY_RETRY)
        return "busy"
    try:
        outcome, shop_id, next_delay = _advance(session, run_id, step_token, lock)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("backfill run %s: lock expired before the step ended", run_id)
    # Queued only once the lock is free, so the next step never finds its own run busy.
    if next_delay is not None and shop_id is not None:
        _queue_next(session, shop_id, next_delay)
    return outcome


def _renew(lock: Any) -> None:
    try:
        lock.reacquire()
    except LockError:
        log.warning("backfill lock lost while the step was running")


def _advance(session: Session, run_id: int, step_token: str | None,
             lock: Any) -> tuple[str, int | None, dt.timedelta | None]:
    run = session.get(SyncRun, run_id)
    if run is None or run.status not in _OPEN:
        return "done", None, None
    if step_token is not None and run.step_token != step_token:
        return "stale", None, None
    shop = session.get(Shop, run.shop_id)
    if shop is None or shop.status in ("uninstalled", "redacted"):
        run.status, run.finished_at, run.last_error = "cancelled", utcnow(), "shop not installed"
        session.commit()
        return "cancelled", None, None
    if shop.status != "active":
        # Waiting for re-authorization: the open run resumes when the shop is installed again.
        return "paused", None, None
    connector = platforms.connector(shop.platform)
    try:
        if run.status == "pending":
            return _start_export(session, connector, shop, run)
        if run.status == "exporting":
            return _poll_export(session, connector, shop, run)
        return _import(session, connector, shop, run, lock)
    except base.AuthRevokedError:
        session.rollback()
        return "reauthorize", None, None
    except base.RetryableError as error:
        session.rollback()
        return _count_failure(session, run_id, error)
    except base.TerminalError as error:
        session.rollback()
        run = session.get(SyncRun, run_id)
        run.status, run.finished_at, run.last_error = "failed", utcnow(), str(error)[:2000]
        session.commit()
        log.error("shop=%s backfill of %s failed: %s", run.shop_id, run.resource, error)
        return "failed", run.shop_id, _NOW
    except Exception as error:  # noqa: BLE001 - e.g. data the database refuses: retried, then parked
        session.rollback()
        log.exception("backfill run %s step failed", run_id)
        return _count_failure(session, run_id, base.RetryableError(f"{type(error).__name__}: {error}"))


def _count_failure(session: Session, run_id: int, error: base.RetryableError):
    """Count a failed step; back off, and park the run after ``MAX_STEP_ATTEMPTS`` in a row."""
    run = session.get(SyncRun, run_id)
    if run is None:
        return "done", None, None
    run.attempts += 1
    run.last_error = str(error)[:2000]
    if run.attempts >= MAX_STEP_ATTEMPTS:
        run.status, run.finished_at = "failed", utcnow()
        session.commit()
        log.error("shop=%s backfill of %s parked after %s attempts: %s", run.shop_id, run.resource,
                  run.attempts, error)
        return "failed", run.shop_id, _NOW
    session.commit()
    backoff = min(5 * 2 ** (run.attempts - 1), 600)
    return "retry", run.shop_id, dt.timedelta(seconds=max(backoff, error.retry_after or 0))


def _start_export(session: Session, connector: Any, shop: Shop, run: SyncRun):
    run.started_at = run.started_at or utcnow()
    if base.CAP_BULK_EXPORT not in connector.capabilities:
        run.status, run.import_started_at = "importing", utcnow()
        session.commit()
        return "paging", run.shop_id, _NOW
    job = installs.call_with_credentials(session, shop, lambda c: connector.start_backfill(c, run.resource))
    run.platform_job_id = job.job_id
    run.status = "exporting"
    session.commit()
    return "exporting", run.shop_id, FIRST_POLL


def _poll_delay(run: SyncRun) -> dt.timedelta:
    """Poll an export about ten times over its life: soon for a small shop, rarely for a big one."""
    elapsed = utcnow() - (run.started_at or utcnow())
    return max(FIRST_POLL, min(MAX_POLL, elapsed / 10))


def _poll_export(session: Session, connector: Any, shop: Shop, run: SyncRun):
    pending = base.BackfillJob(run.resource, run.platform_job_id or "", "running")
    job = installs.call_with_credentials(session, shop, lambda c: connector.poll_backfill(c, pending))
    if job.status == "running":
        run.updated_at = utcnow()  # still alive: the stall check looks at this
        run.attempts = 0
        session.commit()
        return "exporting", run.shop_id, _poll_delay(run)
    if job.status == "failed":
        raise base.TerminalError(f"platform export failed: {job.error}")
    run.result_url = job.result_url
    run.total_count = job.root_object_count if job.root_object_count is not None else job.object_count
    run.status = "importing"
    run.import_started_at = utcnow()
    session.commit()
    return "importing", run.shop_id, _NOW


def _import(session: Session, connector: Any, shop: Shop, run: SyncRun, lock: Any):
    if run.result_url is None and base.CAP_BULK_EXPORT in connector.capabilities:
        return _finish(session, run)  # a completed export without a file has nothing in it
    if run.result_url is None:
        return _import_pages(session, connector, shop, run)
    job = base.BackfillJob(run.resource, run.platform_job_id or "", "completed", result_url=run.result_url)
    records = connector.iter_backfill(job, skip=run.processed_count)
    for batch in read_ahead(records, IMPORT_BATCH):
        mirror.apply_records(session, shop.id, shop.platform, batch)
        run.processed_count += len(batch)
        run.attempts = 0  # progress: the count of consecutive failures starts again
        run.high_water_mark = _latest(run.high_water_mark, batch)
        session.commit()
        _renew(lock)  # each committed batch extends the lease
        session.refresh(shop)
        if shop.status != "active":
            return "stopped", None, None  # the next step (after re-install) resumes from here
    return _finish(session, run)


def read_ahead(records: Iterator[Any], size: int, depth: int = 2) -> Iterator[list[Any]]:
    """Yield batches of ``size`` that a thread reads and parses ahead of the consumer.

    Downloading and parsing the export overlaps the database writes of the batch before
    (the writer waits on the database without holding the interpreter). At most ``depth``
    batches wait in memory; stopping early stops the reader.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                batch = list(itertools.islice(records, size))
                ready.put(batch)
                if not batch:
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            ready.put(error)

    reader = threading.Thread(target=read, daemon=True, name="backfill-read-ahead")
    reader.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting to hand over a batch
            try:
                ready.get_nowait()
            except queue.Empty:
                pass
            reader.join(timeout=0.1)


def _import_pages(session: Session, connector: Any, shop: Shop, run: SyncRun):
    """Page through the platform's API; the next page is read while this one is written."""
    credentials = installs.credentials_for(session, shop)

    def pages() -> Iterator[Any]:
        cursor = run.cursor
        for _ in range(CATCH_UP_PAGES_PER_JOB):
            page = connector.fetch_page(credentials, run.resource, cursor=cursor, updated_since=None)
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def commit(pages_read: list[Any]) -> None:
        records = [record for page in pages_read for record in page.records]
        mirror.apply_records(session, shop.id, shop.platform, records)
        run.processed_count += _roots(run.resource, records)
        if run.total_count is None and pages_read[0].total is not None:
            run.total_count = pages_read[0].total  # the progress bar's end, before the last page
        run.high_water_mark = _latest(run.high_water_mark, records)
        run.cursor = pages_read[-1].next_cursor
        run.attempts = 0
        session.commit()

    # Pages are small (100 records): several go into one transaction, as many as a bulk batch.
    batch: list[Any] = []
    try:
        for (page,) in read_ahead(pages(), 1, depth=4):
            batch.append(page)
            if page.next_cursor is None:
                commit(batch)
                run.total_count = run.processed_count  # the listing's count may hold other kinds
                return _finish(session, run)
            if sum(len(p.records) for p in batch) >= IMPORT_BATCH:
                commit(batch)
                batch = []
    except base.AuthRevokedError:
        # Read on another thread, outside call_with_credentials: the merchant is asked to
        # authorize again here, and the run resumes from its cursor after that.
        session.rollback()
        installs.mark_reauthorize(session, shop)
        session.commit()
        raise
    if batch:
        commit(batch)
    return "paging", run.shop_id, _NOW


def _roots(resource: str, records: Any) -> int:
    """Count the records a resource's progress is measured in (refunds and the like ride along)."""
    root = base.ROOT_TYPES.get(resource)
    return sum(1 for record in records if root is None or isinstance(record, root))


def _finish(session: Session, run: SyncRun):
    run.status, run.finished_at = "completed", utcnow()
    if run.total_count is None:
        run.total_count = run.processed_count
    session.commit()
    log.info("shop=%s backfill of %s completed: %s records", run.shop_id, run.resource, run.processed_count)
    if run.resource == "orders":  # the shop's history is in: figures, segments and pair counts from it
        from jobs.recommendations import request_pair_update
        from jobs.segmentation import request_recompute

        request_recompute(run.shop_id)
        request_pair_update(run.shop_id)
    return "completed", run.shop_id, _NOW


def _latest(current: dt.datetime | None, records: Any) -> dt.datetime | None:
    stamps = [r.updated_at for r in records if getattr(r, "updated_at", None) is not None]
    if not stamps:
        return current
    newest = max(stamps)
    return newest if current is None or newest > current else current


RETRY_FAILED_AFTER = dt.timedelta(hours=2)


def _reopen_failed(session: Session) -> set[int]:
    """Start a resource's backfill again (a new export) when its last run failed a while ago.

    A parked run is not given up: the platform may have been down for hours, or a bulk result
    may have expired while the shop waited for re-authorization.
    """
    latest = (
        select(SyncRun.shop_id, SyncRun.resource, func.max(SyncRun.id).label("run_id"))
        .where(SyncRun.kind == "backfill").group_by(SyncRun.shop_id, SyncRun.resource).subquery()
    )
    failed = session.execute(
        select(SyncRun).join(latest, SyncRun.id == latest.c.run_id).join(Shop, Shop.id == SyncRun.shop_id)
        .where(SyncRun.status == "failed", SyncRun.finished_at < utcnow() - RETRY_FAILED_AFTER,
               Shop.status == "active")
    ).scalars().all()
    for run in failed:
        log.warning("shop=%s backfill of %s failed at %s; starting it again", run.shop_id, run.resource,
                    run.finished_at)
        session.add(SyncRun(shop_id=run.shop_id, kind="backfill", resource=run.resource, status="pending"))
    session.commit()
    return {run.shop_id for run in failed}


@with_app
def resume_stalled_backfills() -> int:
    """Queue a step for open backfill runs nothing has advanced for a while; retry failed ones.

    A step can be lost (its job ran out of retries, Redis failed right after a commit, a worker
    died holding it); the new step's token retires whatever is left of the old chain.
    """
    session = db.session()
    reopened = _reopen_failed(session)
    cutoff = utcnow() - STALLED_AFTER
    shop_ids = session.execute(
        select(SyncRun.shop_id).join(Shop, Shop.id == SyncRun.shop_id)
        .where(SyncRun.kind == "backfill", SyncRun.status.in_(_OPEN), SyncRun.updated_at < cutoff,
               Shop.status == "active")
        .distinct()
    ).scalars().all()
    for shop_id in set(shop_ids) | reopened:
        log.warning("shop=%s backfill stalled or reopened; queuing its next step", shop_id)
        _queue_next(session, shop_id)
    return len(set(shop_ids) | reopened)


def _catch_up_since(session: Session, shop_id: int, resource: str) -> dt.datetime | None:
    """Where the next catch-up of a resource starts: when the last read of it began."""
    last = session.execute(
        select(SyncRun.started_at).where(SyncRun.shop_id == shop_id, SyncRun.resource == resource,
                                         SyncRun.status == "completed",
                                         SyncRun.kind.in_(("catch_up", "backfill")))
        .order_by(SyncRun.started_at.desc()).limit(1)
    ).scalar_one_or_none()
    return None if last is None else last - CATCH_UP_OVERLAP


@with_app
def catch_up(shop_id: int) -> dict[str, int]:
    """Re-read what changed since the last read began: repairs a missed webhook.

    Each resource keeps its own run and cursor; a run with more pages than one job reads stays
    open and the next job continues it.
    """
    session = db.session()
    shop = session.get(Shop, shop_id)
    counts: dict[str, int] = {}
    if shop is None or not shop.is_active or _open_backfill(session, shop_id) is not None:
        return counts
    connector = platforms.connector(shop.platform)
    unfinished = False
    try:
        for resource in RESOURCES:
            run = session.execute(
                select(SyncRun).where(SyncRun.shop_id == shop_id, SyncRun.kind == "catch_up",
                                      SyncRun.resource == resource, SyncRun.status == "importing")
                .order_by(SyncRun.id.desc()).limit(1)
            ).scalar_one_or_none()
            if run is None:
                since = _catch_up_since(session, shop_id, resource)
                if since is None:
                    continue  # never read in full yet: the backfill covers it
                if resource in getattr(connector, "full_pass_resources", ()):
                    # No date filter on the platform: a full pass (newer-wins keeps unchanged
                    # rows untouched), every few hours rather than at every catch-up.
                    if since + CATCH_UP_OVERLAP > utcnow() - connector.full_pass_interval:
                        continue
                    since = None
                run = SyncRun(shop_id=shop_id, kind="catch_up", resource=resource, status="importing",
                              updated_since=since, started_at=utcnow(), import_started_at=utcnow(),
                              processed_count=0, attempts=0)
                session.add(run)
                session.commit()
            for _ in range(CATCH_UP_PAGES_PER_JOB):
                cursor, since = run.cursor, run.updated_since
                page = installs.call_with_credentials(
                    session, shop,
                    lambda c, resource=resource, cursor=cursor, since=since: connector.fetch_page(
                        c, resource, cursor=cursor, updated_since=since))
                records = page.records
                if run.updated_since is None:
                    records = mirror.changed_only(session, shop_id, records)  # a full pass
                mirror.apply_records(session, shop_id, shop.platform, records)
                run.processed_count += _roots(resource, records)
                run.high_water_mark = _latest(run.high_water_mark, page.records)
                run.cursor = page.next_cursor
                if page.next_cursor is None:
                    run.status, run.finished_at, run.total_count = "completed", utcnow(), run.processed_count
                session.commit()
                if page.next_cursor is None:
                    break
            else:
                unfinished = True
            counts[resource] = run.processed_count
    except base.AuthRevokedError:
        session.rollback()
        return counts
    except base.RetryableError as error:
        session.rollback()
        log.warning("shop=%s catch-up postponed: %s", shop_id, error)
        return counts
    if any(counts.values()):
        from jobs.loyalty import request_accrual

        request_accrual(shop_id)  # what the catch-up repaired may earn or reverse points
        _after_new_orders(shop_id)
    if unfinished:
        # A job of its own id: the one running now still holds the plain catch-up id.
        enqueue(catch_up, shop_id, queue_name="default",
                job_id=f"{catch_up_job_id(shop_id)}-continue-{uuid.uuid4()}")
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


def refetch_job_id(shop_id: int, refetch: base.Refetch) -> str:
    expected = ",".join(sorted(refetch.expected_ids))
    return f"refetch-{shop_id}-{refetch.resource}-{refetch.external_id}-{uuid.uuid5(uuid.NAMESPACE_OID, expected)}"


def request_refetches(shop_id: int, refetches: list[base.Refetch]) -> int:
    """Queue a read of each resource applied events only hinted at (call after commit)."""
    queued = 0
    for refetch in dict.fromkeys(refetches):  # same hint twice in a drain: one read
        job = enqueue(refetch_records, shop_id, refetch.resource, refetch.external_id,
                      list(refetch.expected_ids), queue_name="events", job_id=refetch_job_id(shop_id, refetch))
        queued += job is not None
    return queued


@with_app
def refetch_records(shop_id: int, resource: str, external_id: str, expected_ids: list[str]) -> str:
    """Read one resource from the platform and apply it (e.g. the refunds of an updated order).

    Skipped when the mirror already holds every expected id: a replayed webhook costs nothing.
    """
    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.is_active:
        return "skipped"
    if resource == base.REFETCH_ORDER_REFUNDS and expected_ids and mirror.has_refunds(
            session, shop_id, external_id, expected_ids):
        return "current"
    connector = platforms.connector(shop.platform)
    refetch = base.Refetch(resource, external_id, tuple(expected_ids))
    try:
        records = installs.call_with_credentials(session, shop, lambda c: connector.fetch_records(c, refetch))
    except base.AuthRevokedError:
        return "reauthorize"
    except base.RetryableError as error:
        # Raised for the job's own retries; the periodic catch-up repairs it if they run out.
        log.warning("shop=%s refetch of %s %s postponed: %s", shop_id, resource, external_id, error)
        raise
    mirror.apply_records(session, shop_id, shop.platform, records)
    session.commit()
    if resource in (base.REFETCH_ORDER_REFUNDS, base.REFETCH_ORDER) and records:  # may earn or reverse
        from jobs.loyalty import request_accrual

        request_accrual(shop_id)
        _after_new_orders(shop_id)
    log.info("shop=%s refetched %s %s: %d records", shop_id, resource, external_id, len(records))
    return "applied"


def _after_new_orders(shop_id: int) -> None:
    """Orders the catch-up or a refetch wrote move customers' figures and the bought-together counts."""
    from jobs.recommendations import request_pair_update
    from jobs.segmentation import request_refresh

    request_refresh(shop_id)
    request_pair_update(shop_id)
