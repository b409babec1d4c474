"""What the segments room computes per customer, the shop's fitted models, segments and who is in them.

A customer is known by its key (``app.analytics.common.customer_key``): ``c:<customer id>`` for
the store's customers, ``e:<email>`` for guests known only by an address.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base
from app.store.types import BigId, UTCDateTime, utcnow


class CustomerMetrics(Base):
    """One customer's purchasing figures, scores and predictions, as of ``computed_at``.

    Money is in the shop's currency, net of refunds, as a float: these are analytic figures that
    segments compare, never amounts anything is charged or credited from.
    """

    __tablename__ = "customer_metrics"

    # Keyed by customer, no row id and no other index: a full run rewrites every row, and each
    # index costs a write per row. No foreign key to the shop either, which cost a lookup per row:
    # the rows are written only under the shop's locked ``segment_models`` row, whose own key to
    # ``shops`` holds, and shops are never deleted (migration 0018).
    shop_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_key: Mapped[str] = mapped_column(String(330), primary_key=True)
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))  # lower case
    first_order_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_order_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    order_count: Mapped[int] = mapped_column(Integer, default=0)  # all time
    total_spent: Mapped[float] = mapped_column(Float, default=0.0)  # all time, net of refunds
    average_order_value: Mapped[float | None] = mapped_column(Float)
    # Within the shop's RFM window (``SegmentModel.window_days``): what the scores rank.
    window_orders: Mapped[int] = mapped_column(Integer, default=0)
    window_spent: Mapped[float] = mapped_column(Float, default=0.0)
    r_score: Mapped[int | None] = mapped_column(SmallInteger)
    f_score: Mapped[int | None] = mapped_column(SmallInteger)
    m_score: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_segment: Mapped[str | None] = mapped_column(String(32))
    spend_rank: Mapped[float | None] = mapped_column(Float)  # share of buyers who spent less (0 … 1)
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_orders_90d: Mapped[float | None] = mapped_column(Float)
    predicted_value_12m: Mapped[float | None] = mapped_column(Float)
    churn_band: Mapped[str | None] = mapped_column(String(8))  # low | medium | high
    # Copied from the mirror and the program so that rules read one row.
    tags_text: Mapped[str | None] = mapped_column(Text)  # ",tag one,tag two," lower case
    email_subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    tier: Mapped[str | None] = mapped_column(String(60))
    points_balance: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SegmentModel(Base):
    """A shop's settings and fitted models for the figures above, and how far they are up to date."""

    __tablename__ = "segment_models"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    window_days: Mapped[int] = mapped_column(Integer, default=365)
    # The quintile limits of the last full computation: an incremental update scores with them.
    bounds: Mapped[dict | None]
    clv: Mapped[dict | None]  # parameters, method (fit | fallback) and why
    full_computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The mirror's orders written after this (updated_at, id) are not counted yet.
    orders_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    orders_id: Mapped[int] = mapped_column(BigId, default=0)
    refunds_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    refunds_id: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Segment(Base):
    """A merchant's segment (or a built-in one): rules over the figures above, and its size."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    rules: Mapped[dict]
    built_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # The tag written on the platform's customers while they are members; None: no tag.
    tag: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class SegmentMember(Base):
    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_shop_id_customer_key", "shop_id", "customer_key"),)

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    customer_key: Mapped[str] = mapped_column(String(330), primary_key=True)
    # The segment's shop, to find a customer's memberships. No foreign key of its own: the segment's
    # (to shops) already holds, and cascades; checking it again per member written cost 3.4 s of a
    # million-member first run (migration 0016).
    shop_id: Mapped[int] = mapped_column(BigId)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SegmentEvent(Base):
    """A customer entering or leaving a segment: a domain event flows and loyalty read by id."""

    __tablename__ = "segment_events"
    __table_args__ = (Index("ix_segment_events_shop_id_id", "shop_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    segment_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # entered | left
    customer_key: Mapped[str] = mapped_column(String(330))
    customer_external_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerTagSync(Base):
    """The segment and tier tags a customer should carry on the platform, and those written there.

    The write-back job adds ``wanted - written`` and removes ``written - wanted``; only tags the
    app wrote itself are ever removed.
    """

    __tablename__ = "customer_tag_syncs"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_external_id"),
        Index("ix_customer_tag_syncs_shop_id_dirty", "shop_id", "dirty"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    wanted: Mapped[list]
    written: Mapped[list]
    dirty: Mapped[bool] = mapped_column(Boolean, default=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
