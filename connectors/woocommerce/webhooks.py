"""Verify WooCommerce webhook deliveries and turn their payloads into neutral events.

WooCommerce signs the raw body (which WordPress encodes with ``\\/`` and ``\\uXXXX`` escapes)
with the secret we gave the webhook, base64 HMAC-SHA256. Its delivery id is a hash of the
webhook id and the current second, so it is not unique: a delivery is known by what it
carries instead (the webhook, the resource and the resource's modification time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from connectors import base
from connectors.base import InvalidSignatureError, NormalizedEvent, TerminalError, WebhookEnvelope
from connectors.woocommerce import mapping

logger = logging.getLogger(__name__)

PLATFORM = "woocommerce"

# The topics we create webhooks for, and what each means.
SUBSCRIBED_TOPICS = (
    "order.created", "order.updated", "order.deleted", "order.restored",
    "customer.created", "customer.updated", "customer.deleted",
    "product.created", "product.updated", "product.deleted", "product.restored",
)

_HEADER_TOPIC = "X-WC-Webhook-Topic"
_HEADER_SIGNATURE = "X-WC-Webhook-Signature"
_HEADER_WEBHOOK_ID = "X-WC-Webhook-ID"
_HEADER_DELIVERY_ID = "X-WC-Webhook-Delivery-ID"


def signature(secret: str, body: bytes) -> str:
    """Return WooCommerce's signature of a body: base64 HMAC-SHA256 of the raw bytes."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """Return whether a request is the unsigned ping WooCommerce sends when a webhook is created."""
    if headers.get(_HEADER_SIGNATURE) or headers.get(_HEADER_TOPIC):
        return False
    if not (headers.get("Content-Type") or "").lower().startswith("application/x-www-form-urlencoded"):
        return False
    if len(body) > 64:
        return False
    fields = parse_qs(body.decode("ascii", "replace"), keep_blank_values=True)
    return list(fields) == ["webhook_id"] and fields["webhook_id"][0].isdigit()


def verify(headers: Mapping[str, str], body: bytes, *, shop_key: str | None, secret: str | None) -> WebhookEnvelope:
    """Check a delivery's signature with the shop's own secret and return its envelope."""
    if is_ping(headers, body):
        return WebhookEnvelope(platform=PLATFORM, shop_key=shop_key or "", topic="ping", kind=base.PING,
                               delivery_key="", body=b"")
    if not shop_key or not secret:
        raise InvalidSignatureError("no webhook secret is known for this store")
    given = headers.get(_HEADER_SIGNATURE)
    if not given:
        raise InvalidSignatureError(f"the {_HEADER_SIGNATURE} header is missing")
    if not hmac.compare_digest(signature(secret, body).encode("ascii"), given.strip().encode("ascii", "replace")):
        raise InvalidSignatureError("the signature does not match the body")
    topic = (headers.get(_HEADER_TOPIC) or "").strip().lower()
    if not topic:
        raise InvalidSignatureError(f"the {_HEADER_TOPIC} header is missing")
    return WebhookEnvelope(
        platform=PLATFORM, shop_key=shop_key, topic=topic, kind=kind_of(topic),
        delivery_key=delivery_key(headers, topic, body, shop_key), body=body,
    )


def kind_of(topic: str) -> str:
    """Return the neutral kind of a topic (the precise kind of an order depends on its status)."""
    resource, _, event = topic.partition(".")
    if resource == "order":
        return base.ORDER_DELETE if event == "deleted" else base.ORDER_UPSERT
    if resource == "customer":
        return base.CUSTOMER_DELETE if event == "deleted" else base.CUSTOMER_UPSERT
    if resource == "product":
        return base.PRODUCT_DELETE if event == "deleted" else base.PRODUCT_UPSERT
    return base.IGNORED


