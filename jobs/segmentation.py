"""Keep customers' figures and segment memberships current: a refresh after new orders, a full run daily.

``refresh_segments`` follows the inbox (queued when a drain applied events): it recomputes the
customers whose orders or refunds arrived and their memberships, batch by batch. The full
``recompute_segments`` runs on the bulk queue once a day per shop (``recompute_due_shops``,
hourly, queues the shops whose last full run is a day old) and on the merchant's request.
Both then queue the tag write-back.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select

from app.extensions import db
from app.segments import membership
from app.store.models import SegmentModel, Shop
from app.store.types import utcnow
from jobs.context import with_app
from jobs.queues import clear_flag, enqueue, enqueue_once_more, flag_set

log = logging.getLogger(__name__)

FULL_EVERY = dt.timedelta(hours=24)
_MAX_ROUNDS = 50


def refresh_job_id(shop_id: int) -> str:
    return f"refresh-segments-{shop_id}"


def recompute_job_id(shop_id: int) -> str:
    return f"recompute-segments-{shop_id}"


def _dirty_key(shop_id: int) -> str:
    return f"cb:segments:dirty:{shop_id}"


def request_refresh(shop_id: int) -> None:
    """Queue a refresh (after the transaction that wrote new orders committed)."""
    enqueue_once_more(refresh_segments, shop_id, queue_name="default", job_id=refresh_job_id(shop_id),
                      flag=_dirty_key(shop_id))


def request_recompute(shop_id: int) -> bool:
    """Queue a full recomputation; False when one is already waiting."""
    return enqueue(recompute_segments, shop_id, queue_name="bulk", job_id=recompute_job_id(shop_id)) is not None


def _tags_follow(shop_id: int) -> None:
    from jobs.segments import request_tag_write_back

    request_tag_write_back(shop_id)


@with_app
def refresh_segments(shop_id: int) -> dict[str, int]:
    """Recompute the customers touched by new orders and refunds, and their memberships."""
    session = db.session()
    customers = 0
    for _ in range(_MAX_ROUNDS):
        clear_flag(_dirty_key(shop_id))
        shop = session.get(Shop, shop_id)
        if shop is None or shop.status != "active":
            return {"customers": customers}
        keys, more = membership.refresh_shop(session, shop)
        session.commit()
        customers += len(keys)
        if not more and not flag_set(_dirty_key(shop_id)):
            break
    if customers:
        log.info("shop=%s segments refreshed for %s customers", shop_id, customers)
        _tags_follow(shop_id)
    return {"customers": customers}


@with_app
def recompute_segments(shop_id: int) -> dict[str, int]:
    """Every customer's figures and every segment of one shop, in one transaction."""
    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        return {"customers": 0}
    result = membership.recompute_shop(session, shop)
    session.commit()
    log.info("shop=%s segments recomputed: %s customers, %s buyers, model %s", shop_id, result.customers,
             result.buyers, result.method)
    _tags_follow(shop_id)
    return {"customers": result.customers, "buyers": result.buyers}


@with_app
def recompute_due_shops() -> int:
    """Queue the full run of every active shop whose last one is a day old (hourly)."""
    session = db.session()
    cutoff = utcnow() - FULL_EVERY
    shop_ids = session.execute(
        select(Shop.id).outerjoin(SegmentModel, SegmentModel.shop_id == Shop.id)
        .where(Shop.status == "active",
               or_(SegmentModel.full_computed_at.is_(None), SegmentModel.full_computed_at <= cutoff))).scalars().all()
    for shop_id in shop_ids:
        request_recompute(shop_id)
    return len(shop_ids)
