"""A bonus for entering a segment: paid from the segment events, once a year per member and segment."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.loyalty import program as programs
from app.loyalty import upkeep
from app.segments import membership
from app.store.models import LedgerEntry, LoyaltyMember
from tests.loyalty.support import NOW, apply_records, begin_program, customer, order

DAY = dt.timedelta(days=1)


@pytest.fixture()
def program_shop(session, shop):
    shop.currency = "EUR"
    session.commit()
    begin_program(session, shop, 400)
    programs.update(session, shop.id, {"segment_bonuses": [{"segment": "at_risk", "points": 200}]}, actor="test")
    session.commit()
    apply_records(session, shop, customer("c1", created=NOW - 300 * DAY),
                  order("1", placed=NOW - 300 * DAY, total="40.00", subtotal="40.00"))
    return shop


def _bonuses(session, shop):
    return session.execute(select(LedgerEntry.points, LedgerEntry.reason).where(
        LedgerEntry.shop_id == shop.id, LedgerEntry.cause == "segment")).all()


def test_entering_a_segment_with_a_bonus_pays_it_once_a_year(session, program_shop):
    shop = program_shop
    membership.recompute_shop(session, shop, NOW - 150 * DAY)  # the order is 150 days old: not at risk
    session.commit()
    upkeep.run(session, shop.id, now=NOW - 150 * DAY)
    assert _bonuses(session, shop) == []
    membership.recompute_shop(session, shop, NOW - 100 * DAY)  # 200 days: at risk, an "entered" event
    session.commit()
    upkeep.run(session, shop.id, now=NOW - 100 * DAY)
    assert _bonuses(session, shop) == [(200, "entered the at_risk segment")]
    upkeep.run(session, shop.id, now=NOW - 100 * DAY + DAY)  # the event is read once
    assert len(_bonuses(session, shop)) == 1
    member = session.execute(select(LoyaltyMember).where(LoyaltyMember.shop_id == shop.id)).scalar_one()
    assert member.customer_external_id == "c1"


def test_a_segment_bonus_setting_is_checked(session, shop):
    begin_program(session, shop, 1)
    for bonuses, field in (([{"segment": "At Risk", "points": 10}], "segment_bonuses[0].segment"),
                           ([{"segment": "at_risk", "points": 0}], "segment_bonuses[0].points"),
                           ([{"segment": "at_risk"}], "segment_bonuses[0]"),
                           ([{"segment": "vip", "points": 5}, {"segment": "vip", "points": 6}],
                            "segment_bonuses[1].segment"),
                           ("vip", "segment_bonuses")):
        with pytest.raises(programs.ProgramError) as error:
            programs.update(session, shop.id, {"segment_bonuses": bonuses}, actor="test")
        assert error.value.field == field
