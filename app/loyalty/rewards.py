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
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.loyalty import events, ledger
from app.loyalty import program as programs
from app.loyalty.lots import remaining
from app.store.models import LedgerEntry, LoyaltyMember, Product, Redemption, Variant
from app.store.types import utcnow
from connectors import base

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read and typed
_KINDS = {"fixed_amount": base.DISCOUNT_FIXED_AMOUNT, "percentage": base.DISCOUNT_PERCENTAGE,
          "free_shipping": base.DISCOUNT_FREE_SHIPPING, "free_product": base.DISCOUNT_FREE_PRODUCT,
          "variable": base.DISCOUNT_FIXED_AMOUNT}


def new_code() -> str:
    return "CB-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def by_key(session: Session, shop_id: int, key: str) -> Redemption | None:
    """The shop's redemption (or granted code) made with this idempotency key."""
    return session.execute(
        select(Redemption).where(Redemption.shop_id == shop_id, Redemption.idempotency_key == key)
    ).scalar_one_or_none()


def redeem(session: Session, shop_id: int, member_id: int, reward_id: str, *, key: str,
           points: int | None = None) -> Redemption:
    """Spend a member's points on a reward once per ``key``; the caller commits, then queues the code.

    ``points`` is the amount chosen for a variable reward (a multiple of its increment).
    """
    if not key or len(key) > 120:
        raise ledger.LedgerError("an idempotency key of 1 to 120 characters is required", status=400)
    existing = by_key(session, shop_id, key)
    if existing is not None:
        if existing.member_id != member_id or existing.reward_id != reward_id:
            raise ledger.LedgerError("this idempotency key was used for another redemption", status=409)
        return existing
    program = programs.ensure(session, shop_id)
    reward = programs.reward(program, reward_id)
    if reward is None:
        raise ledger.LedgerError(f"no reward {reward_id!r} in the program", status=404)
    priced = price(session, shop_id, program, reward, points)
    ledger.spend(session, shop_id, member_id, priced["points"], key=f"reward:{key}", program=program,
                 reason=f"reward {reward_id}")
    redemption = Redemption(
        shop_id=shop_id, member_id=member_id, idempotency_key=key, reward_id=reward_id, reward=priced,
        points=priced["points"], code=new_code(), status="pending", attempts=0,
        expires_at=utcnow() + dt.timedelta(days=reward["code_days"]), created_at=utcnow())
    session.add(redemption)
    session.flush()
    log.info("shop=%s member=%s redeemed %s for %s points", shop_id, member_id, reward_id, priced["points"])
    return redemption


def price(session: Session, shop_id: int, program: programs.Program, reward: dict[str, Any],
          points: int | None) -> dict[str, Any]:
    """The reward as it is redeemed now: its points and value in the shop's currency.

    A variable reward turns the chosen points into money at the program's rate; a free product
    is worth the price of the dearest entitled product's variant in the mirror.
    """
    priced = dict(reward)
    if reward["kind"] == "variable":
        if points is None or not isinstance(points, int) or isinstance(points, bool) \
                or not reward["points"] <= points <= reward["max_points"] or points % reward["increment"]:
            raise ledger.LedgerError(
                f"points: choose {reward['points']} to {reward['max_points']} in steps of {reward['increment']}",
                status=400)
        priced["points"] = points
        priced["value"] = str((Decimal(points) / program["points_per_unit_off"]).quantize(Decimal("0.01")))
    elif points is not None and points != reward["points"]:
        raise ledger.LedgerError(f"points: this reward costs {reward['points']}", status=400)
    if reward["kind"] == "free_product":
        # compared here, not by the database: SQLite keeps amounts as text
        prices = session.execute(
            select(Variant.price).join(Product, Product.id == Variant.product_id)
            .where(Product.shop_id == shop_id, Product.external_id.in_(reward["products"]),
                   Product.deleted_at.is_(None))
        ).scalars().all()
        dearest = max(prices, default=None)
        if dearest is None:
            raise ledger.LedgerError("this reward's products are no longer in the store", status=409)
        priced["value"] = str(Decimal(dearest).quantize(Decimal("0.01")))
    return priced


