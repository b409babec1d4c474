"""Jobs of the recommendations room: keep the bought-together counts current."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from app.extensions import db
from app.recommendations import pairs
from app.store.models import Shop
from jobs.context import with_app
from jobs.queues import enqueue

log = logging.getLogger(__name__)


def update_job_id(shop_id: int) -> str:
    return f"recommendations-pairs-{shop_id}"


def request_pair_update(shop_id: int) -> None:
    """Queue the shop's count update (once: a queued one counts everything committed before it runs)."""
    enqueue(update_pairs, shop_id, queue_name="default", job_id=update_job_id(shop_id))


@with_app
def update_pairs(shop_id: int) -> dict[str, int]:
    """Count the orders the mirror wrote since the last run into the bought-together counts.

    Idempotent: an order already counted at its current version is not read again, and one
    read again moves the counts by its difference only.
    """
    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status in ("uninstalled", "redacted"):
        return {}
    result = pairs.update(session, shop_id)
    if result.more:
        enqueue(update_pairs, shop_id, queue_name="default",
                job_id=f"{update_job_id(shop_id)}-continue-{uuid.uuid4()}")
    log.info("shop=%s recommendation counts: %s orders read, %s changed", shop_id, result.orders_read,
             result.orders_changed)
    return {"orders_read": result.orders_read, "orders_changed": result.orders_changed}


@with_app
def update_pairs_all_shops() -> int:
    """Queue the count update of every active shop (periodic: repairs a missed request)."""
    session = db.session()
    shop_ids = session.execute(select(Shop.id).where(Shop.status == "active")).scalars().all()
    for shop_id in shop_ids:
        request_pair_update(shop_id)
    return len(shop_ids)
