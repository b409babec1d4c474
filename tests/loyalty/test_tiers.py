"""VIP tiers: thresholds, windows, entry points on upgrade only, multipliers, downgrade after grace."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.loyalty import events, tiers, upkeep
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyEvent, LoyaltyMember, LoyaltyProgram
from tests.loyalty.support import NOW, apply_records, order, refund


@pytest.fixture()
def instant(session, started):
    """A program without a pending period: orders count toward tiers as soon as they are read."""
    programs.update(session, started.id, {"pending_days": 0}, actor="t")
    session.commit()
    return started


def _member(session, customer_id="c1"):
    session.expire_all()
    return session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id == customer_id)
                           ).scalar_one()


def _points(session, member_id, cause):
    return [p for (p,) in session.execute(select(LedgerEntry.points).where(
        LedgerEntry.member_id == member_id, LedgerEntry.cause == cause).order_by(LedgerEntry.id))]


def _tier_events(session):
    return [(e.payload["previous"], e.payload["tier"], e.payload["direction"]) for e in session.execute(
        select(LoyaltyEvent).where(LoyaltyEvent.kind == events.TIER_CHANGED).order_by(LoyaltyEvent.id)).scalars()]


def test_an_upgrade_pays_entry_points_once_and_raises_the_multiplier(session, instant):
    started = instant
    # given an order worth 600 points (the Silver threshold is 500 points earned)
    apply_records(session, started, order("1001", total="600.00", subtotal="600.00"))
    member = _member(session)
    # then the member is Silver at once, with Silver's entry points, and a tier event
    assert member.tier == "Silver"
    assert _points(session, member.id, "tier_entry") == [100]
    assert _tier_events(session) == [("Bronze", "Silver", "upgrade")]
    # when they order again, the order earns at Silver's multiplier (100 x 1.25)
    apply_records(session, started, order("1002", total="100.00", subtotal="100.00",
                                          placed=NOW + dt.timedelta(minutes=1)))
    assert _points(session, member.id, "order") == [600, 125]


def test_a_refund_lowers_the_tier_after_the_grace_period_and_a_return_pays_no_second_entry(session, instant):
    started = instant
    apply_records(session, started, order("1001", total="600.00", subtotal="600.00"))
    # when the order is refunded in full: 0 points earned, below Silver
    apply_records(session, started, refund("r1", "1001", amount="600.00"))
    member = _member(session)
    # then the member keeps Silver during the 30-day grace period
    assert (member.tier, member.tier_grace_until is not None) == ("Silver", True)
    assert tiers.evaluate(session, started.id, [member.id], now=NOW + dt.timedelta(days=29)) == 0
    # and is Bronze once it ended
    assert tiers.evaluate(session, started.id, [member.id], now=NOW + dt.timedelta(days=31)) == 1
    session.commit()
    assert _member(session).tier == "Bronze"
    assert _tier_events(session) == [("Bronze", "Silver", "upgrade"), ("Silver", "Bronze", "downgrade")]
    # when they reach Silver again, no second entry reward
    apply_records(session, started, order("1003", total="700.00", subtotal="700.00",
                                          placed=NOW - dt.timedelta(minutes=30)))
    member = _member(session)
    assert member.tier == "Silver"
    assert _points(session, member.id, "tier_entry") == [100]


def test_a_member_back_above_the_threshold_in_the_grace_period_keeps_the_tier(session, instant):
    started = instant
    apply_records(session, started, order("1001", total="600.00", subtotal="600.00"))
    apply_records(session, started, refund("r1", "1001", amount="300.00"))  # 300 earned: below 500
    assert _member(session).tier_grace_until is not None
    apply_records(session, started, order("1002", total="300.00", subtotal="300.00",
                                          placed=NOW - dt.timedelta(minutes=30)))  # 300 + 375 earned
    member = _member(session)
    assert (member.tier, member.tier_grace_until) == ("Silver", None)
    assert tiers.evaluate(session, started.id, [member.id], now=NOW + dt.timedelta(days=40)) == 0


def test_money_spent_thresholds_over_the_calendar_year_or_lifetime(session, shop):
    # given a program that began two years ago, tiers on money spent in the calendar year
    programs.ensure(session, shop.id)
    session.execute(LoyaltyProgram.__table__.update().values(created_at=NOW - dt.timedelta(days=800)))
    programs.update(session, shop.id, {"tier_basis": "amount_spent", "tier_window": "calendar_year",
                                       "tier_grace_days": 0, "pending_days": 0}, actor="t")
    session.commit()
    last_year = dt.datetime(NOW.year - 1, 6, 1, tzinfo=dt.timezone.utc)
    apply_records(session, shop, order("1", total="400.00", subtotal="400.00", placed=last_year),
                  order("2", total="300.00", subtotal="300.00", placed=NOW))
    member = _member(session)
    program = programs.current(session, shop.id)
    # then only this year's 300 count: still Bronze
    assert tiers.qualifying(session, program, [member.id], NOW)[member.id] == 300
    assert member.tier in (None, "Bronze")
    # when the window is the member's lifetime, 700 reach Silver
    program = programs.update(session, shop.id, {"tier_window": "lifetime"}, actor="t")
    assert tiers.evaluate(session, shop.id, [member.id], program=program) == 1
    assert _member(session).tier == "Silver"
    # and a refund lowers it at once (no grace period configured)
    apply_records(session, shop, refund("r2", "1", amount="400.00"))
    assert _member(session).tier == "Bronze"


def test_the_store_is_told_the_tier_by_tag_and_meta(session, instant):
    started = instant
    apply_records(session, started, order("1001", total="600.00", subtotal="600.00"))
    program = programs.current(session, started.id)
    member = _member(session)
    assert [m.id for m in tiers.pending_write_back(session, started.id)] == [member.id]
    written = tiers.attributes(program, member)
    assert (written.customer_external_id, written.values, written.tags_add, set(written.tags_remove)) == (
        "c1", (("tier", "Silver"),), ("Comeback Silver",), {"Comeback Bronze", "Comeback Gold"})
    member.tier_written = member.tier
    session.commit()
    assert tiers.pending_write_back(session, started.id) == []


def test_tier_settings_are_validated(session, shop):
    for changes, field in [({"tier_basis": "visits"}, "tier_basis"), ({"tier_window": "forever"}, "tier_window"),
                           ({"tiers": [{"name": "A", "threshold": 0, "multiplier": "1", "entry_points": -1}]},
                            "tiers[0].entry_points"),
                           ({"tiers": [{"name": "A", "threshold": 0, "multiplier": "1"},
                                       {"name": "a", "threshold": 5, "multiplier": "1"}]}, "tiers[1].name"),
                           ({"tiers": [{"name": "A", "threshold": 0, "multiplier": "1", "perks": "free"}]},
                            "tiers[0].perks"),
                           ({"tiers": [{"name": "Gold\nVIP", "threshold": 0, "multiplier": "1"}]}, "tiers[0].name"),
                           ({"tier_tag_prefix": "vip\t"}, "tier_tag_prefix")]:
        with pytest.raises(programs.ProgramError) as refused:
            programs.update(session, shop.id, changes, actor="t")
        assert refused.value.field == field


def test_an_order_still_returnable_lifts_no_tier_until_it_clears(session, started):
    # given an order worth 600 points in its 14-day pending period
    apply_records(session, started, order("1001", total="600.00", subtotal="600.00"))
    member = _member(session)
    assert member.tier is None and _points(session, member.id, "tier_entry") == []
    # when the hourly upkeep runs after it cleared: Silver, with its entry points spendable
    upkeep.run(session, started.id, now=NOW + dt.timedelta(days=15))
    member = _member(session)
    assert member.tier == "Silver" and _points(session, member.id, "tier_entry") == [100]


def test_a_stored_version_a_rule_now_refuses_still_reads_with_every_field(session, shop):
    stored = {**programs.DEFAULTS, "tiers": [{"name": "Silver, VIP", "threshold": 0, "multiplier": "1"},
                                             {"name": "Gold", "threshold": 10, "multiplier": "2"}]}
    settings = programs.with_defaults(stored)
    assert [(t["entry_points"], t["perks"]) for t in settings["tiers"]] == [(0, []), (0, [])]
    assert all("products" in r for r in settings["rewards"])
