"""The webhook inbox: every verified delivery, stored before it is acknowledged."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base
from app.store.types import BigId, UTCDateTime

EVENT_STATUSES = ("pending", "processed", "ignored", "failed")


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        # The platform's delivery id: a duplicate delivery hits this and changes nothing.
        UniqueConstraint("platform", "delivery_key"),
        Index("ix_webhook_events_shop_id_status_id", "shop_id", "status", "id"),
        Index("ix_webhook_events_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    delivery_key: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    triggered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
