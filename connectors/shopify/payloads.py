"""Map Shopify webhook payloads (REST shape) to neutral records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.base import (
    CUSTOMER_OPTIONAL_FIELDS,
    Cart,
    CartLine,
    Customer,
    CustomerConsent,
    CustomerSummary,
    Deletion,
    LineItem,
    Money,
    Order,
    PrivacyRequest,
    Product,
    Refund,
    RefundLineItem,
    Variant,
    shipping_address_key,
)
from connectors.shopify.values import (
    GIFT_CARD_GATEWAY,
    categories,
    consent_state,
    decimal,
    external_id,
    integer,
    location,
    optional_id,
    optional_timestamp,
    require,
    snake_lower,
    tags,
    timestamp,
)

_ZERO = Decimal("0")


def gift_card_gateway_used(payload: dict[str, Any]) -> bool | None:
    """Tell whether an order payload lists the gift card gateway; None when it lists none at all."""
    names = payload.get("payment_gateway_names")
    if not isinstance(names, list):
        return None
    return any(str(name).strip().lower() == GIFT_CARD_GATEWAY for name in names)


def order(payload: dict[str, Any]) -> Order:
    """Return the ``Order`` of an ``orders/*`` payload, with its line items and refunds.

    The payload (the REST order) has no transactions: it names the gateways that took money
    (``payment_gateway_names``) but not how much each took. An order no gift card paid for
    has a known amount of 0; one that lists ``gift_card`` (or no gateways) is unknown, left
    to the next read of the order (see ``webhooks.parse``, which asks for one).
    """
    order_id = external_id(require(payload, "id"))
    currency = require(payload, "currency")
    customer = payload.get("customer") or {}
    return Order(
        external_id=order_id,
        number=str(payload.get("name") or payload.get("order_number") or order_id),
        created_at=timestamp(require(payload, "created_at")),
        updated_at=timestamp(payload.get("updated_at") or payload["created_at"]),
        currency=currency,
        total_price=decimal(require(payload, "total_price")),
        subtotal_price=decimal(payload.get("subtotal_price"), _ZERO),
        total_discounts=decimal(payload.get("total_discounts"), _ZERO),
        total_tax=decimal(payload.get("total_tax"), _ZERO),
        financial_status=snake_lower(payload.get("financial_status")),
        fulfillment_status=snake_lower(payload.get("fulfillment_status")),
        email=payload.get("email") or None,
        customer_external_id=optional_id(customer.get("id")),
        processed_at=optional_timestamp(payload.get("processed_at")),
        cancelled_at=optional_timestamp(payload.get("cancelled_at")),
        is_test=bool(payload.get("test", False)),
        tags=tags(payload.get("tags")),
        discount_codes=tuple(
            str(code["code"]) for code in payload.get("discount_codes") or () if code.get("code")
        ),
        line_items=tuple(_line_item(item) for item in payload.get("line_items") or ()),
        refunds=tuple(refund(item, currency=currency, order_id=order_id)
                      for item in payload.get("refunds") or ()),
        gift_card_amount=_ZERO,
        gift_card_amount_known=gift_card_gateway_used(payload) is False,
        shipping_address_key=_address_key(payload.get("shipping_address")),
        fulfilled_at=_fulfilled_at(payload.get("fulfillments")),
        unknown_fields=frozenset() if isinstance(payload.get("fulfillments"), list)
        else frozenset({"fulfilled_at"}),
    )


def _fulfilled_at(fulfillments: Any) -> Any:
    """Return the creation time of the earliest successful fulfilment of a REST order, or None."""
    if not isinstance(fulfillments, list):
        return None
    times = [timestamp(item["created_at"]) for item in fulfillments
             if isinstance(item, dict) and str(item.get("status") or "").lower() == "success"
             and item.get("created_at")]
    return min(times) if times else None


def _address_key(address: Any) -> str | None:
    """Return the key of a REST address (None for no address)."""
    if not isinstance(address, dict):
        return None
    return shipping_address_key(address.get("address1"), address.get("address2"), address.get("zip"),
                                address.get("country_code"))


def _line_item(item: dict[str, Any]) -> LineItem:
    return LineItem(
        external_id=external_id(require(item, "id")),
        title=str(item.get("title") or ""),
        quantity=integer(require(item, "quantity")),
        unit_price=decimal(require(item, "price")),
        total_discount=decimal(item.get("total_discount"), _ZERO),
        sku=item.get("sku") or None,
        product_external_id=optional_id(item.get("product_id")),
        variant_external_id=optional_id(item.get("variant_id")),
    )


def refund(payload: dict[str, Any], *, currency: str | None = None,
           order_id: str | None = None) -> Refund:
    """Return the ``Refund`` of a ``refunds/create`` payload (or of one inline in an order).

    The amount is the sum of successful refund transactions; a refund without any (e.g. a
    restock-only refund seen before its transaction) falls back to its line subtotals.
    """
    lines = tuple(
        RefundLineItem(
            line_item_external_id=external_id(require(line, "line_item_id")),
            quantity=integer(require(line, "quantity")),
            subtotal=decimal(line.get("subtotal"), _ZERO),
        )
        for line in payload.get("refund_line_items") or ()
    )
    transactions = [
        tx for tx in payload.get("transactions") or ()
        if tx.get("kind") == "refund" and tx.get("status") == "success"
    ]
    if transactions:
        amount = sum((decimal(tx.get("amount")) for tx in transactions), _ZERO)
    else:
        amount = sum((line.subtotal for line in lines), _ZERO)
    if currency is None:
        currency = _refund_currency(payload)
    return Refund(
        external_id=external_id(require(payload, "id")),
        order_external_id=order_id or external_id(require(payload, "order_id")),
        created_at=timestamp(require(payload, "created_at")),
        amount=Money(amount, currency),
        note=payload.get("note") or None,
        line_items=lines,
    )


def _refund_currency(payload: dict[str, Any]) -> str:
    """Return a standalone refund's currency: from its transactions, else its line items."""
    for tx in payload.get("transactions") or ():
        if tx.get("currency"):
            return str(tx["currency"])
    for line in payload.get("refund_line_items") or ():
        money = (line.get("subtotal_set") or {}).get("shop_money") or {}
        if money.get("currency_code"):
            return str(money["currency_code"])
    if payload.get("currency"):
        return str(payload["currency"])
    # The documented refund payload carries no currency: the order's row holds it upstream.
    return ""


def customer(payload: dict[str, Any]) -> Customer:
    """Return the ``Customer`` of a ``customers/create|update`` payload.

    The location is the ``default_address``'s, else that of the address of ``addresses``
    marked default; ``default_address: null`` or an empty ``addresses`` is a customer without
    an address. A payload with neither key leaves the stored location as it is.
    """
    addresses = payload.get("addresses")
    if "default_address" in payload:
        address, known = payload["default_address"], True
    elif isinstance(addresses, list):
        address = next((a for a in addresses if isinstance(a, dict) and a.get("default")), None)
        known = True
    else:
        address, known = None, False
    country, province = location(address)
    return Customer(
        external_id=external_id(require(payload, "id")),
        email=payload.get("email") or None,
        first_name=payload.get("first_name") or None,
        last_name=payload.get("last_name") or None,
        phone=payload.get("phone") or None,
        state=snake_lower(payload.get("state")),
        created_at=optional_timestamp(payload.get("created_at")),
        updated_at=optional_timestamp(payload.get("updated_at")),
        country_code=country,
        province_code=province,
        unknown_fields=frozenset() if known else CUSTOMER_OPTIONAL_FIELDS,
    )


def consent(payload: dict[str, Any]) -> CustomerConsent:
    """Return the ``CustomerConsent`` of a ``customers/email_marketing_consent_update`` payload."""
    details = require(payload, "email_marketing_consent")
    return CustomerConsent(
        customer_external_id=external_id(require(payload, "customer_id")),
        email_marketing_state=consent_state(require(details, "state")) or "not_subscribed",
        consent_updated_at=optional_timestamp(details.get("consent_updated_at")),
        email=payload.get("email_address") or None,
    )


def purchasing_summary(payload: dict[str, Any]) -> CustomerSummary:
    """Return the ``CustomerSummary`` of a ``customers/purchasing_summary`` payload."""
    spent = require(payload, "amount_spent")
    return CustomerSummary(
        customer_external_id=external_id(require(payload, "customer_id")),
        order_count=integer(require(payload, "number_of_orders")),
        total_spent=Money(decimal(require(spent, "amount")), str(require(spent, "currency_code"))),
        updated_at=optional_timestamp(payload.get("updated_at")),
    )


def checkout(payload: dict[str, Any]) -> Cart:
    """Return the ``Cart`` of a ``checkouts/create|update`` payload (keyed by checkout ``id``)."""
    customer_data = payload.get("customer") or {}
    return Cart(
        external_id=external_id(require(payload, "id")),
        updated_at=timestamp(payload.get("updated_at") or require(payload, "created_at")),
        currency=str(require(payload, "currency")),
        total_price=decimal(require(payload, "total_price")),
        created_at=optional_timestamp(payload.get("created_at")),
        completed_at=optional_timestamp(payload.get("completed_at")),
        email=payload.get("email") or None,
        customer_external_id=optional_id(customer_data.get("id")),
        recovery_url=payload.get("abandoned_checkout_url") or None,
        lines=tuple(
            CartLine(
                title=str(line.get("title") or ""),
                quantity=integer(require(line, "quantity")),
                unit_price=decimal(require(line, "price")),
                product_external_id=optional_id(line.get("product_id")),
                variant_external_id=optional_id(line.get("variant_id")),
                sku=line.get("sku") or None,
            )
            for line in payload.get("line_items") or ()
        ),
    )


def product(payload: dict[str, Any]) -> Product:
    """Return the ``Product`` of a ``products/create|update`` payload."""
    unknown = _unknown_product_fields(payload)
    return Product(
        external_id=external_id(require(payload, "id")),
        title=str(payload.get("title") or ""),
        updated_at=timestamp(payload.get("updated_at") or require(payload, "created_at")),
        handle=payload.get("handle") or None,
        status=snake_lower(payload.get("status")),
        vendor=payload.get("vendor") or None,
        product_type=payload.get("product_type") or None,
        tags=tags(payload.get("tags")),
        created_at=optional_timestamp(payload.get("created_at")),
        variants=tuple(
            Variant(
                external_id=external_id(require(variant, "id")),
                title=str(variant.get("title") or ""),
                price=decimal(require(variant, "price")),
                sku=variant.get("sku") or None,
                inventory_quantity=(None if variant.get("inventory_quantity") is None
                                    else integer(variant["inventory_quantity"])),
            )
            for variant in payload.get("variants") or ()
        ),
        image_url=None if "image_url" in unknown else _image_src(payload),
        # The payload has no storefront URL; only an unpublished product (`published_at`
        # null: not on the Online Store) is known to have none.
        url=None,
        categories=() if "categories" in unknown
        else categories((payload.get("category") or {}).get("name"), payload.get("product_type")),
        unknown_fields=unknown,
    )


def _image_src(payload: dict[str, Any]) -> str | None:
    """Return the src of a REST product's featured image (`image`, else the first of `images`)."""
    if "image" in payload:
        image = payload["image"]
    else:
        images = payload.get("images")
        image = images[0] if isinstance(images, list) and images else None
    return (image.get("src") or None) if isinstance(image, dict) else None


def _unknown_product_fields(payload: dict[str, Any]) -> frozenset[str]:
    """Return the optional product fields a REST payload cannot tell.

    The URL only when the product is unpublished; the image without `image` and `images`;
    the categories without `category` (payloads before API 2024-10) or `product_type`.
    """
    unknown = set()
    if not ("published_at" in payload and payload["published_at"] is None):
        unknown.add("url")
    if "image" not in payload and not isinstance(payload.get("images"), list):
        unknown.add("image_url")
    if "category" not in payload or "product_type" not in payload:
        unknown.add("categories")
    return frozenset(unknown)


def deletion(payload: dict[str, Any]) -> Deletion:
    """Return the ``Deletion`` of a ``products/delete`` payload."""
    return Deletion(external_id=external_id(require(payload, "id")))


def privacy_request(payload: dict[str, Any], *, orders_key: str) -> PrivacyRequest:
    """Return the ``PrivacyRequest`` of a compliance payload (``orders_key`` names its order list)."""
    require(payload, "shop_domain")
    person = payload.get("customer") or {}
    request = payload.get("data_request") or {}
    return PrivacyRequest(
        customer_external_id=optional_id(person.get("id")),
        email=person.get("email") or None,
        order_external_ids=tuple(external_id(value) for value in payload.get(orders_key) or ()),
        request_id=optional_id(request.get("id")),
    )
