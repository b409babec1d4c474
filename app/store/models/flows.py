"""Flows (versioned per shop), their runs (one per trigger) and the cursor of what triggered them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base
from app.store.types import BigId, UTCDateTime, utcnow

RUN_STATES = ("active", "completed", "exited")


class Flow(Base):
    """One version of one of a shop's flows; a change adds a version, runs keep the one they started with."""

    __tablename__ = "flows"
    __table_args__ = (UniqueConstraint("shop_id", "key", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))  # the built-in flow: abandoned_cart, win_back, ...
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict]
    # Since when the flow has been enabled without a break (None while disabled): what happened
    # before it never starts a run, so enabling a flow does not mail every old cart at once.
    enabled_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FlowRun(Base):
    """One subject (a cart, an order, a customer, a loyalty event) going through a flow's steps.

    ``trigger_key`` is unique per shop and flow: a trigger seen twice finds the run already there.
    """

    __tablename__ = "flow_runs"
    __table_args__ = (
        UniqueConstraint("shop_id", "flow_key", "trigger_key"),
        Index("ix_flow_runs_state_next_at", "state", "next_at"),  # the sweep of due runs
        Index("ix_flow_runs_shop_id_flow_key_id", "shop_id", "flow_key", "id"),  # the admin's listing
        # a flow's report over a period (runs by when they started: app.flows.reports)
        Index("ix_flow_runs_shop_id_flow_key_started_at", "shop_id", "flow_key", "started_at"),
        Index("ix_flow_runs_shop_id_email", "shop_id", "email"),  # exits on an order, erasure
        Index("ix_flow_runs_shop_id_customer_external_id", "shop_id", "customer_external_id"),
        Index("ix_flow_runs_shop_id_subject_id", "shop_id", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    flow_key: Mapped[str] = mapped_column(String(40))
    flow_version: Mapped[int] = mapped_column(Integer)
    trigger_key: Mapped[str] = mapped_column(String(191))
    subject_kind: Mapped[str] = mapped_column(String(16))  # cart | order | customer | loyalty_event
    subject_id: Mapped[str] = mapped_column(String(64))  # the cart's, order's or customer's external id; event id
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))  # lower case; None once erased
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | completed | exited
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Step delays count from here, and so do the orders that end a run (the cart's last change,
    # the order's time, the moment a customer lapsed).
    reference_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    exit_reason: Mapped[str | None] = mapped_column(Text)
    is_holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the trigger carried that the message needs later (points, reward, tier, ...).
    data: Mapped[dict] = mapped_column(default=dict)
    # One entry per step done: sent (message id), held out (what would have gone), skipped (why).
    steps: Mapped[list] = mapped_column(default=list)
    job_id: Mapped[str | None] = mapped_column(String(191))  # the step job scheduled now, to cancel on exit
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # tries of the current step the store refused
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class FlowCursor(Base):
    """How far a shop's flow triggers have read the mirror and the loyalty events."""

    __tablename__ = "flow_cursors"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    # (time the mirror last wrote the row, row id) of the last cart and order read.
    cart_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cart_id: Mapped[int] = mapped_column(BigId, default=0)
    order_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    order_id: Mapped[int] = mapped_column(BigId, default=0)
    loyalty_event_id: Mapped[int] = mapped_column(BigId, default=0)
    # Moments periodic scans have covered (win-back: lapses seen through when).
    marks: Mapped[dict] = mapped_column(default=dict)
