"""Rewards: points spent become a single-use discount code in the store.

Redeeming spends the points and writes a ``Redemption`` row (the outbox) in one transaction;
a job then asks the store for the code. The code is chosen before the call and the store
refuses a second code with the same text, so a retried job never creates two. When the store
refuses the code the points come back, with the store's reason on the redemption.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.loyalty import ledger
from app.loyalty import program as programs
from app.store.models import LoyaltyMember, Redemption
from app.store.types import utcnow
from connectors import base

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read and typed
_KINDS = {"fixed_amount": base.DISCOUNT_FIXED_AMOUNT, "percentage": base.DISCOUNT_PERCENTAGE,
          "free_shipping": base.DISCOUNT_FREE_SHIPPING}


def new_code() -> str:
    return "CB-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def redeem(session: Session, shop_id: int, member_id: int, reward_id: str, *, key: str) -> Redemption:
    """Spend a member's points on a reward once per ``key``; the caller commits, then queues the code."""
    if not key or len(key) > 120:
        raise ledger.LedgerError("an idempotency key of 1 to 120 characters is required", status=400)
    existing = session.execute(
        select(Redemption).where(Redemption.shop_id == shop_id, Redemption.idempotency_key == key)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.member_id != member_id or existing.reward_id != reward_id:
            raise ledger.LedgerError("this idempotency key was used for another redemption", status=409)
        return existing
    program = programs.ensure(session, shop_id)
    reward = programs.reward(program, reward_id)
    if reward is None:
        raise ledger.LedgerError(f"no reward {reward_id!r} in the program", status=404)
    ledger.spend(session, shop_id, member_id, reward["points"], key=f"reward:{key}", program=program,
                 reason=f"reward {reward_id}")
    redemption = Redemption(
        shop_id=shop_id, member_id=member_id, idempotency_key=key, reward_id=reward_id, reward=dict(reward),
        points=reward["points"], code=new_code(), status="pending", attempts=0,
        expires_at=utcnow() + dt.timedelta(days=reward["code_days"]), created_at=utcnow())
    session.add(redemption)
    session.flush()
    log.info("shop=%s member=%s redeemed %s for %s points", shop_id, member_id, reward_id, reward["points"])
    return redemption


def discount_spec(redemption: Redemption, member: LoyaltyMember) -> base.DiscountSpec:
    """The code the store should create for a redemption: one use, this shopper, until it expires."""
    reward = redemption.reward
    minimum = reward.get("minimum_subtotal")
    return base.DiscountSpec(
        code=redemption.code, kind=_KINDS[reward["kind"]], value=Decimal(reward["value"]),
        title=reward["name"], expires_at=redemption.expires_at, usage_limit=1,
        customer_external_id=member.customer_external_id, customer_email=member.email, combinable=False,
        minimum_subtotal=Decimal(minimum) if minimum else None)


def issue(session: Session, redemption: Redemption,
          create: Callable[[list[base.DiscountSpec]], list[base.DiscountResult]]) -> str:
    """Create the redemption's code in the store; on a refusal give the points back. The caller commits.

    ``create`` is the connector's ``create_discounts`` bound to the shop's credentials; its
    retryable errors are raised to the job, which tries again.
    """
    if redemption.status != "pending":
        return redemption.status
    member = session.get(LoyaltyMember, redemption.member_id)
    if member is None:
        refuse(session, redemption, "the member no longer exists")
        return "refused"
    redemption.attempts += 1
    (result,) = create([discount_spec(redemption, member)])
    if result.external_id:
        # created now, or already by an earlier attempt of this job (the same code): issued
        redemption.status, redemption.discount_external_id = "issued", result.external_id
        redemption.issued_at, redemption.error = utcnow(), None
        return "issued"
    refuse(session, redemption, result.error or "the store did not create the code")
    return "refused"


def refuse(session: Session, redemption: Redemption, reason: str) -> None:
    """Mark a redemption refused and return its points, saying why."""
    program = programs.ensure(session, redemption.shop_id)
    redemption.status, redemption.error = "refused", reason[:2000]
    ledger.add_entry(session, shop_id=redemption.shop_id, member_id=redemption.member_id,
                     points=redemption.points, cause="redemption_refund",
                     cause_key=f"redemption-refund:{redemption.id}", program_version=program.version,
                     available_at=utcnow(), reason=f"the store refused the code: {reason}"[:2000])
    log.warning("shop=%s redemption=%s refused, points returned: %s", redemption.shop_id, redemption.id, reason)
