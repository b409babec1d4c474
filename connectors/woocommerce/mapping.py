"""Turn WooCommerce REST v3 resources (as pages and webhooks carry them) into neutral records.

WooCommerce money is a decimal string, times come twice (site time and ``*_gmt``; we read the
GMT ones), and an order's status decides what it is to us: ``checkout-draft`` and ``pending``
are carts that may be abandoned, everything else is an order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors import base
from connectors.base import TerminalError

CART_STATUSES = frozenset({"checkout-draft", "pending"})
# WooCommerce status → (financial status, fulfillment status) in the neutral vocabulary.
_ORDER_STATUSES: dict[str, tuple[str, str | None]] = {
    "processing": ("paid", "unfulfilled"),
    "completed": ("paid", "fulfilled"),
    "on-hold": ("pending", "unfulfilled"),
    "pending": ("pending", None),
    "checkout-draft": ("pending", None),
    "failed": ("failed", None),
    "cancelled": ("voided", None),
    "refunded": ("refunded", None),
    "trash": ("voided", None),
}
META_PREFIX = "comeback_"
# The shopper's email marketing consent as Comeback writes it back ("yes" / "no"); the
# companion plugin's opt-in writes it too.
CONSENT_META_KEY = "comeback_email_consent"
CONSENT_VALUES = {"subscribed": "yes", "unsubscribed": "no"}
_YES = frozenset({"1", "yes", "true", "subscribed"})
_NO = frozenset({"0", "no", "false", "unsubscribed"})


def external_id(value: Any) -> str:
    """Return a WooCommerce id (a positive integer) as a string."""
    if isinstance(value, bool) or value in (None, "", 0, "0"):
        raise TerminalError(f"missing or invalid id {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise TerminalError(f"invalid id {value!r}") from error
    if number <= 0:
        raise TerminalError(f"invalid id {value!r}")
    return str(number)


def optional_id(value: Any) -> str | None:
    """Return the id, or ``None`` for WooCommerce's "none" (0, empty)."""
    if value in (None, "", 0, "0"):
        return None
    return external_id(value)


def gmt(value: Any) -> dt.datetime | None:
    """Parse a ``*_gmt`` time (``2026-11-30T10:00:00``, no zone) as UTC; ``None`` when empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise TerminalError(f"invalid time {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise TerminalError(f"invalid time {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def required_gmt(resource: Mapping[str, Any], *names: str) -> dt.datetime:
    """Return the first of ``names`` that holds a time; a resource without any is refused."""
    for name in names:
        value = gmt(resource.get(name))
        if value is not None:
            return value
    raise TerminalError(f"resource {resource.get('id')!r} has none of {', '.join(names)}")


def money(value: Any, default: str | None = "0") -> Decimal:
    """Return a WooCommerce amount (string, int or float as JSON gives it) as ``Decimal``."""
    if value in (None, ""):
        if default is None:
            raise TerminalError("missing amount")
        return Decimal(default)
    if isinstance(value, bool):
        raise TerminalError(f"invalid amount {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as error:
        raise TerminalError(f"invalid amount {value!r}") from error
    if not amount.is_finite():
        raise TerminalError(f"invalid amount {value!r}")
    return amount


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _email(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def meta_value(resource: Mapping[str, Any], key: str) -> Any:
    """Return the value of a ``meta_data`` entry, or ``None``."""
    for entry in _list(resource.get("meta_data")):
        if isinstance(entry, Mapping) and entry.get("key") == key:
            return entry.get("value")
    return None


# --- customers ----------------------------------------------------------------------------


def location(resource: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Return the country and state codes of a customer: billing's, else shipping's.

    The state comes from the address that names the country; one in WooCommerce's prefixed
    form (``DE-BY``) loses the prefix.
    """
    for kind in ("billing", "shipping"):
        address = _mapping(resource.get(kind))
        country = (_text(address.get("country")) or "").upper()
        if len(country) == 2:
            state = (_text(address.get("state")) or "").upper()
            if state.startswith(f"{country}-"):
                state = state[len(country) + 1:]
            return country, state[:8] or None
    return None, None


