"""Install a Shopify app: shop domains, the authorize URL, callback HMAC and the code grant."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.base import (
    AuthorizationRequest,
    AuthRevokedError,
    Credentials,
    InvalidShopError,
    InvalidSignatureError,
    RetryableError,
    TerminalError,
)
from connectors.shopify.transport import transport_for

with warnings.catch_warnings():
    # Authlib 1.9 warns that its httpx (not httpx2) integration is deprecated; it still works.
    # Its deprecate module installs an "always" filter on import, so silence after that.
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

logger = logging.getLogger(__name__)

SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$")
_UNSIGNED_PARAMS = frozenset({"hmac", "signature"})


def normalize_shop(raw: str | None) -> str:
    """Return ``raw`` as a lower-case ``*.myshopify.com`` domain; ``InvalidShopError`` otherwise."""
    candidate = (raw or "").strip()
    if not SHOP_DOMAIN.fullmatch(candidate):
        raise InvalidShopError(f"not a myshopify.com shop domain: {candidate[:100]!r}")
    return candidate.lower()


def callback_message(query: Mapping[str, Any]) -> str:
    """Return the string Shopify signs: sorted ``key=value`` pairs without hmac, joined by ``&``."""
    pairs = []
    for key in sorted(query):
        if key in _UNSIGNED_PARAMS:
            continue
        value = query[key]
        if isinstance(value, (list, tuple)):
            value = ",".join(str(part) for part in value)
        pairs.append(f"{key}={value}")
    return "&".join(pairs)


def callback_hmac(query: Mapping[str, Any], secret: str) -> str:
    """Return the hex HMAC-SHA256 of a callback query."""
    return hmac.new(secret.encode(), callback_message(query).encode(), hashlib.sha256).hexdigest()


def verify_callback(query: Mapping[str, Any], secrets: tuple[str, ...]) -> str:
    """Check an OAuth callback's ``hmac`` and return its shop domain."""
    received = query.get("hmac")
    if not received or not isinstance(received, str):
        raise InvalidSignatureError("callback has no hmac parameter")
    if not any(hmac.compare_digest(callback_hmac(query, secret), received.lower())
               for secret in secrets if secret):
        raise InvalidSignatureError("callback hmac does not match its parameters")
    try:
        return normalize_shop(query.get("shop"))
    except InvalidShopError as exc:
        raise InvalidSignatureError(f"callback shop is invalid: {exc}") from exc


def authorize_url(shop: str, *, api_key: str, scopes: str, redirect_uri: str, state: str,
                  api_origin: str | None) -> AuthorizationRequest:
    """Return where to send the merchant to approve the app (offline access, no grant options)."""
    if api_origin:
        endpoint = f"{api_origin.rstrip('/')}/admin/oauth/authorize?{urlencode({'shop': shop})}"
    else:
        endpoint = f"https://{shop}/admin/oauth/authorize"
    with OAuth2Client(client_id=api_key, scope=scopes, redirect_uri=redirect_uri) as client:
        # Shopify separates scopes with commas, not spaces.
        client.scope = scopes
        url, state = client.create_authorization_url(endpoint, state=state)
    return AuthorizationRequest(url=url, state=state)


def exchange_code(shop: str, code: str, redirect_uri: str, *, api_key: str, api_secret: str,
                  api_origin: str | None, timeout: float) -> Credentials:
    """Trade an authorization code for an expiring offline token and its refresh token."""
    client = OAuth2Client(
        client_id=api_key, client_secret=api_secret, redirect_uri=redirect_uri,
        token_endpoint_auth_method="client_secret_post",
        transport=transport_for(api_origin), timeout=timeout,
    )
    try:
        with client:
            token = client.fetch_token(
                f"https://{shop}/admin/oauth/access_token",
                grant_type="authorization_code", code=code, expiring=1,
            )
    except OAuthError as exc:
        logger.info("shopify code exchange refused shop=%s error=%s", shop, exc.error)
        if exc.error in {"invalid_grant", "invalid_request"}:
            raise TerminalError(f"code exchange refused: {exc.error}") from exc
        raise AuthRevokedError(f"code exchange refused: {exc.error}") from exc
    except httpx.TimeoutException as exc:
        raise RetryableError("code exchange timed out") from exc
    except httpx.HTTPError as exc:
        raise RetryableError(f"code exchange failed: {type(exc).__name__}") from exc
    except ValueError as exc:  # a non-JSON answer (a proxy error page, a 5xx)
        raise RetryableError("code exchange got an unreadable answer") from exc
    return credentials_from_token(shop, token)


def credentials_from_token(shop: str, token: Mapping[str, Any], *,
                           now: dt.datetime | None = None) -> Credentials:
    """Return ``Credentials`` from a token endpoint answer (``expires_in`` in seconds)."""
    if not token.get("access_token"):
        raise TerminalError("token endpoint answered without an access_token")
    now = now or dt.datetime.now(dt.timezone.utc)
    expires_in = token.get("expires_in")
    refresh_in = token.get("refresh_token_expires_in")
    return Credentials(
        shop_key=shop,
        access_token=str(token["access_token"]),
        scope=token.get("scope") or None,
        refresh_token=token.get("refresh_token") or None,
        expires_at=now + dt.timedelta(seconds=int(expires_in)) if expires_in else None,
        refresh_token_expires_at=now + dt.timedelta(seconds=int(refresh_in)) if refresh_in else None,
    )
