"""Jobs of the segments room: write customers' segment tags back to the store.

Callers (the segment code) change ``customer_tag_syncs`` through ``app.segments.tags.want``,
commit, then call ``request_tag_write_back``. One job writes the shop's due rows a batch at a
time (``app.segments.tags.write``), up to a cap per run, then queues its continuation; the
periodic sweep queues every shop with rows due (a lost job, a retry whose moment has come).
"""

from __future__ import annotations

import logging
import time

from app.extensions import db
from app.store.types import utcnow
from jobs.context import with_app
from jobs.queues import enqueue

log = logging.getLogger(__name__)

QUEUE = "default"
# One run writes at most this many batches, for at most this long (the queue's timeout is 600 s).
MAX_BATCHES = 40
TIME_BUDGET_SECONDS = 240.0


def tag_write_back_job_id(shop_id: int, continuation: bool = False) -> str:
    return f"segment-tags-{shop_id}" + ("-more" if continuation else "")


def request_tag_write_back(shop_id: int, *, continuation: bool = False) -> None:
    """Queue the write-back of the shop's segment tags (once: a queued job writes everything due).

    A continuation takes the other of two ids, so that a running job can queue the next run.
    """
    enqueue(write_back_tags, shop_id, continuation, queue_name=QUEUE,
            job_id=tag_write_back_job_id(shop_id, continuation), retries=2)


@with_app
def write_back_tags(shop_id: int, continuation: bool = False) -> dict[str, int]:
    """Write the shop's due segment tags to the store, a batch at a time; queue the rest if capped."""
    from app import installs, platforms
    from app.segments import tags
    from app.store.models import Shop
    from connectors import base

    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        return {}
    connector = platforms.connector(shop.platform)
    totals: dict[str, int] = {}
    started = time.monotonic()
    capped = True  # unless the loop ends early: nothing due, or the store cannot be written now
    for _ in range(MAX_BATCHES):
        rows = tags.due(session, shop_id, utcnow(), tags.BATCH)
        if not rows:
            capped = False
            break

        def write(credentials: base.Credentials, rows: list = rows) -> dict[str, int]:
            return tags.write(session, shop, connector, credentials, rows)

        try:
            counts = installs.call_with_credentials(session, shop, write)
        except base.AuthRevokedError:
            session.rollback()
            log.warning("shop=%s segment tags wait: the store must be authorized again", shop_id)
            capped = False
            break
        for outcome, count in counts.items():
            totals[outcome] = totals.get(outcome, 0) + count
        if set(counts) <= {tags.RETRY}:
            capped = False  # the store cannot answer now: the rows wait for their next attempt
            break
        if time.monotonic() - started > TIME_BUDGET_SECONDS:
            break
    more = capped and bool(tags.due(session, shop_id, utcnow(), limit=1))
    session.commit()
    if more:
        request_tag_write_back(shop_id, continuation=not continuation)
    if totals:
        log.info("shop=%s segment tag write-back: %s", shop_id,
                 ", ".join(f"{k}={v}" for k, v in sorted(totals.items())))
    return totals


@with_app
def sweep_tag_write_backs() -> int:
    """Queue the tag write-back of every active shop with rows due (periodic)."""
    from app.segments import tags

    shop_ids = tags.shops_due(db.session(), utcnow())
    for shop_id in shop_ids:
        request_tag_write_back(shop_id)
    return len(shop_ids)
