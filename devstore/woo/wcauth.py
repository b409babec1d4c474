"""The wc-auth endpoint: auto-approve, create a key, POST it to the callback, redirect."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from . import wpjson
from .state import ApiKey, WooStore

log = logging.getLogger(__name__)
SCOPES = ("read", "write", "read_write")
REQUIRED = ("app_name", "scope", "user_id", "return_url", "callback_url")
CALLBACK_TIMEOUT = 10.0


class AuthError(Exception):
    """A wc-auth failure shown as a WordPress error page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def validate(args: dict[str, str], require_https_callback: bool) -> None:
    """Check the authorize parameters like WooCommerce does."""
    for name in REQUIRED:
        if not args.get(name):
            raise AuthError(f"Missing parameter {name}")
    if args["scope"] not in SCOPES:
        raise AuthError(f"Invalid scope {args['scope']}")
    for name in ("return_url", "callback_url"):
        parts = urlsplit(args[name])
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AuthError(f"The {name} is not a valid URL")
    if require_https_callback and not args["callback_url"].startswith("https://"):
        raise AuthError("The callback_url needs to be over SSL")


def with_query(url: str, **params: str) -> str:
    """Append query parameters to a URL, keeping its existing query."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in params]
    query += list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def create_key(store: WooStore, args: dict[str, str]) -> ApiKey:
    """Create the key an approval grants."""
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    with store.lock:
        return store.add_key(args["scope"], f"{args['app_name'][:170]} - API ({when})")


def post_key(key: ApiKey, args: dict[str, str]) -> Optional[str]:
    """POST the key to the callback; return an error text unless it answers exactly 200."""
    body = wpjson.encode({"key_id": key.key_id, "user_id": args["user_id"],
                          "consumer_key": key.consumer_key,
                          "consumer_secret": key.consumer_secret,
                          "key_permissions": key.permissions})
    try:
        with httpx.Client(timeout=CALLBACK_TIMEOUT, trust_env=False, verify=False) as client:
            response = client.post(args["callback_url"], content=body, headers={
                "Content-Type": "application/json;charset=UTF-8"})
    except httpx.HTTPError as exc:
        log.info("wc-auth callback %s failed: %s", args["callback_url"], exc)
        return str(exc)
    if response.status_code != 200:
        log.info("wc-auth callback %s answered %s", args["callback_url"], response.status_code)
        return ("An error occurred in the request and at the time were unable to send the "
                "consumer data")
    return None


def authorize(store: WooStore, args: dict[str, str], require_https_callback: bool) -> str:
    """Run one approval and return the URL to redirect to; raise AuthError on failure."""
    validate(args, require_https_callback)
    if store.deny_auth:
        return with_query(args["return_url"], success="0", user_id=args["user_id"])
    key = create_key(store, args)
    error = post_key(key, args)
    if error is not None:
        with store.lock:
            store.keys.pop(key.key_id, None)
        raise AuthError(error)
    return with_query(args["return_url"], success="1", user_id=args["user_id"])
