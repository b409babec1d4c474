"""The program's periodic work for one shop: what time alone changes.

Points expire and reminders come due, birthdays arrive, members who entered a segment get its
bonus, pending points become spendable (so a
reward may now be affordable), tiers are reviewed (windows move, grace periods end) and
referred friends' orders clear their pending period. Every step is idempotent and commits on
its own, so a run cut short is finished by the next.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.loyalty import actions, challenges, expiry, ledger, referrals, rewards, tiers
from app.loyalty import program as programs
from app.store.models import LedgerEntry
from app.store.types import utcnow

_CHUNK = 500


def run(session: Session, shop_id: int, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    steps = (("expired", lambda program: expiry.expire(session, shop_id, now)),
             ("reminders", lambda program: expiry.remind(session, shop_id, now)),
             ("birthdays", lambda program: _birthdays(session, shop_id, now)),
             ("segment_bonuses", lambda program: actions.segment_bonuses(session, shop_id, program)),
             ("rewards_available", lambda program: _matured(session, shop_id, program, now)),
             ("tier_changes", lambda program: _review_tiers(session, shop_id, program, now)),
             ("referrals", lambda program: referrals.complete_due(session, shop_id, now)))
    done: dict[str, int] = {}
    for name, step in steps:
        ledger.lock_shop(session, shop_id)  # each step is its own transaction
        done[name] = step(programs.ensure(session, shop_id))
        session.commit()
    return done


def _birthdays(session: Session, shop_id: int, now: dt.datetime) -> int:
    """Today's birthdays, and those of days no run covered (up to a month back)."""
    cursor = expiry.cursor_for(session, shop_id)
    today = now.date()
    last = (cursor.marks or {}).get("birthdays_through")
    day = max(dt.date.fromisoformat(last) + dt.timedelta(days=1), today - dt.timedelta(days=31)) if last else today
    awarded = 0
    while day <= today:
        awarded += actions.birthdays(session, shop_id, day)
        day += dt.timedelta(days=1)
    cursor.marks = {**(cursor.marks or {}), "birthdays_through": today.isoformat()}  # a new dict: rewritten
    return awarded


def _matured(session: Session, shop_id: int, program: programs.Program, now: dt.datetime) -> int:
    """Members whose points became spendable since the last run (or arrived already spendable).

    Their challenges are counted again (orders count once cleared), then their tiers, and the
    rewards they can now afford are announced.
    """
    cursor = expiry.cursor_for(session, shop_id)
    through = expiry.mark(cursor, "matured_through")
    query = select(LedgerEntry.member_id).where(LedgerEntry.shop_id == shop_id, LedgerEntry.available_at <= now)
    if through is not None:
        query = query.where(or_(LedgerEntry.available_at > through, LedgerEntry.created_at > through))
    members = sorted(set(session.execute(query).scalars()))
    emitted = 0
    for start in range(0, len(members), _CHUNK):
        chunk = members[start:start + _CHUNK]
        challenges.evaluate(session, shop_id, chunk, program=program, now=now)
        tiers.evaluate(session, shop_id, chunk, program=program, now=max(now, utcnow()))
        emitted += rewards.available_notices(session, shop_id, chunk, program, max(now, utcnow()))
    expiry.set_mark(cursor, "matured_through", now)
    return emitted


def _review_tiers(session: Session, shop_id: int, program: programs.Program, now: dt.datetime) -> int:
    """Once a day: every member above the first tier or in a grace period is evaluated again."""
    cursor = expiry.cursor_for(session, shop_id)
    today = now.date().isoformat()
    if (cursor.marks or {}).get("tiers_reviewed_on") == today:
        return 0
    members = tiers.due_for_review(session, shop_id, program)
    changed = 0
    for start in range(0, len(members), _CHUNK):
        changed += tiers.evaluate(session, shop_id, members[start:start + _CHUNK], program=program, now=now)
    cursor.marks = {**(cursor.marks or {}), "tiers_reviewed_on": today}  # a new dict: the JSON is rewritten
    return changed
