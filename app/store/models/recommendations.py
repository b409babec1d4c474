"""What the recommendations room counts: products bought together, and how far it has read.

Counts are kept per shop and updated incrementally from the mirror's orders
(``app.recommendations.pairs``): each counted order keeps the products it was counted with, so
an order read again changes the counts only by what changed in it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base
from app.store.types import BigId, UTCDateTime


class ProductStat(Base):
    """In how many counted orders of the shop a product appears."""

    __tablename__ = "product_stats"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    product_external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)


class ProductPair(Base):
    """In how many counted orders two products appear together (``product_a < product_b``)."""

    __tablename__ = "product_pairs"
    __table_args__ = (
        # Pairs are looked up from either side.
        Index("ix_product_pairs_shop_id_product_b", "shop_id", "product_b"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    product_a: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_b: Mapped[str] = mapped_column(String(64), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)


class CountedOrder(Base):
    """An order the counting has read: the version read and the products it counts with.

    ``products`` (sorted, distinct) is empty when the order does not count (cancelled, deleted,
    a test, no product lines); an order read again changes the counts only by the difference.
    """

    __tablename__ = "recommendation_counted_orders"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    # The order's ``updated_at`` when it was read: a later write of the order is read again.
    order_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    products: Mapped[list] = mapped_column(default=list)


class RecommendationCursor(Base):
    """How far the counting has read the shop's orders, and how many orders the counts hold."""

    __tablename__ = "recommendation_cursors"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    # (time the mirror last wrote the row, row id) of the last order read.
    orders_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    orders_id: Mapped[int] = mapped_column(BigId, default=0)
    # Counted orders with at least one product: the denominator of every share and of lift.
    orders_counted: Mapped[int] = mapped_column(Integer, default=0)
