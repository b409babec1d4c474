"""Redemptions: points spent once per key, the code's spec, refusals give the points back once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.loyalty import ledger, rewards
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyMember, LoyaltyProgram
from app.store.types import utcnow
from connectors import base


@pytest.fixture()
def member(session, shop):
    programs.ensure(session, shop.id)
    session.execute(LoyaltyProgram.__table__.update().values(created_at=utcnow() - dt.timedelta(days=1)))
    record = LoyaltyMember(shop_id=shop.id, customer_external_id="c9", email="ana@example.com")
    session.add(record)
    session.flush()
    program = programs.current(session, shop.id)
    ledger.adjust(session, shop.id, record.id, 1200, key="seed", actor="test", reason="seed", program=program)
    session.commit()
    return record


def test_a_redemption_spends_once_and_describes_a_single_use_code_for_the_shopper(session, shop, member):
    first = rewards.redeem(session, shop.id, member.id, "10-percent", key="k1")
    session.commit()
    again = rewards.redeem(session, shop.id, member.id, "10-percent", key="k1")
    assert again.id == first.id
    assert ledger.balance(session, member.id).available == 200
    spec = rewards.discount_spec(first, member)
    assert (spec.code, spec.kind, spec.value, spec.usage_limit, spec.customer_external_id, spec.customer_email,
            spec.combinable) == (first.code, base.DISCOUNT_PERCENTAGE, Decimal("10"), 1, "c9", "ana@example.com",
                                 False)
    assert dt.timedelta(days=29) < spec.expires_at - utcnow() <= dt.timedelta(days=30)
    assert first.code.startswith("CB-") and len(first.code) == 13
    with pytest.raises(ledger.LedgerError, match="another redemption"):
        rewards.redeem(session, shop.id, member.id, "5-off", key="k1")
    with pytest.raises(ledger.LedgerError, match="no reward 'nope'"):
        rewards.redeem(session, shop.id, member.id, "nope", key="k2")
    with pytest.raises(ledger.LedgerError, match="not enough points: 200 spendable, 500 asked"):
        rewards.redeem(session, shop.id, member.id, "5-off", key="k3")


def test_a_code_the_store_refuses_gives_the_points_back_once_with_the_reason(session, shop, member):
    redemption = rewards.redeem(session, shop.id, member.id, "5-off", key="k1")
    session.commit()
    calls = []

    def refusing(specs):
        calls.append(specs)
        return [base.DiscountResult(specs[0].code, None, False, error="code: Code must be unique.")]

    assert rewards.issue(session, redemption, refusing) == "refused"
    session.commit()
    assert rewards.issue(session, redemption, refusing) == "refused"  # done: no second call or refund
    assert len(calls) == 1
    assert (redemption.status, redemption.error) == ("refused", "code: Code must be unique.")
    assert ledger.balance(session, member.id).available == 1200
    refund = session.execute(select(LedgerEntry).where(LedgerEntry.cause == "redemption_refund")).scalar_one()
    assert refund.points == 500 and "Code must be unique" in refund.reason


def test_a_code_created_by_an_earlier_attempt_counts_as_issued(session, shop, member):
    redemption = rewards.redeem(session, shop.id, member.id, "free-shipping", key="k1")
    session.commit()
    assert rewards.issue(session, redemption, lambda specs: [
        base.DiscountResult(specs[0].code, "gid://x/1", created=False)]) == "issued"
    assert (redemption.status, redemption.discount_external_id) == ("issued", "gid://x/1")
    assert ledger.balance(session, member.id).available == 900


def test_rewards_in_the_program_are_validated(session, shop):
    bad = {"id": "x", "name": "X", "kind": "percentage", "points": 10, "value": "150", "minimum_subtotal": None,
           "code_days": 30}
    for reward, field in [(bad, "rewards[0].value"), ({**bad, "value": "5", "kind": "gift"}, "rewards[0].kind"),
                          ({**bad, "value": "5", "points": 0}, "rewards[0].points"),
                          ({**bad, "value": "5", "code_days": 0}, "rewards[0].code_days"),
                          ({**bad, "value": "5.001"}, "rewards[0].value"), ({"id": "x"}, "rewards[0]")]:
        with pytest.raises(programs.ProgramError) as error:
            programs.update(session, shop.id, {"rewards": [reward]}, actor="t")
        assert error.value.field == field
    with pytest.raises(programs.ProgramError, match="used twice"):
        programs.update(session, shop.id, {"rewards": [{**bad, "value": "5"}, {**bad, "value": "5"}]}, actor="t")
