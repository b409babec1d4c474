"""Map GraphQL nodes (from pages and from bulk JSONL alike) to neutral records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.base import (
    CUSTOMER_OPTIONAL_FIELDS,
    Cart,
    CartLine,
    Customer,
    LineItem,
    Money,
    Order,
    Product,
    Refund,
    RefundLineItem,
    TerminalError,
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
    snake_lower,
    tags,
    timestamp,
)

_ZERO = Decimal("0")
_PAID_KINDS = frozenset({"SALE", "CAPTURE"})  # money taken; an authorization is only a promise


def nodes(connection: Any) -> list[dict[str, Any]]:
    """Return the nodes of a connection given as ``{nodes}``, ``{edges {node}}`` or a list."""
    if not connection:
        return []
    if isinstance(connection, list):
        return connection
    found = connection.get("nodes")
    if found is not None:
        return found
    return [edge["node"] for edge in connection.get("edges") or ()]


def is_complete(connection: Any) -> bool:
    """Tell whether a nested connection holds all its nodes (no further page announced)."""
    if not isinstance(connection, dict):
        return True
    return not (connection.get("pageInfo") or {}).get("hasNextPage", False)


def _amount(bag: Any, default: Decimal | None = _ZERO) -> Decimal:
    """Return the shop-currency amount of a ``MoneyBag``."""
    if not bag:
        if default is None:
            raise KeyError("shopMoney")
        return default
    money = bag.get("shopMoney") or bag
    return decimal(money.get("amount"), default)


def _currency(bag: Any) -> str | None:
    if not bag:
        return None
    money = bag.get("shopMoney") or bag
    return money.get("currencyCode")


def _ref(obj: Any) -> str | None:
    """Return the numeric id of a ``{id}`` reference object, or ``None``."""
    return optional_id(obj.get("id")) if obj else None


def customer(node: dict[str, Any]) -> Customer:
    """Return the ``Customer`` of a GraphQL ``Customer`` node.

    ``defaultAddress: null`` is a customer without an address; a node that lacks the field
    leaves the stored location as it is.
    """
    email_address = node.get("defaultEmailAddress") or {}
    phone = node.get("defaultPhoneNumber") or {}
    consent = node.get("emailMarketingConsent") or {}
    spent = node.get("amountSpent")
    count = node.get("numberOfOrders")
    country, province = location(node.get("defaultAddress"))
    return Customer(
        external_id=external_id(node["id"]),
        email=email_address.get("emailAddress") or node.get("email") or None,
        first_name=node.get("firstName") or None,
        last_name=node.get("lastName") or None,
        phone=phone.get("phoneNumber") or None,
        state=snake_lower(node.get("state")),
        created_at=optional_timestamp(node.get("createdAt")),
        updated_at=optional_timestamp(node.get("updatedAt")),
        tags=tags(node.get("tags")) if "tags" in node else None,
        email_marketing_state=consent_state(
            consent.get("marketingState") or email_address.get("marketingState")),
        consent_updated_at=optional_timestamp(consent.get("consentUpdatedAt")),
        order_count=None if count is None else integer(count),
        total_spent=(Money(decimal(spent.get("amount")), str(spent.get("currencyCode")))
                     if spent else None),
        country_code=country,
        province_code=province,
        unknown_fields=frozenset() if "defaultAddress" in node else CUSTOMER_OPTIONAL_FIELDS,
    )


def order(node: dict[str, Any]) -> Order:
    """Return the ``Order`` of a GraphQL ``Order`` node, with line items and refunds."""
    order_id = external_id(node["id"])
    total_bag = node.get("totalPriceSet")
    currency = node.get("currencyCode") or _currency(total_bag)
    if not currency:
        raise KeyError("currencyCode")
    gift_card_amount, gift_card_known = _gift_cards(node)
    fulfilled_at, fulfilled_known = _fulfilled_at(node)
    return Order(
        external_id=order_id,
        number=str(node.get("name") or order_id),
        created_at=timestamp(node["createdAt"]),
        updated_at=timestamp(node.get("updatedAt") or node["createdAt"]),
        currency=currency,
        total_price=_amount(total_bag, None),
        subtotal_price=_amount(node.get("subtotalPriceSet")),
        total_discounts=_amount(node.get("totalDiscountsSet")),
        total_tax=_amount(node.get("totalTaxSet")),
        financial_status=snake_lower(node.get("displayFinancialStatus")),
        fulfillment_status=snake_lower(node.get("displayFulfillmentStatus")),
        email=node.get("email") or None,
        customer_external_id=_ref(node.get("customer")),
        processed_at=optional_timestamp(node.get("processedAt")),
        cancelled_at=optional_timestamp(node.get("cancelledAt")),
        is_test=bool(node.get("test", False)),
        tags=tags(node.get("tags")),
        discount_codes=tuple(node.get("discountCodes") or ()),
        line_items=tuple(_line_item(item) for item in nodes(node.get("lineItems"))),
        refunds=tuple(_refund(item, order_id, currency) for item in node.get("refunds") or ()),
        line_items_complete=is_complete(node.get("lineItems")),
        gift_card_amount=gift_card_amount,
        gift_card_amount_known=gift_card_known,
        shipping_address_key=_address_key(node.get("shippingAddress")),
        fulfilled_at=fulfilled_at,
        unknown_fields=frozenset() if fulfilled_known else frozenset({"fulfilled_at"}),
    )


def _fulfilled_at(node: dict[str, Any]) -> tuple[Any, bool]:
    """Return when an order was first fulfilled, and whether the node could tell.

    That is the creation time of its earliest successful fulfilment (a cancelled or failed
    one shipped nothing). An order read without its fulfillments cannot tell; one read with
    fewer than it has (a page caps them; ``fulfillmentsCount`` counts them all) can only when
    a successful one is among those read, since Shopify lists them oldest first.
    """
    fulfillments = node.get("fulfillments")
    if not isinstance(fulfillments, list):
        return None, False
    times = [timestamp(item["createdAt"]) for item in fulfillments
             if str(item.get("status") or "").upper() == "SUCCESS" and item.get("createdAt")]
    if times:
        return min(times), True
    count = (node.get("fulfillmentsCount") or {}).get("count")
    return None, count is None or int(count) <= len(fulfillments)


def _gift_cards(node: dict[str, Any]) -> tuple[Decimal, bool]:
    """Return what gift cards paid for an order, and whether every transaction was read.

    That is the sum of the successful sales and captures through the ``gift_card`` gateway, in
    the shop's currency. Refunds back to a gift card do not lower it (the refund records carry
    them). An order read without its transactions, or with fewer than it has, is unknown.
    """
    transactions = node.get("transactions")
    if not isinstance(transactions, list):
        return _ZERO, False
    paid = sum((_amount(tx.get("amountSet")) for tx in transactions
                if str(tx.get("gateway") or "").lower() == GIFT_CARD_GATEWAY
                and str(tx.get("kind") or "").upper() in _PAID_KINDS
                and str(tx.get("status") or "").upper() == "SUCCESS"), _ZERO)
    count = (node.get("transactionsCount") or {}).get("count")
    return paid, count is None or int(count) <= len(transactions)


def _address_key(address: Any) -> str | None:
    """Return the key of a GraphQL ``MailingAddress`` (None for no address)."""
    if not address:
        return None
    return shipping_address_key(address.get("address1"), address.get("address2"), address.get("zip"),
                                address.get("countryCodeV2") or address.get("countryCode"))


def _line_item(item: dict[str, Any]) -> LineItem:
    quantity = int(item["quantity"])
    unit_price = _amount(item.get("originalUnitPriceSet"), None)
    discounted = item.get("discountedTotalSet")
    total_discount = _ZERO
    if discounted:
        total_discount = max(unit_price * quantity - _amount(discounted), _ZERO)
    return LineItem(
        external_id=external_id(item["id"]),
        title=item.get("title") or "",
        quantity=quantity,
        unit_price=unit_price,
        total_discount=total_discount,
        sku=item.get("sku") or None,
        product_external_id=_ref(item.get("product")),
        variant_external_id=_ref(item.get("variant")),
    )


def _refund(item: dict[str, Any], order_id: str, currency: str) -> Refund:
    bag = item.get("totalRefundedSet")
    return Refund(
        external_id=external_id(item["id"]),
        order_external_id=order_id,
        created_at=timestamp(item["createdAt"]),
        amount=Money(_amount(bag), _currency(bag) or currency),
        note=item.get("note") or None,
        line_items=tuple(
            RefundLineItem(
                line_item_external_id=external_id(line["lineItem"]["id"]),
                quantity=int(line["quantity"]),
                subtotal=_amount(line.get("subtotalSet")),
            )
            for line in nodes(item.get("refundLineItems"))
        ),
    )


def product(node: dict[str, Any]) -> Product:
    """Return the ``Product`` of a GraphQL ``Product`` node, with its variants."""
    unknown = frozenset(field for field, source in _PRODUCT_SOURCES.items()
                        if not all(key in node for key in source))
    return Product(
        external_id=external_id(node["id"]),
        title=node.get("title") or "",
        updated_at=timestamp(node.get("updatedAt") or node["createdAt"]),
        handle=node.get("handle") or None,
        status=snake_lower(node.get("status")),
        vendor=node.get("vendor") or None,
        product_type=node.get("productType") or None,
        tags=tags(node.get("tags")),
        created_at=optional_timestamp(node.get("createdAt")),
        variants=tuple(
            Variant(
                external_id=external_id(variant["id"]),
                title=variant.get("title") or "",
                price=decimal(variant.get("price")),
                sku=variant.get("sku") or None,
                inventory_quantity=(None if variant.get("inventoryQuantity") is None
                                    else int(variant["inventoryQuantity"])),
            )
            for variant in nodes(node.get("variants"))
        ),
        variants_complete=is_complete(node.get("variants")),
        image_url=_preview_url(node.get("featuredMedia")),
        url=node.get("onlineStoreUrl") or None,
        categories=() if "categories" in unknown
        else categories((node.get("category") or {}).get("name"), node.get("productType")),
        unknown_fields=unknown,
    )


# The node fields each optional product field is read from: a node without them cannot tell.
_PRODUCT_SOURCES = {"image_url": ("featuredMedia",), "url": ("onlineStoreUrl",),
                    "categories": ("category", "productType")}


def _preview_url(media: Any) -> str | None:
    """Return the URL of a media's preview image (what a featured video shows too), or None."""
    if not isinstance(media, dict):
        return None
    image = (media.get("preview") or {}).get("image") or {}
    return image.get("url") or None


