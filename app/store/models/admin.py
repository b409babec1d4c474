"""Who may open a shop's admin outside the platform's own frame, and how far onboarding went."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, Timestamped
from app.store.types import BigId, UTCDateTime


class MerchantLogin(Timestamped, Base):
    """An e-mail address that may sign in to a shop's admin with an e-mailed link.

    Recorded when a store's own admin opens Comeback with a signed link for that user, so a
    magic link only ever reaches someone the store itself vouched for.
    """

    __tablename__ = "merchant_logins"
    __table_args__ = (UniqueConstraint("shop_id", "email"), Index("ix_merchant_logins_email", "email"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    last_signed_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class MagicLink(Base):
    """A single-use sign-in link; only the SHA-256 of its token is kept."""

    __tablename__ = "magic_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Onboarding(Timestamped, Base):
    """The merchant's progress through the first-run steps (each a time, or None while open)."""

    __tablename__ = "onboarding"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    program_reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    widget_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    flows_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    skipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
