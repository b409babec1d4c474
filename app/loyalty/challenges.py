"""Challenges and badges, and the opt-in leaderboard.

A challenge is a count of something within a number of days (orders, reviews, points earned);
completing it pays its bonus once and gives its badge. The leaderboard lists only members who
opted in, under the display name they chose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from app.loyalty import events, ledger
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyMember, MemberBadge
from app.store.types import utcnow
from app.store.upsert import insert_ignore

_BADGES: Table = MemberBadge.__table__  # type: ignore[assignment]


def _counts(session: Session, challenge: dict[str, Any], member_ids: Sequence[int],
            now: dt.datetime) -> dict[int, int]:
    """How far each member is: orders and points count once they cleared their pending period."""
    since = now - dt.timedelta(days=challenge["days"]) if challenge["days"] else None
    mine = LedgerEntry.member_id.in_(member_ids)
    kind = challenge["kind"]
    if kind == "orders":
        # orders the member holds points of (earned, or claimed from a guest), still holding some
        held = (select(LedgerEntry.member_id, LedgerEntry.order_external_id)
                .where(mine, LedgerEntry.order_external_id.is_not(None),
                       LedgerEntry.cause.in_(("order", "claim", "refund", "cancellation", "expiry")))
                .group_by(LedgerEntry.member_id, LedgerEntry.order_external_id)
                .having(func.sum(LedgerEntry.points) > 0))
        # each dated by its award (or claim), counted once spendable
        dated = dict(session.execute(
            select(LedgerEntry.order_external_id, func.min(LedgerEntry.available_at))
            .where(mine, LedgerEntry.cause.in_(("order", "claim")), LedgerEntry.points > 0)
            .group_by(LedgerEntry.order_external_id)).all())
        counts: dict[int, int] = {}
        for member_id, order_id in session.execute(held):
            cleared = dated.get(order_id)
            if cleared is not None and cleared <= now and (since is None or cleared >= since):
                counts[member_id] = counts.get(member_id, 0) + 1
        return counts
    where = [mine, LedgerEntry.created_at <= now]
    if since is not None:
        where.append(LedgerEntry.created_at >= since)
    if kind == "reviews":
        query = select(LedgerEntry.member_id, func.count()).where(*where, LedgerEntry.cause == "review")
    else:  # points_earned, once spendable
        query = select(LedgerEntry.member_id, func.sum(LedgerEntry.points)).where(
            *where, LedgerEntry.cause.in_(ledger.EARNING_CAUSES), LedgerEntry.available_at <= now)
    return {member_id: int(value or 0) for member_id, value in session.execute(query.group_by(LedgerEntry.member_id))}


def evaluate(session: Session, shop_id: int, member_ids: Sequence[int], *, program: programs.Program | None = None,
             now: dt.datetime | None = None) -> int:
    """Give the badges (and bonus points) of challenges these members completed; return how many."""
    program = program or programs.ensure(session, shop_id)
    if not program["challenges"] or not member_ids:
        return 0
    # customers only: a guest's orders count for the customer who claims them, once
    member_ids = list(session.execute(select(LoyaltyMember.id).where(
        LoyaltyMember.id.in_(member_ids), LoyaltyMember.customer_external_id.is_not(None))).scalars())
    if not member_ids:
        return 0
    now = now or utcnow()
    have = {(member_id, challenge_id) for member_id, challenge_id in session.execute(
        select(MemberBadge.member_id, MemberBadge.challenge_id).where(MemberBadge.member_id.in_(member_ids)))}
    given, entries, notices = 0, [], []
    for challenge in program["challenges"]:
        candidates = [m for m in member_ids if (m, challenge["id"]) not in have]
        if not candidates:
            continue
        done = [m for m, count in _counts(session, challenge, candidates, now).items() if count >= challenge["count"]]
        if not done:
            continue
        won = insert_ignore(session, _BADGES, [
            {"shop_id": shop_id, "member_id": m, "challenge_id": challenge["id"], "badge": challenge["badge"],
             "awarded_at": now} for m in done], conflict=("member_id", "challenge_id"), returning=("member_id",))
        for (member_id,) in won:
            entries.append(ledger.award_row(shop_id, member_id, challenge["points"], cause="challenge",
                                            key=f"{member_id}:{challenge['id']}", program=program,
                                            reason=challenge["name"]))
            notices.append(events.event(shop_id, events.BADGE_EARNED, f"{member_id}:{challenge['id']}", member_id,
                                        challenge=challenge["id"], badge=challenge["badge"],
                                        points=challenge["points"]))
            given += 1
    ledger.insert_entries(session, entries)
    events.emit(session, notices)
    return given


def badges(session: Session, member_id: int) -> list[dict[str, Any]]:
    return [{"challenge": b.challenge_id, "badge": b.badge, "awarded_at": b.awarded_at.isoformat()}
            for b in session.execute(select(MemberBadge).where(MemberBadge.member_id == member_id)
                                     .order_by(MemberBadge.awarded_at)).scalars()]


def set_display_name(member: LoyaltyMember, name: str | None, opt_in: bool) -> None:
    """Opt in (with a chosen name of 2 to 40 characters) or out of the leaderboard."""
    if opt_in:
        cleaned = " ".join((name or "").split())
        if not 2 <= len(cleaned) <= 40 or "@" in cleaned:
            raise ledger.LedgerError("display name: 2 to 40 characters, not an email address", status=400)
        member.display_name = cleaned
    member.leaderboard_opt_in = bool(opt_in)


def leaderboard(session: Session, shop_id: int, *, days: int = 30, limit: int = 10,
                now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The members who opted in, by points earned in the last ``days``: rank, chosen name, points."""
    now = now or utcnow()
    earned = func.sum(LedgerEntry.points).label("earned")
    rows = session.execute(
        select(LoyaltyMember.display_name, earned)
        .join(LedgerEntry, LedgerEntry.member_id == LoyaltyMember.id)
        .where(LoyaltyMember.shop_id == shop_id, LoyaltyMember.leaderboard_opt_in.is_(True),
               LoyaltyMember.display_name.is_not(None), LedgerEntry.cause.in_(ledger.EARNING_CAUSES),
               LedgerEntry.created_at >= now - dt.timedelta(days=days), LedgerEntry.created_at <= now)
        .group_by(LoyaltyMember.id, LoyaltyMember.display_name)
        .having(earned > 0).order_by(earned.desc(), LoyaltyMember.id).limit(limit)
    ).all()
    return [{"rank": index + 1, "name": name, "points": int(points)} for index, (name, points) in enumerate(rows)]
