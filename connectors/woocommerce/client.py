"""Call a WooCommerce store's REST API (``/wp-json/wc/v3``) with bounded retries.

One ``WooClient`` talks to one store with one consumer key. Authentication follows what
WooCommerce accepts: HTTP Basic over HTTPS (or the keys as query parameters, for servers that
strip the ``Authorization`` header), and one-legged OAuth 1.0a over plain HTTP, where the keys
must never travel in clear. Failures come out as ``connectors.base`` errors; nothing here logs a
key, a secret, a signature or a full URL (the query may carry any of them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json as jsonlib
import logging
import os
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from connectors.base import AuthRevokedError, InvalidShopError, RetryableError, TerminalError
from connectors.woocommerce.oauth1 import QuerySigner

logger = logging.getLogger(__name__)

API_PREFIX = "/wp-json/wc/v3"
MAX_PER_PAGE = 100
MAX_BATCH = 100

USER_AGENT = "Comeback/1.0 (+https://github.com/comeback)"
AUTH_MODES = ("auto", "basic", "query", "oauth1")
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)

# 520-524 are Cloudflare's "origin unreachable / timed out" answers, common in front of WordPress.
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# A POST is repeated only when the store surely did not run it.
_POST_RETRYABLE_STATUSES = frozenset({429, 503})
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_EXCERPT = 200
_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=30.0)
_CREDENTIAL_PARAMS = ("consumer_key", "consumer_secret", "oauth_consumer_key", "oauth_signature")


class _RedactCredentials(logging.Filter):
    """Blank credential parameters in the URLs that httpx logs at INFO.

    httpx logs every request as ``HTTP Request: <method> <full url>``; with query-string auth
    that URL carries the consumer secret, and with OAuth 1.0a the consumer key. The app logs
    at INFO, so the filter sits on the ``httpx`` logger itself (it only rewrites URLs that hold
    one of these parameters).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, httpx.URL) for arg in record.args):
            record.args = tuple(_redact_url(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args)
        return True


def _redact_url(url: httpx.URL) -> httpx.URL:
    for name in _CREDENTIAL_PARAMS:
        if name in url.params:
            url = url.copy_set_param(name, "REDACTED")
    return url


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(existing, _RedactCredentials) for existing in _httpx_logger.filters):
    _httpx_logger.addFilter(_RedactCredentials())


class NotFoundError(TerminalError):
    """The store answered 404: the resource (or the route) does not exist."""


@dataclasses.dataclass(frozen=True)
class Response:
    """One successful answer: status, parsed JSON and the pagination totals when sent."""

    status: int
    data: Any
    headers: httpx.Headers
    total: int | None
    total_pages: int | None


