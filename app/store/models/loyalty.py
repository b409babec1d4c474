"""Loyalty programs (versioned), members and the append-only points ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
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
        UniqueConstraint("shop_id", "referral_code"),
        Index("ix_loyalty_members_shop_id_tier", "shop_id", "tier"),
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
    # The VIP tier in effect, since when, and until when a member below its threshold keeps it.
    tier: Mapped[str | None] = mapped_column(String(60))
    tier_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    tier_grace_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The tier the store shows (tag / meta): differs from ``tier`` until the write-back ran.
    tier_written: Mapped[str | None] = mapped_column(String(60))
    referral_code: Mapped[str | None] = mapped_column(String(16))
    # Day and month only: a birthday earns once a year, never within 30 days of being set.
    birthday_month: Mapped[int | None] = mapped_column(Integer)
    birthday_day: Mapped[int | None] = mapped_column(Integer)
    birthday_set_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The leaderboard shows only a name the shopper chose, and only when they opted in.
    display_name: Mapped[str | None] = mapped_column(String(40))
    leaderboard_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Spendable points when "reward available" was last considered: a reward crossed since is news.
    notified_spendable: Mapped[int] = mapped_column(Integer, default=0)


class LedgerEntry(Base):
    """One movement of points with its cause; never updated, never deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("shop_id", "cause_key"),
        Index("ix_ledger_entries_member_id_available_at", "member_id", "available_at"),
        Index("ix_ledger_entries_shop_id_created_at", "shop_id", "created_at"),
        Index("ix_ledger_entries_shop_id_order_external_id", "shop_id", "order_external_id"),
        Index("ix_ledger_entries_shop_id_expires_at", "shop_id", "expires_at"),
        Index("ix_ledger_entries_shop_id_available_at", "shop_id", "available_at"),
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
    # An earned lot's end: what is left of it then (first in, first out) expires.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
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
    # Customers seen (signups, guest claims on account creation).
    customer_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    customer_id: Mapped[int] = mapped_column(BigId, default=0)
    # Moments the periodic work has covered: expiry, reminders per lead time, matured points.
    marks: Mapped[dict] = mapped_column(default=dict)


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


class LoyaltyEvent(Base):
    """A domain event of the program (points earned, reward available, tier changed, ...).

    Written in the transaction that caused it, once per ``key``; flows read them in id order.
    """

    __tablename__ = "loyalty_events"
    __table_args__ = (
        UniqueConstraint("shop_id", "key"),
        Index("ix_loyalty_events_shop_id_id", "shop_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(191))
    payload: Mapped[dict]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Referral(Base):
    """A friend a member referred: checked for fraud, rewarded once the friend's order clears."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("shop_id", "friend_email"),
        Index("ix_referrals_shop_id_status", "shop_id", "status"),
        Index("ix_referrals_shop_id_ip_created_at", "shop_id", "ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("loyalty_members.id", ondelete="CASCADE"), index=True)
    friend_member_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_members.id", ondelete="SET NULL"))
    friend_email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str | None] = mapped_column(String(64))
    # invited | blocked | qualified | completed | rejected | void
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list]  # why it was blocked, in words a merchant reads
    friend_redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id", ondelete="SET NULL"))
    order_external_id: Mapped[str | None] = mapped_column(String(64))
    qualifies_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class MemberBadge(Base):
    """A badge a member earned by completing a challenge (once per challenge)."""

    __tablename__ = "member_badges"
    __table_args__ = (UniqueConstraint("member_id", "challenge_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("loyalty_members.id", ondelete="CASCADE"))
    challenge_id: Mapped[str] = mapped_column(String(40))
    badge: Mapped[str] = mapped_column(String(80))
    awarded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
