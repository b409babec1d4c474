"""Field getters: how each GraphQL field reads the in-memory objects.

Both the graphql-core resolvers and the bulk-operation writer use these, so a field
reads the same in a page query and in a JSONL file. A getter takes (obj, args, ctx).
Connection fields return a list or `Source`; paging is applied by the caller.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import commerce, payloads, taxonomy
from ..formats import gid, iso_utc, money
from ..models import (
    Checkout,
    Customer,
    Fulfillment,
    LineItem,
    Order,
    Product,
    ProductImage,
    Refund,
    RefundLine,
    Variant,
)
from ..shopstate import ShopState, Subscription
from . import search
from .context import Ctx
from .pagination import Source

Getter = Callable[[Any, dict, Ctx], Any]
TOPIC_ENUM = {
    "ORDERS_CREATE": "orders/create", "ORDERS_UPDATED": "orders/updated",
    "ORDERS_PAID": "orders/paid", "ORDERS_CANCELLED": "orders/cancelled",
    "REFUNDS_CREATE": "refunds/create", "CUSTOMERS_CREATE": "customers/create",
    "CUSTOMERS_UPDATE": "customers/update",
    "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE": "customers/email_marketing_consent_update",
    "CUSTOMERS_PURCHASING_SUMMARY": "customers/purchasing_summary",
    "CHECKOUTS_CREATE": "checkouts/create", "CHECKOUTS_UPDATE": "checkouts/update",
    "PRODUCTS_CREATE": "products/create", "PRODUCTS_UPDATE": "products/update",
    "PRODUCTS_DELETE": "products/delete", "APP_UNINSTALLED": "app/uninstalled",
    "ORDERS_FULFILLED": "orders/fulfilled",
}
TOPIC_NAME = {v: k for k, v in TOPIC_ENUM.items()}


def _bag(cents: int, ctx: Ctx) -> tuple[int, str]:
    """Return the MoneyBag/MoneyV2 representation: (cents, currency)."""
    return (cents, ctx.shop.currency)


def _variant(v: Variant | None) -> Variant | None:
    """Return the variant unless its product was deleted."""
    return None if v is None or v.product.deleted else v


def _line_name(li: LineItem) -> str:
    """Return the `Product - Variant` line name."""
    title = li.variant.title
    base = li.variant.product.title
    return base if title == "Default Title" else f"{base} - {title}"


GATEWAY_TITLES = {commerce.GIFT_CARD_GATEWAY: "Gift card",
                  commerce.CARD_GATEWAY: "(For Testing) Bogus Gateway"}


def _transactions(order: Order, args: dict) -> list:
    """Return an order's transactions, filtered as `capturable` asks (`manuallyResolvable` never)."""
    found = commerce.transactions(order)
    if args.get("capturable"):
        closed = {t.parent_id for t in found if t.kind in ("CAPTURE", "VOID")}
        found = [t for t in found if t.kind == "AUTHORIZATION" and t.status == "SUCCESS"
                 and t.id not in closed]
    if args.get("manuallyResolvable"):
        found = []
    return found


def _first(items: list, args: dict) -> list:
    """Apply an optional `first` to a plain list field."""
    first = args.get("first")
    return items if first is None else items[:first]


_MEDIA: dict[str, Getter] = {
    "id": lambda o, a, c: gid("MediaImage", o.id),
    "alt": lambda o, a, c: o.alt or None,
    "mediaContentType": lambda o, a, c: "IMAGE",
    "preview": lambda o, a, c: o,
    "status": lambda o, a, c: "READY",
    "image": lambda o, a, c: o,
    "createdAt": lambda o, a, c: iso_utc(o.created_at),
    "updatedAt": lambda o, a, c: iso_utc(o.created_at),
}

