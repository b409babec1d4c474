"""Orders and refunds in WooCommerce REST v3 shape."""

from __future__ import annotations

from typing import Any

from ...models import LineItem, Order, Refund
from .. import timefmt
from ..state import WooStore
from .common import TAX_RATE_PERCENT, address, digest, links, meta, money, number

UNPAID = ("pending", "failed", "checkout-draft")
EDITABLE = ("pending", "on-hold", "auto-draft", "checkout-draft")


def _line_taxes(order: Order) -> list[int]:
    """Split the order tax over its lines so the parts add up."""
    shares = [li.discounted_total * TAX_RATE_PERCENT // 100 for li in order.line_items]
    if shares:
        shares[-1] += order.tax - sum(shares)
    return shares


def line_item(li: LineItem, tax: int) -> dict[str, Any]:
    """Return an order line item."""
    variant = li.variant
    product = variant.product
    variable = len(product.variants) > 1
    subtotal = li.price * li.quantity
    subtotal_tax = subtotal * TAX_RATE_PERCENT // 100
    return {
        "id": li.id, "name": f"{product.title} - {variant.title}" if variable else product.title,
        "product_id": product.id, "variation_id": variant.id if variable else 0,
        "quantity": li.quantity, "tax_class": "", "subtotal": money(subtotal),
        "subtotal_tax": money(subtotal_tax), "total": money(li.discounted_total),
        "total_tax": money(tax),
        "taxes": [{"id": 1, "total": money(tax), "subtotal": money(subtotal_tax)}],
        "meta_data": [], "sku": variant.sku,
        "price": number(li.discounted_total / 100 / li.quantity) if li.quantity else 0,
        "image": {"id": "", "src": ""}, "parent_name": product.title if variable else None,
    }


def billing(store: WooStore, order: Order) -> dict[str, str]:
    """Return the billing address of an order (customer's, with the order's email)."""
    customer = order.customer
    if customer is not None:
        out = address(customer.first_name, customer.last_name, customer.id, order.email or "",
                      customer.phone)
    else:
        out = address("", "", order.id, order.email or "")
    out.update(store.addresses.get(("order", order.id), {}).get("billing", {}))
    return out


def shipping(store: WooStore, order: Order) -> dict[str, str]:
    """Return the shipping address of an order."""
    out = billing(store, order)
    out.pop("email", None)
    out.update(store.addresses.get(("order", order.id), {}).get("shipping", {}))
    return out


def _shipping_lines(store: WooStore, order: Order, status: str) -> list[dict[str, Any]]:
    """Return the shipping line (flat rate, or free shipping above the threshold)."""
    if status == "checkout-draft" or not order.line_items:
        return []
    method = ("flat_rate", "Flat rate") if order.shipping else ("free_shipping", "Free shipping")
    return [{"id": store.item_id(order.id, "shipping"), "method_title": method[1],
             "method_id": method[0], "instance_id": "1", "total": money(order.shipping),
             "total_tax": "0.00", "taxes": [], "meta_data": []}]


def _tax_lines(store: WooStore, order: Order) -> list[dict[str, Any]]:
    """Return the tax line summarising the order's tax."""
    if not order.tax:
        return []
    return [{"id": store.item_id(order.id, "tax"), "rate_code": "VAT-1", "rate_id": 1,
             "label": "VAT", "compound": False, "tax_total": money(order.tax),
             "shipping_tax_total": "0.00", "rate_percent": TAX_RATE_PERCENT, "meta_data": []}]


def _coupon_lines(store: WooStore, order: Order) -> list[dict[str, Any]]:
    """Return the coupon line of a discounted order."""
    if not order.discount_code:
        return []
    return [{"id": store.item_id(order.id, "coupon"), "code": order.discount_code.lower(),
             "discount": money(order.discount), "discount_tax": "0.00", "meta_data": []}]


def gift_cards(store: WooStore, order: Order) -> list[dict[str, Any]]:
    """Return the `gift_cards` the Gift Cards extension adds to an order: `[{id, code, amount}]`.

    The amount is a number (the extension's order item returns a float), what the card paid.
    """
    if not order.gift_card:
        return []
    key = ("gift_card", order.id)
    if key not in store.extra_ids:
        store.extra_ids[key] = store.next("gift_card")
    code = digest(store.salt, "gift_card", order.id)[:16].upper()
    return [{"id": store.extra_ids[key], "code": "-".join(code[i:i + 4] for i in range(0, 16, 4)),
             "amount": number(order.gift_card / 100)}]


def order_key(store: WooStore, order: Order) -> str:
    """Return the order's `wc_order_...` key."""
    return "wc_order_" + digest(store.salt, order.id)[:13]


def order(store: WooStore, o: Order) -> dict[str, Any]:
    """Return an order."""
    tz = store.shop.timezone
    status = store.status_of(o.id)
    paid = status not in UNPAID
    key = order_key(store, o)
    refunded = o.refunded()
    draft = status == "checkout-draft"
    customer_id = o.customer.id if o.customer is not None else 0
    body: dict[str, Any] = {
        "id": o.id, "parent_id": 0, "status": status, "currency": store.shop.currency,
        "version": "9.4.0", "prices_include_tax": False,
        **timefmt.pair("date_created", o.created_at, tz),
        **timefmt.pair("date_modified", o.updated_at, tz),
        "discount_total": money(o.discount), "discount_tax": "0.00",
        "shipping_total": money(o.shipping), "shipping_tax": "0.00",
        "cart_tax": money(o.tax), "total": money(store.payable(o)), "total_tax": money(o.tax),
        "customer_id": customer_id, "order_key": key,
        "billing": billing(store, o), "shipping": shipping(store, o),
        "payment_method": "" if draft else "stripe",
        "payment_method_title": "" if draft else "Credit card (Stripe)",
        "transaction_id": ("pi_" + digest(store.salt, "txn", o.id)[:24]) if paid else "",
        "customer_ip_address": "192.0.2.1", "customer_user_agent": "Mozilla/5.0",
        "created_via": "store-api" if draft else "checkout", "customer_note": "",
        # Set on each change to completed and kept afterwards, as WooCommerce does.
        **timefmt.pair("date_completed", store.completed_at.get(o.id), tz),
        **timefmt.pair("date_paid", store.paid_at.get(o.id, o.created_at) if paid else None,
                       tz),
        "cart_hash": digest("cart", *(li.id for li in o.line_items))[:32],
        "number": str(o.id), "meta_data": meta(store.order_meta.get(o.id)),
        "line_items": [line_item(li, tax) for li, tax in zip(o.line_items, _line_taxes(o), strict=True)],
        "tax_lines": _tax_lines(store, o), "shipping_lines": _shipping_lines(store, o, status),
        "fee_lines": [], "coupon_lines": _coupon_lines(store, o),
        "refunds": [{"id": r.id, "reason": r.note or "", "total": money(-r.amount)}
                    for r in reversed(o.refunds or [])],
        "payment_url": f"{store.url}/checkout/order-pay/{o.id}/?pay_for_order=true&key={key}",
        "is_editable": status in EDITABLE, "needs_payment": status in ("pending", "failed"),
        "needs_processing": bool(o.line_items), "currency_symbol": symbol(store.shop.currency),
    }
    if refunded:
        body["total_refunded"] = money(refunded)
    if store.gift_cards_installed:
        body["gift_cards"] = gift_cards(store, o)
    body["_links"] = links(store, "orders", o.id, customer=(
        f"{store.url}/wp-json/wc/v3/customers/{customer_id}" if customer_id else None))
    return body


def symbol(currency: str) -> str:
    """Return the currency symbol WooCommerce shows."""
    return {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}.get(currency, currency)


def refund(store: WooStore, r: Refund) -> dict[str, Any]:
    """Return an order refund."""
    tz = store.shop.timezone
    lines = []
    for rl in r.lines:
        li = rl.line_item
        variant = li.variant
        variable = len(variant.product.variants) > 1
        lines.append({
            "id": rl.id,
            "name": f"{variant.product.title} - {variant.title}" if variable
            else variant.product.title,
            "product_id": variant.product.id, "variation_id": variant.id if variable else 0,
            "quantity": -rl.quantity, "tax_class": "", "subtotal": money(-rl.subtotal),
            "subtotal_tax": money(-rl.tax), "total": money(-rl.subtotal),
            "total_tax": money(-rl.tax),
            "taxes": [{"id": 1, "total": money(-rl.tax), "subtotal": money(-rl.tax)}],
            "meta_data": [{"id": store.meta_id("refunded_item", rl.id),
                           "key": "_refunded_item_id", "value": str(li.id)}],
            "sku": variant.sku, "price": number(-rl.subtotal / 100 / rl.quantity),
            "refund_total": number(rl.subtotal / 100),
        })
    return {
        "id": r.id, **timefmt.pair("date_created", r.created_at, tz),
        "amount": money(r.amount), "reason": r.note or "", "refunded_by": 1,
        "refunded_payment": True, "meta_data": [], "line_items": lines,
        "shipping_lines": [], "tax_lines": [], "fee_lines": [],
        "_links": links(store, f"orders/{r.order.id}/refunds", r.id,
                        up=f"{store.url}/wp-json/wc/v3/orders/{r.order.id}"),
    }
