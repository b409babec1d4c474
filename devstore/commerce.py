"""Order arithmetic shared by the generator and live events."""

from __future__ import annotations

from typing import Iterable, NamedTuple, Optional

from . import names
from .models import Address, Customer, LineItem, Order, Refund, RefundLine, Variant
from .shopstate import ShopState

TAX_PERCENT = 8
FREE_SHIPPING_FROM = 7500
SHIPPING = 599
GIFT_CARD_GATEWAY = "gift_card"
CARD_GATEWAY = "bogus"  # Shopify's test gateway
GIFT_CARD_VALUES = (2500, 5000, 10000)
# The countries an address may name: the CountryCode enum of graph/schema.graphql.
SHIPS_TO = frozenset(
    "AR AT AU BE BG BR CA CH CL CN CO CZ DE DK EE ES FI FR GB GR HK HR HU IE IL IN IS IT JP KR "
    "LT LU LV MX MY NL NO NZ PE PH PL PT RO SE SG SI SK TH TR TW UA US ZA".split())
# Payment transactions are derived from the order, not stored: their ids come from its id.
_PAYMENT_ID_BASE = 8_000_000_000_000
_PAYMENT_LEGS = 4


class Transaction(NamedTuple):
    """One payment transaction of an order (kind and status as the GraphQL enums spell them)."""

    id: int
    kind: str
    status: str
    gateway: str
    amount: int
    created_at: int
    parent_id: Optional[int] = None


def _mix(value: int) -> int:
    """Spread sequential ids over 32 bits (Knuth's multiplicative hash)."""
    return value * 2654435761 % 2**32


def default_address(customer: Customer) -> Address:
    """Return the address a customer ships to, derived from its id (no randomness)."""
    mix = _mix(customer.id)
    city, province, zip_code, country = names.PLACES[mix % len(names.PLACES)]
    street = names.STREETS[(mix >> 8) % len(names.STREETS)]
    apartment = f"Apt {(mix >> 16) % 40 + 1}" if mix % 5 == 0 else ""
    return Address(customer.first_name, customer.last_name, f"{(mix >> 4) % 9800 + 100} {street}",
                   apartment, city, province, zip_code, country)


def generated_gift_card(order: Order, rate: float) -> int:
    """Return what a gift card pays of a generated order: a `rate` share of orders use one.

    Chosen from the order id, not the generator's random stream, so that a rate leaves every
    other generated value as it was.
    """
    mix = _mix(order.id)
    if mix % 10_000 >= rate * 10_000:
        return 0
    return min(order.total, GIFT_CARD_VALUES[(mix >> 16) % len(GIFT_CARD_VALUES)])


def pay_with_gift_card(order: Order, cents: int) -> None:
    """Let gift cards pay part of a priced order (at most its total)."""
    order.gift_card = max(0, min(cents, order.total))


def _card_legs(order: Order) -> list[Transaction]:
    """Return the card gateway's transactions for what gift cards did not pay."""
    rest = order.total - order.gift_card
    if rest <= 0:
        return []
    first = _PAYMENT_ID_BASE + order.id % 10**12 * _PAYMENT_LEGS
    status = order.financial_status
    if status == "AUTHORIZED":
        return [Transaction(first + 1, "AUTHORIZATION", "SUCCESS", CARD_GATEWAY, rest, order.created_at)]
    if status in ("PENDING", "PARTIALLY_PAID"):
        return [Transaction(first + 1, "SALE", "PENDING", CARD_GATEWAY, rest, order.created_at)]
    if status == "VOIDED":
        authorization = Transaction(first + 1, "AUTHORIZATION", "SUCCESS", CARD_GATEWAY, rest,
                                    order.created_at)
        return [authorization, Transaction(first + 2, "VOID", "SUCCESS", CARD_GATEWAY, rest,
                                           order.cancelled_at or order.updated_at, authorization.id)]
    return [Transaction(first + 1, "SALE", "SUCCESS", CARD_GATEWAY, rest, order.created_at)]


def refund_legs(refund: Refund) -> list[tuple[int, str, int]]:
    """Return `(transaction id, gateway, cents)` of each part of a refund."""
    legs = []
    if refund.amount - refund.gift_card > 0 or not refund.gift_card:
        legs.append((refund.transaction_id, CARD_GATEWAY, refund.amount - refund.gift_card))
    if refund.gift_card and refund.gift_card_transaction_id is not None:
        legs.append((refund.gift_card_transaction_id, GIFT_CARD_GATEWAY, refund.gift_card))
    return legs


