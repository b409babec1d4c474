"""Properties of the ledger over generated event sequences (hypothesis), on the real database.

Whatever happens to an order — partial refunds, a cancellation, spends in between, everything
read twice — a balance is the sum of its entries, a replay changes nothing, a full refund or a
cancellation leaves the order holding nothing, and a spend never takes the balance below zero.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.loyalty import accrual, ledger
from app.loyalty import program as programs
from app.store import mirror
from app.store.models import LedgerEntry, LoyaltyCursor, LoyaltyMember, LoyaltyProgram, Shop
from app.store.types import utcnow
from connectors import base

_shops = itertools.count(1)

EVENTS = st.lists(st.one_of(
    st.tuples(st.just("refund"), st.integers(1, 20_000)),  # cents
    st.tuples(st.just("cancel"), st.just(0)),
    st.tuples(st.just("spend"), st.integers(1, 300)),
), max_size=8)


def _fresh_shop(session) -> Shop:
    shop = Shop(platform="shopify", domain=f"prop-{next(_shops)}-{utcnow().timestamp()}.example",
                status="active", access_token="t", installed_at=utcnow())
    session.add(shop)
    session.flush()
    programs.ensure(session, shop.id)
    session.execute(LoyaltyProgram.__table__.update().where(LoyaltyProgram.shop_id == shop.id).values(
        created_at=utcnow() - dt.timedelta(days=1),
        # orders and what happens to them only: no tier entry points or challenge bonuses
        settings={**programs.DEFAULTS, "pending_days": 0, "challenges": [], "tiers": programs.DEFAULTS["tiers"][:1]}))
    session.commit()
    return shop


def _order(total: Decimal, placed: dt.datetime, cancelled: dt.datetime | None = None) -> base.Order:
    return base.Order(external_id="1", number="1", created_at=placed, updated_at=cancelled or placed,
                      currency="EUR", total_price=total, subtotal_price=total, financial_status="paid",
                      customer_external_id="c1", email="c1@example.com", processed_at=placed, cancelled_at=cancelled)


def _state(session, shop_id: int) -> list[tuple[str, int]]:
    return sorted(session.execute(select(LedgerEntry.cause_key, LedgerEntry.points)
                                  .where(LedgerEntry.shop_id == shop_id)).all())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(total_cents=st.integers(100, 50_000), events=EVENTS)
def test_any_event_sequence_keeps_the_ledger_sound(session, total_cents, events):
    shop = _fresh_shop(session)
    placed = utcnow() - dt.timedelta(hours=1)
    total = Decimal(total_cents) / 100
    records: list = [_order(total, placed)]
    mirror.apply_records(session, shop.id, shop.platform, records)
    session.commit()
    accrual.accrue(session, shop.id)
    member = session.execute(select(LoyaltyMember).where(LoyaltyMember.shop_id == shop.id)).scalar_one()
    earned = int(total)  # 1 point per unit, rounded down
    program = programs.current(session, shop.id)
    refunded, cancelled, spent = Decimal("0"), False, 0
    for index, (kind, value) in enumerate(events):
        at = placed + dt.timedelta(minutes=index + 1)
        if kind == "refund" and refunded < total:
            amount = min(Decimal(value) / 100, total - refunded)
            refunded += amount
            records.append(base.Refund(f"r{index}", "1", at, base.Money(amount, "EUR")))
        elif kind == "cancel":
            cancelled = True
            records.append(_order(total, placed, cancelled=at))
        elif kind == "spend":
            try:
                ledger.spend(session, shop.id, member.id, value, key=f"s{index}", program=program)
                spent += value
            except ledger.LedgerError:
                session.rollback()
            assert ledger.balance(session, member.id).available >= 0 or refunded or cancelled
            session.commit()
            continue
        mirror.apply_records(session, shop.id, shop.platform, records[-1:])
        session.commit()
        accrual.accrue(session, shop.id)

    once = _state(session, shop.id)
    # Everything again, from the start: the same entries.
    session.execute(LoyaltyCursor.__table__.delete().where(LoyaltyCursor.shop_id == shop.id))
    mirror.apply_records(session, shop.id, shop.platform, records)
    session.commit()
    accrual.accrue(session, shop.id)
    assert _state(session, shop.id) == once

    balance = ledger.balance(session, member.id)
    total_points = session.execute(select(func.sum(LedgerEntry.points)).where(LedgerEntry.member_id == member.id)
                                   ).scalar_one() or 0
    assert balance.available + balance.pending == total_points
    order_net = sum(points for key, points in once if key.startswith(("order:", "refund:")))
    assert 0 <= order_net <= earned
    if cancelled or refunded == total:
        assert order_net == 0
    else:
        assert order_net == earned - int((earned * refunded / total).to_integral_value(rounding="ROUND_DOWN"))
    assert total_points == order_net - spent
    # Below zero only by reversals of points already spent, never by a spend.
    assert balance.debt <= spent


LOT_EVENTS = st.lists(st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 500), st.integers(0, 60)),  # points, pending days
    st.tuples(st.just("spend"), st.integers(1, 500), st.just(0)),
    st.tuples(st.just("reverse"), st.integers(1, 500), st.integers(0, 20)),  # of an earlier earning
    st.tuples(st.just("expire"), st.just(0), st.integers(0, 20)),  # what is left of an earlier lot
), min_size=1, max_size=25)


@settings(max_examples=200, deadline=None)
@given(events=LOT_EVENTS)
def test_lots_never_hold_more_than_they_earned_and_add_up_to_the_balance(events):
    from types import SimpleNamespace

    from app.loyalty.lots import remaining

    start = utcnow()
    entries, earned = [], []
    for n, (kind, points, extra) in enumerate(events):
        at = start + dt.timedelta(hours=n)
        if kind == "earn":
            earned.append(f"o{n}")
            entries.append(SimpleNamespace(id=n, points=points, cause="order", cause_key=f"order:o{n}",
                                           order_external_id=f"o{n}", created_at=at,
                                           available_at=at + dt.timedelta(days=extra), expires_at=None))
        elif kind == "spend":
            entries.append(SimpleNamespace(id=n, points=-points, cause="redemption", cause_key=f"redemption:{n}",
                                           order_external_id=None, created_at=at, available_at=at, expires_at=None))
        elif kind == "reverse" and earned:
            order = earned[extra % len(earned)]
            entries.append(SimpleNamespace(id=n, points=-points, cause="refund", cause_key=f"refund:{n}",
                                           order_external_id=order, created_at=at, available_at=at,
                                           expires_at=None))
        elif kind == "expire" and earned:
            lot_id = int(earned[extra % len(earned)][1:])
            left = remaining(entries)[lot_id].left
            if left:
                entries.append(SimpleNamespace(id=n, points=-left, cause="expiry", cause_key=f"expiry:{lot_id}",
                                               order_external_id=f"o{lot_id}", created_at=at, available_at=at,
                                               expires_at=None))
                assert remaining(entries)[lot_id].left == 0  # an expired lot holds nothing after
    lots = remaining(entries)
    total = sum(e.points for e in entries)
    left = sum(lot.left for lot in lots.values())
    # every lot keeps between nothing and what it earned
    assert all(0 <= lot.left <= lot.points for lot in lots.values())
    # what the lots still hold is the balance; a debt (balance below zero) leaves every lot empty
    assert left == max(total, 0)
