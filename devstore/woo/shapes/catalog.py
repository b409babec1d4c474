"""Products and variations in WooCommerce REST v3 shape."""

from __future__ import annotations

import re
from typing import Any

from ...models import Product, ProductImage, Variant
from ...names import VARIANT_OPTIONS
from .. import timefmt
from ..state import WooStore
from .common import links, money

STATUS = {"ACTIVE": "publish", "DRAFT": "draft", "ARCHIVED": "private"}
ATTRIBUTE_NAMES = dict(zip((opts[0] for opts in VARIANT_OPTIONS), ("Size", "Color", "Weight"), strict=True))


def slugify(text: str) -> str:
    """Return a WordPress-like slug."""
    return re.sub(r"[^\w]+", "-", text.lower()).strip("-")


def attribute_name(product: Product) -> str:
    """Return the name of the attribute a variable product varies by."""
    for variant in product.variants:
        for options in VARIANT_OPTIONS:
            if variant.title in options:
                return ATTRIBUTE_NAMES[options[0]]
    return "Option"


def image_path(product: Product, image: ProductImage) -> str:
    """Return the uploads path of an image (`<yyyy>/<mm>/<slug>-<id>.png`, under the month it came)."""
    month = timefmt.gmt(image.created_at) or ""
    return f"{month[:4]}/{month[5:7]}/{product.handle}-{image.id}.png"


def _image(store: WooStore, product: Product) -> Any:
    """Return the product's featured image, or None when it has none."""
    image = product.image
    if image is None:
        return None
    tz = store.shop.timezone
    return {"id": image.id, **timefmt.pair("date_created", image.created_at, tz),
            **timefmt.pair("date_modified", image.created_at, tz),
            "src": f"{store.url}/wp-content/uploads/{image_path(product, image)}",
            "name": f"{product.handle}-{image.id}", "alt": image.alt}


def _terms(store: WooStore, taxonomy: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Return category or tag references."""
    return [{"id": store.term_id(taxonomy, n), "name": n, "slug": slugify(n)}
            for n in names if n]


def _stock_status(quantity: int) -> str:
    """Return the stock status for a quantity."""
    return "instock" if quantity > 0 else "outofstock"


def variation(store: WooStore, v: Variant) -> dict[str, Any]:
    """Return a product variation."""
    tz = store.shop.timezone
    product = v.product
    name = attribute_name(product)
    return {
        "id": v.id, **timefmt.pair("date_created", product.created_at, tz),
        **timefmt.pair("date_modified", v.updated_at, tz), "description": "",
        "permalink": f"{store.url}/product/{product.handle}/?attribute_{slugify(name)}="
                     f"{slugify(v.title)}",
        "sku": v.sku, "price": money(v.price), "regular_price": money(v.price),
        "sale_price": "", "on_sale": False, "status": "publish", "purchasable": True,
        "manage_stock": True, "stock_quantity": v.inventory,
        "stock_status": _stock_status(v.inventory),
        "attributes": [{"id": 0, "name": name, "option": v.title}],
        "image": _image(store, product), "menu_order": product.variants.index(v)
        if v in product.variants else 0, "meta_data": [],
        "_links": links(store, f"products/{product.id}/variations", v.id,
                        up=f"{store.url}/wp-json/wc/v3/products/{product.id}"),
    }


def product(store: WooStore, p: Product) -> dict[str, Any]:
    """Return a product (simple with one variant, variable with several)."""
    tz = store.shop.timezone
    variable = len(p.variants) > 1
    first = p.variants[0] if p.variants else None
    prices = sorted(v.price for v in p.variants)
    body: dict[str, Any] = {
        "id": p.id, "name": p.title, "slug": p.handle,
        "permalink": f"{store.url}/product/{p.handle}/",
        **timefmt.pair("date_created", p.created_at, tz),
        **timefmt.pair("date_modified", p.updated_at, tz),
        "type": "variable" if variable else "simple", "status": STATUS.get(p.status, "publish"),
        "featured": False, "catalog_visibility": "visible", "description": "",
        "short_description": "", "sku": "" if variable or first is None else first.sku,
        "price": money(prices[0]) if prices else "",
        "regular_price": "" if variable or first is None else money(first.price),
        "sale_price": "", "on_sale": False, "purchasable": bool(prices),
        "total_sales": 0, "virtual": False, "downloadable": False, "tax_status": "taxable",
        "tax_class": "", "manage_stock": not variable,
        "stock_quantity": None if variable or first is None else first.inventory,
        "stock_status": _stock_status(sum(v.inventory for v in p.variants)),
        "categories": _terms(store, "product_cat", p.categories),
        "tags": _terms(store, "product_tag", p.tags),
        "images": [image] if (image := _image(store, p)) is not None else [],
        "attributes": [{"id": 0, "name": attribute_name(p), "position": 0, "visible": True,
                        "variation": True, "options": [v.title for v in p.variants]}]
        if variable else [],
        "variations": [v.id for v in p.variants] if variable else [],
        "brands": [{"id": store.term_id("product_brand", p.vendor), "name": p.vendor,
                    "slug": slugify(p.vendor)}] if p.vendor else [],
        "meta_data": [],
    }
    body["_links"] = links(store, "products", p.id)
    return body
