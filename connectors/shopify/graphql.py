"""Call the Shopify Admin GraphQL API with shared cost-based throttling and bounded retries."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from shopify_app import admin_graphql_request

from connectors.base import AuthRevokedError, Credentials, RetryableError, TerminalError
from connectors.shopify.throttle import Budget, LocalBudget, RedisBudget, ThrottleStatus

logger = logging.getLogger(__name__)

_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_DEFAULT_COST = 10.0


class GraphQLClient:
    """Run GraphQL documents for shops, waiting for the cost bucket and retrying what may pass.

    ``shopify_app.admin_graphql_request`` does the HTTP call (with ``max_retries=0``): its own
    retry does not see a THROTTLED answer sent with HTTP 200 and sleeps unbounded on
    ``Retry-After``, so every retry decision is made here.
    """

    def __init__(self, *, api_version: str, http_client: httpx.Client, redis: Any = None,
                 max_throttle_wait: float = 30.0, max_attempts: int = 4,
                 backoff_base: float = 0.5, sleep: Callable[[float], None] = time.sleep):
        self._api_version = api_version
        self._http = http_client
        self._budget: Budget = RedisBudget(redis) if redis is not None else LocalBudget()
        self._max_throttle_wait = max_throttle_wait
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._sleep = sleep
        self._known_costs: dict[str, float] = {}

    def execute(self, credentials: Credentials, query: str,
                variables: dict[str, Any] | None = None, *, cost_key: str | None = None) -> dict[str, Any]:
        """Return the ``data`` of a query; raise a ``ConnectorError`` subclass on failure.

        The cost reserved before the call is the last requested cost seen for ``cost_key``
        (default: the document itself).
        """
        shop = credentials.shop_key
        key = cost_key or query
        cost = self._known_costs.get(key, _DEFAULT_COST)
        waited = 0.0
        failures = 0
        while True:
            waited += self._wait_for_budget(shop, cost, waited)
            outcome = self._call_once(credentials, query, variables)
            if isinstance(outcome, _Throttled):
                if outcome.requested_cost:
                    cost = self._known_costs[key] = outcome.requested_cost
                pause = outcome.status.seconds_until(cost) if outcome.status else 1.0
                pause = max(pause, 0.05)
                if waited + pause > self._max_throttle_wait:
                    raise RetryableError(f"shop {shop} stayed throttled", retry_after=pause)
                logger.info("shopify throttled shop=%s waiting=%.2fs", shop, pause)
                self._sleep(pause)
                waited += pause
                continue
            if isinstance(outcome, _Transient):
                failures += 1
                if failures >= self._max_attempts:
                    raise RetryableError(f"shop {shop}: {outcome.reason}", retry_after=outcome.retry_after)
                pause = min(self._backoff_base * 2 ** (failures - 1), 8.0) + random.uniform(0, 0.1)
                if outcome.retry_after:
                    pause = max(pause, outcome.retry_after)
                logger.info("shopify transient failure shop=%s reason=%s retry_in=%.2fs",
                            shop, outcome.reason, pause)
                self._sleep(pause)
                continue
            requested = outcome.get("requested_cost")
            if requested:
                self._known_costs[key] = requested
            return outcome["data"]

    def _wait_for_budget(self, shop: str, cost: float, waited: float) -> float:
        """Sleep until the shared bucket can pay ``cost``; return the seconds slept."""
        slept = 0.0
        while True:
            wait = self._budget.reserve(shop, cost)
            if wait <= 0:
                return slept
            if waited + slept + wait > self._max_throttle_wait:
                raise RetryableError(f"shop {shop} has no GraphQL budget left", retry_after=wait)
            self._sleep(wait)
            slept += wait

    def _call_once(self, credentials: Credentials, query: str,
                   variables: dict[str, Any] | None) -> "dict[str, Any] | _Throttled | _Transient":
        shop = credentials.shop_key
        result = admin_graphql_request(
            query, shop=shop.removesuffix(".myshopify.com"), access_token=credentials.access_token,
            api_version=self._api_version, variables=variables, max_retries=0,
            http_client=self._http,
        )
        status = result.response.status
        if result.log.code == "network_error":
            return _Transient("network error or timeout")
        if status == 401 or result.log.code == "unauthorized":
            raise AuthRevokedError(f"shop {shop} rejected the access token")
        if status == 403:
            raise TerminalError(f"shop {shop}: access token lacks a required scope")
        if status in _RETRYABLE_STATUSES:
            return _Transient(f"HTTP {status}", retry_after=_retry_after(result))
        if status != 200:
            raise TerminalError(f"shop {shop}: GraphQL answered HTTP {status}")
        # On errors shopify_app drops data and extensions: read them from the raw body.
        body = {} if result.ok else _json_body(result.response.body)
        extensions = result.extensions if result.ok else body.get("extensions")
        throttle = ThrottleStatus.from_extensions(extensions)
        if throttle is not None:
            self._budget.update(shop, throttle)
        requested = _requested_cost(extensions)
        errors = body.get("errors")
        if errors:
            codes = {(err.get("extensions") or {}).get("code") for err in errors if isinstance(err, dict)}
            if "THROTTLED" in codes:
                return _Throttled(throttle, requested)
            if "MAX_COST_EXCEEDED" in codes:
                raise TerminalError(f"shop {shop}: query cost exceeds the single-query maximum")
            if "INTERNAL_SERVER_ERROR" in codes:
                return _Transient("GraphQL internal error")
            messages = "; ".join(str(err.get("message", err)) if isinstance(err, dict) else str(err)
                                 for err in errors)
            raise TerminalError(f"shop {shop}: GraphQL errors: {messages[:500]}")
        data = result.data if result.data is not None else body.get("data")
        if data is None:
            raise TerminalError(f"shop {shop}: GraphQL answered without data")
        return {"data": data, "requested_cost": requested}


class _Throttled:
    def __init__(self, status: ThrottleStatus | None, requested_cost: float | None):
        self.status = status
        self.requested_cost = requested_cost


class _Transient:
    def __init__(self, reason: str, retry_after: float | None = None):
        self.reason = reason
        self.retry_after = retry_after


def _json_body(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _requested_cost(extensions: Any) -> float | None:
    try:
        return float(extensions["cost"]["requestedQueryCost"])
    except (KeyError, TypeError, ValueError):
        return None


def _retry_after(result: Any) -> float | None:
    for log in reversed(result.http_logs or []):
        headers = {k.lower(): v for k, v in (log.res.headers or {}).items()}
        if "retry-after" in headers:
            try:
                return min(float(headers["retry-after"]), 60.0)
            except ValueError:
                return None
    return None


def user_errors(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return a mutation payload's ``userErrors`` (empty when none)."""
    return list((payload or {}).get("userErrors") or [])
