"""Popular products: what the shop's customers ordered most lately; the last source of ``recommend``.

Counted from the mirror's line items of the last 90 days (orders not cancelled, products not
deleted); a shop with fewer orders than places is topped up with its newest products. Only
products that may be recommended (``_available``) are returned, so the list is short only when
the shop has no more of them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.store.models import LineItem, Order, Product, Variant
from app.store.types import utcnow

WINDOW = dt.timedelta(days=90)
# The ranking is read this many candidates per place at first, and twice as many each time
# sold-out or excluded products leave places open, up to PAGE_MOST at a time (each page's ids are
# one IN list: SQLite takes at most 32,766 parameters in a statement).
PAGE_PER_PLACE = 3
PAGE_MOST = 1000


def popular(session: Session, shop_id: int, limit: int = 4, exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Up to ``limit`` available products, most ordered first, then the newest: id, title, handle, lowest price."""
    since = utcnow() - WINDOW
    ranking = (select(LineItem.product_external_id)
               .join(Order, Order.id == LineItem.order_id)
               .where(Order.shop_id == shop_id, Order.source_created_at >= since, Order.cancelled_at.is_(None),
                      Order.deleted_at.is_(None), Order.is_test.is_(False), LineItem.product_external_id.is_not(None))
               .group_by(LineItem.product_external_id)
               .order_by(func.sum(LineItem.quantity).desc(), LineItem.product_external_id))
    newest = (select(Product.external_id).where(Product.shop_id == shop_id, Product.deleted_at.is_(None))
              .order_by(Product.source_created_at.desc().nulls_last(), Product.id.desc()))
    chosen: list[Product] = []
    taken = set(exclude)
    for ordered in (ranking, newest):
        pages = _pages(session, ordered, limit)
        while len(chosen) < limit and (page := next(pages, None)) is not None:
            candidates = [p for p in dict.fromkeys(page) if p not in taken]
            available = _available(session, shop_id, candidates)
            for product_id in candidates:
                if len(chosen) < limit and product_id in available:
                    chosen.append(available[product_id])
                    taken.add(product_id)
    prices = _lowest_prices(session, [p.id for p in chosen])
    return [{"id": p.external_id, "title": p.title, "handle": p.handle,
             "price": str(prices[p.id]) if p.id in prices else None, "image_url": p.image_url, "url": p.url}
            for p in chosen]


def _pages(session: Session, ordered: Select[Any], limit: int) -> Iterator[list[str]]:
    """The product ids ``ordered`` selects, page by page, until a page comes back short.

    Pages grow so that a shop whose best sellers are mostly sold out is read in a few queries.
    """
    offset, size = 0, min(max(1, limit) * PAGE_PER_PLACE, PAGE_MOST)
    while True:
        page = [str(p) for p in session.execute(ordered.offset(offset).limit(size)).scalars() if p is not None]
        yield page
        if len(page) < size:
            return
        offset, size = offset + size, min(size * 2, PAGE_MOST)


_NOT_FOR_SALE = frozenset({"draft", "archived", "private", "pending", "trash", "unlisted", "future"})


def _on_sale(product: Product) -> bool:
    return (product.status or "").lower() not in _NOT_FOR_SALE


def _available(session: Session, shop_id: int, product_ids: Sequence[str]) -> dict[str, Product]:
    """The products of ``product_ids`` that may be recommended: for sale, not deleted, in stock."""
    if not product_ids:
        return {}
    products = {p.external_id: p for p in session.execute(select(Product).where(
        Product.shop_id == shop_id, Product.external_id.in_(list(product_ids)),
        Product.deleted_at.is_(None))).scalars() if _on_sale(p)}
    stock: dict[int, list[int | None]] = defaultdict(list)
    for product_id, quantity in session.execute(select(Variant.product_id, Variant.inventory_quantity).where(
            Variant.product_id.in_([p.id for p in products.values()]))):
        stock[product_id].append(quantity)
    return {external_id: p for external_id, p in products.items() if _in_stock(stock.get(p.id, []))}


def _in_stock(quantities: list[int | None]) -> bool:
    """Whether a product with these variant stock levels can be bought (no variants: unknown, yes)."""
    return not quantities or any(q is None or q > 0 for q in quantities)


def _lowest_prices(session: Session, product_ids: list[int]) -> dict[int, Decimal]:
    lowest: dict[int, Decimal] = {}
    for product_id, price in session.execute(  # compared here: SQLite keeps amounts as text
            select(Variant.product_id, Variant.price).where(Variant.product_id.in_(product_ids))):
        if product_id not in lowest or price < lowest[product_id]:
            lowest[product_id] = price
    return lowest