def customer(resource: Mapping[str, Any]) -> base.Customer:
    """Map a customer; marketing consent is read from the companion plugin's meta, if any.

    A resource without its ``billing`` and ``shipping`` addresses leaves the stored location
    as it is.
    """
    billing = _mapping(resource.get("billing"))
    country, province = location(resource)
    has_address = "billing" in resource or "shipping" in resource
    updated = required_gmt(resource, "date_modified_gmt", "date_created_gmt")
    consent = meta_value(resource, CONSENT_META_KEY)
    consent_state = None
    if consent is not None:
        # An explicit no is an unsubscribe; anything else but a yes never was a subscription.
        value = str(consent).strip().lower()
        consent_state = "subscribed" if value in _YES else "unsubscribed" if value in _NO else "not_subscribed"
    return base.Customer(
        external_id=external_id(resource.get("id")),
        email=_email(resource.get("email")),
        first_name=_text(resource.get("first_name")) or _text(billing.get("first_name")),
        last_name=_text(resource.get("last_name")) or _text(billing.get("last_name")),
        phone=_text(billing.get("phone")),
        state="enabled",
        created_at=gmt(resource.get("date_created_gmt")),
        updated_at=updated,
        email_marketing_state=consent_state,
        consent_updated_at=updated if consent_state else None,
        country_code=country,
        province_code=province,
        unknown_fields=frozenset() if has_address else base.CUSTOMER_OPTIONAL_FIELDS,
    )


# --- products -----------------------------------------------------------------------------


def _names(values: Any) -> tuple[str, ...]:
    return tuple(str(item.get("name")) for item in _list(values)
                 if isinstance(item, Mapping) and item.get("name"))


def variant(resource: Mapping[str, Any], product_title: str) -> base.Variant:
    """Map a variation (or a simple product standing as its own single variant)."""
    options = [str(a.get("option")) for a in _list(resource.get("attributes"))
               if isinstance(a, Mapping) and a.get("option")]
    return base.Variant(
        external_id=external_id(resource.get("id")),
        title=" / ".join(options) if options else (_text(resource.get("name")) or product_title),
        price=money(resource.get("price")),
        sku=_text(resource.get("sku")),
        inventory_quantity=_inventory_quantity(resource),
    )


def _inventory_quantity(resource: Mapping[str, Any]) -> int | None:
    """The stock left, 0 for one marked out of stock by hand, ``None`` when it can always be bought.

    Without stock management (``manage_stock`` false) ``stock_quantity`` is null and the
    merchant sets ``stock_status`` by hand: "outofstock" means it cannot be bought, while
    "instock" and "onbackorder" (orders still taken) leave it untracked.
    """
    stock = resource.get("stock_quantity")
    if isinstance(stock, (int, float)) and not isinstance(stock, bool):
        return int(stock)
    return 0 if resource.get("stock_status") == "outofstock" else None


def product(resource: Mapping[str, Any], variations: list[Mapping[str, Any]] | None = None) -> base.Product:
    """Map a product; a variable product's variations are given apart (another endpoint).

    Without ``variations`` a variable product's variants are not known: the record says so
    (``variants_complete=False``) and the stored ones stay.
    """
    title = _text(resource.get("name")) or f"Product {resource.get('id')}"
    kind = resource.get("type")
    if kind == "variable":
        variants = tuple(variant(v, title) for v in variations) if variations is not None else ()
        complete = variations is not None
    else:
        variants = (variant(resource, title),)
        complete = True
    categories = _names(resource.get("categories"))
    images = resource.get("images")
    first_image = images[0] if isinstance(images, list) and images and isinstance(images[0], Mapping) else {}
    return base.Product(
        external_id=external_id(resource.get("id")),
        title=title,
        updated_at=required_gmt(resource, "date_modified_gmt", "date_created_gmt"),
        handle=_text(resource.get("slug")),
        status=_text(resource.get("status")),
        product_type=categories[0] if categories else _text(kind),
        tags=_names(resource.get("tags")),
        created_at=gmt(resource.get("date_created_gmt")),
        variants=variants,
        variants_complete=complete,
        image_url=_text(first_image.get("src")),
        url=_text(resource.get("permalink")),
        categories=categories,
        unknown_fields=frozenset(field for field, key in _PRODUCT_SOURCES.items() if key not in resource),
    )


