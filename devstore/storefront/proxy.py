"""Shopify app proxies: which app a storefront path belongs to, the signature, the forwarding.

`https://<shop>/<prefix>/<subpath>/<rest>?<query>` is forwarded to `<proxy url>/<rest>` with
the query plus `shop`, `logged_in_customer_id` (empty for a visitor), `path_prefix`,
`timestamp` and `signature`: the hex HMAC-SHA256, keyed with the app's client secret, of
every other parameter as `key=value` (the values of a repeated key joined with `,`), sorted
and concatenated with no separator. Cookies never reach the app and `Set-Cookie` never
reaches the shopper.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import quote, urlencode, urlsplit

import httpx

from ..errors import BadRequest
from ..tokens import AppProxy

log = logging.getLogger(__name__)

PREFIXES = ("apps", "a", "community", "tools")
SUBPATH_RE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
# Shopify's own parameters: a shopper's copies are dropped so they cannot be spoofed.
SHOPIFY_PARAMS = ("shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature")
REQUEST_HEADERS = ("Content-Type", "Accept", "If-None-Match", "User-Agent")
RESPONSE_HEADERS = ("Content-Type", "Cache-Control", "ETag", "Retry-After", "Location")
DEFAULT_TIMEOUT = 10.0  # seconds, as Shopify's proxy
PATH_SAFE = "/:@!$&'()*+,;=-._~"


class ProxyError(Exception):
    """The app could not be reached (status 502) or did not answer in time (504)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Answer:
    """What the app answered, reduced to what Shopify passes back to the shopper."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_app_proxy(value: Any) -> Optional[AppProxy]:
    """Read an `app_proxy` object `{url, prefix?, subpath}` (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("app_proxy must be an object {url, prefix, subpath}")
    url, prefix, subpath = value.get("url"), value.get("prefix", "apps"), value.get("subpath")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") \
            or not urlsplit(url).netloc:
        raise BadRequest("app_proxy.url must be an absolute http(s) URL")
    if prefix not in PREFIXES:
        raise BadRequest(f"app_proxy.prefix must be one of {list(PREFIXES)}")
    if not isinstance(subpath, str) or not SUBPATH_RE.match(subpath):
        raise BadRequest("app_proxy.subpath must be 1-30 letters, digits, '-' or '_'")
    return AppProxy(url.rstrip("/"), prefix, subpath)


def proxy_json(proxy: Optional[AppProxy]) -> Optional[dict[str, str]]:
    """Return an app proxy as JSON."""
    if proxy is None:
        return None
    return {"url": proxy.url, "prefix": proxy.prefix, "subpath": proxy.subpath}


def signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """Return Shopify's app proxy signature of query parameters (`signature` itself excluded)."""
    values: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            values.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values[key])}" for key in sorted(values))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_params(query: Iterable[tuple[str, str]], shop: str, customer_id: Optional[int],
                  path_prefix: str, secret: str, now: int) -> list[tuple[str, str]]:
    """Return the shopper's query, less Shopify's own names, plus Shopify's signed parameters."""
    params = [(k, v) for k, v in query if k not in SHOPIFY_PARAMS]
    params += [("shop", shop),
               ("logged_in_customer_id", str(customer_id) if customer_id else ""),
               ("path_prefix", path_prefix), ("timestamp", str(now))]
    params.append(("signature", signature(params, secret)))
    return params


def target_url(proxy: AppProxy, rest: str, params: list[tuple[str, str]]) -> str:
    """Return `<proxy url><rest>?<params>`; `rest` is the path after the subpath ('' or '/...')."""
    return f"{proxy.url}{quote(rest, safe=PATH_SAFE)}?{urlencode(params)}"


def forward(method: str, url: str, headers: Mapping[str, str], body: bytes,
            timeout: float) -> Answer:
    """Send the storefront request to the app and keep what Shopify would pass back.

    Only `REQUEST_HEADERS` (matched case-insensitively) go to the app: never cookies.
    """
    given = {name.lower(): value for name, value in headers.items()}
    sent = {name: given[name.lower()] for name in REQUEST_HEADERS if given.get(name.lower())}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.request(method, url, headers=sent, content=body or None)
    except httpx.TimeoutException as exc:
        raise ProxyError(504, f"the app did not answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise ProxyError(502, f"the app could not be reached: {type(exc).__name__}") from exc
    wanted = {name.lower(): name for name in RESPONSE_HEADERS}
    kept = []
    for name, value in response.headers.multi_items():
        lower = name.lower()
        if lower in wanted:
            kept.append((wanted[lower], value))
        elif lower.startswith("access-control-"):
            kept.append((name, value))
    return Answer(response.status_code, kept, response.content)
