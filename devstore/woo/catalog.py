"""Product changes from the control API and the webhooks they fire."""

from __future__ import annotations

from typing import Any

from ..formats import parse_money
from ..models import Product, ProductImage, Variant
from . import lookup, topics
from .errors import invalid_params
from .hookshot import Hookshot
from .shapes.catalog import product as shape
from .shapes.catalog import slugify
from .state import WooStore, advance, now

STATUS = {"publish": "ACTIVE", "draft": "DRAFT", "private": "ARCHIVED", "pending": "DRAFT"}


def _cents(value: Any, name: str) -> int:
    """Parse a price."""
    try:
        return parse_money(value)
    except ValueError as exc:
        raise invalid_params({name: f"{name} is not a valid price."}) from exc


def _variant(store: WooStore, product: Product, item: dict, at: int) -> Variant:
    """Create a variant from `{option?, regular_price?, sku?, stock_quantity?}`."""
    variant = Variant(store.shop.next_id("ProductVariant"), product,
                      str(item.get("option", "Default Title")), str(item.get("sku", "")),
                      _cents(item.get("regular_price", "10.00"), "regular_price"),
                      int(item.get("stock_quantity", 0)), at)
    product.variants.append(variant)
    store.shop.variants[variant.id] = variant
    return variant


def _categories(body: dict) -> tuple[str, ...] | None:
    """Read `categories: [names]` or `category: name`; None when the body names none."""
    if "categories" in body:
        names = body["categories"]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise invalid_params({"categories": "categories must be a list of names."})
        return tuple(dict.fromkeys(n.strip() for n in names))
    if "category" in body:
        return (str(body["category"]),)
    return None


def _apply(store: WooStore, product: Product, body: dict, at: int) -> None:
    """Apply name, status, categories, image, price, sku and stock of a simple product."""
    if "name" in body:
        product.title = str(body["name"])
    if "status" in body:
        if body["status"] not in STATUS:
            raise invalid_params({"status": "status is not one of publish, draft, private."})
        product.status = STATUS[body["status"]]
    categories = _categories(body)
    if categories is not None:
        # WooCommerce files a product in none as "Uncategorized" (the default category).
        product.categories = categories or ("Uncategorized",)
        product.product_type = product.categories[0]
    if "image" in body:
        if body["image"] is None:
            product.image = None
        elif body["image"] is True:
            product.image = ProductImage(store.shop.next_id("MediaImage"), at, product.title)
        else:
            raise invalid_params({"image": "image must be true (a new image) or null (none)."})
    if product.variants and len(product.variants) == 1:
        variant = product.variants[0]
        if "regular_price" in body:
            variant.price = _cents(body["regular_price"], "regular_price")
        if "sku" in body:
            variant.sku = str(body["sku"])
        if "stock_quantity" in body:
            variant.inventory = int(body["stock_quantity"])
        variant.updated_at = at


def create(hookshot: Hookshot, store: WooStore, body: dict) -> dict:
    """Create a product; `variations: [{option, regular_price, sku}]` makes it variable."""
    if not body.get("name"):
        raise invalid_params({"name": "name is required."})
    at = now()
    with store.lock:
        shop = store.shop
        name = str(body["name"])
        product = Product(shop.next_id("Product"), name, body.get("slug") or slugify(name),
                          str(body.get("vendor", "")), str(body.get("category", "Uncategorized")),
                          tuple(body.get("tags", ())), at)
        for item in body.get("variations") or [{k: body[k] for k in (
                "regular_price", "sku", "stock_quantity") if k in body}]:
            _variant(store, product, item, at)
        _apply(store, product, {"image": True, **{k: v for k, v in body.items()
                                                 if k in ("status", "categories", "image")}}, at)
        shop.products.add(product)
        payload = shape(store, product)
    topics.fire(hookshot, store, "product.created", product.id, payload)
    return payload


def update(hookshot: Hookshot, store: WooStore, product_id: Any, body: dict) -> dict:
    """Update a product (product.updated)."""
    with store.lock:
        product = lookup.product(store, product_id)
        product.updated_at = advance(product.updated_at)
        _apply(store, product, body, product.updated_at)
        store.shop.products.touched()
        payload = shape(store, product)
    topics.fire(hookshot, store, "product.updated", product.id, payload)
    return payload


def delete(hookshot: Hookshot, store: WooStore, product_id: Any) -> dict:
    """Delete a product for good (product.deleted with only the id)."""
    with store.lock:
        product = lookup.product(store, product_id)
        payload = shape(store, product)
        product.deleted = True
        store.shop.products.remove(product.id)
        for variant in product.variants:
            store.shop.variants.pop(variant.id, None)
    topics.fire(hookshot, store, "product.deleted", product.id, {"id": product.id})
    return payload
