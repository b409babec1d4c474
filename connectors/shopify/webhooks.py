"""Verify Shopify webhook deliveries and turn their payloads into neutral events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from shopify_app import verify_webhook_req

from connectors import base
from connectors.base import InvalidSignatureError, NormalizedEvent, TerminalError, WebhookEnvelope
from connectors.shopify import payloads
from connectors.shopify.values import optional_timestamp

logger = logging.getLogger(__name__)

# Header topic → GraphQL WebhookSubscriptionTopic, for the topics we subscribe to.
SUBSCRIBED_TOPICS: dict[str, str] = {
    "orders/create": "ORDERS_CREATE",
    "orders/updated": "ORDERS_UPDATED",
    "orders/paid": "ORDERS_PAID",
    "orders/cancelled": "ORDERS_CANCELLED",
    "refunds/create": "REFUNDS_CREATE",
    "customers/create": "CUSTOMERS_CREATE",
    "customers/update": "CUSTOMERS_UPDATE",
    "customers/email_marketing_consent_update": "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE",
    "customers/purchasing_summary": "CUSTOMERS_PURCHASING_SUMMARY",
    "checkouts/create": "CHECKOUTS_CREATE",
    "checkouts/update": "CHECKOUTS_UPDATE",
    "products/create": "PRODUCTS_CREATE",
    "products/update": "PRODUCTS_UPDATE",
    "products/delete": "PRODUCTS_DELETE",
    "app/uninstalled": "APP_UNINSTALLED",
}
# Compliance topics are configured per app (shopify.app.toml), never through GraphQL.
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")

_Parser = Callable[[dict[str, Any]], tuple[Any, ...]]

_EVENTS: dict[str, tuple[str, _Parser]] = {
    "orders/create": (base.ORDER_UPSERT, lambda p: (payloads.order(p),)),
    "orders/updated": (base.ORDER_UPSERT, lambda p: (payloads.order(p),)),
    "orders/paid": (base.ORDER_UPSERT, lambda p: (payloads.order(p),)),
    "orders/cancelled": (base.ORDER_UPSERT, lambda p: (payloads.order(p),)),
    "refunds/create": (base.REFUND_CREATE, lambda p: (payloads.refund(p),)),
    "customers/create": (base.CUSTOMER_UPSERT, lambda p: (payloads.customer(p),)),
    "customers/update": (base.CUSTOMER_UPSERT, lambda p: (payloads.customer(p),)),
    "customers/email_marketing_consent_update": (
        base.CUSTOMER_CONSENT, lambda p: (payloads.consent(p),)),
    "customers/purchasing_summary": (
        base.CUSTOMER_SUMMARY, lambda p: (payloads.purchasing_summary(p),)),
    "checkouts/create": (base.CART_UPSERT, lambda p: (payloads.checkout(p),)),
    "checkouts/update": (base.CART_UPSERT, lambda p: (payloads.checkout(p),)),
    "products/create": (base.PRODUCT_UPSERT, lambda p: (payloads.product(p),)),
    "products/update": (base.PRODUCT_UPSERT, lambda p: (payloads.product(p),)),
    "products/delete": (base.PRODUCT_DELETE, lambda p: (payloads.deletion(p),)),
    "app/uninstalled": (base.APP_UNINSTALLED, lambda p: ()),
    "customers/data_request": (
        base.PRIVACY_DATA_REQUEST,
        lambda p: (payloads.privacy_request(p, orders_key="orders_requested"),)),
    "customers/redact": (
        base.PRIVACY_CUSTOMER_REDACT,
        lambda p: (payloads.privacy_request(p, orders_key="orders_to_redact"),)),
    "shop/redact": (base.PRIVACY_SHOP_REDACT, lambda p: (payloads.privacy_request(p, orders_key=""),)),
}


def kind_of(topic: str) -> str:
    """Return the neutral event kind of a Shopify topic (``IGNORED`` when unknown)."""
    entry = _EVENTS.get(topic)
    return entry[0] if entry else base.IGNORED


def verify(headers: Mapping[str, str], body: bytes, *, api_key: str, api_secret: str,
           old_api_secret: str | None) -> WebhookEnvelope:
    """Check a delivery's HMAC and return its envelope; ``InvalidSignatureError`` otherwise."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    if not lowered.get("x-shopify-hmac-sha256"):
        raise InvalidSignatureError("webhook has no X-Shopify-Hmac-Sha256 header")
    if not _hmac_matches(lowered, body, api_key, api_secret, old_api_secret):
        raise InvalidSignatureError("webhook HMAC does not match the body")
    shop = lowered.get("x-shopify-shop-domain", "").strip().lower()
    topic = lowered.get("x-shopify-topic", "").strip()
    if not shop or not topic:
        raise InvalidSignatureError("webhook lacks X-Shopify-Shop-Domain or X-Shopify-Topic")
    # Shopify documents X-Shopify-Event-Id as the duplicate marker: one event, delivered again
    # (a retry, or a second subscription to the same topic), keeps it. The webhook id stands in
    # where an older sender omits the event id.
    event_id = lowered.get("x-shopify-event-id", "").strip()
    if event_id:
        delivery_key = f"{event_id}:{topic}"
    else:
        delivery_key = lowered.get("x-shopify-webhook-id", "").strip()
        if not delivery_key:
            raise InvalidSignatureError("webhook has neither X-Shopify-Event-Id nor X-Shopify-Webhook-Id")
    if topic in COMPLIANCE_TOPICS:
        _check_compliance_shop(shop, body)
    try:
        triggered_at = optional_timestamp(lowered.get("x-shopify-triggered-at"))
    except TerminalError:
        triggered_at = None
    return WebhookEnvelope(
        platform="shopify",
        shop_key=shop,
        topic=topic,
        kind=kind_of(topic),
        delivery_key=delivery_key,
        body=body,
        triggered_at=triggered_at,
        api_version=lowered.get("x-shopify-api-version") or None,
    )


