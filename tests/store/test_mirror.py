"""The mirror writes what the neutral order carries: gift card amounts and shipping address keys."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.store import mirror
from app.store.models import Order, Shop
from connectors import base

T0 = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.timezone.utc)
KEY_A = "a" * 64
KEY_B = "b" * 64


@pytest.fixture()
def shop(session):
    record = Shop(platform="shopify", domain="mirror.myshopify.com", status="active")
    session.add(record)
    session.commit()
    return record


def order(external_id: str, updated: dt.datetime, **fields) -> base.Order:
    return base.Order(external_id=external_id, number=f"#{external_id}", created_at=T0, updated_at=updated,
                      currency="USD", total_price=Decimal("80.00"), subtotal_price=Decimal("70.00"), **fields)


def stored(session, shop) -> dict[str, tuple[Decimal, str | None]]:
    session.expire_all()
    rows = session.execute(select(Order.external_id, Order.gift_card_amount, Order.shipping_address_key)
                           .where(Order.shop_id == shop.id)).all()
    return {external_id: (amount, key) for external_id, amount, key in rows}


@pytest.mark.parametrize("size", [3, 60])  # below and above the COPY threshold on PostgreSQL
def test_gift_card_amounts_and_address_keys_are_written_and_updated(session, shop, size):
    # given orders with a gift card amount and a key, and orders with neither
    first = [order(str(n), T0, gift_card_amount=Decimal("12.50"), shipping_address_key=KEY_A) if n % 2
             else order(str(n), T0) for n in range(size)]
    assert mirror.apply_orders(session, shop.id, "shopify", first) == size
    session.commit()
    rows = stored(session, shop)
    assert rows["1"] == (Decimal("12.5000"), KEY_A)
    assert rows["0"] == (Decimal("0.0000"), None)
    # when newer versions change both
    later = [dataclasses.replace(r, updated_at=T0 + dt.timedelta(hours=1), gift_card_amount=Decimal("3.00"),
                                 shipping_address_key=KEY_B if r.shipping_address_key is None else None)
             for r in first]
    assert mirror.apply_orders(session, shop.id, "shopify", later) == size
    session.commit()
    # then the rows follow
    rows = stored(session, shop)
    assert rows["1"] == (Decimal("3.0000"), None)
    assert rows["0"] == (Decimal("3.0000"), KEY_B)
    assert len(rows) == size


def test_an_older_version_changes_neither(session, shop):
    mirror.apply_orders(session, shop.id, "shopify", [
        order("1", T0 + dt.timedelta(hours=1), gift_card_amount=Decimal("9.00"), shipping_address_key=KEY_A)])
    assert mirror.apply_orders(session, shop.id, "shopify", [order("1", T0)]) == 0
    session.commit()
    assert stored(session, shop) == {"1": (Decimal("9.0000"), KEY_A)}


def test_an_unknown_gift_card_amount_keeps_the_stored_one(session, shop):
    # given an order read in full (a page: the amount is known)
    mirror.apply_orders(session, shop.id, "shopify", [
        order("1", T0, gift_card_amount=Decimal("12.50"), shipping_address_key=KEY_A)])
    session.commit()
    # when a newer webhook says nothing of the amount but changes the rest
    unknown = order("1", T0 + dt.timedelta(hours=1), gift_card_amount_known=False, shipping_address_key=KEY_B,
                    financial_status="refunded")
    # and a new order arrives the same way
    fresh = order("2", T0, gift_card_amount=Decimal("7.00"), gift_card_amount_known=False)
    assert mirror.apply_orders(session, shop.id, "shopify", [unknown, fresh]) == 2
    session.commit()
    # then the known amount stays, everything else follows, and the new order starts at 0
    assert stored(session, shop) == {"1": (Decimal("12.5000"), KEY_B), "2": (Decimal("0.0000"), None)}
    status = session.execute(select(Order.financial_status).where(Order.external_id == "1")).scalar_one()
    assert status == "refunded"
    # and the next full read fills the new one in
    mirror.apply_orders(session, shop.id, "shopify", [order("2", T0, gift_card_amount=Decimal("7.00"))])
    session.commit()
    assert stored(session, shop)["2"] == (Decimal("7.0000"), None)
