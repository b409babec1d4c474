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
    request_tier_write_back(shop_id)
    if result.more:
        enqueue(accrue_points, shop_id, queue_name="default",
                job_id=f"{accrue_job_id(shop_id)}-continue-{uuid.uuid4()}")
    log.info("shop=%s loyalty accrual: %s orders, %s refunds, %+d points", shop_id, result.orders,
             result.refunds, result.points)
    return {"orders": result.orders, "refunds": result.refunds, "customers": result.customers,
            "points": result.points}


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


def upkeep_job_id(shop_id: int) -> str:
    return f"loyalty-upkeep-{shop_id}"


@with_app
def loyalty_upkeep(shop_id: int) -> dict[str, int]:
    """What time changes in a shop's program: expiry, reminders, birthdays, tiers, referrals."""
    from app.loyalty import upkeep

    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        return {}
    done = upkeep.run(session, shop_id)
    request_tier_write_back(shop_id)
    log.info("shop=%s loyalty upkeep: %s", shop_id, done)
    return done


@with_app
def loyalty_upkeep_all_shops() -> int:
    """Queue the upkeep of every active shop (periodic)."""
    from sqlalchemy import select

    session = db.session()
    shop_ids = session.execute(select(Shop.id).where(Shop.status == "active")).scalars().all()
    for shop_id in shop_ids:
        enqueue(loyalty_upkeep, shop_id, queue_name="default", job_id=upkeep_job_id(shop_id))
    return len(shop_ids)


def tier_write_back_job_id(shop_id: int) -> str:
    return f"loyalty-tiers-{shop_id}"


def request_tier_write_back(shop_id: int) -> None:
    """Queue the write-back of changed tiers (once: a queued one writes everything pending)."""
    from app.loyalty import tiers

    if tiers.pending_write_back(db.session(), shop_id, limit=1):
        enqueue(write_back_tiers, shop_id, queue_name="default", job_id=tier_write_back_job_id(shop_id))


@with_app
def write_back_tiers(shop_id: int) -> int:
    """Show members' tiers in the store (Shopify customer tags, WooCommerce customer meta).

    Members are written 25 at a time and marked written only after the store accepted them: a
    failure leaves them pending for the retry, and writing the same tier again changes nothing.
    """
    from sqlalchemy import or_, select

    from app import installs, platforms
    from app.loyalty import program as programs
    from app.loyalty import tiers
    from app.store.models import Customer
    from connectors import base

    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        return 0
    program = programs.ensure(session, shop_id)
    connector = platforms.connector(shop.platform)
    written = 0
    while True:
        members = tiers.pending_write_back(session, shop_id, limit=25)
        if not members:
            return written
        gone = set(session.execute(select(Customer.external_id).where(
            Customer.shop_id == shop_id, Customer.external_id.in_([m.customer_external_id for m in members]),
            or_(Customer.deleted_at.is_not(None), Customer.redacted_at.is_not(None)))).scalars())
        for member in [m for m in members if m.customer_external_id in gone]:
            member.tier_written = member.tier  # nobody in the store to show it to
        members = [m for m in members if m.customer_external_id not in gone]
        if not members:
            session.commit()
            continue
        def write(batch):
            updates = [tiers.attributes(program, member) for member in batch]
            installs.call_with_credentials(
                session, shop, lambda credentials: connector.set_customer_attributes(credentials, updates))

        try:
            write(members)
        except base.TerminalError:
            # one refused customer (deleted in the store, say) must not hold up the others; but
            # when the store refuses every one, the cause is the shop's (a scope, say): keep them
            refused = []
            for member in members:
                try:
                    write([member])
                except base.TerminalError as error:
                    refused.append(error)
                    log.warning("shop=%s member=%s tier not written: %s", shop_id, member.id, error)
            if len(members) > 1 and len(refused) == len(members):
                session.rollback()
                raise refused[0] from None
        for member in members:
            member.tier_written = member.tier
        session.commit()
        written += len(members)
