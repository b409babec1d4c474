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
        created_at=utcnow() - dt.timedelta(days=1), settings={**programs.DEFAULTS, "pending_days": 0}))
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
