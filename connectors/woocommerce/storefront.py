"""What the companion plugin sends from the storefront: signed cart events.

The plugin's PHP backend signs each request with the secret it shares with us (see
``plugin_signing``); a verified event enters the inbox like a webhook and becomes a cart,
or completes one when the cart became an order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from connectors import base
from connectors.base import InvalidSignatureError, NormalizedEvent, TerminalError, WebhookEnvelope
from connectors.woocommerce import mapping, plugin_signing

PLATFORM = "woocommerce"
CART_EVENT_TOPIC = "comeback.cart"
HEADER_STORE = "X-Comeback-Store"
HEADER_TIMESTAMP = "X-Comeback-Timestamp"
HEADER_SIGNATURE = "X-Comeback-Signature"
MAX_BODY = 64 * 1024
MAX_LINES = 250


def shop_id_of(headers: Mapping[str, str]) -> int | None:
    """Return the store id a signed storefront request names, or ``None``."""
    raw = (headers.get(HEADER_STORE) or "").strip()
    return int(raw) if raw.isdigit() else None


HEADER_CUSTOMER = "X-Comeback-Customer"


def storefront_caller(headers: Mapping[str, str], *, now: float,
                      store_of: Callable[[int], tuple[str, str | None] | None]) -> base.StorefrontCaller | None:
    """Who a widget request comes from: the store it names, and the shopper its customer token proves.

    ``store_of`` gives the store key and shared secret of a store id (None when unknown). A
    request without a token is a visitor's; a token that does not verify is refused. None when
    the request names no store (it is not a WooCommerce widget's).
    """
    store_id = shop_id_of(headers)
    if store_id is None:
        return None
    store = store_of(store_id)
    if store is None:
        raise InvalidSignatureError(f"no connected store {store_id}")
    shop_key, secret = store
    token = (headers.get(HEADER_CUSTOMER) or "").strip()
    if not token:
        return base.StorefrontCaller(shop_key=shop_key, customer_external_id=None)
    if not secret:
        raise InvalidSignatureError("the store has no storefront secret yet: reconnect it")
    identity = plugin_signing.verify_customer_token(secret, str(store_id), token, now=now)
    return base.StorefrontCaller(shop_key=shop_key, customer_external_id=identity.customer_id)


def storefront_origins(shop_key: str) -> tuple[str, str]:
    """The web origins the store's pages (and so its widget) run on: the store URL without its
    path, and its twin with or without ``www.`` (sites commonly answer on both)."""
    parts = urlsplit(shop_key)
    host = parts.netloc
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    return f"{parts.scheme}://{host}", f"{parts.scheme}://{twin}"


def verify_cart_event(headers: Mapping[str, str], body: bytes, *, shop_key: str, secret: str | None,
                      now: float | None = None) -> WebhookEnvelope:
    """Check the plugin's signature and return the event as an inbox envelope."""
    if not secret:
        raise InvalidSignatureError("the store has no storefront secret yet: reconnect it")
    if len(body) > MAX_BODY:
        raise TerminalError(f"the cart event is larger than {MAX_BODY} bytes")
    plugin_signing.verify_request(secret, timestamp=headers.get(HEADER_TIMESTAMP),
                                  signature=headers.get(HEADER_SIGNATURE), body=body,
                                  now=time.time() if now is None else now)
    cart = parse_cart_event(body)  # refuse a malformed event now, not at drain time
    record = cart.records[0]
    restore = getattr(record, "recovery_url", None)
    if restore and not (restore == shop_key or restore.startswith((shop_key + "/", shop_key + "?"))):
        raise TerminalError("cart event: restore_url must point at the store itself")
    digest = hashlib.sha256(body).hexdigest()[:24]
    return WebhookEnvelope(platform=PLATFORM, shop_key=shop_key, topic=CART_EVENT_TOPIC,
                           kind=base.CART_UPSERT,
                           delivery_key=f"woocommerce:cart:{cart.records[0].external_id}:{digest}",
                           body=body)


def _string(payload: Mapping[str, Any], name: str, *, required: bool = True, limit: int = 2048) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise TerminalError(f"cart event: {name} is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise TerminalError(f"cart event: {name} must be a string of at most {limit} characters")
    return value


def _amount(value: Any, name: str) -> Decimal:
    amount = mapping.money(value, default=None)
    if amount < 0:
        raise TerminalError(f"cart event: {name} must not be negative")
    return amount


def parse_cart_event(body: bytes) -> NormalizedEvent:
    """Map a cart event: a cart (its email only with the shopper's consent) or its completion."""
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise TerminalError(f"cart event is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise TerminalError("cart event is not a JSON object")
    token = _string(payload, "cart_token", limit=64) or ""
    if not all(ch.isalnum() or ch in "-_" for ch in token):
        raise TerminalError("cart event: cart_token may hold only letters, digits, - and _")
    updated = mapping.gmt(_string(payload, "updated_at", limit=40))
    assert updated is not None
    cart_id = f"cart-{token}"
    order_id = payload.get("order_id")
    if order_id not in (None, "", 0):
        mapping.external_id(order_id)
        return NormalizedEvent(base.CART_UPSERT, (base.CartCompletion(cart_id, updated),), occurred_at=updated)
    lines_in = payload.get("lines")
    if not isinstance(lines_in, list) or len(lines_in) > MAX_LINES:
        raise TerminalError(f"cart event: lines must be a list of at most {MAX_LINES}")
    lines = []
    for line in lines_in:
        if not isinstance(line, dict):
            raise TerminalError("cart event: every line must be an object")
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise TerminalError("cart event: a line's quantity must be a whole number above 0")
        lines.append(base.CartLine(
            title=(_string(line, "name", limit=400) or ""),
            quantity=quantity,
            unit_price=_amount(line.get("price"), "price"),
            product_external_id=mapping.optional_id(line.get("product_id")),
            variant_external_id=mapping.optional_id(line.get("variation_id")) or mapping.optional_id(line.get("product_id")),
        ))
    consent = payload.get("consent") is True
    email = _string(payload, "email", required=False, limit=320) if consent else None
    if email is not None and ("@" not in email or any(ch.isspace() for ch in email)):
        raise TerminalError("cart event: email is not an email address")
    currency = _string(payload, "currency", limit=3) or ""
    if len(currency) != 3 or not currency.isalpha():
        raise TerminalError("cart event: currency must be a three-letter code")
    cart = base.Cart(
        external_id=cart_id,
        updated_at=updated,
        currency=currency.upper(),
        total_price=_amount(payload.get("total"), "total"),
        email=email.lower() if email else None,
        customer_external_id=mapping.optional_id(payload.get("customer_id")),
        recovery_url=_string(payload, "restore_url", required=False),
        lines=tuple(lines),
    )
    return NormalizedEvent(base.CART_UPSERT, (cart,), occurred_at=updated)