FIELDS: dict[str, dict[str, Getter]] = {
    "MoneyBag": {
        "shopMoney": lambda o, a, c: o,
        "presentmentMoney": lambda o, a, c: o,
    },
    "MoneyV2": {
        "amount": lambda o, a, c: money(o[0]),
        "currencyCode": lambda o, a, c: o[1],
    },
    "Shop": {
        "id": lambda s, a, c: gid("Shop", s.id),
        "name": lambda s, a, c: s.name,
        "myshopifyDomain": lambda s, a, c: s.domain,
        "currencyCode": lambda s, a, c: s.currency,
        "ianaTimezone": lambda s, a, c: s.timezone,
        "email": lambda s, a, c: s.email,
    },
    "Customer": {
        "id": lambda o, a, c: gid("Customer", o.id),
        "firstName": lambda o, a, c: o.first_name,
        "lastName": lambda o, a, c: o.last_name,
        "displayName": lambda o, a, c: f"{o.first_name or ''} {o.last_name or ''}".strip()
        or (o.email or ""),
        "defaultEmailAddress": lambda o, a, c: o if o.email else None,
        "defaultPhoneNumber": lambda o, a, c: o if o.phone else None,
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
        "state": lambda o, a, c: o.state,
        "tags": lambda o, a, c: list(o.tags),
        "numberOfOrders": lambda o, a, c: str(o.orders_count),
        "amountSpent": lambda o, a, c: _bag(o.spent, c),
        "emailMarketingConsent": lambda o, a, c: o if o.email else None,
        "defaultAddress": lambda o, a, c: o.default_address,
    },
    "CustomerEmailAddress": {
        "emailAddress": lambda o, a, c: o.email,
        "marketingState": lambda o, a, c: o.marketing_state,
    },
    "CustomerPhoneNumber": {"phoneNumber": lambda o, a, c: o.phone},
    "CustomerEmailMarketingConsentState": {
        "marketingState": lambda o, a, c: o.marketing_state,
        "marketingOptInLevel": lambda o, a, c:
            "SINGLE_OPT_IN" if o.marketing_state == "SUBSCRIBED" else None,
        "consentUpdatedAt": lambda o, a, c: iso_utc(o.consent_updated_at),
    },
    "Product": {
        "id": lambda o, a, c: gid("Product", o.id),
        "title": lambda o, a, c: o.title,
        "handle": lambda o, a, c: o.handle,
        "status": lambda o, a, c: o.status,
        "vendor": lambda o, a, c: o.vendor,
        "productType": lambda o, a, c: o.product_type,
        "tags": lambda o, a, c: list(o.tags),
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
        "variants": lambda o, a, c: o.variants,
        "featuredMedia": lambda o, a, c: o.image,
        "featuredImage": lambda o, a, c: o.image,
        "onlineStoreUrl": lambda o, a, c: payloads.online_store_url(c.shop, o),
        "category": lambda o, a, c: taxonomy.of(o.category),
    },
    # A product's featured image stands for its MediaImage, its preview and its Image.
    "MediaImage": _MEDIA,
    "Media": {name: _MEDIA[name] for name in ("id", "alt", "mediaContentType", "preview", "status")},
    "MediaPreviewImage": {
        "image": lambda o, a, c: o,
        "status": lambda o, a, c: "READY",
    },
    "Image": {
        "id": lambda o, a, c: gid("ImageSource", o.id),
        "altText": lambda o, a, c: o.alt or None,
        "url": lambda o, a, c: payloads.image_src(c.shop, o),
        "width": lambda o, a, c: ProductImage.WIDTH,
        "height": lambda o, a, c: ProductImage.HEIGHT,
    },
    "TaxonomyCategory": {
        "id": lambda o, a, c: o.gid,
        "name": lambda o, a, c: o.name,
        "fullName": lambda o, a, c: o.full_name,
        "isLeaf": lambda o, a, c: True,
    },
    "Fulfillment": {
        "id": lambda o, a, c: gid("Fulfillment", o.id),
        "name": lambda o, a, c: o.name,
        "status": lambda o, a, c: o.status,
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
        "deliveredAt": lambda o, a, c: None,
        "inTransitAt": lambda o, a, c: None,
        "totalQuantity": lambda o, a, c: sum(li.quantity for li in o.order.line_items),
    },
    "ProductVariant": {
        "id": lambda o, a, c: gid("ProductVariant", o.id),
        "title": lambda o, a, c: o.title,
        "sku": lambda o, a, c: o.sku,
        "price": lambda o, a, c: money(o.price),
        "inventoryQuantity": lambda o, a, c: o.inventory,
        "product": lambda o, a, c: o.product,
        "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
    },
    "Order": {
        "id": lambda o, a, c: gid("Order", o.id),
        "name": lambda o, a, c: o.name,
        "email": lambda o, a, c: o.email,
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
        "processedAt": lambda o, a, c: iso_utc(o.created_at),
        "cancelledAt": lambda o, a, c: iso_utc(o.cancelled_at),
        "displayFinancialStatus": lambda o, a, c: o.financial_status,
        "displayFulfillmentStatus": lambda o, a, c: o.fulfillment_status,
        "currencyCode": lambda o, a, c: c.shop.currency,
        "test": lambda o, a, c: o.test,
        "tags": lambda o, a, c: list(o.tags),
        "customer": lambda o, a, c: o.customer,
        "discountCodes": lambda o, a, c: [o.discount_code] if o.discount_code else [],
        "totalPriceSet": lambda o, a, c: _bag(o.total, c),
        "subtotalPriceSet": lambda o, a, c: _bag(o.subtotal, c),
        "totalDiscountsSet": lambda o, a, c: _bag(o.discount, c),
        "totalTaxSet": lambda o, a, c: _bag(o.tax, c),
        "totalShippingPriceSet": lambda o, a, c: _bag(o.shipping, c),
        "currentTotalPriceSet": lambda o, a, c: _bag(o.total - o.refunded(), c),
        "totalRefundedSet": lambda o, a, c: _bag(o.refunded(), c),
        "lineItems": lambda o, a, c: o.line_items,
        "refunds": lambda o, a, c: _first(o.refunds or [], a),
        "shippingAddress": lambda o, a, c: o.shipping_address,
        "transactions": lambda o, a, c: _first(_transactions(o, a), a),
        "transactionsCount": lambda o, a, c: {"count": len(commerce.transactions(o))},
        "fulfillments": lambda o, a, c: _first(o.fulfillments or [], a),
        "fulfillmentsCount": lambda o, a, c: {"count": len(o.fulfillments or ())},
    },
    "MailingAddress": {
        "firstName": lambda o, a, c: o.first_name or None,
        "lastName": lambda o, a, c: o.last_name or None,
        "name": lambda o, a, c: f"{o.first_name} {o.last_name}".strip() or None,
        "address1": lambda o, a, c: o.address1 or None,
        "address2": lambda o, a, c: o.address2 or None,
        "city": lambda o, a, c: o.city or None,
        "provinceCode": lambda o, a, c: o.province_code or None,
        "zip": lambda o, a, c: o.zip or None,
        "country": lambda o, a, c: payloads.COUNTRY_NAMES.get(o.country_code, o.country_code) or None,
        "countryCodeV2": lambda o, a, c: o.country_code or None,
    },
    "OrderTransaction": {
        "id": lambda o, a, c: gid("OrderTransaction", o.id),
        "kind": lambda o, a, c: o.kind,
        "status": lambda o, a, c: o.status,
        "gateway": lambda o, a, c: o.gateway,
        "formattedGateway": lambda o, a, c: GATEWAY_TITLES.get(o.gateway, o.gateway),
        "amountSet": lambda o, a, c: _bag(o.amount, c),
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "processedAt": lambda o, a, c: iso_utc(o.created_at),
    },
    "Count": {"count": lambda o, a, c: o["count"]},
    "LineItem": {
        "id": lambda o, a, c: gid("LineItem", o.id),
        "title": lambda o, a, c: o.variant.product.title,
        "name": lambda o, a, c: _line_name(o),
        "quantity": lambda o, a, c: o.quantity,
        "sku": lambda o, a, c: o.variant.sku,
        "variant": lambda o, a, c: _variant(o.variant),
        "product": lambda o, a, c: None if o.variant.product.deleted else o.variant.product,
        "originalUnitPriceSet": lambda o, a, c: _bag(o.price, c),
        "discountedTotalSet": lambda o, a, c: _bag(o.discounted_total, c),
        "totalDiscountSet": lambda o, a, c: _bag(o.discount, c),
    },
    "Refund": {
        "id": lambda o, a, c: gid("Refund", o.id),
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "note": lambda o, a, c: o.note,
        "totalRefundedSet": lambda o, a, c: _bag(o.amount, c),
        "refundLineItems": lambda o, a, c: o.lines,
    },
    "RefundLineItem": {
        "id": lambda o, a, c: gid("RefundLineItem", o.id),
        "lineItem": lambda o, a, c: o.line_item,
        "quantity": lambda o, a, c: o.quantity,
        "subtotalSet": lambda o, a, c: _bag(o.subtotal, c),
        "totalTaxSet": lambda o, a, c: _bag(o.tax, c),
    },
    "AbandonedCheckout": {
        "id": lambda o, a, c: gid("AbandonedCheckout", o.id),
        "abandonedCheckoutUrl": lambda o, a, c: payloads.checkout_url(c.shop, o),
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "updatedAt": lambda o, a, c: iso_utc(o.updated_at),
        "completedAt": lambda o, a, c: iso_utc(o.completed_at),
        "customer": lambda o, a, c: o.customer,
        "totalPriceSet": lambda o, a, c: _bag(o.total, c),
        "lineItems": lambda o, a, c: o.line_items,
    },
    "AbandonedCheckoutLineItem": {
        "id": lambda o, a, c: gid("AbandonedCheckoutLineItem", o.id),
        "title": lambda o, a, c: o.variant.product.title,
        "quantity": lambda o, a, c: o.quantity,
        "sku": lambda o, a, c: o.variant.sku,
        "variant": lambda o, a, c: _variant(o.variant),
        "product": lambda o, a, c: None if o.variant.product.deleted else o.variant.product,
        "originalUnitPriceSet": lambda o, a, c: _bag(o.price, c),
    },
    "WebhookSubscription": {
        "id": lambda o, a, c: gid("WebhookSubscription", o.id),
        "topic": lambda o, a, c: TOPIC_NAME.get(o.topic, o.topic),
        "uri": lambda o, a, c: o.uri,
        "format": lambda o, a, c: "JSON",
        "apiVersion": lambda o, a, c: o.api_version,
        "createdAt": lambda o, a, c: iso_utc(o.created_at),
        "updatedAt": lambda o, a, c: iso_utc(o.created_at),
    },
}

