"""Carts and checkouts that may be abandoned."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, Timestamped
from app.store.types import BigId, MoneyAmount, UTCDateTime


class Cart(Timestamped, Base):
    __tablename__ = "carts"
    __table_args__ = (
        UniqueConstraint("shop_id", "external_id"),
        Index("ix_carts_shop_id_completed_at", "shop_id", "completed_at"),
        # The flow triggers read changed carts in (updated_at, id) order from a cursor.
        Index("ix_carts_shop_id_updated_at_id", "shop_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    total_price: Mapped[Decimal] = mapped_column(MoneyAmount())
    lines: Mapped[list | None]
    recovery_url: Mapped[str | None] = mapped_column(Text)
    source_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    source_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
