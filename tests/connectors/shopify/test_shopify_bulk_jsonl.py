"""Bulk JSONL results stream from a real HTTP server and join children to their parents."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from connectors.base import (
    BackfillJob,
    Customer,
    Money,
    Order,
    Product,
    RefundLineItem,
    TerminalError,
    shipping_address_key,
)
from tests.connectors.shopify.jsonl_samples import money, order_lines, orders_jsonl


def _job(url: str, resource: str = "orders") -> BackfillJob:
    return BackfillJob(resource=resource, job_id="gid://shopify/BulkOperation/1", status="completed",
                       result_url=url)


def test_orders_are_joined_with_line_items_and_refund_lines(connector, file_server):
    url = file_server.add("/orders.jsonl", orders_jsonl(10, line_items=3))
    orders = list(connector.iter_backfill(_job(url)))
    assert [order.external_id for order in orders] == [str(n) for n in range(1, 11)]
    assert all(isinstance(order, Order) for order in orders)
    assert [len(order.line_items) for order in orders] == [3] * 10
    assert orders[0].line_items[2].external_id == "102"
    assert orders[0].line_items[2].variant_external_id == "3"
    assert orders[0].line_items[0].unit_price == Decimal("10.00")
    assert orders[0].financial_status == "paid"
    assert orders[0].customer_external_id == "2"
    assert orders[0].created_at == dt.datetime(2026, 11, 1, 10, tzinfo=dt.timezone.utc)
    refunded = orders[2]
    assert refunded.financial_status == "partially_refunded"
    (refund,) = refunded.refunds
    assert refund.external_id == "3"
    assert refund.amount == Money(Decimal("5.00"), "USD")
    assert refund.line_items == (RefundLineItem("300", 1, Decimal("5.00")),)
    assert sum(len(order.refunds) for order in orders) == 3


def test_gift_cards_and_the_shipping_address_come_inline_with_the_order(connector, file_server):
    # given an export whose first order a gift card paid in part, shipped to an address,
    # and whose second order ships nowhere and was refunded to its card
    address = {"address1": "12 Main St.", "address2": None, "zip": "97205", "countryCodeV2": "US"}
    objects = order_lines(1, gift_card="7.25", address=address) + order_lines(2, refunded=True)
    body = ("\n".join(json.dumps(o) for o in objects) + "\n").encode()
    url = file_server.add("/gift-cards.jsonl", body)
    # when it is read
    first, second = connector.iter_backfill(_job(url))
    # then the amounts and keys come from the order's own line
    assert (first.gift_card_amount, first.gift_card_amount_known) == (Decimal("7.25"), True)
    assert first.shipping_address_key == shipping_address_key("12 MAIN ST", "", "97205", "us")
    assert (second.gift_card_amount, second.gift_card_amount_known) == (Decimal("0"), True)
    assert second.shipping_address_key is None
    assert len(first.line_items) == len(second.line_items) == 2


def test_skip_resumes_after_the_given_number_of_roots(connector, file_server):
    url = file_server.add("/orders.jsonl", orders_jsonl(10))
    orders = list(connector.iter_backfill(_job(url), skip=7))
    assert [order.external_id for order in orders] == ["8", "9", "10"]
    assert [len(order.line_items) for order in orders] == [2, 2, 2]
    assert list(connector.iter_backfill(_job(url), skip=10)) == []


def test_products_and_customers(connector, file_server):
    lines = [
        {"id": "gid://shopify/Product/1", "title": "Hat", "handle": "hat", "status": "ACTIVE",
         "vendor": "V", "productType": "T", "tags": ["a"], "createdAt": "2026-01-01T00:00:00Z",
         "updatedAt": "2026-01-02T00:00:00Z"},
        {"id": "gid://shopify/ProductVariant/11", "title": "Red", "sku": "H-R", "price": "9.50",
         "inventoryQuantity": 3, "__parentId": "gid://shopify/Product/1"},
        {"id": "gid://shopify/Product/2", "title": "Bag", "handle": "bag", "status": "DRAFT",
         "vendor": "V", "productType": "T", "tags": [], "createdAt": "2026-01-01T00:00:00Z",
         "updatedAt": "2026-01-02T00:00:00Z"},
    ]
    url = file_server.add("/p.jsonl", "\n".join(json.dumps(line) for line in lines).encode())
    products = list(connector.iter_backfill(_job(url, "products")))
    assert [(p.external_id, p.status, len(p.variants)) for p in products] == [("1", "active", 1), ("2", "draft", 0)]
    assert isinstance(products[0], Product) and products[0].variants[0].price == Decimal("9.50")

    customer_line = {
        "id": "gid://shopify/Customer/5", "firstName": "Ann", "lastName": "Lee",
        "defaultEmailAddress": {"emailAddress": "ann@example.com", "marketingState": "SUBSCRIBED"},
        "defaultPhoneNumber": None, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00Z",
        "state": "ENABLED", "tags": ["vip"], "numberOfOrders": "3", "amountSpent": {"amount": "75.10", "currencyCode": "USD"},
        "emailMarketingConsent": {"marketingState": "SUBSCRIBED", "consentUpdatedAt": "2026-01-01T12:00:00Z"},
        "defaultAddress": None,
    }
    url = file_server.add("/c.jsonl", json.dumps(customer_line).encode())
    (customer,) = connector.iter_backfill(_job(url, "customers"))
    assert customer == Customer(
        "5", "ann@example.com", "Ann", "Lee", None, "enabled", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), ("vip",), "subscribed",
        dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc), 3, Money(Decimal("75.10"), "USD"))


def test_carts(connector, file_server):
    lines = [
        {"id": "gid://shopify/AbandonedCheckout/77", "abandonedCheckoutUrl": "https://s/r/77",
         "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T01:00:00Z", "completedAt": None,
         "customer": {"id": "gid://shopify/Customer/5"}, "totalPriceSet": money("30.00", "EUR")},
        {"id": "gid://shopify/AbandonedCheckoutLineItem/1", "title": "Hat", "quantity": 2,
         "variant": {"id": "gid://shopify/ProductVariant/11"}, "product": {"id": "gid://shopify/Product/1"},
         "originalUnitPriceSet": money("15.00", "EUR"), "__parentId": "gid://shopify/AbandonedCheckout/77"},
    ]
    url = file_server.add("/k.jsonl", "\n".join(json.dumps(line) for line in lines).encode())
    (cart,) = connector.iter_backfill(_job(url, "carts"))
    assert (cart.external_id, cart.currency, cart.total_price, cart.customer_external_id) == (
        "77", "EUR", Decimal("30.00"), "5")
    assert [(line.title, line.quantity, line.unit_price) for line in cart.lines] == [("Hat", 2, Decimal("15.00"))]


def test_orphan_child_is_terminal(connector, file_server):
    url = file_server.add("/bad.jsonl", b'{"id": "gid://shopify/LineItem/1", "__parentId": "gid://shopify/Order/9"}\n')
    with pytest.raises(TerminalError):
        list(connector.iter_backfill(_job(url)))


def test_empty_completed_export_yields_nothing(connector):
    assert list(connector.iter_backfill(_job(None))) == []


def test_missing_file_is_terminal(connector, file_server):
    with pytest.raises(TerminalError):
        list(connector.iter_backfill(_job(file_server.url + "/nope.jsonl")))
