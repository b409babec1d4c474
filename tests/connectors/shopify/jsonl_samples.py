"""Build bulk-operation JSONL in the documented shape (children on their own lines)."""

from __future__ import annotations

import json


def money(amount: str, currency: str = "USD") -> dict:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def order_lines(order_number: int, *, line_items: int = 2, refunded: bool = False,
                gift_card: str | None = None, address: dict | None = None) -> list[dict]:
    """Return the JSONL objects of one order: the order, then its line items and refund lines.

    Transactions are a list, not a connection: they stay inline in the order's line, whole.
    """
    order_id = f"gid://shopify/Order/{order_number}"
    refunds = []
    transactions = []
    if gift_card is not None:
        transactions.append({"kind": "SALE", "status": "SUCCESS", "gateway": "gift_card",
                             "amountSet": money(gift_card)})
    transactions.append({"kind": "SALE", "status": "SUCCESS", "gateway": "bogus", "amountSet": money("25.00")})
    if refunded:
        refunds.append({"id": f"gid://shopify/Refund/{order_number}", "createdAt": "2026-11-02T10:00:00Z",
                        "note": None, "totalRefundedSet": money("5.00")})
        transactions.append({"kind": "REFUND", "status": "SUCCESS", "gateway": "bogus", "amountSet": money("5.00")})
    objects = [{
        "id": order_id, "name": f"#{order_number}", "email": f"c{order_number}@example.com",
        "createdAt": "2026-11-01T10:00:00Z", "updatedAt": "2026-11-02T10:00:00Z",
        "processedAt": "2026-11-01T10:00:00Z", "cancelledAt": None,
        "displayFinancialStatus": "PARTIALLY_REFUNDED" if refunded else "PAID",
        "displayFulfillmentStatus": "FULFILLED", "currencyCode": "USD", "test": False,
        "tags": ["bulk"], "customer": {"id": f"gid://shopify/Customer/{order_number % 7 + 1}"},
        "discountCodes": [], "totalPriceSet": money("25.00"), "subtotalPriceSet": money("20.00"),
        "totalDiscountsSet": money("0.00"), "totalTaxSet": money("2.00"),
        "totalShippingPriceSet": money("3.00"), "currentTotalPriceSet": money("20.00" if refunded else "25.00"),
        "refunds": refunds, "transactions": transactions, "transactionsCount": {"count": len(transactions)},
        "shippingAddress": address,
    }]
    for index in range(line_items):
        objects.append({
            "id": f"gid://shopify/LineItem/{order_number * 100 + index}", "title": f"Item {index}",
            "quantity": 1, "sku": f"SKU-{index}", "variant": {"id": f"gid://shopify/ProductVariant/{index + 1}"},
            "product": {"id": f"gid://shopify/Product/{index + 1}"},
            "originalUnitPriceSet": money("10.00"), "discountedTotalSet": money("10.00"),
            "__parentId": order_id,
        })
    if refunded:
        objects.append({"id": f"gid://shopify/RefundLineItem/{order_number}",
                        "lineItem": {"id": f"gid://shopify/LineItem/{order_number * 100}"},
                        "quantity": 1, "subtotalSet": money("5.00"),
                        "__parentId": f"gid://shopify/Refund/{order_number}"})
    return objects


def orders_jsonl(count: int, *, line_items: int = 2) -> bytes:
    """Return JSONL of ``count`` orders; every third order has a refund."""
    out = []
    for number in range(1, count + 1):
        for obj in order_lines(number, line_items=line_items, refunded=number % 3 == 0):
            out.append(json.dumps(obj, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()
