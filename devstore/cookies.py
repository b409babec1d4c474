"""First-party cookies signed with HMAC, so a shopper's session cannot be forged."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Optional


def new_key() -> bytes:
    """Return a fresh random signing key (one per devstore server; restart forgets sessions)."""
    return secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, name: str, payload: str) -> bytes:
    return hmac.new(key, f"{name}|{payload}".encode(), hashlib.sha256).digest()


def sign(key: bytes, name: str, value: str) -> str:
    """Return `b64url(value).b64url(HMAC(key, name|b64url(value)))` for the cookie `name`.

    The cookie name is part of the MAC: one cookie's value is refused under another name.
    """
    payload = _b64(value.encode())
    return f"{payload}.{_b64(_mac(key, name, payload))}"


def unsign(key: bytes, name: str, token: Optional[str]) -> Optional[str]:
    """Return the value of a signed cookie, or None when it is absent, malformed or forged."""
    if not token or token.count(".") != 1:
        return None
    payload, mac = token.split(".")
    try:
        if not hmac.compare_digest(_unb64(mac), _mac(key, name, payload)):
            return None
        return _unb64(payload).decode()
    except (binascii.Error, ValueError):
        return None