def grant(session: Session, shop_id: int, member_id: int, reward: dict, *, key: str,
          reward_id: str) -> Redemption:
    """Give a member a code that costs no points (a referred friend's welcome code), once per ``key``.

    The same outbox as a redemption: the caller commits, then queues the code (``request_code``).
    """
    existing = by_key(session, shop_id, key)
    if existing is not None:
        return existing
    redemption = Redemption(
        shop_id=shop_id, member_id=member_id, idempotency_key=key, reward_id=reward_id,
        reward={"name": "Welcome gift", "points": 0, "products": [], **reward}, points=0, code=new_code(),
        status="pending", attempts=0, expires_at=utcnow() + dt.timedelta(days=reward["code_days"]),
        created_at=utcnow())
    session.add(redemption)
    session.flush()
    return redemption


def discount_spec(redemption: Redemption, member: LoyaltyMember) -> base.DiscountSpec:
    """The code the store should create for a redemption: one use, this shopper, until it expires."""
    reward = redemption.reward
    minimum = reward.get("minimum_subtotal")
    return base.DiscountSpec(
        code=redemption.code, kind=_KINDS[reward["kind"]], value=Decimal(reward["value"]),
        title=reward["name"], expires_at=redemption.expires_at, usage_limit=1,
        customer_external_id=member.customer_external_id, customer_email=member.email, combinable=False,
        minimum_subtotal=Decimal(minimum) if minimum else None,
        product_external_ids=tuple(reward.get("products") or ()))


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


# Points given back from a lot whose end has passed get this long before they expire.
RETURN_GRACE = dt.timedelta(days=7)


def refuse(session: Session, redemption: Redemption, reason: str) -> None:
    """Mark a redemption refused and return its points, saying why.

    The points go back to the lots the spend took them from, with those lots' ends (a lot already
    past its end gets a week), so a refused code neither loses points nor makes them last longer.
    """
    program = programs.ensure(session, redemption.shop_id)
    redemption.status, redemption.error = "refused", reason[:2000]
    now = utcnow()
    text = f"the store refused the code: {reason}"[:2000]
    spent = session.execute(select(LedgerEntry).where(
        LedgerEntry.shop_id == redemption.shop_id,
        LedgerEntry.cause_key == f"redemption:reward:{redemption.idempotency_key}")).scalar_one_or_none()
    rows, returned = [], 0
    if spent is not None:
        earlier = session.execute(select(LedgerEntry).where(LedgerEntry.member_id == redemption.member_id,
                                                            LedgerEntry.id < spent.id)).scalars().all()
        before, after = remaining(earlier), remaining([*earlier, spent])
        for lot_id, lot in before.items():
            taken = lot.left - after[lot_id].left
            if taken > 0:
                ends = None if lot.expires_at is None else max(lot.expires_at, now + RETURN_GRACE)
                # not tagged with the lot's order: the order's own entries stay what it earned
                rows.append(ledger._row(redemption.shop_id, redemption.member_id, taken, "redemption_refund",
                                        f"redemption-refund:{redemption.id}:{lot_id}", program.version, now,
                                        None, reason=text, expires_at=ends))
                returned += taken
    if redemption.points > returned:  # what the spend took from no lot (a debt it paid)
        rows.append(ledger._row(redemption.shop_id, redemption.member_id, redemption.points - returned,
                                "redemption_refund", f"redemption-refund:{redemption.id}", program.version, now,
                                None, reason=text, expires_at=ledger.lot_expiry(program, now)))
    ledger.insert_entries(session, rows)
    log.warning("shop=%s redemption=%s refused, points returned: %s", redemption.shop_id, redemption.id, reason)


def available_notices(session: Session, shop_id: int, member_ids: Sequence[int],
                      program: programs.Program, now: dt.datetime | None = None) -> int:
    """Emit "reward available" for rewards a member's spendable points reached since last time.

    The spendable balance last considered is kept on the member; a reward whose price lies above
    it and at or below the balance now is news. Returns how many events are new. The caller commits.
    """
    if not member_ids:
        return 0
    members = session.execute(select(LoyaltyMember).where(LoyaltyMember.id.in_(member_ids),
                                                          LoyaltyMember.customer_external_id.is_not(None))
                              ).scalars().all()
    balances = ledger.balances(session, [m.id for m in members], now)
    notices = []
    for member in members:
        spendable = balances[member.id].spendable
        for reward in program["rewards"]:
            if member.notified_spendable < reward["points"] <= spendable:
                notices.append(events.event(shop_id, events.REWARD_AVAILABLE,
                                            f"{member.id}:{reward['id']}:{spendable}:{member.notified_spendable}",
                                            member.id, reward=reward["id"], name=reward["name"],
                                            points=reward["points"], spendable=spendable))
        member.notified_spendable = spendable
    return events.emit(session, notices)
