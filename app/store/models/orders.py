"""Orders, their line items, refunds and refunded lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.store.models.base import Base, Timestamped
from app.store.types import BigId, MoneyAmount, UTCDateTime


class Order(Timestamped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "external_id"),
        Index("ix_orders_shop_id_customer_external_id", "shop_id", "customer_external_id"),
        Index("ix_orders_shop_id_source_created_at", "shop_id", "source_created_at"),
        Index("ix_orders_shop_id_shipping_address_key", "shop_id", "shipping_address_key"),
        # Readers that follow what the mirror wrote (the loyalty accrual) page by (updated_at, id).
        Index("ix_orders_shop_id_updated_at_id", "shop_id", "updated_at", "id"),
        # Guest orders by address, as customers' figures are refreshed (app.analytics.common).
        Index("ix_orders_shop_id_email_key", "shop_id", text("lower(trim(email))")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3))
    total_price: Mapped[Decimal] = mapped_column(MoneyAmount())
    subtotal_price: Mapped[Decimal] = mapped_column(MoneyAmount())
    total_discounts: Mapped[Decimal] = mapped_column(MoneyAmount())
    total_tax: Mapped[Decimal] = mapped_column(MoneyAmount())
    # The part paid with gift cards (loyalty can leave it out of what earns points).
    gift_card_amount: Mapped[Decimal] = mapped_column(MoneyAmount(), default=Decimal("0"))
    # False while only a source that could not tell the amount (a webhook) has been seen.
    gift_card_amount_known: Mapped[bool] = mapped_column(Boolean, default=True)
    # A one-way fingerprint of the shipping address (referral fraud checks compare them).
    shipping_address_key: Mapped[str | None] = mapped_column(String(64))
    financial_status: Mapped[str | None] = mapped_column(String(32))
    fulfillment_status: Mapped[str | None] = mapped_column(String(32))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list | None]
    discount_codes: Mapped[list | None]
    source_created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    source_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the order was first fulfilled (None while it is not, or no source told yet).
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    line_items: Mapped[list[LineItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True,
        order_by="LineItem.id",
    )


class LineItem(Base):
    __tablename__ = "line_items"
    __table_args__ = (UniqueConstraint("order_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MoneyAmount())
    total_discount: Mapped[Decimal] = mapped_column(MoneyAmount())
    sku: Mapped[str | None] = mapped_column(String(255))
    product_external_id: Mapped[str | None] = mapped_column(String(64))
    variant_external_id: Mapped[str | None] = mapped_column(String(64))

    order: Mapped[Order] = relationship(back_populates="line_items")


class Refund(Base):
    """A refund; it may arrive before its order, so it is linked by the order's external id."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("shop_id", "external_id"),
        Index("ix_refunds_shop_id_order_external_id", "shop_id", "order_external_id"),
        Index("ix_refunds_shop_id_created_at_id", "shop_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    order_external_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str | None] = mapped_column(Text)
    source_created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    line_items: Mapped[list[RefundLineItem]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="RefundLineItem.id",
    )


class RefundLineItem(Base):
    __tablename__ = "refund_line_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"), index=True)
    line_item_external_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[Decimal] = mapped_column(MoneyAmount())
