"""Expiry of earned points, lot by lot (see ``lots``), with reminders before.

When a lot's end passes, whatever is left of it expires as one entry (``expiry:<lot id>``,
once). The members are locked first, as a spend locks them, so an expiry and a redemption of the
same points cannot both pass; a spend also writes the member's due expiries before it reads the
balance, so points past their end are never spent while the periodic run is still to come.
Reminders are events at the lead times the program names (30 and 7 days by default), once per
member, lot end and lead time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.loyalty import events, ledger
from app.loyalty import program as programs
from app.loyalty.lots import remaining
from app.store.models import LedgerEntry, LoyaltyCursor
from app.store.types import utcnow

# Lots that ended shortly before the last run are looked at again: a claim can copy a lot whose
# end has just passed, and a second look is harmless (each expiry is written once).
_OVERLAP = dt.timedelta(days=2)


def _member_entries(session: Session, member_ids: Sequence[int]) -> dict[int, list[LedgerEntry]]:
    found: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in session.execute(
        select(LedgerEntry).where(LedgerEntry.member_id.in_(member_ids)).order_by(LedgerEntry.id)
    ).scalars():
        found[entry.member_id].append(entry)
    return found


def cursor_for(session: Session, shop_id: int) -> LoyaltyCursor:
    cursor = session.get(LoyaltyCursor, shop_id)
    if cursor is None:
        cursor = LoyaltyCursor(shop_id=shop_id, order_id=0, refund_id=0, customer_id=0, marks={})
        session.add(cursor)
        session.flush()
    return cursor


def mark(cursor: LoyaltyCursor, name: str) -> dt.datetime | None:
    value = (cursor.marks or {}).get(name)
    return dt.datetime.fromisoformat(value) if value else None


def set_mark(cursor: LoyaltyCursor, name: str, moment: dt.datetime) -> None:
    cursor.marks = {**(cursor.marks or {}), name: moment.isoformat()}  # a new dict: the JSON is rewritten


def _lots_ending(session: Session, shop_id: int, after: dt.datetime | None, until: dt.datetime) -> list[int]:
    """Members with a lot whose end falls in (after, until]."""
    query = select(LedgerEntry.member_id).where(
        LedgerEntry.shop_id == shop_id, LedgerEntry.points > 0, LedgerEntry.expires_at.is_not(None),
        LedgerEntry.expires_at <= until)
    if after is not None:
        query = query.where(LedgerEntry.expires_at > after)
    return sorted(set(session.execute(query).scalars()))


def expire(session: Session, shop_id: int, now: dt.datetime | None = None) -> int:
    """Write the expiry of every lot whose end has passed; return the points expired. The caller commits."""
    now = now or utcnow()
    program = programs.ensure(session, shop_id)
    cursor = cursor_for(session, shop_id)
    through = mark(cursor, "expired_through")
    members = _lots_ending(session, shop_id, through - _OVERLAP if through else None, now)
    expired = 0
    for part in _slices(members, 500):
        ledger.lock_members(session, part)
        for member_id, entries in _member_entries(session, part).items():
            expired += _expire_lots(session, shop_id, member_id, entries, program, now)
    set_mark(cursor, "expired_through", now)
    return expired


def expire_member(session: Session, shop_id: int, member_id: int, program: programs.Program,
                  now: dt.datetime | None = None) -> int:
    """Write one member's due expiries (the caller holds the member's lock)."""
    entries = session.execute(select(LedgerEntry).where(LedgerEntry.member_id == member_id)
                              .order_by(LedgerEntry.id)).scalars().all()
    return _expire_lots(session, shop_id, member_id, entries, program, now or utcnow())


def _expire_lots(session: Session, shop_id: int, member_id: int, entries: Sequence[LedgerEntry],
                 program: programs.Program, now: dt.datetime) -> int:
    # In effect from when it is written (never later): a spend that reads after it sees it.
    effective = min(now, utcnow())
    rows = [ledger._row(shop_id, member_id, -lot.left, "expiry", f"expiry:{lot.entry_id}", program.version,
                        effective, lot.order_external_id,
                        reason=f"points earned by {lot.available_at:%Y-%m-%d} expired")
            for lot in remaining(entries).values()
            if lot.expires_at is not None and lot.expires_at <= now and lot.left > 0]
    if not rows or not ledger.insert_entries(session, rows):
        return 0
    lost = sum(-row["points"] for row in rows)
    events.emit(session, [events.event(shop_id, events.POINTS_EXPIRED, f"{member_id}:{rows[0]['cause_key']}",
                                       member_id, points=lost)])
    return lost


def remind(session: Session, shop_id: int, now: dt.datetime | None = None) -> int:
    """Emit "points expiring" for lots ending within each lead time; return how many events are new."""
    now = now or utcnow()
    program = programs.ensure(session, shop_id)
    cursor = cursor_for(session, shop_id)
    emitted = 0
    for days in program["expiry_reminder_days"]:
        horizon = now + dt.timedelta(days=days)
        name = f"reminded_through_{days}"
        through = mark(cursor, name)
        members = _lots_ending(session, shop_id, max(through, now) if through else now, horizon)
        for part in _slices(members, 500):
            notices = []
            for member_id, entries in _member_entries(session, part).items():
                for day, points in _ending(entries, now, horizon):
                    notices.append(events.event(shop_id, events.POINTS_EXPIRING, f"{member_id}:{day}:{days}",
                                                member_id, points=points, expires_on=day.isoformat(),
                                                days_before=days))
            emitted += events.emit(session, notices)
        set_mark(cursor, name, horizon)
    return emitted


def _ending(entries: Iterable[LedgerEntry], now: dt.datetime, horizon: dt.datetime) -> list[tuple[dt.date, int]]:
    """The points left in lots ending in (now, horizon], by day, earliest first."""
    by_day: dict[dt.date, int] = defaultdict(int)
    for lot in remaining(entries).values():
        if lot.expires_at is not None and now < lot.expires_at <= horizon and lot.left > 0:
            by_day[lot.expires_at.date()] += lot.left
    return sorted(by_day.items())


def left_on(session: Session, member_id: int, day: dt.date) -> int:
    """The member's points still left in lots that end on ``day`` (spent, refunded or expired points are gone)."""
    entries = _member_entries(session, [member_id]).get(member_id, [])
    return sum(lot.left for lot in remaining(entries).values()
               if lot.expires_at is not None and lot.expires_at.date() == day and lot.left > 0)


def expiring(entries: Iterable[LedgerEntry], now: dt.datetime, within_days: int = 90) -> list[dict]:
    """A member's points that will expire soon, by date (for the shopper's view)."""
    return [{"expires_on": day.isoformat(), "points": points}
            for day, points in _ending(entries, now, now + dt.timedelta(days=within_days))]


def _slices(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
