"""The hourly upkeep: matured points announce rewards, birthdays missed by a run are paid, returns."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.loyalty import actions, events, ledger, rewards, upkeep
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyEvent, LoyaltyMember, Redemption
from tests.loyalty.support import NOW, apply_records, order

DAY = dt.timedelta(days=1)


def _events(session, kind):
    return [e.payload for e in session.execute(select(LoyaltyEvent).where(LoyaltyEvent.kind == kind)
                                               .order_by(LoyaltyEvent.id)).scalars()]


def test_rewards_become_available_once_when_pending_points_mature(session, started):
    # given an order worth 600 points, pending for 14 days
    apply_records(session, started, order("1", total="600.00", subtotal="600.00"))
    upkeep.run(session, started.id, now=NOW + DAY)
    assert _events(session, events.REWARD_AVAILABLE) == []
    # when the pending period has passed: the rewards 600 points afford are announced
    upkeep.run(session, started.id, now=NOW + 15 * DAY)
    announced = {e["reward"] for e in _events(session, events.REWARD_AVAILABLE)}
    assert announced == {"5-off", "free-shipping", "points-off"}
    # and the next run says nothing again
    upkeep.run(session, started.id, now=NOW + 16 * DAY)
    assert len(_events(session, events.REWARD_AVAILABLE)) == 3


def test_a_birthday_on_a_day_no_run_covered_is_paid_by_the_next(session, started):
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    yesterday = (NOW - DAY).date()
    actions.set_birthday(session, member, yesterday.month, yesterday.day)
    member.birthday_set_at = NOW - 60 * DAY
    session.commit()
    upkeep.run(session, started.id, now=NOW - 3 * DAY)  # a run three days ago; none since
    upkeep.run(session, started.id, now=NOW)
    assert session.execute(select(LedgerEntry.points).where(LedgerEntry.cause == "birthday")).scalars().all() == [100]


def test_points_of_a_refused_code_go_back_to_the_lots_they_came_from(session, started):
    programs.update(session, started.id, {"expiry_days": 30}, actor="t")
    program = programs.current(session, started.id)
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    earned = NOW - 10 * DAY
    ledger.add_entry(session, shop_id=started.id, member_id=member.id, points=600, cause="custom",
                     cause_key="custom:old", program_version=program.version, available_at=earned,
                     expires_at=earned + 30 * DAY)
    session.execute(LedgerEntry.__table__.update().where(LedgerEntry.cause_key == "custom:old")
                    .values(created_at=earned))
    redemption = rewards.redeem(session, started.id, member.id, "5-off", key="k")
    rewards.refuse(session, redemption, "the store is closed")
    session.commit()
    (back,) = session.execute(select(LedgerEntry).where(LedgerEntry.cause == "redemption_refund")).scalars()
    # the 500 points come back with the end of the lot they came from, not a fresh year
    assert (back.points, back.expires_at) == (500, earned + 30 * DAY)
    assert ledger.balance(session, member.id).available == 600
    assert session.get(Redemption, redemption.id).status == "refused"


def test_a_refused_code_then_a_cancelled_order_takes_back_only_what_the_order_earned(session, started):
    programs.update(session, started.id, {"pending_days": 0, "rewards": [
        {"id": "r", "name": "1 off", "kind": "fixed_amount", "points": 100, "value": "1", "minimum_subtotal": None,
         "code_days": 30}], "tiers": programs.DEFAULTS["tiers"][:1]}, actor="t")
    session.commit()
    apply_records(session, started, order("1", total="100.00", subtotal="100.00", placed=NOW - DAY / 2))
    member = session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id == "c1")).scalar_one()
    redemption = rewards.redeem(session, started.id, member.id, "r", key="k")
    rewards.refuse(session, redemption, "refused")
    session.commit()
    assert ledger.balance(session, member.id).available == 100
    # when the order is cancelled: its 100 points go, the returned points are not counted twice
    apply_records(session, started, order("1", total="100.00", subtotal="100.00", placed=NOW - DAY / 2,
                                          updated=NOW, cancelled=NOW))
    assert ledger.balance(session, member.id).available == 0
