"""Small read-only views of store data for HTML pages."""

from __future__ import annotations

from ..formats import money
from .shapes.orders import symbol
from .state import WooStore


def display_products(store: WooStore, limit: int = 12) -> list[tuple[str, str, str]]:
    """Return (title, permalink, price) of the newest published products."""
    products = [p for p in store.shop.products if p.status == "ACTIVE" and p.variants]
    products.sort(key=lambda p: (p.created_at, p.id), reverse=True)
    sign = symbol(store.shop.currency)
    return [(p.title, f"{store.url}/product/{p.handle}/",
             f"{money(min(v.price for v in p.variants))} {sign}") for p in products[:limit]]
