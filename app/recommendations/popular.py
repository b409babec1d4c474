"""Popular products: what the shop's customers ordered most lately; the last source of ``recommend``.

Counted from the mirror's line items of the last 90 days (orders not cancelled, products not
deleted); a shop with fewer orders than places is topped up with its newest products.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.models import LineItem, Order, Product, Variant
from app.store.types import utcnow

WINDOW = dt.timedelta(days=90)


def popular(session: Session, shop_id: int, limit: int = 4, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Up to ``limit`` products, most ordered first: id, title, handle and lowest price."""
    since = utcnow() - WINDOW
    counted = session.execute(
        select(LineItem.product_external_id, func.sum(LineItem.quantity).label("sold"))
        .join(Order, Order.id == LineItem.order_id)
        .where(Order.shop_id == shop_id, Order.source_created_at >= since, Order.cancelled_at.is_(None),
               Order.deleted_at.is_(None), Order.is_test.is_(False), LineItem.product_external_id.is_not(None))
        .group_by(LineItem.product_external_id)
        .order_by(func.sum(LineItem.quantity).desc(), LineItem.product_external_id)
        .limit(limit * 3)
    ).all()
    ranked = [product_id for product_id, _ in counted if product_id not in exclude]
    products = {p.external_id: p for p in session.execute(
        select(Product).where(Product.shop_id == shop_id, Product.external_id.in_(ranked),
                              Product.deleted_at.is_(None))).scalars()}
    chosen = [products[p] for p in ranked if p in products and _on_sale(products[p])][:limit]
    if len(chosen) < limit:
        taken = {p.external_id for p in chosen} | set(exclude)
        chosen += [p for p in session.execute(
            select(Product).where(Product.shop_id == shop_id, Product.deleted_at.is_(None))
            .order_by(Product.source_created_at.desc().nulls_last(), Product.id.desc()).limit(limit * 3)
        ).scalars() if p.external_id not in taken and _on_sale(p)][:limit - len(chosen)]
    prices = _lowest_prices(session, [p.id for p in chosen])
    return [{"id": p.external_id, "title": p.title, "handle": p.handle,
             "price": str(prices[p.id]) if p.id in prices else None, "image_url": p.image_url, "url": p.url}
            for p in chosen]


_NOT_FOR_SALE = frozenset({"draft", "archived", "private", "pending", "trash", "unlisted"})


def _on_sale(product: Product) -> bool:
    return (product.status or "").lower() not in _NOT_FOR_SALE


def _lowest_prices(session: Session, product_ids: list[int]) -> dict[int, Decimal]:
    lowest: dict[int, Decimal] = {}
    for product_id, price in session.execute(  # compared here: SQLite keeps amounts as text
            select(Variant.product_id, Variant.price).where(Variant.product_id.in_(product_ids))):
        if product_id not in lowest or price < lowest[product_id]:
            lowest[product_id] = price
    return lowest
