"""Batched upserts (COPY on PostgreSQL for large batches, executemany otherwise) keep their contract."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.store.models import Order, Refund, Shop
from app.store.upsert import insert_ignore, upsert

T0 = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.timezone.utc)
ORDER_UPDATE = ("total_price", "financial_status", "tags", "source_updated_at")


@pytest.fixture()
def shop(session):
    record = Shop(platform="shopify", domain="upsert.myshopify.com", status="active")
    session.add(record)
    session.commit()
    return record


def order_row(shop_id: int, n: int, updated: dt.datetime, total: str, status: str = "paid") -> dict:
    return {"shop_id": shop_id, "platform": "shopify", "external_id": str(n), "number": f"#{n}",
            "currency": "USD", "total_price": Decimal(total), "subtotal_price": Decimal(total),
            "total_discounts": Decimal("0"), "total_tax": Decimal("0"), "financial_status": status,
            "is_test": False, "tags": ["vip", n], "discount_codes": [], "source_created_at": T0,
            "source_updated_at": updated, "created_at": T0, "updated_at": T0}


@pytest.mark.parametrize("size", [10, 120])  # below and above the COPY threshold
def test_newer_wins_and_only_written_rows_are_returned(session, shop, size):
    table = Order.__table__
    first = [order_row(shop.id, n, T0 + dt.timedelta(hours=1), "10.00") for n in range(size)]
    written = upsert(session, table, first, conflict=("shop_id", "external_id"), update=ORDER_UPDATE,
                     newer_than="source_updated_at")
    assert sorted(int(external_id) for _id, external_id in written) == list(range(size))
    # even rows come older (they lose), odd rows newer, every fifth row ties (it is written)
    second = []
    for n in range(size):
        when = T0 + dt.timedelta(hours=1) + (dt.timedelta(hours=1) if n % 2 else -dt.timedelta(hours=1))
        if n % 5 == 0:
            when = T0 + dt.timedelta(hours=1)
        second.append(order_row(shop.id, n, when, "20.00", status="refunded"))
    written = upsert(session, table, second, conflict=("shop_id", "external_id"), update=ORDER_UPDATE,
                     newer_than="source_updated_at")
    expected = {n for n in range(size) if n % 2 or n % 5 == 0}
    assert {int(external_id) for _id, external_id in written} == expected
    session.commit()
    stored = {int(o.external_id): o for o in session.execute(select(Order).where(Order.shop_id == shop.id)).scalars()}
    for n, order in stored.items():
        if n in expected:
            assert (order.total_price, order.financial_status) == (Decimal("20.0000"), "refunded")
        else:
            assert (order.total_price, order.financial_status) == (Decimal("10.0000"), "paid")
        assert order.tags == ["vip", n]
        assert order.source_updated_at.tzinfo is not None


@pytest.mark.parametrize("size", [10, 120])
def test_extra_condition_protects_rows(session, shop, size):
    table = Order.__table__
    upsert(session, table, [order_row(shop.id, n, T0, "10.00") for n in range(size)],
           conflict=("shop_id", "external_id"), update=ORDER_UPDATE, newer_than="source_updated_at")
    session.execute(table.update().where(table.c.external_id == "3").values(deleted_at=T0))
    written = upsert(session, table, [order_row(shop.id, n, T0 + dt.timedelta(days=1), "30.00") for n in range(size)],
                     conflict=("shop_id", "external_id"), update=ORDER_UPDATE, newer_than="source_updated_at",
                     extra_where=table.c.deleted_at.is_(None))
    assert "3" not in {external_id for _id, external_id in written}
    assert len(written) == size - 1


@pytest.mark.parametrize("size", [10, 120])
def test_insert_ignore_returns_only_new_rows_and_duplicates_keep_one(session, shop, size):
    table = Refund.__table__

    def refund(n, amount):
        return {"shop_id": shop.id, "platform": "shopify", "external_id": f"r{n}", "order_external_id": "1",
                "amount": Decimal(amount), "currency": "USD", "note": None, "source_created_at": T0,
                "created_at": T0}

    insert_ignore(session, table, [refund(n, "1.00") for n in range(size // 2)], conflict=("shop_id", "external_id"))
    rows = [refund(n, "2.00") for n in range(size)] + [refund(size - 1, "3.00")]
    inserted = insert_ignore(session, table, rows, conflict=("shop_id", "external_id"))
    assert sorted(external_id for _id, external_id in inserted) == sorted(f"r{n}" for n in range(size // 2, size))
    session.commit()
    amounts = dict(session.execute(select(Refund.external_id, Refund.amount)).all())
    assert amounts["r0"] == Decimal("1.0000")
    assert amounts[f"r{size - 1}"] == Decimal("2.0000")  # the first of two duplicates, as in order
    assert len(amounts) == size


def test_a_rolled_back_batch_does_not_break_the_next_one(session, shop):
    # given a large write whose transaction is rolled back (a failed drain batch)
    table = Order.__table__
    upsert(session, table, [order_row(shop.id, n, T0, "10.00") for n in range(120)],
           conflict=("shop_id", "external_id"), update=ORDER_UPDATE, newer_than="source_updated_at")
    session.rollback()
    # when the next large write runs on the same connection
    written = upsert(session, table, [order_row(shop.id, n, T0, "11.00") for n in range(120)],
                     conflict=("shop_id", "external_id"), update=ORDER_UPDATE, newer_than="source_updated_at")
    session.commit()
    # then it is applied in full
    assert len(written) == 120
    assert session.execute(select(Order.total_price).where(Order.external_id == "7")).scalar_one() == Decimal("11.0000")


def test_of_duplicates_in_one_large_batch_the_newest_wins(session, shop):
    rows = [order_row(shop.id, n, T0, "10.00") for n in range(100)]
    rows += [order_row(shop.id, 5, T0 + dt.timedelta(hours=2), "2.00"), order_row(shop.id, 5, T0 + dt.timedelta(hours=1), "1.00")]
    upsert(session, Order.__table__, rows, conflict=("shop_id", "external_id"), update=ORDER_UPDATE,
           newer_than="source_updated_at")
    session.commit()
    assert session.execute(select(Order.total_price).where(Order.external_id == "5")).scalar_one() == Decimal("2.0000")
