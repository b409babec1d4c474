"""Installed shops, their encrypted credentials, and single-use OAuth states."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, Timestamped
from app.store.types import BigId, EncryptedText, UTCDateTime

SHOP_STATUSES = ("installing", "active", "reauthorize", "uninstalled", "redacted")


class Shop(Timestamped, Base):
    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="installing")
    scopes: Mapped[str | None] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(EncryptedText)
    refresh_token: Mapped[str | None] = mapped_column(EncryptedText)
    access_token_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    refresh_token_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    installed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    uninstalled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    webhooks_registered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Key-pair platforms (WooCommerce): the key's secret half and how the store wants it sent.
    access_secret: Mapped[str | None] = mapped_column(EncryptedText)
    auth_hint: Mapped[str | None] = mapped_column(String(16))
    # Secrets we chose for the shop: one signs its webhooks, one is shared with the storefront
    # plugin (customer tokens, cart events, restore links). New ones at every connect.
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText)
    storefront_secret: Mapped[str | None] = mapped_column(EncryptedText)
    storefront_configured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class OAuthState(Base):
    """A state value handed to the platform at install; used once, within its lifetime."""

    __tablename__ = "oauth_states"
    __table_args__ = (Index("ix_oauth_states_expires_at", "expires_at"),)

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    shop_domain: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