class _Transient(Exception):
    """One failed attempt that a later attempt may get past."""

    def __init__(self, reason: str, *, retry_after: float | None = None, may_have_run: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.may_have_run = may_have_run


class WooClient:
    """Make REST v3 calls to one WooCommerce store and map its answers to connector errors.

    Meant for use from one thread at a time (one client per worker thread); the underlying
    ``httpx.Client`` keeps a small connection pool to the store. An ``http`` client passed in
    is used as it is (its ``verify`` and limits apply, ``verify`` here is ignored) and is not
    closed by ``close``.
    """

    def __init__(self, store_url: str, consumer_key: str, consumer_secret: str, *,
                 auth: str = "auto",
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 verify: bool | str = True,
                 max_attempts: int = 4, backoff: float = 0.5, max_backoff: float = 8.0,
                 http: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, public_only: bool = False):
        # public_only: every connection is checked to go to a public address (no SSRF).
        self._base = _normalize_store_url(store_url)
        self._host = urlsplit(self._base).netloc
        secure = self._base.startswith("https://")
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
        if auth == "auto":
            auth = "basic" if secure else "oauth1"
        if auth in ("basic", "query") and not secure:
            raise ValueError(f"auth={auth!r} sends the consumer secret in clear; use https or oauth1")
        if not consumer_key or not consumer_secret:
            raise ValueError("consumer_key and consumer_secret are required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.auth = auth
        self._key = consumer_key
        self._secret = consumer_secret
        self._signer = QuerySigner(consumer_key, consumer_secret, clock=clock) if auth == "oauth1" else None
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock
        self._owns_http = http is None
        if http is None and public_only:
            from connectors.woocommerce.stores import public_only_transport

            http = httpx.Client(transport=public_only_transport(_ssl_verify(verify), _LIMITS),
                                timeout=self._timeout, follow_redirects=False)
            self._owns_http = True
        self._http = http if http is not None else httpx.Client(
            verify=_ssl_verify(verify), limits=_LIMITS, timeout=self._timeout, follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"WooClient({self._base!r}, auth={self.auth!r})"

    def __enter__(self) -> WooClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def store_url(self) -> str:
        """The normalised store URL (no trailing slash)."""
        return self._base

    # --- calls ----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None) -> Response:
        """Call ``path`` (relative to ``API_PREFIX``) and return the parsed answer.

        ``params`` values: lists and tuples are sent comma-separated (WordPress reads both forms
        and repeated keys would not survive PHP's query parsing), booleans as ``true``/``false``,
        ``None`` is left out. ``json`` is sent as a UTF-8 JSON body; ``Decimal`` becomes a string,
        as WooCommerce writes amounts.
        """
        if not path.startswith("/"):
            path = "/" + path
        return self._call(method.upper(), API_PREFIX + path, params=params, json=json, authenticate=True)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        """GET ``path``."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Response:
        """POST ``json`` to ``path`` (retried only where the store surely did not run it)."""
        return self.request("POST", path, params=params, json=json)

    def put(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Response:
        """PUT ``json`` to ``path``."""
        return self.request("PUT", path, params=params, json=json)

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        """DELETE ``path`` (WooCommerce wants ``force=true`` for resources without a trash)."""
        return self.request("DELETE", path, params=params)

    def root(self) -> dict:
        """Return the WordPress site index (``/wp-json/``): name, timezone_string, namespaces.

        Sent without credentials: the index is public, and a store that refuses it anonymously
        says more about its setup than about our key.
        """
        response = self._call("GET", "/wp-json/", params=None, json=None, authenticate=False)
        if not isinstance(response.data, dict):
            raise TerminalError(f"store {self._host} answered /wp-json/ with a JSON {type(response.data).__name__}")
        return response.data

    def batch(self, path: str, *, create: Iterable[Any] = (), update: Iterable[Any] = (),
              delete: Iterable[Any] = ()) -> dict[str, list]:
        """POST ``<path>/batch`` in chunks of at most ``MAX_BATCH`` items; merge the results.

        Chunks are filled in order (creates, then updates, then deletes), so the merged lists
        line up with the inputs. WooCommerce reports a failed item inside its list (an item with
        an ``error`` key) rather than failing the request: callers inspect the items.
        """
        items = [("create", item) for item in create]
        items += [("update", item) for item in update]
        items += [("delete", item) for item in delete]
        merged: dict[str, list] = {"create": [], "update": [], "delete": []}
        batch_path = path.rstrip("/") + "/batch"
        for start in range(0, len(items), MAX_BATCH):
            body: dict[str, list] = {}
            for key, item in items[start:start + MAX_BATCH]:
                body.setdefault(key, []).append(item)
            data = self.post(batch_path, json=body).data
            if not isinstance(data, dict):
                raise TerminalError(f"store {self._host} answered {batch_path} with a JSON {type(data).__name__}")
            for key, sent in body.items():
                results = data.get(key) or []
                if len(results) != len(sent):
                    logger.warning("woocommerce batch host=%s path=%s %s: sent %d, got %d results",
                                   self._host, batch_path, key, len(sent), len(results))
                merged[key].extend(results)
        return merged

    def close(self) -> None:
        """Close the connection pool (when this client created it)."""
        if self._owns_http:
            self._http.close()

    # --- one call, with retries -----------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None, json: Any,
              authenticate: bool) -> Response:
        content = _json_bytes(json) if json is not None else None
        query = _encode_params(params)
        if authenticate and self.auth == "query":
            query = _join_queries(query, urlencode([("consumer_key", self._key), ("consumer_secret", self._secret)]))
        idempotent = method in _IDEMPOTENT_METHODS
        failures = 0
        while True:
            try:
                return self._attempt(method, path, query, content, authenticate, idempotent)
            except _Transient as transient:
                failures += 1
                backoff = min(self._backoff * 2 ** (failures - 1), self._max_backoff)
                retry_after = transient.retry_after if transient.retry_after is not None else backoff
                where = f"store {self._host}: {method} {path}"
                if transient.may_have_run:
                    raise RetryableError(f"{where}: {transient.reason} (not repeated: the store may have run it)",
                                         retry_after=retry_after) from None
                if failures >= self._max_attempts:
                    raise RetryableError(f"{where}: {transient.reason} after {failures} attempts",
                                         retry_after=retry_after) from None
                if retry_after > self._max_backoff:
                    # Sleeping less than asked would only earn another 429; let the queue wait.
                    raise RetryableError(f"{where}: {transient.reason}, asked to wait {retry_after:g}s",
                                         retry_after=retry_after) from None
                delay = max(backoff, retry_after)
                logger.info("woocommerce retry host=%s %s %s reason=%s attempt=%d/%d in=%.2fs",
                            self._host, method, path, transient.reason, failures, self._max_attempts, delay)
                self._sleep(delay)

    def _attempt(self, method: str, path: str, query: str, content: bytes | None,
                 authenticate: bool, idempotent: bool) -> Response:
        url = self._base + path + (f"?{query}" if query else "")
        auth: httpx.Auth | None = None
        if authenticate and self._signer is not None:
            url = self._signer.sign_url(method, url)  # fresh nonce and timestamp per attempt
        elif authenticate and self.auth == "basic":
            auth = httpx.BasicAuth(self._key, self._secret)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(method, url, content=content, headers=headers, auth=auth,
                                          timeout=self._timeout, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if _is_certificate_error(exc):
                raise TerminalError(f"store {self._host}: TLS certificate not trusted ({exc})") from exc
            if "not a public address" in str(exc):
                # The address guard refused the dial: no retry can change that.
                raise InvalidShopError(f"store {self._host}: {exc}") from exc
            raise _Transient(f"cannot connect ({type(exc).__name__})") from exc
        except (httpx.TimeoutException, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            raise _Transient(f"no answer ({type(exc).__name__})", may_have_run=not idempotent) from exc
        return self._interpret(method, path, response, idempotent)

    def _interpret(self, method: str, path: str, response: httpx.Response, idempotent: bool) -> Response:
        status = response.status_code
        if status in _RETRYABLE_STATUSES:
            detail = _error_detail(response)
            may_have_run = not idempotent and status not in _POST_RETRYABLE_STATUSES
            raise _Transient(f"HTTP {status} {detail}".rstrip(), retry_after=self._retry_after(response),
                             may_have_run=may_have_run)
        if 200 <= status < 300:
            return Response(status, self._json_data(path, response), response.headers,
                            _int_header(response, "X-WP-Total"), _int_header(response, "X-WP-TotalPages"))
        where = f"({method} {path}, HTTP {status})"
        detail = _error_detail(response)
        if 300 <= status < 400:
            location = _strip_query(response.headers.get("Location", ""))
            raise TerminalError(f"store {self._host} redirected to {location or '?'}: fix the store URL {where}")
        if status == 401:
            raise AuthRevokedError(f"{detail} {where}")
        if status == 404:
            raise NotFoundError(f"{detail} {where}")
        raise TerminalError(f"{detail} {where}")

    def _json_data(self, path: str, response: httpx.Response) -> Any:
        if response.status_code == 204 or (not response.content and response.request.method == "HEAD"):
            return None
        try:
            return jsonlib.loads(response.content)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise TerminalError(
                f"store {self._host} answered non-JSON from {path} (HTTP {response.status_code}, {kind}): "
                f"{_excerpt(response)!r}"
            ) from None

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Return ``Retry-After`` in seconds (delta or HTTP date), or ``None``."""
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return max(when.timestamp() - self._clock(), 0.0)


# --- helpers ------------------------------------------------------------------------------


def _normalize_store_url(store_url: str) -> str:
    """Return the store URL without trailing slashes; refuse what is not an http(s) site URL."""
    parts = urlsplit(store_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("store_url must be an http:// or https:// URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("store_url must not carry a query, a fragment or credentials")
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """Turn a CA bundle path (file or hashed directory) into a context; httpx deprecates paths."""
    if isinstance(verify, bool):
        return verify
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_param_value(item) for item in value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _encode_params(params: Mapping[str, Any] | None) -> str:
    """Return ``params`` form-encoded, the one encoding both the signer and the server decode."""
    if not params:
        return ""
    return urlencode([(str(key), _param_value(value)) for key, value in params.items() if value is not None])


def _join_queries(*queries: str) -> str:
    return "&".join(query for query in queries if query)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_bytes(body: Any) -> bytes:
    return jsonlib.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode("utf-8")


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _excerpt(response: httpx.Response) -> str:
    text = response.content[:_EXCERPT * 4].decode("utf-8", errors="replace")
    return " ".join(text.split())[:_EXCERPT]


def _error_detail(response: httpx.Response) -> str:
    """Return ``<code>: <message>`` from a WordPress error body, else ``HTTP <status>: <excerpt>``."""
    try:
        body = jsonlib.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str) and "message" in body:
        detail = f"{body['code']}: {body['message']}"
        data = body.get("data")
        params = data.get("params") if isinstance(data, dict) else None
        if isinstance(params, dict) and params:
            detail += " [" + "; ".join(f"{name}: {problem}" for name, problem in params.items()) + "]"
        return detail
    excerpt = _excerpt(response)
    return f"HTTP {response.status_code}: {excerpt}" if excerpt else f"HTTP {response.status_code}"


def _strip_query(url: str) -> str:
    """Drop the query (it may echo our keys or signature) from a URL named in a message."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _is_certificate_error(exc: BaseException) -> bool:
    """Tell whether a connect error is a refused TLS certificate (retrying will not help)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