def transactions(order: Order) -> list[Transaction]:
    """Return an order's transactions, oldest first: payments, then refunds as they came."""
    found: list[Transaction] = []
    if order.gift_card:
        found.append(Transaction(_PAYMENT_ID_BASE + order.id % 10**12 * _PAYMENT_LEGS, "SALE",
                                 "SUCCESS", GIFT_CARD_GATEWAY, order.gift_card, order.created_at))
    found += _card_legs(order)
    for refund in order.refunds or ():
        for transaction_id, gateway, cents in refund_legs(refund):
            if cents > 0:
                found.append(Transaction(transaction_id, "REFUND", "SUCCESS", gateway, cents,
                                         refund.created_at))
    found.sort(key=lambda t: t.created_at)  # stable: payments before refunds of the same second
    return found


def make_lines(shop: ShopState, picks: Iterable[tuple[Variant, int]]) -> list[LineItem]:
    """Create line items for (variant, quantity) picks at the variants' prices."""
    return [LineItem(shop.next_id("LineItem"), v, q, v.price) for v, q in picks]


def price_order(order: Order, discount_code: Optional[str] = None, percent: int = 0) -> None:
    """Allocate the discount over the lines and set the order totals."""
    gross = sum(li.price * li.quantity for li in order.line_items)
    discount = gross * percent // 100
    remaining = discount
    for index, line in enumerate(order.line_items):
        if index == len(order.line_items) - 1:
            share = remaining
        else:
            share = discount * line.price * line.quantity // gross if gross else 0
        line.discount = share
        remaining -= share
    order.discount_code = discount_code if discount else None
    order.discount = discount
    order.subtotal = gross - discount
    order.tax = order.subtotal * TAX_PERCENT // 100
    order.shipping = 0 if order.subtotal >= FREE_SHIPPING_FROM or not gross else SHIPPING
    order.total = order.subtotal + order.tax + order.shipping


def record_purchase(customer: Optional[Customer], order: Order) -> None:
    """Add an order to its customer's purchase summary."""
    if customer is None:
        return
    customer.orders_count += 1
    customer.spent += order.total - order.refunded()
    if customer.last_order is None or order.created_at >= customer.last_order.created_at:
        customer.last_order = order
    customer.updated_at = max(customer.updated_at, order.created_at)


def refunded_quantity(order: Order, line: LineItem) -> int:
    """Return how many units of a line were already refunded."""
    if not order.refunds:
        return 0
    return sum(rl.quantity for r in order.refunds for rl in r.lines if rl.line_item is line)


def add_refund(shop: ShopState, order: Order, picks: list[tuple[LineItem, int]],
               amount: Optional[int], at: int, note: Optional[str] = None,
               refundable: Optional[int] = None) -> Refund:
    """Refund quantities of lines (and/or an amount) and update the order status.

    The amount is capped at `refundable` (default: what of the total is not refunded yet).
    """
    lines: list[RefundLine] = []
    for line, quantity in picks:
        left = line.quantity - refunded_quantity(order, line)
        quantity = min(quantity, left)
        if quantity <= 0:
            continue
        if quantity == left:
            already = line.unit_net() * (line.quantity - left)
            subtotal = line.discounted_total - already
        else:
            subtotal = line.unit_net() * quantity
        tax = subtotal * TAX_PERCENT // 100
        lines.append(RefundLine(shop.next_id("RefundLineItem"), line, quantity, subtotal, tax))
    if refundable is None:
        refundable = order.total - order.refunded()
    if amount is None:
        amount = sum(rl.subtotal + rl.tax for rl in lines)
    amount = max(0, min(amount, refundable))
    refund = Refund(shop.next_id("Refund"), order, at, note, lines, amount,
                    shop.next_id("OrderTransaction"))
    # A devstore choice: money goes back to the card first, to gift cards what the card did
    # not pay.
    card_back = sum(r.amount - r.gift_card for r in order.refunds or ())
    to_card = min(amount, max(0, order.total - order.gift_card - card_back))
    if amount > to_card:
        refund.gift_card = amount - to_card
        refund.gift_card_transaction_id = shop.next_id("OrderTransaction")
    if order.refunds is None:
        order.refunds = []
    order.refunds.append(refund)
    shop.refunds[refund.id] = refund
    order.financial_status = "REFUNDED" if order.refunded() >= order.total else "PARTIALLY_REFUNDED"
    order.updated_at = max(order.updated_at, at)
    if order.customer is not None:
        order.customer.spent -= amount
    return refund


def full_refund_picks(order: Order) -> list[tuple[LineItem, int]]:
    """Return picks refunding every unit not yet refunded."""
    return [(li, li.quantity - refunded_quantity(order, li)) for li in order.line_items]
