"""Shop lifecycle: install through OAuth, keep credentials fresh, uninstall, reinstall."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import platforms
from app.extensions import redis_holder
from app.store import inbox
from app.store.models import OAuthState, Shop, SyncRun
from app.store.types import utcnow
from connectors import base

log = logging.getLogger(__name__)

T = TypeVar("T")

STATE_LIFETIME = dt.timedelta(minutes=10)


class InstallError(Exception):
    """An install step was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def callback_url(platform: str) -> str:
    return f"{platforms.settings().app_url}/auth/{platform}/callback"


def return_url(platform: str) -> str:
    return f"{platforms.settings().app_url}/auth/{platform}/return"


def webhook_url(shop: Shop) -> str:
    """Where the shop's webhooks go; a shop that signs with its own secret gets its own path."""
    base_url = f"{platforms.settings().app_url}/webhooks/{shop.platform}"
    if base.CAP_SHOP_WEBHOOK_SECRET in platforms.connector(shop.platform).capabilities:
        return f"{base_url}/{shop.id}"
    return base_url


def begin_install(session: Session, platform: str, raw_shop: str | None) -> base.AuthorizationRequest:
    """Validate the shop, create a single-use state and return where to send the merchant."""
    connector = platforms.connector(platform)
    if not raw_shop:
        raise InstallError("the 'shop' parameter is required: the store's domain")
    try:
        shop_key = connector.normalize_shop_key(raw_shop)
    except base.InvalidShopError as error:
        raise InstallError(str(error)) from error
    now = utcnow()
    state = secrets.token_urlsafe(32)
    session.add(OAuthState(state=state, platform=platform, shop_domain=shop_key, created_at=now,
                           expires_at=now + STATE_LIFETIME))
    # Old states are of no use to anyone: clear them as we go.
    session.execute(OAuthState.__table__.delete().where(OAuthState.expires_at < now - STATE_LIFETIME))
    if base.CAP_KEY_CALLBACK in connector.capabilities:
        return connector.authorization_request(  # type: ignore[call-arg]
            shop_key, callback_url(platform), state, return_url=return_url(platform))
    return connector.authorization_request(shop_key, callback_url(platform), state)