# The resource key each optional product field is read from: a body without it cannot tell.
_PRODUCT_SOURCES = {"image_url": "images", "url": "permalink", "categories": "categories"}


def is_variation(resource: Mapping[str, Any]) -> bool:
    return resource.get("type") == "variation"


# --- orders -------------------------------------------------------------------------------


def line_item(resource: Mapping[str, Any]) -> base.LineItem:
    """Map an order line: the unit price before discounts, the discount on the whole line."""
    quantity = int(resource.get("quantity") or 0)
    subtotal = money(resource.get("subtotal"))
    total = money(resource.get("total"))
    unit = (subtotal / quantity).quantize(Decimal("0.01")) if quantity else subtotal
    return base.LineItem(
        external_id=external_id(resource.get("id")),
        title=_text(resource.get("name")) or "",
        quantity=quantity,
        unit_price=unit,
        total_discount=max(subtotal - total, Decimal("0")),
        sku=_text(resource.get("sku")),
        product_external_id=optional_id(resource.get("product_id")),
        variant_external_id=optional_id(resource.get("variation_id")) or optional_id(resource.get("product_id")),
    )


def order_status(resource: Mapping[str, Any]) -> str:
    status = resource.get("status")
    if not isinstance(status, str) or not status:
        raise TerminalError(f"order {resource.get('id')!r} has no status")
    return status


def is_cart(resource: Mapping[str, Any]) -> bool:
    """Return whether an order resource is, to us, a cart (not yet an order)."""
    return order_status(resource) in CART_STATUSES


def cart_id(order_id: str) -> str:
    """The cart id of a draft or pending order: the order keeps its id when it is placed."""
    return f"order-{order_id}"


_ADDRESS_FIELDS = ("address_1", "address_2", "city", "state", "postcode", "country")


def gift_card_amount(resource: Mapping[str, Any]) -> Decimal:
    """Return what gift cards paid for an order: the sum of its ``gift_cards`` amounts.

    WooCommerce itself has no gift cards; the WooCommerce Gift Cards extension adds
    ``gift_cards: [{id, code, amount}]`` to the REST order (and so to its webhooks), each
    amount what that card paid, and takes that off the order's ``total``. Refunds do not
    lower it (the extension credits the cards back when the order is refunded or cancelled,
    without a refund of its own). Without the extension: 0.
    """
    return sum((money(card.get("amount")) for card in _list(resource.get("gift_cards"))
                if isinstance(card, Mapping)), Decimal("0"))


def address_key(resource: Mapping[str, Any]) -> str | None:
    """Return the key of an order's shipping address, or of its billing one when it ships nowhere."""
    address = _mapping(resource.get("shipping"))
    if not any(_text(address.get(name)) for name in _ADDRESS_FIELDS):
        address = _mapping(resource.get("billing"))
    return base.shipping_address_key(address.get("address_1"), address.get("address_2"),
                                     address.get("postcode"), address.get("country"))


