"""GraphQL ``Order`` nodes (pages, bulk lines, a refetch) become exact neutral orders."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import shipping_address_key
from connectors.shopify import mapping
from tests.connectors.shopify.jsonl_samples import money


def node(**extra) -> dict:
    base = {
        "id": "gid://shopify/Order/7", "name": "#1007", "createdAt": "2026-11-01T10:00:00Z",
        "updatedAt": "2026-11-02T10:00:00Z", "currencyCode": "USD", "totalPriceSet": money("80.00"),
        "subtotalPriceSet": money("70.00"), "displayFinancialStatus": "PAID",
        "lineItems": {"nodes": [], "pageInfo": {"hasNextPage": False}}, "refunds": [],
        "shippingAddress": None, "transactions": [], "transactionsCount": {"count": 0},
    }
    base.update(extra)
    return base


def tx(kind: str, gateway: str, amount: str, status: str = "SUCCESS") -> dict:
    return {"kind": kind, "status": status, "gateway": gateway, "amountSet": money(amount)}


def transactions(*items: dict) -> dict:
    return {"transactions": list(items), "transactionsCount": {"count": len(items)}}


def test_what_gift_cards_took_is_the_gift_card_amount():
    order = mapping.record("orders", node(**transactions(
        tx("SALE", "gift_card", "25.00"), tx("SALE", "gift_card", "10.50"), tx("SALE", "shopify_payments", "44.50"))))
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("35.50"), True)


def test_an_order_no_gift_card_paid_for_has_a_known_zero():
    order = mapping.record("orders", node(**transactions(
        tx("AUTHORIZATION", "shopify_payments", "80.00"), tx("CAPTURE", "shopify_payments", "80.00"))))
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("0"), True)


def test_only_money_a_gift_card_actually_took_counts():
    order = mapping.record("orders", node(**transactions(
        tx("SALE", "gift_card", "99.00", status="FAILURE"),
        tx("SALE", "gift_card", "98.00", status="PENDING"),
        tx("AUTHORIZATION", "gift_card", "97.00"),
        tx("CAPTURE", "gift_card", "20.00"),
        tx("SALE", "Gift_Card", "5.00"))))
    assert order.gift_card_amount == Decimal("25.00")


def test_a_refund_back_to_the_gift_card_does_not_lower_the_amount():
    # given an order paid 30.00 by gift card, of which 12.00 went back to the card
    order = mapping.record("orders", node(**transactions(
        tx("SALE", "gift_card", "30.00"), tx("SALE", "bogus", "50.00"), tx("REFUND", "gift_card", "12.00"))))
    # then the amount is what the card paid: the refund is its own record
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("30.00"), True)


def test_transactions_cut_short_or_missing_leave_the_amount_unknown():
    cut = mapping.record("orders", node(transactions=[tx("SALE", "gift_card", "30.00")],
                                        transactionsCount={"count": 9}))
    assert (cut.gift_card_amount, cut.gift_card_amount_known) == (Decimal("30.00"), False)
    without = node()
    del without["transactions"]
    assert mapping.record("orders", without).gift_card_amount_known is False


def test_the_shipping_address_becomes_its_key():
    order = mapping.record("orders", node(shippingAddress={
        "address1": "12 Main St.", "address2": "Apt 4", "zip": "97205", "countryCodeV2": "US"}))
    assert order.shipping_address_key == shipping_address_key("12 main st", "apt 4", "97205", "us")
    assert len(order.shipping_address_key) == 64


def test_no_shipping_address_no_key():
    assert mapping.record("orders", node()).shipping_address_key is None
    assert mapping.record("orders", node(shippingAddress={"address1": None, "address2": None, "zip": None,
                                                         "countryCodeV2": "US"})).shipping_address_key is None
