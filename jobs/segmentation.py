"""Keep customers' figures and segment memberships current: a refresh after new orders, a full run daily.

``refresh_segments`` follows the inbox (queued when a drain applied events): it recomputes the
customers whose orders or refunds arrived and their memberships, batch by batch. The full
``recompute_segments`` runs on the bulk queue once a day per shop (``recompute_due_shops``,
hourly, queues the shops whose last full run is a day old) and on the merchant's request.
Both then queue the tag write-back. After a full run, and every hour for the shops whose admin
home page was opened in the last week, ``warm_home_figures`` computes the home page's order
figures into its cache (kept ``home.WARM_SECONDS``, past the next hourly warm-up), so the page
shows them at once instead of computing them on the merchant's first view.
"""

from __future__ import annotations

import datetime as dt
import logging

import redis
from sqlalchemy import or_, select

from app.extensions import db, redis_holder
from app.segments import membership
from app.store.models import SegmentModel, Shop
from app.store.types import utcnow
from app.web.pages import home
from jobs.context import with_app
from jobs.queues import clear_flag, enqueue, enqueue_once_more, flag_set

log = logging.getLogger(__name__)

FULL_EVERY = dt.timedelta(hours=24)
_MAX_ROUNDS = 50


def refresh_job_id(shop_id: int) -> str:
    return f"refresh-segments-{shop_id}"


def recompute_job_id(shop_id: int) -> str:
    return f"recompute-segments-{shop_id}"


def warm_home_job_id(shop_id: int) -> str:
    return f"warm-home-{shop_id}"


def _dirty_key(shop_id: int) -> str:
    return f"cb:segments:dirty:{shop_id}"


def request_refresh(shop_id: int) -> None:
    """Queue a refresh (after the transaction that wrote new orders committed)."""
    enqueue_once_more(refresh_segments, shop_id, queue_name="default", job_id=refresh_job_id(shop_id),
                      flag=_dirty_key(shop_id))


def request_recompute(shop_id: int) -> bool:
    """Queue a full recomputation; False when one is already waiting."""
    return enqueue(recompute_segments, shop_id, queue_name="bulk", job_id=recompute_job_id(shop_id)) is not None


def request_home_warm_up(shop_id: int) -> bool:
    """Queue the computation of the home page's order figures into their cache; False when one waits."""
    return enqueue(warm_home_figures, shop_id, queue_name="bulk", job_id=warm_home_job_id(shop_id)) is not None


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
    request_home_warm_up(shop_id)
    return {"customers": result.customers, "buyers": result.buyers}


@with_app
def warm_home_figures(shop_id: int) -> dict[str, str | None]:
    """Compute one shop's home page order figures and keep them until after the next warm-up."""
    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        return {"at": None}
    found = home.order_figures(session, shop, utcnow(), refresh=True, keep_seconds=home.WARM_SECONDS)
    log.info("shop=%s home figures warmed (as of %s)", shop_id, found["at"])
    return {"at": found["at"]}


def _recently_seen(shop_ids: list[int]) -> list[int]:
    """The shops among ``shop_ids`` whose home page was opened within ``home.SEEN_SECONDS``."""
    if not shop_ids:
        return []
    try:
        marks = redis_holder.get().mget([home.seen_key(shop_id) for shop_id in shop_ids])
    except redis.RedisError as error:
        log.warning("home views unknown, no warm-up queued: %s", error)
        return []
    return [shop_id for shop_id, mark in zip(shop_ids, marks, strict=True) if mark is not None]


@with_app
def recompute_due_shops() -> int:
    """Queue the full run of every active shop whose last one is a day old (hourly), and home warm-ups.

    The shops not due whose home page was opened in the last week have their home figures
    warmed up instead (the due ones are warmed after their run).
    """
    session = db.session()
    cutoff = utcnow() - FULL_EVERY
    shop_ids = session.execute(
        select(Shop.id).outerjoin(SegmentModel, SegmentModel.shop_id == Shop.id)
        .where(Shop.status == "active",
               or_(SegmentModel.full_computed_at.is_(None), SegmentModel.full_computed_at <= cutoff))).scalars().all()
    for shop_id in shop_ids:
        request_recompute(shop_id)
    due = set(shop_ids)
    others = [shop_id for shop_id in session.execute(select(Shop.id).where(Shop.status == "active")).scalars()
              if shop_id not in due]
    for start in range(0, len(others), 500):
        for shop_id in _recently_seen(others[start:start + 500]):
            request_home_warm_up(shop_id)
    return len(shop_ids)
