"""Drain the webhook inbox into the mirror, and sweep up what was stored but never queued."""

from __future__ import annotations

import logging

from redis import RedisError

from app import installs, platforms
from app.extensions import db, redis_holder
from app.store import inbox
from app.store.models import Shop
from jobs.context import with_app
from jobs.queues import enqueue

log = logging.getLogger(__name__)


def drain_job_id(shop_id: int) -> str:
    return f"drain-inbox-{shop_id}"


def _dirty_key(shop_id: int) -> str:
    return f"cb:inbox:dirty:{shop_id}"


def _requested_key(shop_id: int) -> str:
    return f"cb:inbox:requested:{shop_id}"


# Short, so that a flag left behind by a drain that died cannot hold up new events for long.
_REQUESTED_SECONDS = 10
_MAX_ROUNDS = 20


def request_drain(shop_id: int) -> bool:
    """Make sure a drain of the shop's inbox will run after this event was stored.

    The hot path is one Redis round trip: while a drain is requested and has not started, a
    new event needs nothing more (the drain clears the flag before it reads the inbox). If the
    drain is already running, it is told to go round once more. Returns whether a job was queued.
    """
    connection = redis_holder.get()
    if not connection.set(_requested_key(shop_id), 1, nx=True, ex=_REQUESTED_SECONDS):
        return False
    return _queue_drain(shop_id)


def _queue_drain(shop_id: int) -> bool:
    job = enqueue(drain_inbox, shop_id, queue_name="events", job_id=drain_job_id(shop_id))
    if job is not None:
        return True
    # The drain is queued or running: have it go round once more before it ends, and, should
    # it be past that point already, let one follow-up drain wait behind it.
    redis_holder.get().set(_dirty_key(shop_id), 1, ex=600)
    return enqueue(drain_inbox, shop_id, queue_name="events", job_id=f"{drain_job_id(shop_id)}-next") is not None


@with_app
def drain_inbox(shop_id: int) -> dict[str, int]:
    """Apply every pending event of one shop, in batches, each batch in one transaction.

    Before it ends it looks once more at the inbox itself, so an event stored while it was
    finishing is not left for the sweeper.
    """
    session = db.session()
    settings = platforms.settings()
    totals = {"processed": 0, "ignored": 0, "failed": 0}
    for _ in range(_MAX_ROUNDS):
        try:
            redis_holder.get().delete(_dirty_key(shop_id), _requested_key(shop_id))
        except RedisError:
            pass
        shop = session.get(Shop, shop_id)
        if shop is None:
            return totals
        connector = platforms.connector(shop.platform)
        result = inbox.drain(session, shop, connector.parse_event, installs.uninstall,
                             batch_size=settings.webhook_batch_size)
        totals["processed"] += result.processed
        totals["ignored"] += result.ignored
        totals["failed"] += result.failed
        if result.refetch:
            from jobs.sync import request_refetches

            request_refetches(shop_id, result.refetch)
        if result.processed:
            from jobs.loyalty import request_accrual

            request_accrual(shop_id)  # orders, cancellations and refunds move points
            from jobs.flows import request_evaluation

            request_evaluation(shop_id)  # carts and orders start and end reminders
            from jobs.segmentation import request_refresh

            request_refresh(shop_id)  # orders and refunds move customers' figures and segments
            from jobs.recommendations import request_pair_update

            request_pair_update(shop_id)  # orders move the bought-together counts
        if result.uninstalled:
            from jobs.shops import stop_shop_jobs

            stop_shop_jobs(shop_id)
        try:
            again = redis_holder.get().get(_dirty_key(shop_id))
        except RedisError:
            again = None
        if result.retry_later:
            break  # one attempt per drain for a failing event: the next drain or the sweeper retries
        if not again and not inbox.has_pending(session, shop_id):
            break
        session.rollback()  # end the read transaction before the next round
    log.info("shop=%s inbox drained: %s", shop_id, totals)
    return totals


@with_app
def sweep_inbox() -> int:
    """Queue a drain for every shop whose events wait too long (Redis was down, a drain died)."""
    session = db.session()
    shop_ids = inbox.shops_needing_drain(session)
    for shop_id in shop_ids:
        _queue_drain(shop_id)
        inbox.mark_enqueued(session, shop_id)
    session.commit()
    if shop_ids:
        log.info("inbox sweep queued drains for shops %s", shop_ids)
    return len(shop_ids)
