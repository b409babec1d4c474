"""VIP tiers: who qualifies, upgrades, downgrades after a grace period, store write-back.

A member's qualifying value is either the points earned (earning less its reversals, so a
refund can lower a tier) or the money spent on orders that earned, over the program's window
(lifetime, this calendar year, or the last 12 months). Only what cleared its pending period
counts: an order that can still be returned lifts no tier (nor its multiplier, nor pays entry
points). Points claimed from a guest count from the claim. An upgrade happens when the value
reaches a higher tier and pays that tier's entry points (once per tier position, ever); a
member below their tier's threshold keeps it for ``tier_grace_days``, and the daily evaluation
moves them down after that. Every change is
a ``tier_changed`` event and is written back to the store (a customer tag on Shopify, customer
meta on WooCommerce) by ``write_back``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.loyalty import events, ledger
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyMember, Order, Refund
from app.store.types import utcnow
from connectors import base


def window_start(program: programs.Program, now: dt.datetime) -> dt.datetime | None:
    """Where the qualifying window begins (None: the member's whole history)."""
    window = program["tier_window"]
    if window == "calendar_year":
        return dt.datetime(now.year, 1, 1, tzinfo=dt.timezone.utc)
    if window == "rolling_12_months":
        return now - dt.timedelta(days=365)
    return None


def qualifying(session: Session, program: programs.Program, member_ids: Sequence[int],
               now: dt.datetime) -> dict[int, Decimal]:
    """Each member's qualifying value: points earned or money spent in the window."""
    if not member_ids:
        return {}
    start = window_start(program, now)
    values: dict[int, Decimal] = {member_id: Decimal("0") for member_id in member_ids}
    if program["tier_basis"] == "points_earned":
        query = (select(LedgerEntry.member_id, func.sum(LedgerEntry.points))
                 .where(LedgerEntry.member_id.in_(member_ids), LedgerEntry.cause.in_(ledger.EARNING_CAUSES),
                        LedgerEntry.created_at <= now, LedgerEntry.available_at <= now)
                 .group_by(LedgerEntry.member_id))
        if start is not None:
            query = query.where(LedgerEntry.created_at >= start)
        for member_id, points in session.execute(query):
            values[member_id] = Decimal(int(points or 0))
        return values
    # money spent: the orders whose points a member holds (earned, or claimed from a guest)
    held = session.execute(
        select(LedgerEntry.member_id, LedgerEntry.shop_id, LedgerEntry.order_external_id)
        .where(LedgerEntry.member_id.in_(member_ids), LedgerEntry.points > 0, LedgerEntry.available_at <= now,
               LedgerEntry.order_external_id.is_not(None), or_(LedgerEntry.cause == "order",
                                                              LedgerEntry.cause_key.like("claim:%:in")))
    ).all()
    by_order: dict[tuple[int, str], int] = {(shop_id, str(order_id)): member_id
                                            for member_id, shop_id, order_id in held}
    if not by_order:
        return values
    shop_id = next(iter(by_order))[0]
    order_ids = sorted({order_id for _, order_id in by_order})
    refunded: dict[str, Decimal] = {}
    for order_id, amount in session.execute(  # summed here: SQLite keeps amounts as text
            select(Refund.order_external_id, Refund.amount)
            .where(Refund.shop_id == shop_id, Refund.order_external_id.in_(order_ids))):
        refunded[order_id] = refunded.get(order_id, Decimal("0")) + amount
    orders = session.execute(
        select(Order.external_id, Order.total_price, Order.processed_at, Order.source_created_at,
               Order.cancelled_at)
        .where(Order.shop_id == shop_id, Order.external_id.in_(order_ids))).all()
    for external_id, total, processed_at, created_at, cancelled_at in orders:
        placed = processed_at or created_at
        if cancelled_at is not None or placed > now or (start is not None and placed < start):
            continue
        member_id = by_order[(shop_id, external_id)]
        values[member_id] += max(Decimal(total) - Decimal(refunded.get(external_id) or 0), Decimal("0"))
    return values


def tier_for(program: programs.Program, value: Decimal) -> int:
    """The index of the highest tier whose threshold the value reaches."""
    reached = 0
    for index, tier in enumerate(program["tiers"]):
        if value >= tier["threshold"]:
            reached = index
    return reached


def _rank(program: programs.Program, name: str | None) -> int:
    names = [t["name"] for t in program["tiers"]]
    return names.index(name) if name in names else 0


def evaluate(session: Session, shop_id: int, member_ids: Sequence[int], *, program: programs.Program | None = None,
             now: dt.datetime | None = None) -> int:
    """Move members to the tier they qualify for (up at once, down after the grace period).

    Returns how many changed tier. The caller commits.
    """
    now = now or utcnow()
    program = program or programs.ensure(session, shop_id)
    members = session.execute(
        select(LoyaltyMember).where(LoyaltyMember.id.in_(member_ids), LoyaltyMember.shop_id == shop_id,
                                    LoyaltyMember.customer_external_id.is_not(None))
        .order_by(LoyaltyMember.id)
    ).scalars().all()
    values = qualifying(session, program, [m.id for m in members], now)
    tiers = program["tiers"]
    names = [t["name"] for t in tiers]
    changed, notices, entries = 0, [], []
    for member in members:
        current, target = _rank(program, member.tier), tier_for(program, values[member.id])
        previous, since = member.tier or tiers[0]["name"], member.tier_since
        if member.tier is not None and member.tier not in names:
            # the merchant renamed or removed the tier: regrade, with no entry points or grace
            _move(member, tiers[target]["name"], now)
            notices.append(_notice(shop_id, member, previous, since, values[member.id], "regraded"))
            changed += 1
            continue
        if target >= current:
            member.tier_grace_until = None
        if target > current:
            _move(member, tiers[target]["name"], now)
            if tiers[target]["entry_points"]:
                entries.append((member.id, target))
            notices.append(_notice(shop_id, member, previous, since, values[member.id], "upgrade"))
            changed += 1
        elif target < current:
            if member.tier_grace_until is None and program["tier_grace_days"] > 0:
                member.tier_grace_until = now + dt.timedelta(days=program["tier_grace_days"])
            elif member.tier_grace_until is None or member.tier_grace_until <= now:
                _move(member, tiers[target]["name"], now)
                notices.append(_notice(shop_id, member, previous, since, values[member.id], "downgrade"))
                changed += 1
    ledger.insert_entries(session, _entry_points(shop_id, program, entries))
    events.emit(session, notices)
    session.flush()
    return changed


def _entry_points(shop_id: int, program: programs.Program, reached: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Entry points of the tiers members reached: once per member and tier position, ever."""
    rows = []
    for member_id, rank in reached:
        tier = program["tiers"][rank]
        rows.append(ledger.award_row(shop_id, member_id, tier["entry_points"], cause="tier_entry",
                                     key=f"{member_id}:rank{rank}", program=program,
                                     reason=f"welcome to {tier['name']}"))
    return rows


def _move(member: LoyaltyMember, name: str, now: dt.datetime) -> None:
    member.tier, member.tier_since, member.tier_grace_until = name, now, None


def _notice(shop_id: int, member: LoyaltyMember, previous: str, since: dt.datetime | None, value: Decimal,
            direction: str) -> dict[str, Any]:
    """A tier change, keyed by the change itself (from what, held since when, to what): two
    evaluations racing to the same change write one event."""
    held = since.isoformat() if since else "start"
    return events.event(shop_id, events.TIER_CHANGED, f"{member.id}:{previous}:{held}:{member.tier}", member.id,
                        previous=previous, tier=member.tier, direction=direction, qualifying=str(value))


def due_for_review(session: Session, shop_id: int, program: programs.Program) -> list[int]:
    """Members the daily evaluation looks at: above the first tier, or in a grace period."""
    first = program["tiers"][0]["name"]
    return list(session.execute(
        select(LoyaltyMember.id).where(LoyaltyMember.shop_id == shop_id, or_(
            LoyaltyMember.tier_grace_until.is_not(None),
            (LoyaltyMember.tier.is_not(None)) & (LoyaltyMember.tier != first)))
        .order_by(LoyaltyMember.id)
    ).scalars())


def progress(program: programs.Program, tier_name: str | None, value: Decimal) -> dict[str, Any]:
    """Where a member stands: tier, the next one and what is missing (for the shopper's view)."""
    tiers = program["tiers"]
    current = _rank(program, tier_name)
    following = tiers[current + 1] if current + 1 < len(tiers) else None
    return {
        "tier": tiers[current]["name"], "perks": tiers[current]["perks"],
        "multiplier": tiers[current]["multiplier"], "basis": program["tier_basis"],
        "window": program["tier_window"], "qualifying": str(value),
        "next_tier": following["name"] if following else None,
        "missing": str(max(Decimal(following["threshold"]) - value, Decimal("0"))) if following else None,
    }


def pending_write_back(session: Session, shop_id: int, limit: int = 50) -> Sequence[LoyaltyMember]:
    """Members whose tier the store does not show yet."""
    return session.execute(
        select(LoyaltyMember).where(
            LoyaltyMember.shop_id == shop_id, LoyaltyMember.customer_external_id.is_not(None),
            LoyaltyMember.tier.is_not(None),
            or_(LoyaltyMember.tier_written.is_(None), LoyaltyMember.tier_written != LoyaltyMember.tier))
        .order_by(LoyaltyMember.id).limit(limit)
    ).scalars().all()


def attributes(program: programs.Program, member: LoyaltyMember) -> base.CustomerAttributes:
    """What the store shows of a member's tier: meta ``tier`` and the tag of that tier alone."""
    prefix = program["tier_tag_prefix"]
    # every tier's tag but this one, and the one written before (a tier since renamed)
    tags = [f"{prefix}{t['name']}".strip() for t in program["tiers"]]
    if member.tier_written:
        tags.append(f"{prefix}{member.tier_written}".strip())
    mine = f"{prefix}{member.tier}".strip()
    assert member.customer_external_id is not None
    return base.CustomerAttributes(
        customer_external_id=member.customer_external_id, values=(("tier", member.tier or ""),),
        tags_add=(mine,), tags_remove=tuple(dict.fromkeys(tag for tag in tags if tag != mine)))