def _consume_state(session: Session, platform: str, state: str | None, shop_key: str) -> None:
    if not state:
        raise InstallError("the 'state' parameter is missing")
    now = utcnow()
    result = session.execute(
        update(OAuthState)
        .where(OAuthState.state == state, OAuthState.platform == platform,
               OAuthState.shop_domain == shop_key, OAuthState.used_at.is_(None),
               OAuthState.expires_at > now)
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise InstallError("unknown, expired or already used state, or state issued for another shop")


def complete_install(session: Session, platform: str, query: Mapping[str, str]) -> Shop:
    """Verify the callback, spend its state, exchange the code and store the credentials."""
    connector = platforms.connector(platform)
    try:
        shop_key = connector.verify_callback(query)
    except base.InvalidSignatureError as error:
        raise InstallError(str(error), status=401) from error
    except base.InvalidShopError as error:
        raise InstallError(str(error)) from error
    _consume_state(session, platform, query.get("state"), shop_key)
    code = query.get("code")
    if not code:
        raise InstallError("the 'code' parameter is missing")
    session.commit()  # the state is spent even if the exchange below fails
    try:
        credentials = connector.exchange_code(shop_key, code, callback_url(platform))
    except base.TerminalError as error:
        raise InstallError(f"the store refused the authorization code: {error}") from error
    except base.RetryableError as error:
        raise InstallError(f"the store could not be reached, try again: {error}", status=502) from error
    return store_credentials(session, platform, shop_key, credentials)


def _spend_state(session: Session, platform: str, state: str) -> str:
    """Use up a single-use state and return the shop it was issued for."""
    now = utcnow()
    row = session.execute(
        update(OAuthState)
        .where(OAuthState.state == state, OAuthState.platform == platform, OAuthState.used_at.is_(None),
               OAuthState.expires_at > now)
        .values(used_at=now)
        .returning(OAuthState.shop_domain)
    ).first()
    if row is None:
        raise InstallError("unknown, expired or already used state", status=403)
    return row[0]


def complete_key_install(session: Session, platform: str, body: bytes) -> Shop:
    """Take the API keys a store posted to the callback: bound only by our state value.

    The keys are proven with a real API call before anything is stored; a refused state or
    keys store nothing (and the store, seeing no 200, deletes the key it made).
    """
    connector = platforms.connector(platform)
    if base.CAP_KEY_CALLBACK not in connector.capabilities:
        raise InstallError(f"{platform} installs do not post keys", status=404)
    try:
        grant = connector.parse_key_callback(body)  # type: ignore[attr-defined]
    except base.TerminalError as error:
        raise InstallError(str(error)) from error
    shop_key = _spend_state(session, platform, grant.state)
    session.commit()  # the state is spent even if the keys turn out bad
    if grant.permissions is not None and grant.permissions != "read_write":
        raise InstallError(f"the key grants {grant.permissions!r}; Comeback needs read_write")
    return connect_with_keys(session, platform, shop_key, grant.key, grant.secret)


def connect_with_keys(session: Session, platform: str, raw_store: str, key: str, secret: str) -> Shop:
    """Verify a store's API keys with a real call and store them (the manual fallback too)."""
    connector = platforms.connector(platform)
    if base.CAP_KEY_CALLBACK not in connector.capabilities:
        raise InstallError(f"{platform} does not connect with API keys", status=404)
    if not key or not secret:
        raise InstallError("both the consumer key and the consumer secret are required")
    try:
        store = connector.normalize_shop_key(raw_store)
        credentials = connector.verify_keys(store, key, secret)  # type: ignore[attr-defined]
    except base.InvalidShopError as error:
        raise InstallError(str(error)) from error
    except base.AuthRevokedError as error:
        log.info("%s key check refused by %s: %s", platform, raw_store, error)
        raise InstallError("the store did not accept these keys: check that they are a Read/Write key "
                           "of this store", status=400) from error
    except base.TerminalError as error:
        # What the store answered stays in our log: this endpoint must not become a way to
        # read arbitrary servers' answers.
        log.info("%s key check failed for %s: %s", platform, raw_store, error)
        raise InstallError("the store's REST API did not answer the key check as a WooCommerce store "
                           "does", status=400) from error
    except base.RetryableError as error:
        log.info("%s key check could not reach %s: %s", platform, raw_store, error)
        raise InstallError("the store could not be reached, try again later", status=502) from error
    return store_credentials(session, platform, store, credentials)


def store_credentials(session: Session, platform: str, shop_key: str, credentials: base.Credentials) -> Shop:
    """Create or reactivate the shop with fresh credentials (encrypted by the column type)."""
    shop = session.execute(
        select(Shop).where(Shop.platform == platform, Shop.domain == shop_key)
    ).scalar_one_or_none()
    now = utcnow()
    if shop is None:
        # Two first requests of a new shop can race here: the loser uses the winner's row.
        try:
            with session.begin_nested():
                shop = Shop(platform=platform, domain=shop_key)
                session.add(shop)
                session.flush()
        except IntegrityError:
            shop = session.execute(
                select(Shop).where(Shop.platform == platform, Shop.domain == shop_key)
            ).scalar_one()
    # Every grant is an install: an uninstall that happened before it (still waiting in the inbox,
    # or retried late) is recognised as older, and the webhooks the platform dropped at that
    # uninstall are registered again.
    shop.installed_at = now
    shop.uninstalled_at = None
    shop.webhooks_registered_at = None
    shop.status = "active"
    _apply_credentials(shop, credentials)
    if base.CAP_SHOP_WEBHOOK_SECRET in platforms.connector(platform).capabilities:
        # Secrets we choose, made at the first connect and kept across reconnects: a new one
        # would make every delivery signed with the old one fail (never retried) until the
        # set-up job has handed the new one out. The set-up job re-sends them either way.
        shop.webhook_secret = shop.webhook_secret or secrets.token_urlsafe(32)
        shop.storefront_secret = shop.storefront_secret or secrets.token_urlsafe(32)
        shop.storefront_configured_at = None
    session.flush()
    inbox.forget_shop(platform, shop_key)
    log.info("shop=%s installed on %s", shop.id, platform)
    return shop


def _apply_credentials(shop: Shop, credentials: base.Credentials) -> None:
    shop.access_token = credentials.access_token
    shop.refresh_token = credentials.refresh_token
    shop.access_token_expires_at = credentials.expires_at
    shop.refresh_token_expires_at = credentials.refresh_token_expires_at
    shop.access_secret = credentials.secret
    shop.auth_hint = credentials.auth_hint
    if credentials.scope is not None:
        shop.scopes = credentials.scope


def credentials_for(session: Session, shop: Shop, *, force_refresh: bool = False) -> base.Credentials:
    """Return usable credentials for the shop, refreshing an expiring token first.

    Refresh tokens rotate on use, so only one process may refresh a shop at a time: the
    refresh runs under a Redis lock and re-reads the shop once it holds it.
    """
    if shop.access_token is None or shop.status not in ("active", "installing"):
        raise base.AuthRevokedError(f"shop {shop.id} has no usable credentials (status {shop.status})")
    connector = platforms.connector(shop.platform)
    current = _credentials(shop)
    if base.CAP_EXPIRING_TOKENS not in connector.capabilities or not (force_refresh or _expires_soon(shop)):
        return current
    if shop.refresh_token is None:
        return current
    seen_token = shop.access_token
    lock = redis_holder.get().lock(f"cb:lock:refresh:{shop.id}", timeout=30, blocking_timeout=30)
    with lock:
        # Only the credentials are re-read: other changes the caller has not flushed stay.
        session.refresh(shop, ["access_token", "refresh_token", "access_token_expires_at",
                               "refresh_token_expires_at", "status"])
        if shop.access_token != seen_token or not (force_refresh or _expires_soon(shop)):
            return _credentials(shop)  # another process refreshed while we waited
        try:
            refreshed = connector.refresh_credentials(
                _credentials(shop) if not force_refresh else _as_expired(_credentials(shop)))
        except base.AuthRevokedError:
            mark_reauthorize(session, shop)
            session.commit()
            raise
        if refreshed is not None:
            _apply_credentials(shop, refreshed)
            session.commit()
            log.info("shop=%s access token refreshed", shop.id)
        return _credentials(shop)


def _as_expired(credentials: base.Credentials) -> base.Credentials:
    import dataclasses

    return dataclasses.replace(credentials, expires_at=utcnow() - dt.timedelta(seconds=1))


def call_with_credentials(session: Session, shop: Shop, call: Callable[[base.Credentials], T]) -> T:
    """Run ``call`` with the shop's credentials; on a refused token refresh once and retry.

    A store that refuses the refreshed token too leaves the shop marked for re-authorization
    and the ``AuthRevokedError`` raised.
    """
    try:
        return call(credentials_for(session, shop))
    except base.AuthRevokedError:
        if shop.status != "active" or shop.refresh_token is None:
            if shop.status == "active":
                mark_reauthorize(session, shop)
                session.commit()
            raise
    credentials = credentials_for(session, shop, force_refresh=True)
    try:
        return call(credentials)
    except base.AuthRevokedError:
        mark_reauthorize(session, shop)
        session.commit()
        raise


def _expires_soon(shop: Shop) -> bool:
    return shop.access_token_expires_at is not None and shop.access_token_expires_at - utcnow() < dt.timedelta(minutes=5)


def _credentials(shop: Shop) -> base.Credentials:
    return base.Credentials(
        shop_key=shop.domain, access_token=shop.access_token or "", scope=shop.scopes,
        refresh_token=shop.refresh_token, expires_at=shop.access_token_expires_at,
        refresh_token_expires_at=shop.refresh_token_expires_at,
        secret=shop.access_secret, auth_hint=shop.auth_hint,
    )


def mark_reauthorize(session: Session, shop: Shop) -> None:
    """The store refused our token: keep the data, ask the merchant to authorize again."""
    shop.status = "reauthorize"
    log.warning("shop=%s credentials refused, re-authorization needed", shop.id)


def uninstall(session: Session, shop: Shop, _event: object | None = None) -> None:
    """Disable the shop, discard its credentials and stop its syncs; data stays until redaction."""
    now = utcnow()
    shop.status = "uninstalled"
    shop.uninstalled_at = now
    shop.access_token = shop.refresh_token = shop.access_secret = None
    shop.access_token_expires_at = shop.refresh_token_expires_at = None
    shop.webhooks_registered_at = None
    inbox.forget_shop(shop.platform, shop.domain)
    session.execute(
        update(SyncRun).where(SyncRun.shop_id == shop.id,
                              SyncRun.status.in_(("pending", "exporting", "importing")))
        .values(status="cancelled", finished_at=now, last_error="app uninstalled")
    )
    log.info("shop=%s uninstalled", shop.id)
