"""Count which products are bought together, incrementally, from the mirror's orders.

An order counts when it is not cancelled, not deleted and not a test; its basket is the set of
distinct products on its lines. ``ProductStat`` holds in how many counted orders a product is,
``ProductPair`` in how many two products are together, the cursor how many orders count.

Orders are read in the order the mirror wrote them ((updated_at, id)) from a stored cursor.
Each order read leaves a ``CountedOrder`` row with the version read and the basket counted, so
reading an order again (an update, a re-delivered webhook, a cancellation) changes the counts by
the difference only: an order is never counted twice, and a cancelled one is uncounted. Every
run also looks ``OVERLAP`` behind the cursor for orders whose version it has not read (a
transaction that committed late with an earlier time): the markers make that look harmless.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, exists, literal, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.store.models import CountedOrder, LineItem, Order, ProductPair, ProductStat, RecommendationCursor
from app.store.upsert import chunks

log = logging.getLogger(__name__)

BATCH = 1000
# A basket with more distinct products than this (a wholesale order) counts toward each
# product's orders but adds no pairs: it says little about what goes together, and costs n².
MAX_BASKET = 40
OVERLAP = dt.timedelta(minutes=10)


@dataclasses.dataclass
class Counted:
    orders_read: int = 0
    orders_changed: int = 0  # read orders whose basket differed from what was counted
    more: bool = False  # stopped after ``batches``: call again


def update(session: Session, shop_id: int, *, batches: int = 20) -> Counted:
    """Count up to ``batches`` batches of orders written since the last run; commits each batch."""
    result = Counted()
    for _ in range(batches):
        cursor = _locked_cursor(session, shop_id)
        orders = _unread(session, shop_id, cursor)
        result.orders_changed += _apply(session, shop_id, cursor, orders)
        result.orders_read += len(orders)
        if orders:
            last = (orders[-1].updated_at, orders[-1].id)
            if cursor.orders_updated_at is None or last > (cursor.orders_updated_at, cursor.orders_id):
                cursor.orders_updated_at, cursor.orders_id = last
        session.commit()
        if len(orders) < BATCH:
            return result
    result.more = True
    return result


def rebuild(session: Session, shop_id: int, *, batches: int = 20) -> Counted:
    """Forget the shop's counts and count every order again (through ``update``'s path).

    The counts are emptied in the first batch's transaction, so readers see the old counts or
    the new ones, never none. When ``more`` is set, ``update`` continues the rebuild.
    """
    cursor = _locked_cursor(session, shop_id)
    for table in (ProductPair, ProductStat, CountedOrder):
        session.execute(delete(table).where(table.shop_id == shop_id))
    cursor.orders_updated_at, cursor.orders_id, cursor.orders_counted = None, 0, 0
    session.flush()
    return update(session, shop_id, batches=batches)


def counts_order(order: Any) -> bool:
    """Whether an order belongs in the counts (and in what a customer bought)."""
    return order.cancelled_at is None and order.deleted_at is None and not order.is_test


def _locked_cursor(session: Session, shop_id: int) -> RecommendationCursor:
    """The shop's cursor row, locked for this transaction (two runs must not count twice)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(RecommendationCursor).values(shop_id=shop_id, orders_id=0, orders_counted=0)
                    .on_conflict_do_nothing(index_elements=["shop_id"]))
    return session.execute(select(RecommendationCursor).where(RecommendationCursor.shop_id == shop_id)
                           .with_for_update().execution_options(populate_existing=True)).scalar_one()


def _unread(session: Session, shop_id: int, cursor: RecommendationCursor) -> list[Any]:
    """The next orders whose current version has not been read, from ``OVERLAP`` behind the cursor."""
    query = select(Order.id, Order.updated_at, Order.cancelled_at, Order.deleted_at, Order.is_test).where(
        Order.shop_id == shop_id,
        ~exists().where(CountedOrder.order_id == Order.id, CountedOrder.order_updated_at == Order.updated_at))
    if cursor.orders_updated_at is not None:
        since = cursor.orders_updated_at - OVERLAP
        query = query.where(tuple_(Order.updated_at, Order.id)
                            > tuple_(literal(since, Order.updated_at.type), literal(0, Order.id.type)))
    return list(session.execute(query.order_by(Order.updated_at, Order.id).limit(BATCH)).all())


