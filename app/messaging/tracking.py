"""Click and open tracking: signed redirect links, a 1x1 pixel, and the first open and click.

A tracked link is ``APP_URL/m/c/<token>?u=<signed url>``: the destination is signed together with
the message's token under the app's secret, so the endpoint redirects only to addresses one of
our messages named (no open redirect) and a link cannot be moved to another message.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.store.models import Message, MessageClick
from app.store.types import utcnow

_CLICK_SALT = "comeback.messaging.click"

# A transparent 1x1 GIF.
PIXEL_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
             b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


class InvalidLink(ValueError):
    """A tracking link whose signature does not match (altered, cut short, or made elsewhere)."""


def is_web_url(url: str) -> bool:
    """Tell whether ``url`` is an absolute http(s) address with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in url)


class LinkTracker:
    """Make the tracked links of one message."""

    def __init__(self, app_url: str, secret_key: str, token: str):
        self.app_url = app_url.rstrip("/")
        self.token = token
        self._signer = URLSafeSerializer(secret_key, salt=_CLICK_SALT)

    def click_url(self, url: str) -> str:
        if not is_web_url(url):
            raise ValueError(f"only http(s) links can be tracked, got {url[:80]!r}")
        signed = self._signer.dumps([self.token, url])
        return f"{self.app_url}/m/c/{quote(self.token)}?u={quote(str(signed), safe='')}"

    def pixel_url(self) -> str:
        return f"{self.app_url}/m/o/{quote(self.token)}.gif"

    def is_own(self, url: str) -> bool:
        """Links to the app's own message endpoints (unsubscribe, tracking) are left as they are."""
        return url.startswith(f"{self.app_url}/m/")


def read_click(secret_key: str, token: str, signed: str) -> str:
    """Return the destination of a tracked link, or raise ``InvalidLink``."""
    try:
        value = URLSafeSerializer(secret_key, salt=_CLICK_SALT).loads(signed)
    except BadSignature as error:
        raise InvalidLink("this link is not valid: its signature does not match") from error
    if (not isinstance(value, list) or len(value) != 2 or value[0] != token or not isinstance(value[1], str)
            or not is_web_url(value[1])):
        raise InvalidLink("this link is not valid for this message")
    return value[1]


def record_open(session: Session, token: str, now: dt.datetime | None = None) -> bool:
    """Note the first open of the message named by ``token``; False when there is no such message."""
    now = now or utcnow()
    found = session.execute(select(Message.id).where(Message.token == token)).scalar_one_or_none()
    if found is None:
        return False
    session.execute(update(Message).where(Message.id == found, Message.opened_at.is_(None)).values(opened_at=now))
    return True


def record_click(session: Session, token: str, url: str, now: dt.datetime | None = None) -> bool:
    """Store a click and note the message's first one (a click is an open too, images or not)."""
    now = now or utcnow()
    row = session.execute(select(Message.id, Message.shop_id).where(Message.token == token)).first()
    if row is None:
        return False
    session.add(MessageClick(shop_id=row.shop_id, message_id=row.id, url=url, clicked_at=now))
    session.execute(update(Message).where(Message.id == row.id, Message.clicked_at.is_(None)).values(clicked_at=now))
    session.execute(update(Message).where(Message.id == row.id, Message.opened_at.is_(None)).values(opened_at=now))
    return True
