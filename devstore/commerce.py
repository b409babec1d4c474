"""Order arithmetic shared by the generator and live events."""

from __future__ import annotations

from typing import Iterable, Optional

from .models import Customer, LineItem, Order, Refund, RefundLine, Variant
from .shopstate import ShopState

TAX_PERCENT = 8
FREE_SHIPPING_FROM = 7500
SHIPPING = 599


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
               amount: Optional[int], at: int, note: Optional[str] = None) -> Refund:
    """Refund quantities of lines (and/or an amount) and update the order status."""
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
    refundable = order.total - order.refunded()
    if amount is None:
        amount = sum(rl.subtotal + rl.tax for rl in lines)
    amount = max(0, min(amount, refundable))
    refund = Refund(shop.next_id("Refund"), order, at, note, lines, amount,
                    shop.next_id("OrderTransaction"))
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
