"""Who is looking at the admin, and which shop they may see.

Two ways in, one answer (``g.shop``):

* **Inside the platform's admin frame** (platforms with ``CAP_EMBEDDED_ADMIN``): every page load
  carries the platform's session token (``id_token``), every API call sends one as a bearer
  token. No cookie is needed, so third-party cookie blocking cannot break the admin. A page
  opened without a fresh token gets a "bounce" page that asks App Bridge for one and reloads;
  opened outside the frame, it sends the browser to the admin address that embeds the app.
* **A first-party session** (platforms with ``CAP_ADMIN_LINK``): the store's own admin opens
  ``/admin/enter`` with a short-lived link signed with the store's shared secret, or the
  merchant signs in with a link e-mailed to an address the store vouched for earlier. The
  session cookie names the shops this person may open; API writes also need its CSRF token.

Any other shop's data is a 404, exactly as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Response, redirect, request, session, url_for
from sqlalchemy import func, select

from app import platforms
from app.extensions import db, redis_holder
from app.store.models import MagicLink, MerchantLogin, Shop
from app.store.types import utcnow
from connectors import base, registry

log = logging.getLogger(__name__)

SESSION_KEY = "merchant"
SESSION_HOURS = 12
MAGIC_LINK_MINUTES = 15
MAGIC_LINKS_PER_HOUR = 5
CSRF_HEADER = "X-CSRF-Token"
# The shop a first-party page was rendered for: an API write from a page of another shop (the
# merchant switched shops in another tab) is refused rather than applied to the current one.
SHOP_HEADER = "X-Comeback-Shop"
# Parameters the platform's admin adds to every embedded page; kept on our own links.
FRAME_PARAMS = ("shop", "host", "embedded", "locale")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Refused(Exception):
    """The request may not see the admin; ``response`` says where to go instead."""

    def __init__(self, response: Response):
        super().__init__("refused")
        self.response = response


# --- which platform ------------------------------------------------------------------------------


def embedded_platforms() -> list[str]:
    return [name for name in registry.platforms()
            if base.CAP_EMBEDDED_ADMIN in platforms.connector(name).capabilities]


def linked_platforms() -> list[str]:
    return [name for name in registry.platforms()
            if base.CAP_ADMIN_LINK in platforms.connector(name).capabilities]


def embedded_shop_key(raw: str | None) -> tuple[str, str] | None:
    """``(platform, shop key)`` when ``raw`` names a shop of an embedded platform."""
    for platform in embedded_platforms():
        try:
            return platform, platforms.connector(platform).normalize_shop_key(raw or "")
        except base.InvalidShopError:
            continue
    return None


def is_embedded(shop: Shop) -> bool:
    return base.CAP_EMBEDDED_ADMIN in platforms.connector(shop.platform).capabilities


# --- first-party sessions --------------------------------------------------------------------


def merchant() -> dict[str, Any] | None:
    """The signed-in merchant of this browser (cookie session), or None; expired sessions end."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, dict) or not value.get("shops"):
        return None
    if value.get("until", 0) < time.time():
        session.pop(SESSION_KEY, None)
        return None
    return value


def start_session(shop_ids: list[int], email: str | None, current: int | None = None) -> dict[str, Any]:
    """Sign this browser in to ``shop_ids``; shops held already are kept only for the same person.

    Someone else's link opened in this browser replaces the session instead of joining it, and
    every sign-in gets a new CSRF token.
    """
    held = merchant()
    same = held is not None and email is not None and held.get("email") == email
    shops = sorted(set(shop_ids) | set(held["shops"] if held and same else []))
    value = {"shops": shops, "current": current or shop_ids[0], "email": email,
             "csrf": secrets.token_urlsafe(24), "until": int(time.time()) + SESSION_HOURS * 3600}
    session.clear()
    session[SESSION_KEY] = value
    session.permanent = True
    return value


def end_session() -> None:
    session.pop(SESSION_KEY, None)


def session_shop(value: dict[str, Any]) -> Shop | None:
    shop = db.session().get(Shop, value.get("current"))
    if shop is None or shop.id not in value["shops"] or shop.status in ("uninstalled", "redacted"):
        return None
    return shop


def switch(shop_id: int) -> bool:
    """Make ``shop_id`` the session's current shop; False when the merchant may not open it."""
    value = merchant()
    if value is None or shop_id not in value["shops"]:
        return False
    value["current"] = shop_id
    session[SESSION_KEY] = value
    return True


def session_shops(value: dict[str, Any]) -> list[Shop]:
    return list(db.session().execute(
        select(Shop).where(Shop.id.in_(value["shops"]), Shop.status.notin_(("uninstalled", "redacted")))
        .order_by(Shop.name, Shop.domain)).scalars())


def check_csrf(value: dict[str, Any]) -> bool:
    if request.method in SAFE_METHODS:
        return True
    expected = value.get("csrf")
    if not isinstance(expected, str) or not expected:
        return False
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token") or ""
    return hmac.compare_digest(sent.encode(), expected.encode())


def same_origin() -> bool:
    """Whether a form post comes from our own pages (browsers say so in Sec-Fetch-Site or Origin)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    app = urlsplit(platforms.settings().app_url)
    return origin in (f"{app.scheme}://{app.netloc}", request.host_url.rstrip("/"))


def whole_number(raw: str | None) -> int | None:
    """A positive database id written in ASCII digits, or None."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