def delivery_key(headers: Mapping[str, str], topic: str, body: bytes, shop_key: str = "") -> str:
    """Return what makes a delivery unique: store, webhook, resource, its version and content.

    The delivery id header repeats within a second, so it is no key; the same body delivered
    twice is the same state and keeping one loses nothing. Webhook and resource ids repeat
    across stores, so the store is part of the key. A body without a modification time (a
    deletion is ``{"id": N}``) also takes the delivery id, so that deleting the same id again
    later is a new event.
    """
    webhook_id = (headers.get(_HEADER_WEBHOOK_ID) or "0").strip()
    store = hashlib.sha256(shop_key.encode("utf-8")).hexdigest()[:12]
    resource_id, modified = _identity(body)
    digest = hashlib.sha256(body).hexdigest()[:32]
    if modified is None:
        modified = "d" + (headers.get(_HEADER_DELIVERY_ID) or "").strip()[:64]
    return f"woocommerce:{store}:{webhook_id}:{topic}:{resource_id or '-'}:{modified}:{digest}"


def _identity(body: bytes) -> tuple[str | None, str | None]:
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(payload, dict):
        return None, None
    resource_id = payload.get("id")
    modified = payload.get("date_modified_gmt") or payload.get("date_modified")
    return (str(resource_id) if resource_id not in (None, "") else None,
            str(modified) if modified else None)


def parse(topic: str, body: bytes) -> NormalizedEvent:
    """Return the neutral event a verified delivery carries."""
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise TerminalError(f"{topic} body is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise TerminalError(f"{topic} body is not a JSON object")
    resource, _, event = topic.partition(".")
    _check_shape(resource, event, payload)
    if resource == "order":
        return _order_event(event, payload)
    if resource == "customer":
        if event == "deleted":
            return NormalizedEvent(base.CUSTOMER_DELETE, (base.Deletion(mapping.external_id(payload.get("id"))),))
        return NormalizedEvent(base.CUSTOMER_UPSERT, (mapping.customer(payload),))
    if resource == "product":
        return _product_event(event, payload)
    return NormalizedEvent(base.IGNORED)


# Fields only that resource carries: the topic header is not signed, the body is.
_SHAPES = {"order": ("order_key", "line_items"), "customer": ("username", "role"),
           "product": ("slug", "type")}


def _check_shape(resource: str, event: str, payload: dict[str, Any]) -> None:
    """Refuse a body that is not the resource its topic names (a signed body under another topic)."""
    fields = _SHAPES.get(resource)
    if fields is None or set(payload) <= {"id"}:
        return  # other topics are ignored; a deletion carries only the id
    if not any(name in payload for name in fields):
        raise TerminalError(f"{resource}.{event} body is not a {resource}: it has none of {', '.join(fields)}")


def _order_event(event: str, payload: dict[str, Any]) -> NormalizedEvent:
    order_id = mapping.external_id(payload.get("id"))
    if event == "deleted" or payload.get("status") == "trash":
        return NormalizedEvent(base.ORDER_DELETE, (base.Deletion(order_id),))
    records = mapping.order_records(payload)
    refunds = mapping.refund_ids(payload)
    refetch = (base.Refetch(base.REFETCH_ORDER_REFUNDS, order_id, refunds),) if refunds else ()
    if mapping.is_cart(payload):
        kind = base.CART_UPSERT
    else:
        kind = base.ORDER_RESTORE if event == "restored" else base.ORDER_UPSERT
    return NormalizedEvent(kind, records, occurred_at=mapping.gmt(payload.get("date_modified_gmt")),
                           refetch=refetch)


def _product_event(event: str, payload: dict[str, Any]) -> NormalizedEvent:
    if mapping.is_variation(payload):
        # A variation changed: its product is read again, with all its variations.
        parent = mapping.optional_id(payload.get("parent_id"))
        if parent is None:
            return NormalizedEvent(base.IGNORED)
        return NormalizedEvent(base.IGNORED, refetch=(base.Refetch(base.REFETCH_PRODUCT, parent),))
    product_id = mapping.external_id(payload.get("id"))
    if event == "deleted":
        return NormalizedEvent(base.PRODUCT_DELETE, (base.Deletion(product_id),))
    record = mapping.product(payload)
    refetch = (base.Refetch(base.REFETCH_PRODUCT, product_id),) if not record.variants_complete else ()
    kind = base.PRODUCT_RESTORE if event == "restored" else base.PRODUCT_UPSERT
    return NormalizedEvent(kind, (record,), refetch=refetch)
