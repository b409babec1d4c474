"""Find store objects by id or raise the WooCommerce 404 for them."""

from __future__ import annotations

from typing import Any

from ..models import Customer, Order, Product
from .errors import WooError, not_found
from .state import Coupon, Webhook, WooStore


def to_id(value: Any) -> int:
    """Parse a positive integer id."""
    if isinstance(value, bool):
        raise WooError("woocommerce_rest_invalid_id", "Invalid ID.", 400)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise WooError("woocommerce_rest_invalid_id", "Invalid ID.", 400)


def order(store: WooStore, order_id: Any) -> Order:
    """Return an order or raise woocommerce_rest_shop_order_invalid_id."""
    found = store.shop.orders.get(to_id(order_id))
    if found is None:
        raise not_found("woocommerce_rest_shop_order_invalid_id")
    return found


def customer(store: WooStore, customer_id: Any) -> Customer:
    """Return a customer or raise woocommerce_rest_invalid_id."""
    found = store.shop.customers.get(to_id(customer_id))
    if found is None:
        raise not_found("woocommerce_rest_invalid_id", "Invalid resource ID.")
    return found


def product(store: WooStore, product_id: Any) -> Product:
    """Return a product or raise woocommerce_rest_product_invalid_id."""
    found = store.shop.products.get(to_id(product_id))
    if found is None:
        raise not_found("woocommerce_rest_product_invalid_id")
    return found


def coupon(store: WooStore, coupon_id: Any) -> Coupon:
    """Return a coupon or raise woocommerce_rest_shop_coupon_invalid_id."""
    found = store.coupons.get(to_id(coupon_id))
    if found is None:
        raise not_found("woocommerce_rest_shop_coupon_invalid_id")
    return found


def webhook(store: WooStore, webhook_id: Any) -> Webhook:
    """Return a webhook or raise woocommerce_rest_webhook_invalid_id."""
    found = store.webhooks.get(to_id(webhook_id))
    if found is None:
        raise not_found("woocommerce_rest_webhook_invalid_id")
    return found