def order(resource: Mapping[str, Any]) -> base.Order:
    """Map a placed order (refunds are read from their own endpoint, see ``refund``)."""
    status = order_status(resource)
    financial, fulfillment = _ORDER_STATUSES.get(status, (status.replace("-", "_"), None))
    billing = _mapping(resource.get("billing"))
    lines = tuple(line_item(item) for item in _list(resource.get("line_items")))
    updated = required_gmt(resource, "date_modified_gmt", "date_created_gmt")
    # With the Gift Cards extension ``total`` is what is left to pay after gift cards; the
    # order's total, as everywhere above connectors/, includes what they paid.
    total = money(resource.get("total"))
    gift_cards = gift_card_amount(resource)
    refunded = sum((money(r.get("total")).copy_abs() for r in _list(resource.get("refunds"))
                    if isinstance(r, Mapping)), Decimal("0"))
    if financial == "paid" and refunded > 0:
        financial = "refunded" if refunded >= total else "partially_refunded"
    return base.Order(
        external_id=external_id(resource.get("id")),
        number=str(resource.get("number") or resource.get("id")),
        created_at=required_gmt(resource, "date_created_gmt"),
        updated_at=updated,
        currency=str(resource.get("currency") or "").upper() or "USD",
        total_price=total + gift_cards,
        # As everywhere above connectors/: the lines after discounts, before shipping and taxes.
        subtotal_price=sum((money(item.get("total")) for item in _list(resource.get("line_items"))
                            if isinstance(item, Mapping)), Decimal("0")),
        total_discounts=money(resource.get("discount_total")),
        total_tax=money(resource.get("total_tax")),
        financial_status=financial,
        fulfillment_status=fulfillment,
        email=_email(billing.get("email")),
        customer_external_id=optional_id(resource.get("customer_id")),
        processed_at=gmt(resource.get("date_paid_gmt")) or gmt(resource.get("date_created_gmt")),
        cancelled_at=updated if status == "cancelled" else None,
        discount_codes=tuple(str(c.get("code")) for c in _list(resource.get("coupon_lines"))
                             if isinstance(c, Mapping) and c.get("code")),
        line_items=lines,
        gift_card_amount=gift_cards,
        shipping_address_key=address_key(resource),
        # WooCommerce sets it each time the order becomes completed and keeps it afterwards
        # (a completed order refunded later was still shipped).
        fulfilled_at=gmt(resource.get("date_completed_gmt")),
        unknown_fields=frozenset() if "date_completed_gmt" in resource else frozenset({"fulfilled_at"}),
    )


def refund_ids(resource: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the ids of the refunds an order resource lists (their details live elsewhere)."""
    return tuple(external_id(r.get("id")) for r in _list(resource.get("refunds"))
                 if isinstance(r, Mapping) and r.get("id"))


def refund(order_external_id: str, resource: Mapping[str, Any], currency: str) -> base.Refund:
    """Map a refund; its lines name the refunded order line in ``_refunded_item_id`` meta."""
    lines = []
    for item in _list(resource.get("line_items")):
        if not isinstance(item, Mapping):
            continue
        original = meta_value(item, "_refunded_item_id")
        lines.append(base.RefundLineItem(
            line_item_external_id=external_id(original if original not in (None, "") else item.get("id")),
            quantity=abs(int(item.get("quantity") or 0)),
            subtotal=money(item.get("subtotal")).copy_abs(),
        ))
    return base.Refund(
        external_id=external_id(resource.get("id")),
        order_external_id=order_external_id,
        created_at=required_gmt(resource, "date_created_gmt"),
        amount=base.Money(money(resource.get("amount")).copy_abs(), currency),
        note=_text(resource.get("reason")),
        line_items=tuple(lines),
    )


def cart(resource: Mapping[str, Any]) -> base.Cart:
    """Map a draft or pending order as a cart; pending orders carry their pay link."""
    billing = _mapping(resource.get("billing"))
    order_id = external_id(resource.get("id"))
    lines = tuple(
        base.CartLine(
            title=_text(item.get("name")) or "",
            quantity=int(item.get("quantity") or 0),
            unit_price=line_item(item).unit_price,
            product_external_id=optional_id(item.get("product_id")),
            variant_external_id=optional_id(item.get("variation_id")) or optional_id(item.get("product_id")),
            sku=_text(item.get("sku")),
        )
        for item in _list(resource.get("line_items")) if isinstance(item, Mapping)
    )
    return base.Cart(
        external_id=cart_id(order_id),
        updated_at=required_gmt(resource, "date_modified_gmt", "date_created_gmt"),
        currency=str(resource.get("currency") or "").upper() or "USD",
        total_price=money(resource.get("total")),
        created_at=gmt(resource.get("date_created_gmt")),
        email=_email(billing.get("email")),
        customer_external_id=optional_id(resource.get("customer_id")),
        recovery_url=_text(resource.get("payment_url")) if order_status(resource) == "pending" else None,
        lines=lines,
    )


def order_records(resource: Mapping[str, Any]) -> tuple[Any, ...]:
    """Return what an order resource means: a cart, or an order that completes its cart."""
    if is_cart(resource):
        return (cart(resource),)
    placed = order(resource)
    return (placed, base.CartCompletion(cart_id(placed.external_id),
                                        placed.processed_at or placed.created_at))
