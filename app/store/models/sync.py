"""Sync runs: one backfill or catch-up of one resource, with progress that survives a crash."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, Timestamped
from app.store.types import BigId, UTCDateTime

SYNC_STATUSES = ("pending", "exporting", "importing", "completed", "failed", "cancelled")


class SyncRun(Timestamped, Base):
    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_shop_id_kind_resource", "shop_id", "kind", "resource"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # backfill | catch_up
    resource: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    platform_job_id: Mapped[str | None] = mapped_column(String(255))
    result_url: Mapped[str | None] = mapped_column(Text)
    total_count: Mapped[int | None] = mapped_column(Integer)
    processed_count: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    high_water_mark: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The one queued step allowed to advance this run: a step carrying another token is a
    # leftover of a duplicate chain and stops.
    step_token: Mapped[str | None] = mapped_column(String(36))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    import_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
