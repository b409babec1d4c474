"""Compliance requests: data exports and erasures, with what was done."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base
from app.store.types import BigId, UTCDateTime


class PrivacyRequest(Base):
    __tablename__ = "privacy_requests"
    __table_args__ = (UniqueConstraint("webhook_event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key to shops: the record of a shop erasure outlives the shop's data.
    shop_id: Mapped[int] = mapped_column(BigId)
    webhook_event_id: Mapped[int | None] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(32))  # data_request | customer_redact | shop_redact
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    export: Mapped[dict | None]
    result: Mapped[dict | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
