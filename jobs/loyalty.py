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


def issue_job_id(redemption_id: int) -> str:
    return f"loyalty-issue-{redemption_id}"


def request_code(redemption_id: int) -> None:
    """Queue the creation of a redemption's code (call after the redemption committed)."""
    enqueue(issue_reward_code, redemption_id, queue_name="events", job_id=issue_job_id(redemption_id))


@with_app
def issue_reward_code(redemption_id: int) -> str:
    """Create a redeemed reward's discount code in the store (retried; never twice)."""
    from app import installs, platforms
    from app.loyalty import rewards
    from app.store.models import Redemption
    from connectors import base

    session = db.session()
    redemption = session.get(Redemption, redemption_id)
    if redemption is None or redemption.status != "pending":
        return "done"
    shop = session.get(Shop, redemption.shop_id)
    if shop is None or shop.status in ("uninstalled", "redacted"):
        rewards.refuse(session, redemption, "the store is no longer connected")
        session.commit()
        return "refused"
    connector = platforms.connector(shop.platform)
    try:
        outcome = rewards.issue(session, redemption, lambda specs: installs.call_with_credentials(
            session, shop, lambda credentials: connector.create_discounts(credentials, specs)))
    except (base.RetryableError, base.AuthRevokedError) as error:
        session.rollback()
        redemption = session.get(Redemption, redemption_id)
        redemption.attempts += 1
        if redemption.attempts >= rewards.MAX_ATTEMPTS:
            rewards.refuse(session, redemption, f"the store could not be reached: {error}")
            session.commit()
            return "refused"
        session.commit()
        raise  # the job's retries, then the periodic sweep, try again
    except base.TerminalError as error:
        session.rollback()
        redemption = session.get(Redemption, redemption_id)
        rewards.refuse(session, redemption, str(error))
        session.commit()
        return "refused"
    session.commit()
    log.info("shop=%s redemption=%s %s", shop.id, redemption_id, outcome)
    return outcome


@with_app
def resume_pending_redemptions() -> int:
    """Queue the code of every redemption still pending after a while (a lost or failed job; periodic)."""
    import datetime as dt

    from sqlalchemy import select

    from app.store.models import Redemption
    from app.store.types import utcnow

    session = db.session()
    ids = session.execute(
        select(Redemption.id).where(Redemption.status == "pending",
                                    Redemption.created_at < utcnow() - dt.timedelta(minutes=2))
    ).scalars().all()
    for redemption_id in ids:
        request_code(redemption_id)  # a job still waiting keeps its place; an ended one is replaced
    return len(ids)
