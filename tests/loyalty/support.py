"""Mirror records for loyalty tests: orders, refunds and customers as a connector delivers them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.loyalty import accrual
from app.loyalty import program as programs
from app.store import mirror
from app.store.models import LoyaltyProgram
from app.store.types import utcnow
from connectors import base

NOW = utcnow()


def order(external_id="1001", *, total="100.00", subtotal="100.00", discounts="0", tax="0", status="paid",
          customer="c1", email="ana@example.com", placed=None, updated=None, cancelled=None, is_test=False,
          product=None):
    placed = placed or NOW
    return base.Order(
        external_id=external_id, number=external_id, created_at=placed, updated_at=updated or placed,
        currency="EUR", total_price=Decimal(total), subtotal_price=Decimal(subtotal),
        total_discounts=Decimal(discounts), total_tax=Decimal(tax), financial_status=status,
        customer_external_id=customer, email=email, processed_at=placed, cancelled_at=cancelled, is_test=is_test,
        line_items=(base.LineItem(f"{external_id}-1", "Caf\u00e9", 1, Decimal(subtotal),
                                  product_external_id=product),))


def refund(external_id, order_id="1001", amount="30.00", at=None):
    return base.Refund(external_id=external_id, order_external_id=order_id, created_at=at or NOW,
                       amount=base.Money(Decimal(amount), "EUR"))


def customer(external_id="c1", *, email="ana@example.com", state="enabled", created=None, updated=None):
    created = created or NOW
    return base.Customer(external_id=external_id, email=email, state=state, created_at=created,
                         updated_at=updated or created)


def apply_records(session, shop, *records):
    """Write records to the mirror as a sync would, then run the accrual."""
    mirror.apply_records(session, shop.id, shop.platform, records)
    session.commit()
    return accrual.accrue(session, shop.id)


def product(external_id="p1", price="10.00"):
    return base.Product(external_id=external_id, title=f"Product {external_id}", updated_at=NOW,
                        variants=(base.Variant(f"{external_id}-v", "Default", Decimal(price)),))


def begin_program(session, shop, days_ago: int):
    """Give the shop its program, begun ``days_ago`` (orders before it earn nothing)."""
    programs.ensure(session, shop.id)
    session.execute(LoyaltyProgram.__table__.update().values(created_at=NOW - dt.timedelta(days=days_ago)))
    session.commit()
    return shop
