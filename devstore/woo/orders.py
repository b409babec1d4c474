"""Order changes (live events and REST writes) and the webhooks they fire."""

from __future__ import annotations

import random
from typing import Any, Optional

from .. import commerce
from ..formats import parse_money
from ..models import LineItem, Order, Product, Variant
from . import lookup, meta, topics
from .errors import WooError, invalid_params
from .hookshot import Hookshot
from .shapes import orders as shapes
from .state import WooStore, advance, now

STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
            "failed", "checkout-draft")
PAID = ("processing", "on-hold", "completed")
_rng = random.Random()


def _touch(store: WooStore, order: Order) -> None:
    """Move date_modified forward."""
    order.updated_at = advance(order.updated_at)
    store.shop.orders.touched()


def _sample_product(store: WooStore) -> list[Variant]:
    """Create a simple sample product for an empty store and return its variant."""
    shop = store.shop
    product = Product(shop.next_id("Product"), "Sample Product", "sample-product", "",
                      "Uncategorized", (), now())
    variant = Variant(shop.next_id("ProductVariant"), product, "Default Title", "SAMPLE-1",
                      2500, 100, product.created_at)
    product.variants.append(variant)
    shop.variants[variant.id] = variant
    shop.products.add(product)
    return product.variants


def _picks(store: WooStore, items: Any) -> list[tuple[Variant, int]]:
    """Resolve `[{product_id, variation_id?, quantity}]`, or pick random variants."""
    shop = store.shop
    if items is None:
        pool = [v for p in shop.products for v in p.variants] or _sample_product(store)
        return [(v, 1) for v in _rng.sample(pool, min(len(pool), _rng.randint(1, 2)))]
    if not isinstance(items, list) or not items:
        raise invalid_params({"line_items": "line_items must be a non-empty list."})
    picks = []
    for item in items:
        if not isinstance(item, dict) or "product_id" not in item:
            raise invalid_params({"line_items": "Each line item needs a product_id."})
        product = lookup.product(store, item["product_id"])
        variation = item.get("variation_id")
        variant = next((v for v in product.variants if v.id == variation), None) \
            if variation else product.variants[0]
        if variant is None:
            raise WooError("woocommerce_rest_invalid_variation_id", "Invalid variation ID.")
        quantity = item.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise invalid_params({"line_items": "quantity must be a positive integer."})
        picks.append((variant, quantity))
    return picks


def _status(value: Any, allowed: tuple[str, ...] = STATUSES) -> str:
    """Validate an order status."""
    if value not in allowed:
        raise invalid_params({"status": f"status is not one of {', '.join(allowed)}."})
    return value


def _gift_card(store: WooStore, body: dict) -> int:
    """Read `gift_card` (what gift cards pay, at most the total): it needs the extension."""
    value = body.get("gift_card")
    if value is None:
        return 0
    if not store.gift_cards_installed:
        raise invalid_params({"gift_card": "gift_card needs the Gift Cards extension (gift_cards_installed)."})
    try:
        cents = parse_money(value)
    except ValueError as exc:
        raise invalid_params({"gift_card": str(exc)}) from exc
    if cents < 0:
        raise invalid_params({"gift_card": "gift_card must not be negative."})
    return cents


def _place(store: WooStore, body: dict, status: str) -> Order:
    """Create an order (or draft) for a customer id, or a guest email."""
    shop = store.shop
    customer = lookup.customer(store, body["customer_id"]) \
        if body.get("customer_id") else None
    email = body.get("email")
    if customer is None and not email:
        email = f"guest{shop.next_id('GuestEmail')}@example.com"
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise invalid_params({"email": "email is not a valid email address."})
    lines = [LineItem(shop.next_id("LineItem"), v, q, v.price)
             for v, q in _picks(store, body.get("line_items"))]
    order = Order(shop.next_id("Order"), 0, customer,
                  email.lower() if email else customer.email, now(), lines)  # type: ignore
    commerce.price_order(order)
    commerce.pay_with_gift_card(order, _gift_card(store, body))
    if status not in PAID:
        order.financial_status = "PENDING"
    store.order_status[order.id] = status
    if customer is None:
        names = {k: str(body[k]) for k in ("first_name", "last_name") if body.get(k)}
        if names:
            store.addresses[("order", order.id)] = {"billing": names, "shipping": names}
    for kind in ("billing", "shipping"):
        if body.get(kind) is not None:
            _address(store, order, kind, body[kind])
    if status == "completed":
        store.completed_at[order.id] = order.created_at
    if status in PAID:
        commerce.record_purchase(customer, order)
    shop.orders.add(order)
    return order


def create(hookshot: Hookshot, store: WooStore, body: dict) -> dict:
    """Place a live order (order.created); only an email makes a guest order."""
    status = _status(body.get("status", "processing"),
                     ("pending", "processing", "on-hold", "completed", "failed"))
    with store.lock:
        order = _place(store, body, status)
        payload = shapes.order(store, order)
    topics.fire(hookshot, store, "order.created", order.id, payload)
    return payload


def create_draft(hookshot: Hookshot, store: WooStore, body: dict) -> dict:
    """Start a checkout-draft order (order.created, a devstore choice)."""
    with store.lock:
        order = _place(store, body, "checkout-draft")
        payload = shapes.order(store, order)
    topics.fire(hookshot, store, "order.created", order.id, payload)
    return payload


def _draft(store: WooStore, order_id: Any) -> Order:
    """Return a checkout-draft order."""
    order = lookup.order(store, order_id)
    if store.status_of(order.id) != "checkout-draft":
        raise WooError("woocommerce_rest_invalid_order_status", "The order is not a draft.")
    return order


