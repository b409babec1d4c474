"""Shopify app proxy requests: the storefront's calls, signed by Shopify, naming the shopper.

Shopify forwards ``https://<shop>/apps/<subpath>/...`` to the app with ``shop``,
``logged_in_customer_id`` (empty for a visitor who is not signed in), ``path_prefix``,
``timestamp`` and ``signature`` added to the query. The signature is the hex HMAC-SHA256,
with the app's secret, of every other parameter as ``key=value`` (repeated values joined by
commas), sorted by key and concatenated with no separator. It differs from the OAuth HMAC.

Not ``shopify_app.verify_app_proxy_req``: it reads the clock itself, so neither the published
vector (signed in 2011) nor a test of the freshness window could be checked with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from urllib.parse import parse_qsl

from connectors.base import InvalidShopError, InvalidSignatureError
from connectors.shopify.oauth import normalize_shop

# How far a request's timestamp may be from our clock (Shopify's own libraries allow 90 s).
MAX_SKEW_SECONDS = 90


@dataclasses.dataclass(frozen=True)
class ProxyRequest:
    shop: str
    logged_in_customer_id: str | None  # None: a visitor who is not signed in


def signed_message(query: str) -> tuple[str, str | None]:
    """The message Shopify signs for a query string, and the ``signature`` it carries."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    signatures = values.pop("signature", [])
    received = signatures[0] if len(signatures) == 1 else None
    message = "".join(f"{key}={','.join(values[key])}" for key in sorted(values))
    return message, received


def signature(query: str, secret: str) -> str:
    return hmac.new(secret.encode(), signed_message(query)[0].encode(), hashlib.sha256).hexdigest()


def verify(query: str, secrets: tuple[str, ...], *, now: float) -> ProxyRequest:
    """Check an app proxy query: signature, freshness, one shop. Raises ``InvalidSignatureError``."""
    message, received = signed_message(query)
    if not received:
        raise InvalidSignatureError("the request has no (single) signature parameter")
    if not any(hmac.compare_digest(
            hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest(), received.lower())
            for secret in secrets if secret):
        raise InvalidSignatureError("signature does not match the request's parameters")
    params = parse_qsl(query, keep_blank_values=True)
    shops = [value for key, value in params if key == "shop"]
    stamps = [value for key, value in params if key == "timestamp"]
    if len(shops) != 1 or len(stamps) != 1:
        raise InvalidSignatureError("the request must name exactly one shop and one timestamp")
    try:
        stamp = int(stamps[0])
    except ValueError as exc:
        raise InvalidSignatureError("timestamp is not a whole number of seconds") from exc
    if abs(now - stamp) > MAX_SKEW_SECONDS:
        raise InvalidSignatureError(f"the request is stale: signed {int(now - stamp)} s from now")
    try:
        shop = normalize_shop(shops[0])
    except InvalidShopError as exc:
        raise InvalidSignatureError(f"shop is invalid: {exc}") from exc
    customers = [value for key, value in params if key == "logged_in_customer_id"]
    customer = customers[0].strip() if len(customers) == 1 else ""
    if customer and not customer.isdigit():
        raise InvalidSignatureError("logged_in_customer_id is not a customer id")
    return ProxyRequest(shop=shop, logged_in_customer_id=customer or None)
