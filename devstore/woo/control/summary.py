"""Store summaries for the control API."""

from __future__ import annotations

from typing import Any

from ..registry import WooRegistry
from ..state import WooStore


def summary(registry: WooRegistry, store: WooStore) -> dict[str, Any]:
    """Return a store's URLs, flags, settings (unmasked), keys and webhooks."""
    with store.lock:
        shop = store.shop
        return {
            "handle": store.handle, "name": shop.name, "url": registry.http_url(store.handle),
            "https_url": registry.https_url(store.handle), "home_url": store.url,
            "currency": shop.currency, "timezone": shop.timezone, "locale": store.locale,
            "admin_email": shop.email,
            "plugin_installed": store.plugin_installed,
            "flags": {"plugin_installed": store.plugin_installed,
                      "strip_authorization": store.strip_authorization,
                      "refunds_endpoint": store.refunds_endpoint,
                      "deny_auth": store.deny_auth,
                      "gift_cards_installed": store.gift_cards_installed},
            "settings": dict(store.settings),
            "keys": [{"key_id": k.key_id, "user_id": k.user_id, "description": k.description,
                      "permissions": k.permissions, "truncated_key": "…" + k.truncated_key}
                     for k in store.keys.values()],
            "webhooks": [{"id": w.id, "name": w.name, "topic": w.topic,
                          "delivery_url": w.delivery_url, "status": w.status,
                          "failure_count": w.failure_count} for w in store.webhooks.values()],
        }


def stats(store: WooStore) -> dict[str, int]:
    """Return object counts."""
    with store.lock:
        shop = store.shop
        statuses: dict[str, int] = {}
        for order in shop.orders:
            status = store.status_of(order.id)
            statuses[status] = statuses.get(status, 0) + 1
        return {"customers": len(shop.customers), "orders": len(shop.orders),
                "products": len(shop.products), "variations": sum(
                    len(p.variants) for p in shop.products if len(p.variants) > 1),
                "refunds": len(shop.refunds), "coupons": len(store.coupons),
                "webhooks": len(store.webhooks), "keys": len(store.keys),
                **{f"orders_{k}": v for k, v in sorted(statuses.items())}}
