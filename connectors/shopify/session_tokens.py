"""Verify App Bridge session tokens (ID tokens) sent by the embedded admin."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

import jwt

from connectors.base import InvalidShopError, InvalidSignatureError, StaleTokenError
from connectors.shopify.oauth import normalize_shop

LEEWAY_SECONDS = 10
_REQUIRED_CLAIMS = ("iss", "dest", "aud", "exp", "nbf")


def bearer_token(authorization_header: str | None) -> str:
    """Return the token of an ``Authorization: Bearer …`` header."""
    if not authorization_header:
        raise InvalidSignatureError("missing Authorization header")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidSignatureError("Authorization header is not a Bearer token")
    return token.strip()


def verify(token: str, *, api_key: str, secrets: tuple[str, ...],
           now: float | None = None) -> tuple[str, dict[str, Any]]:
    """Return ``(shop domain, claims)`` of a valid session token; ``InvalidSignatureError`` otherwise.

    Not ``shopify_app.verify_app_home_req``: it takes no clock (so a published vector cannot be
    checked), and it checks neither that ``dest`` is a shop domain nor that ``iss`` matches it.
    """
    claims = _decode(token, secrets)
    current = time.time() if now is None else now
    if not all(isinstance(claims[name], (int, float)) for name in ("exp", "nbf")):
        raise InvalidSignatureError("session token exp and nbf must be numbers")
    if float(claims["exp"]) + LEEWAY_SECONDS < current:
        raise StaleTokenError("session token has expired")
    if float(claims["nbf"]) - LEEWAY_SECONDS > current:
        raise StaleTokenError("session token is not valid yet")
    if claims.get("aud") != api_key:
        raise InvalidSignatureError("session token was issued for another app (aud)")
    dest = urlparse(str(claims["dest"]))
    if dest.scheme != "https" or dest.path not in ("", "/") or not dest.hostname:
        raise InvalidSignatureError("session token dest is not https://<shop>")
    try:
        shop = normalize_shop(dest.netloc)
    except InvalidShopError as exc:
        raise InvalidSignatureError(f"session token dest is not a shop: {exc}") from exc
    issuer = urlparse(str(claims["iss"]))
    if (issuer.hostname or "").lower() != shop or issuer.scheme != "https":
        raise InvalidSignatureError("session token iss does not match its dest")
    return shop, claims


def _decode(token: str, secrets: tuple[str, ...]) -> dict[str, Any]:
    """Check the HS256 signature with each secret in turn (secret rotation)."""
    last_error: Exception | None = None
    for secret in secrets:
        if not secret:
            continue
        try:
            return jwt.decode(
                token, secret, algorithms=["HS256"],
                # Times are checked by the caller against an injectable clock; aud by hand.
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": False, "require": list(_REQUIRED_CLAIMS)},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidSignatureError(f"session token lacks a claim: {exc.claim}") from exc
        except jwt.PyJWTError as exc:
            last_error = exc
    raise InvalidSignatureError(f"session token signature is invalid ({type(last_error).__name__})")
