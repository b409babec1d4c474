"""Customers as the store knows them, with consent and purchasing summary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, Timestamped
from app.store.types import BigId, MoneyAmount, UTCDateTime


class Customer(Timestamped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("shop_id", "external_id"),
        Index("ix_customers_shop_id_email", "shop_id", "email"),
        Index("ix_customers_shop_id_updated_at_id", "shop_id", "updated_at", "id"),  # loyalty's cursor
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list | None]
    email_marketing_state: Mapped[str | None] = mapped_column(String(32))
    consent_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    order_count: Mapped[int | None] = mapped_column(Integer)
    total_spent: Mapped[Decimal | None] = mapped_column(MoneyAmount())
    total_spent_currency: Mapped[str | None] = mapped_column(String(3))
    summary_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The default address's country (ISO 3166-1 alpha-2) and subdivision (the part of its
    # ISO 3166-2 code after the country): where the customer's local time is read from.
    country_code: Mapped[str | None] = mapped_column(String(2))
    province_code: Mapped[str | None] = mapped_column(String(8))
    source_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The platform's own updated_at of the version we hold: a write with an older one loses.
    source_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    redacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
