"""The points ledger: pricing, pending period, idempotency, proportional refunds, spending, books."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app.extensions import db
from app.loyalty import accrual, ledger
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyCursor, LoyaltyMember, LoyaltyProgram
from app.store.types import utcnow
from tests.loyalty.support import NOW
from tests.loyalty.support import apply_records as _apply
from tests.loyalty.support import order as _order
from tests.loyalty.support import refund as _refund


def _member(session, customer="c1"):
    return session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id == customer)).scalar_one()


def _entries(session):
    return session.execute(select(LedgerEntry.cause_key, LedgerEntry.points).order_by(LedgerEntry.id)).all()


def test_defaults_and_versions(session, shop):
    first = programs.ensure(session, shop.id)
    assert (first.version, first["points_per_unit"], first["points_per_unit_off"], first["pending_days"],
            [t["name"] for t in first["tiers"]]) == (1, 1, 100, 14, ["Bronze", "Silver", "Gold"])
    second = programs.update(session, shop.id, {"points_per_unit": 2}, actor="merchant@shop")
    assert (second.version, second["points_per_unit"]) == (2, 2)
    assert programs.update(session, shop.id, {"points_per_unit": 2}, actor="x").version == 2  # no change
    for changes, field in [({"points_per_unit": -1}, "points_per_unit"), ({"nope": 1}, "nope"),
                           ({"refund_policy": "ignore"}, "refund_policy"),
                           ({"tiers": [{"name": "A", "threshold": 5, "multiplier": 1}]}, "tiers[0].threshold"),
                           ({"tiers": [{"name": "A", "threshold": 0, "multiplier": "0"}]}, "tiers[0].multiplier"),
                           ({"pending_days": True}, "pending_days"), ([], "program")]:
        with pytest.raises(programs.ProgramError) as error:
            programs.update(session, shop.id, changes, actor="x")
        assert error.value.field == field
    assert programs.current(session, shop.id).version == 2


def test_an_order_earns_rounded_down_points_that_wait_out_the_returns_window(session, started):
    _apply(session, started, _order(total="121.40", subtotal="99.99", tax="19.00", discounts="5.00"))
    member = _member(session)
    assert _entries(session) == [("order:1001", 99)]
    assert ledger.balance(session, member.id) == ledger.Balance(available=0, pending=99)
    later = NOW + dt.timedelta(days=14, seconds=1)
    assert ledger.balance(session, member.id, at=later) == ledger.Balance(available=99, pending=0)
    # Seen again (an update, a replayed webhook): nothing more.
    _apply(session, started, _order(total="121.40", subtotal="99.99", tax="19.00", discounts="5.00",
                                    updated=NOW + dt.timedelta(minutes=1)))
    assert _entries(session) == [("order:1001", 99)]


def test_program_options_and_versions_price_only_new_points(session, started):
    programs.update(session, started.id, {"exclude_taxes": False, "exclude_shipping": False,
                                          "exclude_discounts": False, "points_per_unit": 2}, actor="m")
    session.commit()
    # 100 after discounts + 10 discounts + 19 tax + 6 shipping (total 125 = 100 + 19 + 6) → 135 × 2.
    _apply(session, started, _order(total="125.00", subtotal="100.00", tax="19.00", discounts="10.00"))
    assert _entries(session) == [("order:1001", 270)]
    assert session.execute(select(LedgerEntry.program_version)).scalar_one() == 2


def test_orders_before_the_program_test_unpaid_and_guest_orders(session, started):
    _apply(session, started,
           _order("1", placed=NOW - dt.timedelta(days=3)),  # before the program began
           _order("2", is_test=True), _order("3", status="pending"),
           _order("4", customer=None, email="Guest@Example.com"))
    assert _entries(session) == [("order:4", 100)]
    guest = session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id.is_(None))).scalar_one()
    assert guest.email == "guest@example.com"


def test_partial_refunds_reverse_in_proportion_and_a_full_refund_restores_the_balance(session, started):
    _apply(session, started, _order(total="100.00", subtotal="100.00"))
    _apply(session, started, _refund("r1", amount="33.33"))
    assert _entries(session)[-1] == ("refund:r1", -33)
    _apply(session, started, _refund("r2", amount="33.33", at=NOW + dt.timedelta(minutes=1)))
    assert _entries(session)[-1] == ("refund:r2", -33)  # floor(66.66) - 33
    _apply(session, started, _refund("r3", amount="33.34", at=NOW + dt.timedelta(minutes=2)))
    assert _entries(session)[-1] == ("refund:r3", -34)
    assert session.execute(select(func.sum(LedgerEntry.points))).scalar_one() == 0
    # Everything read again from the start: the same state.
    session.execute(LoyaltyCursor.__table__.delete())
    session.commit()
    assert accrual.accrue(session, started.id).points == 0
    assert len(_entries(session)) == 4


def test_refunds_arriving_in_another_order_give_the_same_shares(session, started):
    _apply(session, started, _order(total="90.00", subtotal="90.00"))
    _apply(session, started, _refund("late", amount="30.00", at=NOW + dt.timedelta(minutes=5)),
           _refund("early", amount="30.00", at=NOW))
    assert dict(_entries(session)[1:]) == {"refund:early": -30, "refund:late": -30}


def test_a_cancellation_reverses_what_is_left_and_a_later_refund_takes_no_more(session, started):
    _apply(session, started, _order(total="100.00"))
    _apply(session, started, _refund("r1", amount="25.00"))
    _apply(session, started, _order(total="100.00", cancelled=NOW + dt.timedelta(minutes=1),
                                    updated=NOW + dt.timedelta(minutes=1), status="refunded"))
    _apply(session, started, _refund("r2", amount="75.00", at=NOW + dt.timedelta(minutes=2)))
    assert _entries(session) == [("order:1001", 100), ("refund:r1", -25), ("order:1001:cancelled", -75)]


def test_refunding_spent_points_leaves_a_debt_never_ignored(session, started):
    session.execute(LoyaltyProgram.__table__.update().values(settings={**programs.DEFAULTS, "pending_days": 0}))
    session.commit()
    _apply(session, started, _order(total="100.00"))
    member = _member(session)
    program = programs.current(session, started.id)
    ledger.spend(session, started.id, member.id, 80, key="redeem-1", program=program)
    session.commit()
    _apply(session, started, _refund("r1", amount="100.00"))
    balance = ledger.balance(session, member.id)
    assert (balance.available, balance.spendable, balance.debt) == (-80, 0, 80)
    _apply(session, started, _order("1002", total="50.00", subtotal="50.00", placed=NOW - dt.timedelta(minutes=1)))
    assert ledger.balance(session, member.id).available == -30  # the next earnings pay the debt first


def test_spending_is_once_per_key_and_never_beyond_the_spendable_balance(session, started):
    session.execute(LoyaltyProgram.__table__.update().values(settings={**programs.DEFAULTS, "pending_days": 0}))
    session.commit()
    _apply(session, started, _order(total="100.00"))
    member = _member(session)
    program = programs.current(session, started.id)
    first = ledger.spend(session, started.id, member.id, 60, key="k1", program=program)
    again = ledger.spend(session, started.id, member.id, 60, key="k1", program=program)
    assert first.id == again.id and ledger.balance(session, member.id).available == 40
    with pytest.raises(ledger.LedgerError, match="not enough points: 40 spendable, 60 asked"):
        ledger.spend(session, started.id, member.id, 60, key="k2", program=program)
    with pytest.raises(ledger.LedgerError, match="whole number"):
        ledger.spend(session, started.id, member.id, 0, key="k3", program=program)
    with pytest.raises(ledger.LedgerError, match="actor and a reason"):
        ledger.adjust(session, started.id, member.id, 10, key="a1", actor="m", reason=" ", program=program)
    assert ledger.adjust(session, started.id, member.id, 10, key="a1", actor="m", reason="goodwill", program=program)
    assert not ledger.adjust(session, started.id, member.id, 10, key="a1", actor="m", reason="goodwill",
                             program=program)
    assert ledger.balance(session, member.id).available == 50


def test_a_manual_deduction_never_takes_the_balance_below_zero_and_a_replay_is_not_refused(session, started):
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    program = programs.current(session, started.id)
    assert ledger.adjust(session, started.id, member.id, 50, key="gift", actor="m", reason="goodwill", program=program)
    assert ledger.adjust(session, started.id, member.id, -50, key="take", actor="m", reason="mistake", program=program)
    session.commit()
    with pytest.raises(ledger.ShortBalanceError) as refused:
        ledger.adjust(session, started.id, member.id, -1, key="more", actor="m", reason="mistake", program=program)
    assert (refused.value.available, refused.value.status) == (0, 422)
    session.rollback()
    # the first deduction again (a retried form) moves nothing and is not refused though the balance is 0
    assert not ledger.adjust(session, started.id, member.id, -50, key="take", actor="m", reason="mistake",
                             program=program)
    # a debt on purpose (points spent, then the order refunded) is the caller's to ask for
    assert ledger.adjust(session, started.id, member.id, -20, key="owed", actor="m", reason="refund",
                         program=program, below_zero=True)
    assert ledger.balance(session, member.id).available == -20


def test_parallel_spends_of_one_member_never_overdraw(session, started):
    session.execute(LoyaltyProgram.__table__.update().values(settings={**programs.DEFAULTS, "pending_days": 0}))
    session.commit()
    _apply(session, started, _order(total="100.00"))
    member_id = _member(session).id
    program = programs.current(session, started.id)
    session.close()
    make = sessionmaker(bind=db.engine)
    start, hold = threading.Barrier(2), threading.Barrier(2, timeout=2)
    outcomes: list[str] = []

    def spend(n: int) -> None:
        own = make()
        try:
            start.wait()
            ledger.spend(own, started.id, member_id, 60, key=f"parallel-{n}", program=program)
            # Keep the transaction open until the other has tried too (or two seconds passed,
            # when the other is held up by our lock): without the lock both would read 100 here.
            try:
                hold.wait()
            except threading.BrokenBarrierError:
                pass
            own.commit()
            outcomes.append("spent")
        except Exception as error:  # noqa: BLE001 - refused (not enough) or, on SQLite, busy
            own.rollback()
            outcomes.append(type(error).__name__)
        finally:
            own.close()

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # PostgreSQL queues the second spend on the row lock, SQLite on its write lock: either way
    # it then sees the first one and is refused.
    assert sorted(outcomes) == ["LedgerError", "spent"], outcomes
    check = make()
    assert ledger.balance(check, member_id).available == 40
    check.close()


def test_liability_in_points_and_money_at_any_date(session, started):
    session.execute(LoyaltyProgram.__table__.update().values(settings={**programs.DEFAULTS, "pending_days": 0}))
    session.commit()
    _apply(session, started, _order("1", total="150.00", subtotal="150.00"),
           _order("2", total="75.00", subtotal="75.00", customer="c2"))
    before = utcnow()
    member = _member(session)
    ledger.spend(session, started.id, member.id, 50, key="k", program=programs.current(session, started.id))
    session.commit()
    assert ledger.liability(session, started.id, at=NOW - dt.timedelta(hours=1)) == ledger.Liability(
        0, Decimal("0.00"), NOW - dt.timedelta(hours=1))
    assert (ledger.liability(session, started.id, at=before).points,
            ledger.liability(session, started.id, at=before).amount) == (225, Decimal("2.25"))
    now = ledger.liability(session, started.id)
    assert (now.points, now.amount) == (175, Decimal("1.75"))


def test_erasing_a_customer_keeps_the_amounts_and_erasing_the_shop_removes_the_program(session, started):
    from app.store import privacy

    _apply(session, started, _order(total="40.00", subtotal="40.00"))
    privacy.redact_customer(session, started.id, "c1", email="ana@example.com", order_ids=(), event_id=None)
    session.commit()
    member = _member(session)
    assert member.email is None and ledger.balance(session, member.id).pending == 40
    privacy.redact_shop(session, started, keep_event_id=None)
    session.commit()
    assert session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(LoyaltyProgram)).scalar_one() == 0


def test_a_customer_with_a_guests_email_claims_the_guest_points_and_their_reversals(session, started):
    _apply(session, started, _order("g1", total="40.00", subtotal="40.00", customer=None, email="Ana@Example.com"))
    guest = session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id.is_(None))).scalar_one()
    assert ledger.balance(session, guest.id).pending == 40
    # Ana orders with an account: her guest points come with her, still pending.
    _apply(session, started, _order("c1-1", total="10.00", subtotal="10.00", customer="ana", email="ana@example.com",
                                    placed=NOW + dt.timedelta(minutes=1)))
    member = _member(session, "ana")
    assert ledger.balance(session, guest.id) == ledger.Balance(0, 0)
    assert ledger.balance(session, member.id).pending == 50
    session.refresh(guest)
    assert guest.claimed_by_id == member.id
    # Read again: claimed once. A refund of the guest order now comes out of Ana's points.
    session.execute(LoyaltyCursor.__table__.delete())
    session.commit()
    accrual.accrue(session, started.id)
    assert ledger.balance(session, member.id).pending == 50
    _apply(session, started, _refund("gr", order_id="g1", amount="40.00", at=NOW + dt.timedelta(minutes=2)))
    assert ledger.balance(session, member.id).pending == 10
    assert ledger.balance(session, guest.id) == ledger.Balance(0, 0)
    # A later guest order with her email goes straight to her.
    _apply(session, started, _order("g2", total="5.00", subtotal="5.00", customer=None, email="ana@example.com",
                                    placed=NOW + dt.timedelta(minutes=3)))
    assert ledger.balance(session, member.id).pending == 15


def test_an_order_whose_gift_card_payment_is_not_known_yet_waits_for_it(session, started):
    import dataclasses

    # given an order seen first by a webhook that cannot tell what gift cards paid
    first = dataclasses.replace(_order(total="100.00", subtotal="100.00"), gift_card_amount_known=False)
    _apply(session, started, first)
    assert _entries(session) == []
    # when the full read says 30.00 was paid with a gift card
    read = dataclasses.replace(_order(total="100.00", subtotal="100.00", updated=NOW + dt.timedelta(seconds=1)),
                               gift_card_amount=Decimal("30.00"))
    _apply(session, started, read)
    # then the order earns on the 70.00 paid otherwise; a webhook again changes nothing
    assert _entries(session) == [("order:1001", 70)]
    _apply(session, started, dataclasses.replace(first, updated_at=NOW + dt.timedelta(seconds=2)))
    assert _entries(session) == [("order:1001", 70)]
