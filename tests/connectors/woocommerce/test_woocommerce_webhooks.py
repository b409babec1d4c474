"""WooCommerce webhook signatures (published vectors, raw bytes), pings, dedupe keys, parsing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors import base
from connectors.woocommerce import webhooks
from tests.conftest import SHARED

VECTORS = json.loads((SHARED / "fixtures" / "woocommerce_vectors.json").read_text())


def _headers(secret: str, body: bytes, topic: str = "order.updated", webhook_id: str = "7",
             delivery_id: str = "d1") -> dict[str, str]:
    return {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-ID": webhook_id,
            "X-WC-Webhook-Delivery-ID": delivery_id, "X-WC-Webhook-Signature": webhooks.signature(secret, body),
            "X-WC-Webhook-Source": "https://store.example/"}


@pytest.mark.parametrize("vector", VECTORS["webhook_signature"], ids=lambda v: v["source"])
def test_published_signature_vectors(vector):
    body = vector["body"].encode("utf-8")
    assert webhooks.signature(vector["secret"], body) == vector["signature"]
    headers = {"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-ID": "1",
               "X-WC-Webhook-Signature": vector["signature"], "Content-Type": "application/json"}
    if vector["secret"]:
        envelope = webhooks.verify(headers, body, shop_key="https://store.example", secret=vector["secret"])
        assert (envelope.topic, envelope.kind, envelope.body) == ("order.updated", base.ORDER_UPSERT, body)
    else:
        # An empty secret is never one of ours: refused even though the vector signs with it.
        with pytest.raises(base.InvalidSignatureError, match="no webhook secret"):
            webhooks.verify(headers, body, shop_key="https://store.example", secret=vector["secret"])


def test_escaped_unicode_body_verifies_only_as_raw_bytes():
    # What WordPress sends: slashes escaped, non-ASCII as \\u escapes.
    raw = (b'{"id":12,"status":"processing","billing":{"email":"jos\\u00e9@example.com"},'
           b'"name":"Caf\\u00e9 cr\\u00e8me \\/ Gr\\u00fc\\u00dfe","date_modified_gmt":"2026-11-30T10:00:00"}')
    secret = "my-webhook-secret"
    headers = _headers(secret, raw)
    assert webhooks.verify(headers, raw, shop_key="https://s.example", secret=secret).body == raw
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert reserialised != raw
    with pytest.raises(base.InvalidSignatureError, match="does not match"):
        webhooks.verify(headers, reserialised, shop_key="https://s.example", secret=secret)


def test_tampered_missing_and_wrong_secret_are_refused():
    body = b'{"id":1}'
    headers = _headers("right", body)
    with pytest.raises(base.InvalidSignatureError, match="does not match"):
        webhooks.verify(headers, b'{"id":2}', shop_key="https://s.example", secret="right")
    with pytest.raises(base.InvalidSignatureError, match="does not match"):
        webhooks.verify(headers, body, shop_key="https://s.example", secret="wrong")
    unsigned = {k: v for k, v in headers.items() if k != "X-WC-Webhook-Signature"}
    with pytest.raises(base.InvalidSignatureError, match="header is missing"):
        webhooks.verify(unsigned, body, shop_key="https://s.example", secret="right")


def test_creation_ping_is_recognised_and_nothing_else_is():
    ping = VECTORS["ping"]
    headers = {"Content-Type": ping["content_type"]}
    envelope = webhooks.verify(headers, ping["body"].encode(), shop_key="https://s.example", secret="x")
    assert (envelope.kind, envelope.body, envelope.delivery_key) == (base.PING, b"", "")
    assert not webhooks.is_ping({"Content-Type": ping["content_type"]}, b"webhook_id=42&topic=x")
    assert not webhooks.is_ping({"Content-Type": "application/json"}, b"webhook_id=42")
    assert not webhooks.is_ping({"Content-Type": ping["content_type"], "X-WC-Webhook-Topic": "order.updated"},
                                b"webhook_id=42")


def test_delivery_key_ignores_the_non_unique_delivery_id_and_follows_store_resource_and_content():
    body_v1 = b'{"id":5,"date_modified_gmt":"2026-11-30T10:00:00"}'
    body_v2 = b'{"id":5,"date_modified_gmt":"2026-11-30T10:00:01"}'
    same_second = b'{"id":5,"date_modified_gmt":"2026-11-30T10:00:00","status":"completed"}'
    store = "https://a.example"

    def key(body, topic="order.updated", delivery="a", webhook="7", shop=store):
        return webhooks.delivery_key({"X-WC-Webhook-ID": webhook, "X-WC-Webhook-Delivery-ID": delivery},
                                     topic, body, shop)

    first = key(body_v1)
    assert first == key(body_v1, delivery="b")  # the same state again: one event
    assert first.startswith("woocommerce:") and ":7:order.updated:5:2026-11-30T10:00:00:" in first
    assert len({first, key(body_v2), key(same_second)}) == 3  # another version or content
    assert key(body_v1, shop="https://b.example") != first  # ids repeat across stores
    deleted = b'{"id":5}'
    # A deletion has no version: deleting the id again later is another event, a re-send is not.
    assert key(deleted, "order.deleted", delivery="x") == key(deleted, "order.deleted", delivery="x")
    assert key(deleted, "order.deleted", delivery="x") != key(deleted, "order.deleted", delivery="y")


def test_a_signed_body_under_another_topic_is_refused():
    order = json.dumps(_order()).encode()
    with pytest.raises(base.TerminalError, match="not a customer"):
        webhooks.parse("customer.updated", order)
    with pytest.raises(base.TerminalError, match="not a product"):
        webhooks.parse("product.updated", order)


def _order(**overrides):
    order = {
        "id": 41, "number": "41", "status": "processing", "currency": "eur", "customer_id": 3,
        "date_created_gmt": "2026-11-01T09:00:00", "date_modified_gmt": "2026-11-01T09:05:00",
        "date_paid_gmt": "2026-11-01T09:01:00", "total": "27.00", "total_tax": "0.00", "discount_total": "3.00",
        "billing": {"email": "Ana@Example.com"}, "payment_url": "https://s.example/checkout/order-pay/41/",
        "line_items": [{"id": 101, "name": "Café", "product_id": 9, "variation_id": 0, "quantity": 2,
                        "subtotal": "20.00", "total": "17.00", "sku": "CAF"},
                       {"id": 102, "name": "Tea", "product_id": 10, "variation_id": 12, "quantity": 1,
                        "subtotal": "10.00", "total": "10.00", "sku": None}],
        "coupon_lines": [{"code": "welcome"}], "refunds": [],
    }
    order.update(overrides)
    return order


def test_a_placed_order_maps_to_an_order_that_completes_its_cart():
    event = webhooks.parse("order.updated", json.dumps(_order()).encode())
    assert event.kind == base.ORDER_UPSERT and event.refetch == ()
    order, completion = event.records
    assert (order.external_id, order.currency, order.total_price, order.subtotal_price,
            order.total_discounts, order.financial_status, order.fulfillment_status, order.email,
            order.customer_external_id, order.discount_codes) == (
        "41", "EUR", Decimal("27.00"), Decimal("27.00"), Decimal("3.00"), "paid", "unfulfilled",
        "ana@example.com", "3", ("welcome",))
    first, second = order.line_items
    assert (first.unit_price, first.total_discount, first.variant_external_id) == (Decimal("10.00"), Decimal("3.00"), "9")
    assert (second.variant_external_id, second.product_external_id) == ("12", "10")
    assert completion == base.CartCompletion("order-41", order.processed_at)


def _placed(**overrides):
    (order, _completion) = webhooks.parse("order.updated", json.dumps(_order(**overrides)).encode()).records
    return order


def test_core_woocommerce_has_no_gift_cards():
    order = _placed()
    assert (order.gift_card_amount, order.gift_card_amount_known, order.total_price) == (
        Decimal("0"), True, Decimal("27.00"))
    assert _placed(gift_cards=[]).gift_card_amount == Decimal("0")


def test_the_gift_cards_extension_lists_what_each_card_paid():
    # given the extension's field (amounts are numbers; some stores send strings) and a total
    # it lowered by what the cards paid
    order = _placed(total="7.00", gift_cards=[{"id": 4, "code": "AAAA-BBBB-CCCC-DDDD", "amount": 12.5},
                                              {"id": 9, "code": "EEEE-FFFF-GGGG-HHHH", "amount": "7.50"}])
    # then the gift card amount is their sum and the order's total includes it again
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("20.0"), True)
    assert order.total_price == Decimal("27.00")
    assert order.financial_status == "paid"


def test_a_refund_leaves_what_the_gift_cards_paid():
    order = _placed(status="refunded", total="7.00", gift_cards=[{"id": 4, "code": "A", "amount": 20}],
                    refunds=[{"id": 77, "total": "-7.00"}])
    assert (order.gift_card_amount, order.total_price, order.financial_status) == (
        Decimal("20"), Decimal("27.00"), "refunded")


SHIPPING = {"first_name": "Ana", "last_name": "Ruiz", "company": "", "address_1": "Hauptstraße 5",
            "address_2": "", "city": "Berlin", "state": "BE", "postcode": "10115", "country": "DE"}
EMPTY = dict.fromkeys(SHIPPING, "")


def test_the_shipping_address_becomes_its_key():
    order = _placed(shipping=SHIPPING, billing={"email": "a@example.com", "address_1": "Elsewhere 1",
                                                "postcode": "80331", "country": "DE"})
    assert order.shipping_address_key == base.shipping_address_key("HAUPTSTRASSE 5", None, "10115", "de")


def test_an_order_shipping_nowhere_takes_its_billing_address():
    billing = {**SHIPPING, "email": "a@example.com", "address_1": "Lindenallee 9", "postcode": "50667"}
    assert _placed(shipping=EMPTY, billing=billing).shipping_address_key == base.shipping_address_key(
        "Lindenallee 9", "", "50667", "DE")
    # a name alone is no address: still the billing one
    assert _placed(shipping={**EMPTY, "first_name": "Ana"}, billing=billing).shipping_address_key == (
        base.shipping_address_key("Lindenallee 9", "", "50667", "DE"))


def test_no_address_at_all_no_key():
    assert _placed(shipping=EMPTY, billing={"email": "a@example.com", **EMPTY}).shipping_address_key is None
    assert _placed().shipping_address_key is None


def test_draft_and_pending_orders_are_carts():
    draft = webhooks.parse("order.created", json.dumps(_order(status="checkout-draft", customer_id=0)).encode())
    assert draft.kind == base.CART_UPSERT
    (cart,) = draft.records
    assert (cart.external_id, cart.customer_external_id, cart.recovery_url, cart.total_price, len(cart.lines)) == (
        "order-41", None, None, Decimal("27.00"), 2)
    pending = webhooks.parse("order.updated", json.dumps(_order(status="pending")).encode())
    assert pending.records[0].recovery_url == "https://s.example/checkout/order-pay/41/"


def test_refunds_listed_on_an_order_are_read_from_their_endpoint():
    body = json.dumps(_order(status="completed", refunds=[{"id": 77, "total": "-10.00"},
                                                           {"id": 78, "total": "-17.00"}])).encode()
    event = webhooks.parse("order.updated", body)
    assert event.refetch == (base.Refetch(base.REFETCH_ORDER_REFUNDS, "41", ("77", "78")),)
    assert event.records[0].financial_status == "refunded"


def test_deletions_and_trash():
    assert webhooks.parse("order.deleted", b'{"id":41}') == base.NormalizedEvent(
        base.ORDER_DELETE, (base.Deletion("41"),))
    assert webhooks.parse("order.updated", json.dumps(_order(status="trash")).encode()).kind == base.ORDER_DELETE
    assert webhooks.parse("customer.deleted", b'{"id":3}').records == (base.Deletion("3"),)
    assert webhooks.parse("product.deleted", b'{"id":9}').kind == base.PRODUCT_DELETE


def test_products_variations_and_unknown_topics():
    simple = {"id": 9, "name": "Café", "type": "simple", "status": "publish", "price": "10.00", "sku": "CAF",
              "stock_quantity": 4, "date_modified_gmt": "2026-11-01T09:00:00", "categories": [{"name": "Drinks"}],
              "tags": [{"name": "hot"}]}
    event = webhooks.parse("product.updated", json.dumps(simple).encode())
    (product,) = event.records
    assert (product.title, product.product_type, product.tags, product.variants) == (
        "Café", "Drinks", ("hot",), (base.Variant("9", "Café", Decimal("10.00"), "CAF", 4),))
    variable = dict(simple, type="variable", variations=[12, 13])
    event = webhooks.parse("product.updated", json.dumps(variable).encode())
    assert event.records[0].variants_complete is False
    assert event.refetch == (base.Refetch(base.REFETCH_PRODUCT, "9"),)
    variation = {"id": 12, "type": "variation", "parent_id": 9, "date_modified_gmt": "2026-11-01T09:00:00"}
    event = webhooks.parse("product.updated", json.dumps(variation).encode())
    assert (event.kind, event.records, event.refetch) == (base.IGNORED, (), (base.Refetch(base.REFETCH_PRODUCT, "9"),))
    assert webhooks.parse("coupon.created", b'{"id":1}').kind == base.IGNORED


def test_malformed_bodies_are_terminal():
    with pytest.raises(base.TerminalError, match="not JSON"):
        webhooks.parse("order.updated", b"<html>")
    with pytest.raises(base.TerminalError, match="invalid id"):
        webhooks.parse("order.updated", json.dumps(_order(id="abc")).encode())
    with pytest.raises(base.TerminalError, match="no status"):
        webhooks.parse("order.updated", json.dumps(_order(status=None)).encode())