NODE_TYPES: dict[type, str] = {
    ShopState: "Shop", Customer: "Customer", Order: "Order", Product: "Product",
    Variant: "ProductVariant", LineItem: "LineItem", Refund: "Refund",
    RefundLine: "RefundLineItem", Checkout: "AbandonedCheckout",
    Subscription: "WebhookSubscription", commerce.Transaction: "OrderTransaction",
    ProductImage: "MediaImage", Fulfillment: "Fulfillment",
    taxonomy.TaxonomyCategory: "TaxonomyCategory",
}

_TIME = {"updated_at": lambda o: o.updated_at, "created_at": lambda o: o.created_at,
         "id": lambda o: o.id}
ROOTS: dict[str, tuple[str, dict[str, Callable[[Any], Any]], Callable[[Any], str]]] = {
    "customers": ("customers", {
        **_TIME, "email": lambda o: o.email, "state": lambda o: o.state,
        "first_name": lambda o: o.first_name, "last_name": lambda o: o.last_name,
        "phone": lambda o: o.phone,
    }, lambda o: f"{o.first_name} {o.last_name} {o.email or ''}"),
    "orders": ("orders", {
        **_TIME, "processed_at": lambda o: o.created_at, "email": lambda o: o.email,
        "name": lambda o: o.name, "financial_status": lambda o: o.financial_status,
        "fulfillment_status": lambda o: o.fulfillment_status,
        "customer_id": lambda o: o.customer.id if o.customer else None,
        "status": lambda o: "cancelled" if o.cancelled_at else "open",
        "test": lambda o: str(o.test).lower(),
    }, lambda o: f"{o.name} {o.email or ''}"),
    "products": ("products", {
        **_TIME, "title": lambda o: o.title, "status": lambda o: o.status,
        "handle": lambda o: o.handle, "vendor": lambda o: o.vendor,
        "product_type": lambda o: o.product_type,
    }, lambda o: f"{o.title} {o.vendor}"),
    "abandonedCheckouts": ("checkouts", {
        **_TIME, "email": lambda o: o.email, "completed_at": lambda o: o.completed_at,
    }, lambda o: o.email or ""),
}
SORT_FIELD = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at",
              "PROCESSED_AT": "created_at"}