def update_draft(hookshot: Hookshot, store: WooStore, order_id: Any, body: dict) -> dict:
    """Change a draft's email (order.updated)."""
    return update(hookshot, store, _draft(store, order_id).id,
                  {"billing": {"email": body["email"]}} if body.get("email") else {})


def complete_draft(hookshot: Hookshot, store: WooStore, order_id: Any) -> dict:
    """Pay a draft: it becomes processing (order.updated)."""
    with store.lock:
        order = _draft(store, order_id)
        _touch(store, order)
        store.order_status[order.id] = "processing"
        store.paid_at[order.id] = order.updated_at
        order.financial_status = "PAID"
        commerce.record_purchase(order.customer, order)
        payload = shapes.order(store, order)
    topics.fire(hookshot, store, "order.updated", order.id, payload)
    return payload


def _address(store: WooStore, order: Order, kind: str, value: Any) -> None:
    """Merge billing or shipping fields into the order's stored address."""
    if not isinstance(value, dict):
        raise invalid_params({kind: f"{kind} is not of type object."})
    fields = {k: str(v) for k, v in value.items() if v is not None}
    if kind == "billing" and "email" in fields:
        order.email = fields.pop("email")
    stored = store.addresses.setdefault(("order", order.id), {})
    stored.setdefault(kind, {}).update(fields)


def update(hookshot: Hookshot, store: WooStore, order_id: Any, body: dict) -> dict:
    """Apply REST-style changes (status, billing, shipping, meta_data); fire order.updated."""
    with store.lock:
        order = lookup.order(store, order_id)
        if "status" in body:
            status = _status(body["status"])
            if status == "completed" and store.status_of(order.id) != "completed":
                store.completed_at[order.id] = advance(order.updated_at)
            store.order_status[order.id] = status
        for kind in ("billing", "shipping"):
            if kind in body:
                _address(store, order, kind, body[kind])
        if "meta_data" in body:
            meta.upsert(store, store.order_meta.setdefault(order.id, []), body["meta_data"])
        _touch(store, order)
        payload = shapes.order(store, order)
    topics.fire(hookshot, store, "order.updated", order.id, payload)
    return payload


def _refund_picks(order: Order, items: Any) -> list[tuple[LineItem, int]]:
    """Resolve `[{line_item_id, quantity}]` against an order."""
    if not isinstance(items, list):
        raise invalid_params({"line_items": "line_items must be a list."})
    picks = []
    for item in items:
        line_id = lookup.to_id(item.get("line_item_id") if isinstance(item, dict) else None)
        line = next((li for li in order.line_items if li.id == line_id), None)
        if line is None:
            raise WooError("woocommerce_rest_invalid_line_item", "Invalid line item ID.")
        picks.append((line, int(item.get("quantity", line.quantity))))
    return picks


def refund(hookshot: Hookshot, store: WooStore, order_id: Any, body: dict) -> dict:
    """Refund lines and/or an amount, or everything (order.updated; no refund topic)."""
    with store.lock:
        order = lookup.order(store, order_id)
        # What gift cards paid is not refunded: the extension credits the cards back when
        # the order is refunded in full.
        payable = store.payable(order)
        if order.refunded() >= payable:
            raise WooError("woocommerce_rest_cannot_create_order_refund",
                           "Invalid refund amount.")
        items, amount = body.get("line_items"), body.get("amount")
        try:
            cents: Optional[int] = parse_money(amount) if amount is not None else None
        except ValueError as exc:
            raise invalid_params({"amount": str(exc)}) from exc
        if items is None and cents is None:
            picks, cents = commerce.full_refund_picks(order), payable - order.refunded()
        else:
            picks = _refund_picks(order, items or [])
        made = commerce.add_refund(store.shop, order, picks, cents, now(), body.get("reason"),
                                   refundable=payable - order.refunded())
        _touch(store, order)
        made.created_at = min(made.created_at, order.updated_at)
        if order.refunded() >= payable:
            store.order_status[order.id] = "refunded"
        refund_body = shapes.refund(store, made)
        payload = shapes.order(store, order)
    topics.fire(hookshot, store, "order.updated", order.id, payload)
    return refund_body


def trash(hookshot: Hookshot, store: WooStore, order_id: Any) -> dict:
    """Move an order to the trash (order.deleted with the full order)."""
    with store.lock:
        order = lookup.order(store, order_id)
        status = store.status_of(order.id)
        if status == "trash":
            raise WooError("woocommerce_rest_already_trashed",
                           "The order has already been deleted.", 410)
        store.trashed_from[order.id] = status
        store.order_status[order.id] = "trash"
        _touch(store, order)
        payload = shapes.order(store, order)
    topics.fire(hookshot, store, "order.deleted", order.id, payload)
    return payload


def delete(hookshot: Hookshot, store: WooStore, order_id: Any) -> dict:
    """Delete an order for good (order.deleted with only the id)."""
    with store.lock:
        order = lookup.order(store, order_id)
        payload = shapes.order(store, order)
        store.shop.orders.remove(order.id)
    topics.fire(hookshot, store, "order.deleted", order.id, {"id": order.id})
    return payload


def restore(hookshot: Hookshot, store: WooStore, order_id: Any) -> dict:
    """Take an order out of the trash (order.restored)."""
    with store.lock:
        order = lookup.order(store, order_id)
        if store.status_of(order.id) != "trash":
            raise WooError("woocommerce_rest_not_trashed", "The order is not in the trash.")
        store.order_status[order.id] = store.trashed_from.pop(order.id, "pending")
        _touch(store, order)
        payload = shapes.order(store, order)
    topics.fire(hookshot, store, "order.restored", order.id, payload)
    return payload
