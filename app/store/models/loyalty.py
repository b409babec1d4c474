"""Loyalty programs (versioned), members and the append-only points ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base
from app.store.types import BigId, UTCDateTime, utcnow


class LoyaltyProgram(Base):
    """One version of a shop's program; a change adds a version, old points keep theirs."""

    __tablename__ = "loyalty_programs"
    __table_args__ = (UniqueConstraint("shop_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict]
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyMember(Base):
    """A shopper in the program: a customer, or (claimable) an email seen only on guest orders.

    The row is what concurrent redemptions lock; balances are sums of the ledger.
    """

    __tablename__ = "loyalty_members"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_external_id"),
        # One guest member per email; customers may share an email with a guest until claimed.
        Index("ix_loyalty_members_guest_email", "shop_id", "email", unique=True,
              postgresql_where=text("customer_external_id IS NULL"),
              sqlite_where=text("customer_external_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    # None for a guest (claimable points); the email then identifies the member.
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A guest whose points a customer claimed (same email): later reversals go to that member.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_members.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LedgerEntry(Base):
    """One movement of points with its cause; never updated, never deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("shop_id", "cause_key"),
        Index("ix_ledger_entries_member_id_available_at", "member_id", "available_at"),
        Index("ix_ledger_entries_shop_id_created_at", "shop_id", "created_at"),
        Index("ix_ledger_entries_shop_id_order_external_id", "shop_id", "order_external_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("loyalty_members.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer)
    # order | refund | cancellation | redemption | redemption_refund | adjustment | ...
    cause: Mapped[str] = mapped_column(String(32))
    # Unique per shop: the same cause can never move points twice.
    cause_key: Mapped[str] = mapped_column(String(191))
    order_external_id: Mapped[str | None] = mapped_column(String(64))
    program_version: Mapped[int] = mapped_column(Integer)
    # Points count as spendable from this moment (the pending period of an order's points).
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyCursor(Base):
    """How far the accrual has read the shop's mirror (orders and refunds it has seen)."""

    __tablename__ = "loyalty_cursors"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    # (time the mirror last wrote the row, row id) of the last order and refund read.
    order_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    order_id: Mapped[int] = mapped_column(BigId, default=0)
    refund_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    refund_id: Mapped[int] = mapped_column(BigId, default=0)


class Redemption(Base):
    """Points spent on a reward: the outbox row of the discount code the store must create."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("shop_id", "idempotency_key"),
        UniqueConstraint("shop_id", "code"),
        Index("ix_redemptions_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("loyalty_members.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    reward_id: Mapped[str] = mapped_column(String(40))
    reward: Mapped[dict]  # the reward as priced when redeemed
    points: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | issued | refused
    discount_external_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
