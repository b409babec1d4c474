"""Jobs of the loyalty engine: accrue points from what the mirror learned."""

from __future__ import annotations

import logging
import uuid

from app.extensions import db
from app.loyalty import accrual
from app.store.models import Shop
from jobs.context import with_app
from jobs.queues import enqueue

log = logging.getLogger(__name__)


def accrue_job_id(shop_id: int) -> str:
    return f"loyalty-accrue-{shop_id}"


def request_accrual(shop_id: int) -> None:
    """Queue the shop's accrual (once: a queued one will see everything committed before it runs)."""
    enqueue(accrue_points, shop_id, queue_name="default", job_id=accrue_job_id(shop_id))


@with_app
def accrue_points(shop_id: int) -> dict[str, int]:
    """Award and reverse points for the orders and refunds the mirror holds since the last run."""
    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status in ("uninstalled", "redacted"):
        return {}
    result = accrual.accrue(session, shop_id)
    if result.more:
        enqueue(accrue_points, shop_id, queue_name="default",
                job_id=f"{accrue_job_id(shop_id)}-continue-{uuid.uuid4()}")
    log.info("shop=%s loyalty accrual: %s orders, %s refunds, %+d points", shop_id, result.orders,
             result.refunds, result.points)
    return {"orders": result.orders, "refunds": result.refunds, "points": result.points}
