"""REST-shaped JSON of store objects, as sent in webhooks."""

from __future__ import annotations

from typing import Any, Optional

from . import taxonomy
from .commerce import refund_legs, transactions
from .formats import gid, iso_local, money
from .models import (
    Address,
    Checkout,
    Customer,
    Fulfillment,
    LineItem,
    Order,
    Product,
    ProductImage,
    Refund,
    Variant,
)
from .shopstate import ShopState

FULFILLMENT_REST = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}
COUNTRY_NAMES = {"US": "United States", "CA": "Canada", "GB": "United Kingdom", "DE": "Germany",
                 "FR": "France", "AT": "Austria", "NL": "Netherlands", "AU": "Australia"}


def customer(shop: ShopState, c: Customer) -> dict[str, Any]:
    """Return the customer payload (2025-01+ shape)."""
    return {
        "id": c.id, "admin_graphql_api_id": gid("Customer", c.id), "email": c.email,
        "first_name": c.first_name, "last_name": c.last_name, "phone": c.phone,
        "state": c.state.lower(), "created_at": iso_local(c.created_at, shop.timezone),
        "updated_at": iso_local(c.updated_at, shop.timezone),
        "verified_email": c.verified_email, "currency": shop.currency,
        "default_address": _default_address(c),
        "addresses": [_default_address(c)] if c.default_address is not None else [],
    }


def _default_address(c: Customer) -> Optional[dict[str, Any]]:
    """Return a customer's `default_address` (a REST customer address; null without one)."""
    a = c.default_address
    if a is None:
        return None
    return {"id": c.id, "customer_id": c.id, **(address(a) or {}), "province": a.province_code or None,
            "country_name": COUNTRY_NAMES.get(a.country_code, a.country_code), "default": True}


def _order_customer(shop: ShopState, c: Optional[Customer]) -> Optional[dict[str, Any]]:
    """Return the customer summary embedded in orders and checkouts."""
    return customer(shop, c) if c is not None else None


def line_item(li: LineItem) -> dict[str, Any]:
    """Return an order line item payload."""
    variant = li.variant
    return {
        "id": li.id, "admin_graphql_api_id": gid("LineItem", li.id),
        "product_id": variant.product.id, "variant_id": variant.id,
        "title": variant.product.title, "variant_title": variant.title,
        "quantity": li.quantity, "price": money(li.price), "sku": variant.sku,
        "total_discount": money(li.discount),
    }


def refund(shop: ShopState, r: Refund) -> dict[str, Any]:
    """Return a refund payload."""
    return {
        "id": r.id, "admin_graphql_api_id": gid("Refund", r.id), "order_id": r.order.id,
        "created_at": iso_local(r.created_at, shop.timezone), "note": r.note,
        "refund_line_items": [
            {"id": rl.id, "line_item_id": rl.line_item.id, "quantity": rl.quantity,
             "subtotal": money(rl.subtotal), "total_tax": money(rl.tax),
             "line_item": line_item(rl.line_item)}
            for rl in r.lines],
        "transactions": [
            {"id": transaction_id, "order_id": r.order.id, "amount": money(cents),
             "kind": "refund", "status": "success", "gateway": gateway, "currency": shop.currency}
            for transaction_id, gateway, cents in refund_legs(r)],
    }


def address(a: Optional[Address]) -> Optional[dict[str, Any]]:
    """Return a REST mailing address (`shipping_address` of an order)."""
    if a is None:
        return None
    return {"first_name": a.first_name, "last_name": a.last_name,
            "name": f"{a.first_name} {a.last_name}".strip(), "company": None,
            "address1": a.address1, "address2": a.address2 or None, "city": a.city,
            "province_code": a.province_code or None, "zip": a.zip,
            "country": COUNTRY_NAMES.get(a.country_code, a.country_code), "country_code": a.country_code,
            "phone": None}


