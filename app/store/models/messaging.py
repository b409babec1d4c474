"""Messages to send (the email outbox), suppressed addresses, clicks and consent write-backs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base
from app.store.types import BigId, UTCDateTime, utcnow

MESSAGE_STATUSES = ("queued", "deferred", "sending", "sent", "bounced", "suppressed", "skipped", "failed")
# A message in one of these may still be sent; the others are final.
OPEN_STATUSES = ("queued", "deferred")
# ``test``: a merchant's test send from the admin (no consent, budget or quiet hours; never in reports).
CATEGORIES = ("marketing", "transactional", "test")
SUPPRESSION_REASONS = ("hard_bounce", "complaint", "unsubscribed", "manual")


class Message(Base):
    """One message to one address: the outbox row a delivery job sends at most once."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("shop_id", "dedupe_key"),
        UniqueConstraint("token"),
        Index("ix_messages_status_not_before", "status", "not_before"),  # the sweep of due messages
        Index("ix_messages_shop_id_email", "shop_id", "email"),  # the contact budget, erasure
        Index("ix_messages_shop_id_customer_external_id", "shop_id", "customer_external_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    # The address at creation time, normalised to lower case (None once the customer was erased).
    email: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    category: Mapped[str] = mapped_column(String(16))  # marketing | transactional
    template: Mapped[str] = mapped_column(String(40))
    context: Mapped[dict]  # what the template renders, as JSON
    # The caller's idempotency key: the same key twice is the same message.
    dedupe_key: Mapped[str] = mapped_column(String(191))
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher goes first within the budget
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(Text)  # why deferred, skipped, suppressed or failed
    not_before: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))  # the RFC 5322 Message-ID header
    token: Mapped[str] = mapped_column(String(32))  # names the message in tracking links
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # when a worker began sending
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # first open
    clicked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # first click


class MessageClick(Base):
    """A click on a tracked link of a message (every click; the message keeps the first)."""

    __tablename__ = "message_clicks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    clicked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EmailSuppression(Base):
    """An address of a shop that gets no more email (bounced, complained, unsubscribed)."""

    __tablename__ = "email_suppressions"
    __table_args__ = (UniqueConstraint("shop_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lower case
    reason: Mapped[str] = mapped_column(String(16))  # hard_bounce | complaint | unsubscribed | manual
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsentWriteback(Base):
    """Marketing consent changed here that the store must be told about (outbox; pending until written)."""

    __tablename__ = "consent_writebacks"
    __table_args__ = (
        UniqueConstraint("shop_id", "email"),
        Index("ix_consent_writebacks_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))  # the consent to write: unsubscribed
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | written | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    written_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # after a temporary failure


class MessagingSettings(Base):
    """A shop's own messaging settings (contact budget, quiet hours, sender...); absent: the app's defaults."""

    __tablename__ = "messaging_settings"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    settings: Mapped[dict]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))