def cart(node: dict[str, Any]) -> Cart:
    """Return the ``Cart`` of a GraphQL ``AbandonedCheckout`` node."""
    total_bag = node.get("totalPriceSet")
    currency = _currency(total_bag)
    if not currency:
        raise KeyError("totalPriceSet.shopMoney.currencyCode")
    return Cart(
        external_id=external_id(node["id"]),
        updated_at=timestamp(node.get("updatedAt") or node["createdAt"]),
        currency=currency,
        total_price=_amount(total_bag, None),
        created_at=optional_timestamp(node.get("createdAt")),
        completed_at=optional_timestamp(node.get("completedAt")),
        email=node.get("email") or None,
        customer_external_id=_ref(node.get("customer")),
        recovery_url=node.get("abandonedCheckoutUrl") or None,
        lines=tuple(
            CartLine(
                title=line.get("title") or "",
                quantity=int(line["quantity"]),
                unit_price=_amount(line.get("originalUnitPriceSet"), None),
                product_external_id=_ref(line.get("product")),
                variant_external_id=_ref(line.get("variant")),
                sku=line.get("sku") or None,
            )
            for line in nodes(node.get("lineItems"))
        ),
    )


MAPPERS = {"customers": customer, "orders": order, "products": product, "carts": cart}
# The connection each resource's nodes carry children in (bulk JSONL puts them on own lines).
CHILD_CONNECTIONS = {"orders": "lineItems", "products": "variants", "carts": "lineItems"}
GRANDCHILD_CONNECTION = "refundLineItems"  # children of an order's refunds


def record(resource: str, node: dict[str, Any]) -> Any:
    """Return the neutral record of a ``resource`` node; ``TerminalError`` if malformed."""
    try:
        return MAPPERS[resource](node)
    except TerminalError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TerminalError(f"malformed {resource} node {node.get('id')!r}: {exc!r}") from exc



def refunds(node: dict[str, Any]) -> tuple[Refund, ...]:
    """Return the refunds of a GraphQL ``Order`` node read on its own (``order { refunds }``)."""
    try:
        order_id = external_id(node["id"])
        currency = node.get("currencyCode") or ""
        return tuple(_refund(item, order_id, currency) for item in node.get("refunds") or ())
    except TerminalError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TerminalError(f"malformed refunds of order {node.get('id')!r}: {exc!r}") from exc