def fulfillment(shop: ShopState, f: Fulfillment) -> dict[str, Any]:
    """Return a fulfillment as the REST order carries it (every line ships in one go)."""
    tz = shop.timezone
    return {"id": f.id, "admin_graphql_api_id": gid("Fulfillment", f.id), "order_id": f.order.id,
            "name": f.name, "status": f.status.lower(), "service": "manual", "shipment_status": None,
            "location_id": None, "tracking_company": None, "tracking_number": None,
            "tracking_numbers": [], "tracking_url": None, "tracking_urls": [],
            "created_at": iso_local(f.created_at, tz), "updated_at": iso_local(f.updated_at, tz),
            "line_items": [line_item(li) for li in f.order.line_items]}


def gateway_names(o: Order) -> list[str]:
    """Return the gateways an order's payments went through, in the order they were first used."""
    return list(dict.fromkeys(t.gateway for t in transactions(o) if t.kind != "REFUND"))


def order(shop: ShopState, o: Order) -> dict[str, Any]:
    """Return an order payload."""
    tz = shop.timezone
    refunded = o.refunded()
    return {
        "id": o.id, "admin_graphql_api_id": gid("Order", o.id), "name": o.name,
        "order_number": o.number, "email": o.email, "contact_email": o.email,
        "created_at": iso_local(o.created_at, tz), "updated_at": iso_local(o.updated_at, tz),
        "processed_at": iso_local(o.created_at, tz), "cancelled_at": iso_local(o.cancelled_at, tz),
        "financial_status": o.financial_status.lower(),
        "fulfillment_status": FULFILLMENT_REST.get(o.fulfillment_status),
        "currency": shop.currency, "total_price": money(o.total),
        "subtotal_price": money(o.subtotal), "total_discounts": money(o.discount),
        "total_tax": money(o.tax), "total_shipping_price": money(o.shipping),
        "current_total_price": money(o.total - refunded), "test": o.test,
        "tags": ", ".join(o.tags),
        "discount_codes": ([{"code": o.discount_code, "amount": money(o.discount),
                             "type": "percentage"}] if o.discount_code else []),
        "customer": _order_customer(shop, o.customer),
        "line_items": [line_item(li) for li in o.line_items],
        "refunds": [refund(shop, r) for r in o.refunds or ()],
        # The REST order names the gateways but carries no transactions (they have their own
        # endpoint and topic).
        "payment_gateway_names": gateway_names(o),
        "shipping_address": address(o.shipping_address),
        "fulfillments": [fulfillment(shop, f) for f in o.fulfillments or ()],
        "checkout_id": o.checkout.id if o.checkout else None,
        "checkout_token": o.checkout.token if o.checkout else None,
    }


def checkout(shop: ShopState, c: Checkout) -> dict[str, Any]:
    """Return a checkout payload."""
    tz = shop.timezone
    return {
        "id": c.id, "token": c.token, "cart_token": c.token[:24], "email": c.email,
        "created_at": iso_local(c.created_at, tz), "updated_at": iso_local(c.updated_at, tz),
        "completed_at": iso_local(c.completed_at, tz),
        "abandoned_checkout_url": checkout_url(shop, c), "currency": shop.currency,
        "total_price": money(c.total), "subtotal_price": money(c.total),
        "customer": _order_customer(shop, c.customer),
        "line_items": [
            {"variant_id": li.variant.id, "product_id": li.variant.product.id,
             "title": li.variant.product.title, "variant_title": li.variant.title,
             "quantity": li.quantity, "price": money(li.price), "sku": li.variant.sku}
            for li in c.line_items],
    }


def checkout_url(shop: ShopState, c: Checkout) -> str:
    """Return the customer-facing recovery URL of a checkout."""
    return f"https://{shop.domain}/{shop.id}/checkouts/{c.token}/recover?key={c.token[:16]}"


