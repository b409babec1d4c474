"""Mirror records for analytics tests: orders, refunds and customers as a connector delivers them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.store import mirror
from app.store.models import LedgerEntry, LoyaltyMember, Shop
from connectors import base

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    """An aware UTC moment from ``2026-01-15T10:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def order(external_id: str, placed: dt.datetime, total: str, *, customer: str | None = None,
          email: str | None = None, currency: str = "EUR", cancelled: bool = False, is_test: bool = False,
          processed: dt.datetime | None = None) -> base.Order:
    return base.Order(
        external_id=external_id, number=f"#{external_id}", created_at=placed, updated_at=placed,
        currency=currency, total_price=Decimal(total), subtotal_price=Decimal(total), financial_status="paid",
        customer_external_id=customer, email=email, processed_at=processed or placed,
        cancelled_at=placed + dt.timedelta(hours=1) if cancelled else None, is_test=is_test,
        line_items=(base.LineItem(f"{external_id}-1", "Mug", 1, Decimal(total)),))


def refund(external_id: str, order_id: str, amount: str, when: dt.datetime, currency: str = "EUR") -> base.Refund:
    return base.Refund(external_id=external_id, order_external_id=order_id, created_at=when,
                       amount=base.Money(Decimal(amount), currency))


def customer(external_id: str, email: str | None, when: dt.datetime) -> base.Customer:
    return base.Customer(external_id=external_id, email=email, state="enabled", created_at=when, updated_at=when)


def shop(domain: str, *, timezone: str | None = "Europe/Berlin", currency: str | None = "EUR") -> Shop:
    """The installed shop's row, with the time zone and currency a test wants."""
    session = db.session()
    session.expire_all()
    found = session.execute(select(Shop).where(Shop.domain == domain)).scalar_one()
    found.timezone, found.currency = timezone, currency
    session.commit()
    return found


def write(target: Shop, *records) -> None:
    session = db.session()
    mirror.apply_records(session, target.id, target.platform, records)
    session.commit()


def member(target: Shop, *, customer: str | None = None, email: str | None = None,
           entries: tuple[tuple[str, int], ...] = ()) -> LoyaltyMember:
    """A loyalty member with ledger entries ``(cause, points)``."""
    session = db.session()
    row = LoyaltyMember(shop_id=target.id, customer_external_id=customer, email=email)
    session.add(row)
    session.flush()
    for number, (cause, points) in enumerate(entries):
        session.add(LedgerEntry(shop_id=target.id, member_id=row.id, points=points, cause=cause,
                                cause_key=f"{cause}:{row.id}:{number}", program_version=1,
                                available_at=at("2026-01-01T00:00")))
    session.commit()
    return row
