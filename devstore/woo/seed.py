"""Fill a WooCommerce store with the shared devstore generator, then map it onto WooCommerce."""

from __future__ import annotations

from .. import commerce, generator
from ..models import Order
from .state import WooStore

DAY = 86_400


def _status(order: Order) -> str:
    """Map a generated Shopify-style order onto a WooCommerce status."""
    if order.cancelled_at is not None:
        return "cancelled"
    if order.financial_status == "REFUNDED":
        return "refunded"
    if order.fulfillment_status == "FULFILLED":
        return "completed"
    return "processing"


def _adopt_orders(store: WooStore) -> None:
    """Give every new generated order its WooCommerce status and completion time."""
    for order in store.shop.orders:
        if order.id in store.order_status:
            continue
        if not store.gift_cards_installed:
            order.gift_card = 0  # core WooCommerce has no gift cards
        status = _status(order)
        store.order_status[order.id] = status
        if status == "completed":
            store.completed_at[order.id] = order.updated_at if not order.refunds else min(
                order.updated_at, order.created_at + 3 * DAY)


def _adopt_checkouts(store: WooStore) -> int:
    """Turn abandoned checkouts into checkout-draft orders with the same id."""
    shop = store.shop
    drafts = 0
    for checkout in sorted(shop.checkouts, key=lambda c: c.id):
        if checkout.order is None:
            order = Order(checkout.id, 0, checkout.customer, checkout.email,
                          checkout.created_at, checkout.line_items)
            commerce.price_order(order)
            order.financial_status = "PENDING"
            order.updated_at = checkout.updated_at
            store.order_status[order.id] = "checkout-draft"
            shop.orders.add(order)
            drafts += 1
        shop.checkouts.remove(checkout.id)
    return drafts


def generate(store: WooStore, spec: generator.GenerateSpec) -> dict[str, int]:
    """Generate history (no webhooks) and return the counts."""
    with store.lock:
        counts = generator.generate(store.shop, spec)
        _adopt_orders(store)
        counts["drafts"] = _adopt_checkouts(store)
    return counts