# --- the signed link from the store's admin ----------------------------------------------------


def enter_with_link(params: dict[str, str]) -> Shop:
    """Verify the store's signed admin link; record the user as a merchant login of the shop.

    ``ValueError`` (with a message for the merchant) when the link is not good.
    """
    store = whole_number(params.get("store"))
    if store is None:
        raise ValueError("the link names no store: open Comeback again from your store's admin")
    shop = db.session().get(Shop, store)
    if (shop is None or shop.platform not in linked_platforms() or shop.status in ("uninstalled", "redacted")
            or not shop.storefront_secret):
        # one answer for every store that cannot be opened, so ids cannot be probed
        raise ValueError("this link cannot open a connected store")
    connector = platforms.connector(shop.platform)
    try:
        email = connector.verify_admin_link(shop.storefront_secret, str(shop.id), params,  # type: ignore[attr-defined]
                                            now=time.time())
    except base.InvalidSignatureError as error:
        raise ValueError(str(error)) from error
    _spend_link(params["signature"])
    session_db = db.session()
    login = session_db.execute(select(MerchantLogin).where(MerchantLogin.shop_id == shop.id,
                                                           MerchantLogin.email == email)).scalar_one_or_none()
    if login is None:
        login = MerchantLogin(shop_id=shop.id, email=email)
        session_db.add(login)
    login.last_signed_in_at = utcnow()
    session_db.commit()
    start_session([shop.id], email, current=shop.id)
    return shop


def _spend_link(signature: str) -> None:
    """A signed link opens one session: anyone who finds it in a history or a log later gets nothing."""
    key = "admin-link:" + hashlib.sha256(signature.encode()).hexdigest()
    if not redis_holder.get().set(key, "1", nx=True, ex=300):
        raise ValueError("this link was used already: open Comeback again from your store's admin")


# --- magic links -------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(raw: str) -> str:
    return (raw or "").strip().lower()


def request_magic_link(raw_email: str) -> str | None:
    """A new sign-in token for ``raw_email`` when it may sign in to some shop (None otherwise).

    The caller shows the same answer either way, so the form cannot be used to learn who is a
    merchant; more than ``MAGIC_LINKS_PER_HOUR`` requests an hour for one address send nothing.
    """
    email = normalize_email(raw_email)
    session_db = db.session()
    shops = _login_shops(email)
    if not shops:
        log.info("magic link asked for an address with no shop")
        return None
    since = utcnow() - dt.timedelta(hours=1)
    recent = session_db.execute(select(func.count()).select_from(MagicLink)
                                .where(MagicLink.email == email, MagicLink.created_at >= since)).scalar_one()
    if recent >= MAGIC_LINKS_PER_HOUR:
        log.warning("magic links for one address capped at %d an hour", MAGIC_LINKS_PER_HOUR)
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session_db.add(MagicLink(token_hash=_digest(token), email=email, created_at=now,
                             expires_at=now + dt.timedelta(minutes=MAGIC_LINK_MINUTES)))
    session_db.commit()
    return token


def _login_shops(email: str) -> list[int]:
    if not email:
        return []
    return list(db.session().execute(
        select(MerchantLogin.shop_id).join(Shop, Shop.id == MerchantLogin.shop_id)
        .where(MerchantLogin.email == email, Shop.status.notin_(("uninstalled", "redacted")))
        .order_by(MerchantLogin.shop_id)).scalars())


def magic_link_state(token: str) -> MagicLink | None:
    """The unused, unexpired link of ``token`` (None otherwise)."""
    link = db.session().execute(select(MagicLink).where(MagicLink.token_hash == _digest(token)))\
        .scalar_one_or_none()
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        return None
    return link


def redeem_magic_link(token: str) -> list[int] | None:
    """Use the link once: sign this browser in to the address's shops. None when it is spent."""
    session_db = db.session()
    link = magic_link_state(token)
    if link is None:
        return None
    # Single use even under a double click: only the update that flips used_at wins.
    won = session_db.execute(
        MagicLink.__table__.update().where(MagicLink.id == link.id, MagicLink.used_at.is_(None))
        .values(used_at=utcnow())).rowcount
    if not won:
        session_db.rollback()
        return None
    shops = _login_shops(link.email)
    for login in session_db.execute(select(MerchantLogin).where(MerchantLogin.email == link.email)).scalars():
        login.last_signed_in_at = utcnow()
    session_db.commit()
    if not shops:
        return None
    start_session(shops, link.email)
    return shops


# --- where to send a browser --------------------------------------------------------------------


def local_path(target: str | None, default: str = "/admin") -> str:
    """``target`` when it is a path of our admin (never another site), else ``default``."""
    if not target or len(target) > 2048 or any(ord(c) < 0x21 or c in "\\\x7f" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or target.startswith("//"):
        return default
    return target


def sign_in_redirect() -> Response:
    return redirect(url_for("pages.sign_in", next=request.full_path.rstrip("?")), code=302)


def frame_params() -> dict[str, str]:
    """The platform's frame parameters of this request, to carry on to our own links."""
    return {name: request.args[name] for name in FRAME_PARAMS if request.args.get(name)}


def with_frame_params(path: str) -> str:
    params = frame_params()
    if not params:
        return path
    return f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"
