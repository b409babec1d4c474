"""Mirror records for recommendation tests: products and orders as a connector delivers them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.store import mirror
from app.store.models import ProductPair, ProductStat, RecommendationCursor, Shop
from app.store.types import utcnow
from connectors import base

CATEGORIES = {"A": ("Mugs",), "B": ("Tea",), "C": ("Mugs",), "D": ("Mugs",), "E": ("Tea",), "F": ("Candles",),
              "G": ("Candles",)}

# Ten counted orders, checked by hand (docs/recommendations.md shows the arithmetic):
# products in orders A 5, B 5, C 3, D 2, E 2, F 1, G 1; pairs AB 4, AC 2, BC 2, AD 1, BD 1, AE 1, BE 1.
BASKETS = {"1": "ABC", "2": "AB", "3": "ABD", "4": "AC", "5": "BC", "6": "D", "7": "E", "8": "ABE", "9": "F",
           "10": "G"}
EXPECTED_STATS = {"A": 5, "B": 5, "C": 3, "D": 2, "E": 2, "F": 1, "G": 1}
EXPECTED_PAIRS = {("A", "B"): 4, ("A", "C"): 2, ("B", "C"): 2, ("A", "D"): 1, ("B", "D"): 1, ("A", "E"): 1,
                  ("B", "E"): 1}


def days_ago(days: float) -> dt.datetime:
    return (utcnow() - dt.timedelta(days=days)).replace(microsecond=0)


def product(external_id: str, *, status: str = "active", stock: tuple[int | None, ...] = (None,),
            price: str = "10.00") -> base.Product:
    """A product of ``CATEGORIES`` with one variant per ``stock`` level (None: not tracked)."""
    return base.Product(
        external_id=external_id, title=f"Product {external_id}", updated_at=days_ago(200), created_at=days_ago(300),
        handle=f"product-{external_id.lower()}", status=status, categories=CATEGORIES.get(external_id, ()),
        image_url=f"https://cdn.example.com/{external_id}.png", url=f"https://shop.example.com/{external_id}",
        variants=tuple(base.Variant(f"{external_id}-v{n}", f"Variant {n}", Decimal(price), inventory_quantity=level)
                       for n, level in enumerate(stock)))


def order(external_id: str, products: str | tuple[str | None, ...], *, placed: dt.datetime | None = None,
          customer: str | None = None, email: str | None = None, cancelled: bool = False, is_test: bool = False,
          updated: dt.datetime | None = None) -> base.Order:
    """An order with one line per product (a product may repeat; None is a line without one)."""
    placed = placed or days_ago(30)
    lines = tuple(base.LineItem(f"{external_id}-{n}", f"Line {n}", 1, Decimal("10.00"), product_external_id=p)
                  for n, p in enumerate(products))
    return base.Order(external_id=external_id, number=f"#{external_id}", created_at=placed,
                      updated_at=updated or placed, currency="EUR", total_price=Decimal("10.00") * len(lines),
                      subtotal_price=Decimal("10.00") * len(lines), customer_external_id=customer, email=email,
                      cancelled_at=placed + dt.timedelta(hours=1) if cancelled else None, is_test=is_test,
                      line_items=lines)


def catalogue() -> list[base.Product]:
    return [product(p) for p in "ABCDEFG"]


def history() -> list[base.Order]:
    """``BASKETS``, the order number giving the day (order 1 is the oldest)."""
    return [order(number, basket, placed=days_ago(40 - int(number))) for number, basket in BASKETS.items()]


def write(shop: Shop, *records) -> None:
    session = db.session()
    mirror.apply_records(session, shop.id, shop.platform, records)
    session.commit()


def stats(shop: Shop) -> dict[str, int]:
    return dict(db.session().execute(select(ProductStat.product_external_id, ProductStat.orders)
                                     .where(ProductStat.shop_id == shop.id)).all())


def pair_counts(shop: Shop) -> dict[tuple[str, str], int]:
    return {(a, b): n for a, b, n in db.session().execute(
        select(ProductPair.product_a, ProductPair.product_b, ProductPair.orders).where(ProductPair.shop_id == shop.id))}


def orders_counted(shop: Shop) -> int:
    return db.session().execute(select(RecommendationCursor.orders_counted)
                                .where(RecommendationCursor.shop_id == shop.id)).scalar_one()