def root_source(ctx: Ctx, root: str, args: dict) -> Source:
    """Return the sorted, filtered Source behind a root connection."""
    collection_name, extractors, text = ROOTS[root]
    collection = getattr(ctx.shop, collection_name)
    sort_key = args.get("sortKey") or "ID"
    with ctx.shop.lock:
        items, keys = collection.view(sort_key)
    terms = search.parse(args.get("query"))
    source = Source(items, keys, search.build(terms, extractors, text))
    field = SORT_FIELD.get(sort_key)
    if field:
        low, high = search.bounds(terms, "updated_at" if field == "updated_at" else field)
        if sort_key == "PROCESSED_AT":
            low2, high2 = search.bounds(terms, "processed_at")
            low = low2 if low is None else (low if low2 is None else max(low, low2))
            high = high2 if high is None else (high if high2 is None else min(high, high2))
        source.low = (low,) if low is not None else None
        source.high = (high,) if high is not None else None
    return source


def _root(name: str) -> Getter:
    """Return the getter of a root connection."""
    return lambda o, a, c: root_source(c, name, a)


FIELDS["QueryRoot"] = {
    "shop": lambda o, a, c: c.shop,
    "customers": _root("customers"),
    "orders": _root("orders"),
    "products": _root("products"),
    "abandonedCheckouts": _root("abandonedCheckouts"),
}