def _check_compliance_shop(shop: str, body: bytes) -> None:
    """A compliance request names its shop in the signed body: it must be the header's shop.

    The header is not covered by the signature; an erasure must never reach another shop.
    """
    try:
        named = json.loads(body).get("shop_domain")
    except (ValueError, AttributeError):
        return  # unparseable bodies are rejected, visibly, when the event is applied
    if named and str(named).strip().lower() != shop:
        raise InvalidSignatureError("compliance request names another shop than X-Shopify-Shop-Domain")


def _hmac_matches(lowered: dict[str, str], body: bytes, api_key: str, api_secret: str,
                  old_api_secret: str | None) -> bool:
    """Verify with shopifyapp, which signs ``body.encode('utf-8')``: exact for UTF-8 bodies."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Not representable as the str shopifyapp wants: compare over the raw bytes ourselves.
        return _raw_hmac_matches(lowered["x-shopify-hmac-sha256"], body, api_secret, old_api_secret)
    result = verify_webhook_req(
        {"method": "POST", "headers": lowered, "url": "https://comeback.invalid/webhooks", "body": text},
        {"client_id": api_key, "client_secret": api_secret, "old_client_secret": old_api_secret},
    )
    if not result.ok:
        logger.info("shopify webhook rejected: %s", result.log.code)
    return bool(result.ok)


def _raw_hmac_matches(received: str, body: bytes, secret: str, old_secret: str | None) -> bool:
    for key in (secret, old_secret):
        if key:
            digest = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
            if hmac.compare_digest(digest, received):
                return True
    return False


def parse(topic: str, body: bytes) -> NormalizedEvent:
    """Return the neutral event of a verified delivery; ``TerminalError`` on a bad payload."""
    entry = _EVENTS.get(topic)
    if entry is None:
        return NormalizedEvent(kind=base.IGNORED)
    kind, parser = entry
    try:
        payload = json.loads(body, parse_float=Decimal)
    except (ValueError, TypeError) as exc:
        raise TerminalError(f"{topic} payload is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise TerminalError(f"{topic} payload is not a JSON object")
    try:
        records = parser(payload)
    except TerminalError as exc:
        raise TerminalError(f"{topic} payload: {exc}") from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise TerminalError(f"{topic} payload is malformed: {exc!r}") from exc
    # An order a gift card paid for in part: the payload cannot tell how much, the order can.
    refetch = tuple(base.Refetch(base.REFETCH_ORDER, record.external_id) for record in records
                    if isinstance(record, base.Order) and payloads.gift_card_gateway_used(payload))
    occurred_at = None
    for key in ("updated_at", "created_at"):
        if payload.get(key):
            try:
                occurred_at = optional_timestamp(payload[key])
            except TerminalError:
                occurred_at = None
            break
    return NormalizedEvent(kind=kind, records=records, occurred_at=occurred_at, refetch=refetch)
