"""Coupons, webhooks and settings in WooCommerce REST v3 shape."""

from __future__ import annotations

from typing import Any

from .. import timefmt
from ..state import Coupon, Webhook, WooStore
from .common import links

HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer",
                         "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
}
SETTINGS = {
    "comeback_app_url": ("Comeback app URL", "Where the Comeback app is served.", "text"),
    "comeback_store_id": ("Store ID", "The id Comeback gave this store.", "text"),
    "comeback_shared_secret": ("Shared secret", "Signs customer tokens for the widget.",
                               "password"),
}
MASK = "********"


def coupon(store: WooStore, c: Coupon) -> dict[str, Any]:
    """Return a coupon."""
    tz = store.shop.timezone
    return {
        "id": c.id, "code": c.code, "amount": c.amount, "status": c.status,
        **timefmt.pair("date_created", c.created_at, tz),
        **timefmt.pair("date_modified", c.updated_at, tz),
        "discount_type": c.discount_type, "description": c.description,
        **timefmt.pair("date_expires", c.date_expires, tz),
        "usage_count": c.usage_count, "individual_use": c.individual_use,
        "product_ids": list(c.product_ids), "excluded_product_ids": [], "usage_limit": c.usage_limit,
        "usage_limit_per_user": c.usage_limit_per_user,
        "limit_usage_to_x_items": c.limit_usage_to_x_items,
        "free_shipping": c.free_shipping, "product_categories": [],
        "excluded_product_categories": [], "exclude_sale_items": False,
        "minimum_amount": c.minimum_amount, "maximum_amount": c.maximum_amount,
        "email_restrictions": list(c.email_restrictions), "used_by": [],
        "meta_data": [dict(r) for r in c.meta_data], "_links": links(store, "coupons", c.id),
    }


def webhook(store: WooStore, w: Webhook) -> dict[str, Any]:
    """Return a webhook (the secret is write-only)."""
    tz = store.shop.timezone
    resource, _, event = w.topic.partition(".")
    return {
        "id": w.id, "name": w.name, "status": w.status, "topic": w.topic,
        "resource": resource, "event": event,
        "hooks": HOOKS.get(w.topic, [event] if resource == "action" else []),
        "delivery_url": w.delivery_url,
        **timefmt.pair("date_created", w.created_at, tz),
        **timefmt.pair("date_modified", w.updated_at, tz),
        "_links": links(store, "webhooks", w.id),
    }


def setting(store: WooStore, setting_id: str) -> dict[str, Any]:
    """Return one setting of the comeback group (the secret masked)."""
    label, description, kind = SETTINGS[setting_id]
    value = store.settings.get(setting_id, "")
    if kind == "password" and value:
        value = MASK
    return {"id": setting_id, "label": label, "description": description, "type": kind,
            "default": "", "tip": description, "value": value, "group_id": "comeback"}


def currency_setting(store: WooStore) -> dict[str, Any]:
    """Return the general woocommerce_currency setting."""
    return {"id": "woocommerce_currency", "label": "Currency",
            "description": "This controls what currency prices are listed at in the catalog "
                           "and which currency gateways will take payments in.",
            "type": "select", "default": "USD", "tip": "", "value": store.shop.currency,
            "group_id": "general"}
