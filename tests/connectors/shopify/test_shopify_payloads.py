"""Webhook payloads of every topic become exact neutral records."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from connectors import base
from connectors.base import (
    Cart,
    CartLine,
    Customer,
    CustomerConsent,
    CustomerSummary,
    Deletion,
    LineItem,
    Money,
    PrivacyRequest,
    Product,
    Refund,
    RefundLineItem,
    TerminalError,
    Variant,
)
from tests.helpers import order_payload

UTC = dt.timezone.utc
PLUS2 = dt.timezone(dt.timedelta(hours=2))

REFUND = {
    "id": 509562969, "order_id": 450789469, "created_at": "2026-11-30T12:00:00+02:00",
    "note": "damaged", "refund_line_items": [
        {"id": 104689539, "line_item_id": 703073504, "quantity": 1, "subtotal": "19.99",
         "total_tax": "1.60"}],
    "transactions": [
        {"id": 1, "amount": "10.00", "kind": "refund", "status": "success", "currency": "EUR"},
        {"id": 2, "amount": "5.50", "kind": "refund", "status": "success", "currency": "EUR"},
        {"id": 3, "amount": "99.00", "kind": "refund", "status": "failure", "currency": "EUR"},
        {"id": 4, "amount": "7.00", "kind": "sale", "status": "success", "currency": "EUR"},
    ],
}

ORDER = {
    "id": 450789469, "admin_graphql_api_id": "gid://shopify/Order/450789469", "name": "#1001",
    "email": "bob@example.com", "created_at": "2026-11-30T10:00:00+02:00",
    "updated_at": "2026-11-30T12:00:00+02:00", "processed_at": "2026-11-30T10:00:01+02:00",
    "cancelled_at": None, "financial_status": "partially_refunded", "fulfillment_status": None,
    "currency": "EUR", "total_price": "59.97", "subtotal_price": "54.97", "total_discounts": "5.00",
    "total_tax": "4.80", "test": False, "tags": "vip, wholesale",
    "discount_codes": [{"code": "WELCOME5", "amount": "5.00", "type": "fixed_amount"}],
    "customer": {"id": 207119551, "email": "bob@example.com", "first_name": "Bob", "last_name": "N"},
    "line_items": [
        {"id": 703073504, "product_id": 632910392, "variant_id": 808950810, "title": "Ipod Nano",
         "quantity": 3, "price": "19.99", "sku": "IPOD-1", "total_discount": "5.00"},
        {"id": 703073505, "product_id": None, "variant_id": None, "title": "Custom", "quantity": 1,
         "price": 0.1, "sku": "", "total_discount": "0.00"},
    ],
    "refunds": [REFUND],
}


def _parse(connector, topic, payload):
    return connector.parse_event(topic, json.dumps(payload).encode())


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"])
def test_order_topics_give_an_order_with_lines_and_refunds(connector, topic):
    event = _parse(connector, topic, ORDER)
    assert event.kind == base.ORDER_UPSERT
    (order,) = event.records
    assert order.external_id == "450789469"
    assert order.number == "#1001"
    assert order.created_at == dt.datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert order.updated_at == dt.datetime(2026, 11, 30, 12, 0, tzinfo=PLUS2)
    assert order.processed_at == dt.datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)
    assert order.cancelled_at is None
    assert (order.currency, order.total_price, order.subtotal_price) == ("EUR", Decimal("59.97"), Decimal("54.97"))
    assert (order.total_discounts, order.total_tax) == (Decimal("5.00"), Decimal("4.80"))
    assert order.financial_status == "partially_refunded"
    assert order.fulfillment_status is None
    assert order.email == "bob@example.com"
    assert order.customer_external_id == "207119551"
    assert order.is_test is False
    assert order.tags == ("vip", "wholesale")
    assert order.discount_codes == ("WELCOME5",)
    assert order.line_items == (
        LineItem("703073504", "Ipod Nano", 3, Decimal("19.99"), Decimal("5.00"), "IPOD-1", "632910392", "808950810"),
        LineItem("703073505", "Custom", 1, Decimal("0.1"), Decimal("0.00"), None, None, None),
    )
    assert isinstance(order.line_items[1].unit_price, Decimal)
    (refund,) = order.refunds
    assert refund == Refund("509562969", "450789469", dt.datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
                            Money(Decimal("15.50"), "EUR"), "damaged",
                            (RefundLineItem("703073504", 1, Decimal("19.99")),))
    assert event.occurred_at == order.updated_at


def test_an_order_no_gift_card_paid_for_has_a_known_zero_and_needs_no_read(connector):
    event = _parse(connector, "orders/paid", {**ORDER, "payment_gateway_names": ["shopify_payments"]})
    (order,) = event.records
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("0"), True)
    assert event.refetch == ()


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"])
def test_a_gift_card_payment_is_left_to_a_read_of_the_order(connector, topic):
    # given a payload naming the gift card gateway (it never says how much the card paid)
    event = _parse(connector, topic, {**ORDER, "payment_gateway_names": ["gift_card", "shopify_payments"]})
    (order,) = event.records
    # then the amount is unknown (the mirror keeps what it holds) and the order is read again
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("0"), False)
    assert event.refetch == (base.Refetch(base.REFETCH_ORDER, "450789469"),)


def test_a_payload_naming_no_gateways_leaves_the_amount_unknown(connector):
    event = _parse(connector, "orders/updated", ORDER)
    (order,) = event.records
    assert order.gift_card_amount_known is False
    assert event.refetch == ()


def test_the_shipping_address_of_a_payload_becomes_its_key(connector):
    shipped = {**ORDER, "shipping_address": {
        "first_name": "Bob", "address1": "12 Main St.", "address2": "Apt 4", "city": "Portland",
        "province_code": "OR", "zip": "97205", "country": "United States", "country_code": "US"}}
    (order,) = _parse(connector, "orders/create", shipped).records
    assert order.shipping_address_key == base.shipping_address_key("12 MAIN ST", "apt. 4", "97205", "us")
    for nowhere in (None, {}):
        (order,) = _parse(connector, "orders/create", {**ORDER, "shipping_address": nowhere}).records
        assert order.shipping_address_key is None
    (order,) = _parse(connector, "orders/create", ORDER).records
    assert order.shipping_address_key is None


def test_refund_amount_sums_successful_refund_transactions(connector):
    event = _parse(connector, "refunds/create", REFUND)
    assert event.kind == base.REFUND_CREATE
    (refund,) = event.records
    assert refund.amount == Money(Decimal("15.50"), "EUR")
    assert refund.order_external_id == "450789469"
    assert refund.line_items == (RefundLineItem("703073504", 1, Decimal("19.99")),)


def test_refund_without_transactions_falls_back_to_line_subtotals(connector):
    payload = dict(REFUND, transactions=[], refund_line_items=[
        {"id": 1, "line_item_id": 2, "quantity": 1, "subtotal": "3.10"},
        {"id": 3, "line_item_id": 4, "quantity": 2, "subtotal": "0.20"}])
    (refund,) = _parse(connector, "refunds/create", payload).records
    assert refund.amount.amount == Decimal("3.30")


@pytest.mark.parametrize("topic", ["customers/create", "customers/update"])
def test_customer_topics(connector, topic):
    payload = {"id": 207119551, "admin_graphql_api_id": "gid://shopify/Customer/207119551",
               "email": "bob@example.com", "first_name": "Bob", "last_name": "Norman",
               "phone": "+16136120707", "state": "ENABLED", "created_at": "2026-01-01T00:00:00Z",
               "updated_at": "2026-11-30T10:00:00-05:00", "verified_email": True}
    event = _parse(connector, topic, payload)
    assert event.kind == base.CUSTOMER_UPSERT
    assert event.records == (Customer(
        "207119551", "bob@example.com", "Bob", "Norman", "+16136120707", "enabled",
        dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
        unknown_fields=base.CUSTOMER_OPTIONAL_FIELDS),)  # no address keys: the location stays as stored


def test_consent_topic(connector):
    payload = {"customer_id": 207119551, "email_address": "bob@example.com",
               "email_marketing_consent": {"state": "SUBSCRIBED", "opt_in_level": "single_opt_in",
                                           "consent_updated_at": "2026-11-30T10:00:00Z"}}
    event = _parse(connector, "customers/email_marketing_consent_update", payload)
    assert event.kind == base.CUSTOMER_CONSENT
    assert event.records == (CustomerConsent("207119551", "subscribed",
                                             dt.datetime(2026, 11, 30, 10, tzinfo=UTC), "bob@example.com"),)


def test_purchasing_summary_topic(connector):
    payload = {"customer_id": 207119551, "number_of_orders": 4,
               "amount_spent": {"amount": "123.40", "currency_code": "USD"},
               "last_order_id": 450789469, "last_order_date": "2026-11-30T10:00:00Z",
               "updated_at": "2026-11-30T10:05:00Z"}
    event = _parse(connector, "customers/purchasing_summary", payload)
    assert event.kind == base.CUSTOMER_SUMMARY
    assert event.records == (CustomerSummary("207119551", 4, Money(Decimal("123.40"), "USD"),
                                             dt.datetime(2026, 11, 30, 10, 5, tzinfo=UTC)),)


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_checkout_topics(connector, topic):
    payload = {"id": 981820079255243500, "token": "tok", "cart_token": "ct", "email": "a@b.co",
               "created_at": "2026-11-30T09:00:00Z", "updated_at": "2026-11-30T09:30:00Z",
               "completed_at": None, "abandoned_checkout_url": "https://x.myshopify.com/r/1",
               "currency": "USD", "total_price": "398.00", "customer": {"id": 603851970716743400},
               "line_items": [{"variant_id": 39072856, "product_id": 632910392, "title": "IPod",
                               "quantity": 2, "price": "199.00", "sku": "IPOD2008"}]}
    event = _parse(connector, topic, payload)
    assert event.kind == base.CART_UPSERT
    assert event.records == (Cart(
        "981820079255243500", dt.datetime(2026, 11, 30, 9, 30, tzinfo=UTC), "USD", Decimal("398.00"),
        dt.datetime(2026, 11, 30, 9, tzinfo=UTC), None, "a@b.co", "603851970716743400",
        "https://x.myshopify.com/r/1",
        (CartLine("IPod", 2, Decimal("199.00"), "632910392", "39072856", "IPOD2008"),)),)


@pytest.mark.parametrize("topic", ["products/create", "products/update"])
def test_product_topics(connector, topic):
    payload = {"id": 632910392, "admin_graphql_api_id": "gid://shopify/Product/632910392",
               "title": "IPod Nano", "handle": "ipod-nano", "status": "active", "vendor": "Apple",
               "product_type": "Cult Products", "tags": "Emotive, Flash Memory",
               "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-11-30T10:00:00Z",
               "variants": [{"id": 808950810, "product_id": 632910392, "title": "Pink", "price": "199.00",
                             "sku": "IPOD2008PINK", "inventory_quantity": 10,
                             "updated_at": "2026-11-30T10:00:00Z"}]}
    event = _parse(connector, topic, payload)
    assert event.kind == base.PRODUCT_UPSERT
    # A payload without image, category and publication (older versions) leaves them unknown.
    assert event.records == (Product(
        "632910392", "IPod Nano", dt.datetime(2026, 11, 30, 10, tzinfo=UTC), "ipod-nano", "active",
        "Apple", "Cult Products", ("Emotive", "Flash Memory"), dt.datetime(2026, 1, 1, tzinfo=UTC),
        (Variant("808950810", "Pink", Decimal("199.00"), "IPOD2008PINK", 10),),
        unknown_fields=frozenset({"image_url", "url", "categories"})),)


def test_product_delete(connector):
    event = _parse(connector, "products/delete", {"id": 632910392})
    assert (event.kind, event.records) == (base.PRODUCT_DELETE, (Deletion("632910392"),))


def test_app_uninstalled(connector):
    event = _parse(connector, "app/uninstalled", {"id": 548380009, "name": "Super Toys",
                                                  "domain": "super.example", "myshopify_domain": "super.myshopify.com"})
    assert (event.kind, event.records) == (base.APP_UNINSTALLED, ())


def test_compliance_topics(connector):
    data = _parse(connector, "customers/data_request", {
        "shop_id": 954889, "shop_domain": "s.myshopify.com", "orders_requested": [299938, 280263],
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "data_request": {"id": 9999}})
    assert data.kind == base.PRIVACY_DATA_REQUEST
    assert data.records == (PrivacyRequest("191167", "john@example.com", ("299938", "280263"), "9999"),)
    redact = _parse(connector, "customers/redact", {
        "shop_id": 954889, "shop_domain": "s.myshopify.com",
        "customer": {"id": 191167, "email": "john@example.com", "phone": None},
        "orders_to_redact": [299938]})
    assert redact.kind == base.PRIVACY_CUSTOMER_REDACT
    assert redact.records == (PrivacyRequest("191167", "john@example.com", ("299938",), None),)
    shop = _parse(connector, "shop/redact", {"shop_id": 954889, "shop_domain": "s.myshopify.com"})
    assert (shop.kind, shop.records) == (base.PRIVACY_SHOP_REDACT, (PrivacyRequest(),))


def test_unknown_topic_is_ignored(connector):
    event = connector.parse_event("themes/publish", b"not even json")
    assert (event.kind, event.records) == (base.IGNORED, ())


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b"\xff"])
def test_malformed_json_is_terminal(connector, body):
    with pytest.raises(TerminalError, match="orders/create"):
        connector.parse_event("orders/create", body)


@pytest.mark.parametrize("topic,payload,field", [
    ("orders/create", {k: v for k, v in ORDER.items() if k != "currency"}, "currency"),
    ("orders/create", dict(ORDER, created_at="yesterday"), "timestamp"),
    ("refunds/create", {k: v for k, v in REFUND.items() if k != "order_id"}, "order_id"),
    ("customers/update", {"email": "x@y.z"}, "id"),
    ("products/delete", {}, "id"),
    ("customers/purchasing_summary", {"customer_id": 1, "number_of_orders": 1}, "amount_spent"),
    ("orders/paid", dict(ORDER, line_items=[{"id": 1, "quantity": "many", "price": "1"}]), "integer"),
])
def test_missing_required_fields_are_terminal(connector, topic, payload, field):
    with pytest.raises(TerminalError, match=field):
        _parse(connector, topic, payload)


def _product_payload(**extra) -> dict:
    payload = {"id": 7, "title": "Mug", "handle": "mug", "status": "active", "product_type": "Kitchen",
               "tags": "", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-11-30T10:00:00Z",
               "published_at": "2026-01-01T00:00:00Z", "variants": [],
               "image": {"id": 31, "src": "https://cdn.shopify.com/s/files/1/mug.png"},
               "images": [{"id": 31, "src": "https://cdn.shopify.com/s/files/1/mug.png"}],
               "category": {"admin_graphql_api_id": "gid://shopify/TaxonomyCategory/hg-11-10-1-7",
                            "name": "Mugs", "full_name": "Home & Garden > Kitchen & Dining > Mugs"}}
    payload.update(extra)
    return payload


def test_a_product_payload_carries_image_and_categories_but_no_url(connector):
    (record,) = _parse(connector, "products/update", _product_payload()).records
    assert (record.image_url, record.url, record.categories, record.unknown_fields) == (
        "https://cdn.shopify.com/s/files/1/mug.png", None, ("Mugs", "Kitchen"), frozenset({"url"}))


@pytest.mark.parametrize("extra,expected", [
    # unpublished: known to have no storefront page
    ({"published_at": None}, ("https://cdn.shopify.com/s/files/1/mug.png", ("Mugs", "Kitchen"), frozenset())),
    # no featured image any more; the category left, the type only repeats it
    ({"image": None, "images": [], "category": None, "product_type": "mugs"}, (None, ("mugs",), frozenset({"url"}))),
    # only `images`: its first is the featured one
    ({"image": "absent"}, ("https://cdn.shopify.com/s/files/1/mug.png", ("Mugs", "Kitchen"), frozenset({"url"}))),
])
def test_product_payload_variants(connector, extra, expected):
    payload = _product_payload(**extra)
    if payload.get("image") == "absent":
        del payload["image"]
    (record,) = _parse(connector, "products/create", payload).records
    assert (record.image_url, record.categories, record.unknown_fields) == expected


def test_an_order_payload_says_when_it_first_shipped(connector):
    payload = order_payload(9, "2026-11-30T10:00:00+00:00")
    payload["fulfillments"] = [
        {"id": 1, "status": "cancelled", "created_at": "2026-11-02T08:00:00+00:00"},
        {"id": 3, "status": "success", "created_at": "2026-11-04T09:00:00-05:00"},
        {"id": 2, "status": "success", "created_at": "2026-11-03T12:00:00+01:00"}]
    (record,) = _parse(connector, "orders/updated", payload).records
    assert (record.fulfilled_at, record.unknown_fields) == (dt.datetime(2026, 11, 3, 11, tzinfo=UTC), frozenset())
    payload["fulfillments"] = [payload["fulfillments"][0]]
    (record,) = _parse(connector, "orders/updated", payload).records
    assert (record.fulfilled_at, record.unknown_fields) == (None, frozenset())
    del payload["fulfillments"]
    (record,) = _parse(connector, "orders/updated", payload).records
    assert (record.fulfilled_at, record.unknown_fields) == (None, frozenset({"fulfilled_at"}))
