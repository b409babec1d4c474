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


def product_node(**extra) -> dict:
    base = {"id": "gid://shopify/Product/5", "title": "Mug", "handle": "mug", "status": "ACTIVE",
            "productType": "Kitchen", "tags": [], "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-11-30T10:00:00Z", "variants": {"nodes": [], "pageInfo": {"hasNextPage": False}},
            "featuredMedia": {"preview": {"image": {"url": "https://cdn.shopify.com/mug.png"}}},
            "onlineStoreUrl": "https://shop.example/products/mug", "category": {"name": "Mugs"}}
    base.update(extra)
    return base


def test_a_product_node_gives_image_page_and_categories():
    product = mapping.record("products", product_node())
    assert (product.image_url, product.url, product.categories, product.unknown_fields) == (
        "https://cdn.shopify.com/mug.png", "https://shop.example/products/mug", ("Mugs", "Kitchen"), frozenset())


def test_nulls_in_a_product_node_are_known_empties():
    product = mapping.record("products", product_node(featuredMedia=None, onlineStoreUrl=None, category=None))
    assert (product.image_url, product.url, product.categories, product.unknown_fields) == (
        None, None, ("Kitchen",), frozenset())
    # a video's preview has no image yet while it is processed
    product = mapping.record("products", product_node(featuredMedia={"preview": {"image": None}}, productType=""))
    assert (product.image_url, product.categories) == (None, ("Mugs",))


def test_a_product_node_without_the_fields_cannot_tell():
    node = product_node()
    for key in ("featuredMedia", "onlineStoreUrl", "category"):
        del node[key]
    product = mapping.record("products", node)
    assert (product.image_url, product.url, product.categories) == (None, None, ())
    assert product.unknown_fields == frozenset({"image_url", "url", "categories"})


def fulfillment(status: str, at: str) -> dict:
    return {"status": status, "createdAt": at}


def test_an_order_node_is_fulfilled_at_its_earliest_successful_fulfilment():
    import datetime as dt

    order = mapping.record("orders", node(fulfillments=[
        fulfillment("CANCELLED", "2026-11-02T08:00:00Z"), fulfillment("SUCCESS", "2026-11-03T09:00:00Z"),
        fulfillment("SUCCESS", "2026-11-05T09:00:00Z")], fulfillmentsCount={"count": 3}))
    assert (order.fulfilled_at, order.unknown_fields) == (
        dt.datetime(2026, 11, 3, 9, tzinfo=dt.timezone.utc), frozenset())


def test_an_order_node_with_its_fulfilments_cut_short_and_none_successful_cannot_tell():
    cut = mapping.record("orders", node(fulfillments=[fulfillment("CANCELLED", "2026-11-02T08:00:00Z")],
                                        fulfillmentsCount={"count": 2}))
    whole = mapping.record("orders", node(fulfillments=[fulfillment("FAILURE", "2026-11-02T08:00:00Z")],
                                          fulfillmentsCount={"count": 1}))
    missing = mapping.record("orders", node())
    assert (cut.fulfilled_at, cut.unknown_fields) == (None, frozenset({"fulfilled_at"}))
    assert (whole.fulfilled_at, whole.unknown_fields) == (None, frozenset())
    assert missing.unknown_fields == frozenset({"fulfilled_at"})