def variant(shop: ShopState, v: Variant) -> dict[str, Any]:
    """Return a variant payload."""
    return {"id": v.id, "admin_graphql_api_id": gid("ProductVariant", v.id),
            "product_id": v.product.id, "title": v.title, "price": money(v.price),
            "sku": v.sku, "inventory_quantity": v.inventory,
            "updated_at": iso_local(v.updated_at, shop.timezone)}


def image_src(shop: ShopState, image: ProductImage) -> str:
    """Return the URL devstore serves an image at (Shopify's CDN stands behind the real one)."""
    return f"{shop.origin()}/cdn/shops/{shop.short_name}/files/{image.id}.png"


def product_image(shop: ShopState, p: Product) -> Optional[dict[str, Any]]:
    """Return the REST image of a product (its `admin_graphql_api_id` is a MediaImage, as since 2025-01)."""
    image = p.image
    if image is None:
        return None
    tz = shop.timezone
    return {"id": image.id, "alt": image.alt or None, "position": 1, "product_id": p.id,
            "created_at": iso_local(image.created_at, tz), "updated_at": iso_local(image.created_at, tz),
            "admin_graphql_api_id": gid("MediaImage", image.id), "width": ProductImage.WIDTH,
            "height": ProductImage.HEIGHT, "src": image_src(shop, image), "variant_ids": []}


def product_category(p: Product) -> Optional[dict[str, Any]]:
    """Return the trimmed taxonomy category product webhooks carry (2024-10 and later)."""
    category = taxonomy.of(p.category)
    if category is None:
        return None
    return {"admin_graphql_api_id": category.gid, "name": category.name, "full_name": category.full_name}


def online_store_url(shop: ShopState, p: Product) -> Optional[str]:
    """Return the product's page on the storefront; None unless it is active and published."""
    if p.deleted or p.status != "ACTIVE" or p.published_at is None:
        return None
    return f"https://{shop.domain}/products/{p.handle}"


def product(shop: ShopState, p: Product) -> dict[str, Any]:
    """Return a product payload."""
    tz = shop.timezone
    image = product_image(shop, p)
    return {
        "id": p.id, "admin_graphql_api_id": gid("Product", p.id), "title": p.title,
        "handle": p.handle, "status": p.status.lower(), "vendor": p.vendor,
        "product_type": p.product_type, "tags": ", ".join(p.tags),
        "created_at": iso_local(p.created_at, tz), "updated_at": iso_local(p.updated_at, tz),
        "published_at": iso_local(p.published_at, tz), "published_scope": "global",
        "variants": [variant(shop, v) for v in p.variants],
        "image": image, "images": [image] if image else [],
        "category": product_category(p),
    }


def shop_payload(shop: ShopState) -> dict[str, Any]:
    """Return the shop payload (app/uninstalled)."""
    return {"id": shop.id, "name": shop.name, "email": shop.email, "domain": shop.domain,
            "myshopify_domain": shop.domain, "currency": shop.currency,
            "iana_timezone": shop.timezone, "primary_locale": shop.locale,
            "created_at": iso_local(shop.created_at, shop.timezone)}


def purchasing_summary(shop: ShopState, c: Customer) -> dict[str, Any]:
    """Return the customers/purchasing_summary payload."""
    last = c.last_order
    return {"customer_id": c.id, "number_of_orders": c.orders_count,
            "amount_spent": {"amount": money(c.spent), "currency_code": shop.currency},
            "last_order_id": last.id if last else None,
            "last_order_date": iso_local(last.created_at, shop.timezone) if last else None,
            "updated_at": iso_local(c.updated_at, shop.timezone)}


def consent(shop: ShopState, c: Customer) -> dict[str, Any]:
    """Return the customers/email_marketing_consent_update payload."""
    return {"customer_id": c.id, "email_address": c.email,
            "email_marketing_consent": {
                "state": c.marketing_state.lower(), "opt_in_level": "single_opt_in",
                "consent_updated_at": iso_local(c.consent_updated_at, shop.timezone)}}
