"""Authenticate WooCommerce REST requests: basic/query keys over HTTPS, OAuth 1.0a."""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from typing import Optional

from flask import Request

from . import oauth1
from .errors import WooError
from .state import ApiKey, WooStore

WINDOW = 15 * 60


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> WooError:
    """Return a 401 authentication error."""
    return WooError(code, message, 401)


def _header(store: WooStore, request: Request) -> str:
    """Return the Authorization header unless the host strips it."""
    return "" if store.strip_authorization else request.headers.get("Authorization", "")


def _basic(store: WooStore, request: Request) -> Optional[ApiKey]:
    """Check query keys, then HTTP Basic; unknown keys mean unauthenticated."""
    consumer_key = request.args.get("consumer_key", "")
    consumer_secret = request.args.get("consumer_secret", "")
    header = _header(store, request)
    if not (consumer_key and consumer_secret) and header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        consumer_key, _, consumer_secret = decoded.partition(":")
    if not consumer_key or not consumer_secret:
        return None
    key = store.key_by_consumer_key(consumer_key)
    if key is None:
        return None
    if not hmac.compare_digest(key.consumer_secret.encode(), consumer_secret.encode()):
        raise _auth_error("Consumer secret is invalid.")
    return key


def _oauth_params(store: WooStore, request: Request) -> list[tuple[str, str]]:
    """Return query, form and OAuth-header parameters (header values win)."""
    params = list(request.args.items(multi=True))
    if request.mimetype == "application/x-www-form-urlencoded":
        params += list(request.form.items(multi=True))
    header = oauth1.parse_header(_header(store, request).strip())
    if header:
        params = [(k, v) for k, v in params if k not in header] + list(header.items())
    return params


def _oauth(store: WooStore, request: Request) -> Optional[ApiKey]:
    """Verify a one-legged OAuth 1.0a signature, timestamp and nonce."""
    params = _oauth_params(store, request)
    values = dict(params)
    missing = [name for name in oauth1.REQUIRED if not values.get(name)]
    if len(missing) == len(oauth1.REQUIRED):
        return None
    if missing:
        noun = "parameter" if len(missing) == 1 else "parameters"
        raise _auth_error(f"Missing OAuth {noun} {', '.join(missing)}",
                          "woocommerce_rest_authentication_missing_parameter")
    key = store.key_by_consumer_key(values["oauth_consumer_key"])
    if key is None:
        raise _auth_error("Consumer key is invalid.")
    base_url = f"{request.scheme}://{request.host}{request.path}"
    text = oauth1.base_string(request.method, base_url, params)
    expected = oauth1.sign(values["oauth_signature_method"], key.consumer_secret, text)
    if expected is None:
        raise _auth_error("Invalid signature - signature method is invalid.")
    given = values["oauth_signature"].replace(" ", "+")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise _auth_error("Invalid signature - provided signature does not match.")
    _check_timestamp_and_nonce(key, values["oauth_timestamp"], values["oauth_nonce"])
    return key


def _check_timestamp_and_nonce(key: ApiKey, timestamp: str, nonce: str) -> None:
    """Reject stale timestamps and reused nonces, then remember the nonce."""
    now = int(time.time())
    try:
        stamp = int(timestamp)
    except ValueError:
        stamp = 0
    if stamp < now - WINDOW or stamp > now + WINDOW:
        raise _auth_error("Invalid timestamp.")
    key.nonces = {n: t for n, t in key.nonces.items() if t >= now - WINDOW}
    if nonce in key.nonces:
        raise _auth_error("Invalid nonce - nonce has already been used.")
    key.nonces[nonce] = stamp


def authenticate(store: WooStore, request: Request) -> Optional[ApiKey]:
    """Return the request's API key, None when it carries no usable credentials."""
    with store.lock:
        key = _basic(store, request) if request.scheme == "https" else None
        return key or _oauth(store, request)