def _apply(session: Session, shop_id: int, cursor: RecommendationCursor, orders: list[Any]) -> int:
    """Move the counts by the difference between each order's basket now and as counted."""
    if not orders:
        return 0
    ids = [order.id for order in orders]
    baskets: dict[int, set[str]] = {order.id: set() for order in orders}
    counting = [order.id for order in orders if counts_order(order)]
    if counting:
        for order_id, product in session.execute(
                select(LineItem.order_id, LineItem.product_external_id).distinct()
                .where(LineItem.order_id.in_(counting), LineItem.product_external_id.is_not(None))):
            if product is not None:
                baskets[order_id].add(product)
    counted: dict[int, list[str]] = dict(session.execute(select(CountedOrder.order_id, CountedOrder.products)
                                   .where(CountedOrder.order_id.in_(ids))).all())
    stats: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    changed = 0
    for order_id, basket in baskets.items():
        now, before = sorted(basket), sorted(counted.get(order_id) or ())
        if now == before:
            continue
        changed += 1
        for products, sign in ((before, -1), (now, 1)):
            if products:
                cursor.orders_counted += sign
            for product in products:
                stats[product] += sign
            for pair in _pairs(products):
                pairs[pair] += sign
    _move(session, ProductStat, ["shop_id", "product_external_id"],
          [{"shop_id": shop_id, "product_external_id": p, "orders": n} for p, n in stats.items() if n])
    _move(session, ProductPair, ["shop_id", "product_a", "product_b"],
          [{"shop_id": shop_id, "product_a": a, "product_b": b, "orders": n} for (a, b), n in pairs.items() if n])
    _forget_empty(session, shop_id, [p for p, n in stats.items() if n < 0], [k for k, n in pairs.items() if n < 0])
    _mark(session, [{"order_id": order.id, "shop_id": shop_id, "order_updated_at": order.updated_at,
                     "products": sorted(baskets[order.id])} for order in orders])
    return changed


def _pairs(products: list[str]) -> Iterable[tuple[str, str]]:
    """Every pair of a sorted basket, smaller id first; none for a basket over ``MAX_BASKET``."""
    if len(products) > MAX_BASKET:
        return ()
    return itertools.combinations(products, 2)


def _insert(session: Session, table: Any) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def _move(session: Session, model: Any, key: list[str], rows: list[dict[str, Any]]) -> None:
    """Add each row's ``orders`` to the stored count (a new key starts from the row's)."""
    if not rows:
        return
    statement = _insert(session, model.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=key, set_={"orders": model.__table__.c.orders + statement.excluded.orders})
    for part in chunks(rows, len(rows[0])):
        session.execute(statement, list(part))


def _forget_empty(session: Session, shop_id: int, products: list[str], pairs: list[tuple[str, str]]) -> None:
    """Delete the counts a decrement brought to zero."""
    for part in _slices(products):
        session.execute(delete(ProductStat).where(ProductStat.shop_id == shop_id, ProductStat.orders <= 0,
                                                  ProductStat.product_external_id.in_(part)))
    for pair_part in _slices(pairs):
        session.execute(delete(ProductPair).where(
            ProductPair.shop_id == shop_id, ProductPair.orders <= 0,
            or_(*(and_(ProductPair.product_a == a, ProductPair.product_b == b) for a, b in pair_part))))


def _slices(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _mark(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record the version read and the basket counted of each order."""
    statement = _insert(session, CountedOrder.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["order_id"], set_={"order_updated_at": statement.excluded.order_updated_at,
                                           "products": statement.excluded.products})
    for part in chunks(rows, len(rows[0])):
        session.execute(statement, list(part))
