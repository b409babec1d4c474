"""One battery of connector behaviour, run against both connectors over real HTTP (devstore).

Whatever sits above ``connectors/`` relies on these promises holding for every platform:
install starts at the store, pages cover everything once, webhooks verify only as signed,
write-back is idempotent, and failures arrive as the neutral error classes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from connectors import base
from connectors.shopify.connector import ShopifyConnector
from connectors.woocommerce.connector import WooCommerceConnector

REDIRECT_URI = "https://comeback.test/auth/callback"
SCOPES = "read_customers,write_customers,read_orders,read_products,write_discounts"
GENERATE = {"seed": 11, "customers": 24, "products": 7, "orders": 40, "checkouts": 5, "refund_rate": 0.15}


@dataclass
class Harness:
    """A connected store of one platform, and how to drive it."""

    platform: str
    connector: Any
    credentials: base.Credentials
    expected: dict[str, int]
    sign: Callable[[bytes], tuple[dict[str, str], dict[str, Any]]]  # body -> (headers, verify kwargs)
    fault: Callable[[int, int], None]
    revoke: Callable[[], None]
    attempts: int  # how many tries a call makes before it gives up
    # What the store holds, read apart from the connector's write path: a code's entitled
    # product and variant ids and its usage limit; a customer's tags (None: the platform has
    # none) and Comeback's values on it.
    discount: Callable[[str], tuple[set[str], int | None]]
    customer: Callable[[str], tuple[tuple[str, ...] | None, dict[str, str]]]
    # Place an order through the store's own control API: (gift card amount, address lines,
    # postal code, country, each spelled as the platform's field names want) -> its id.
    place_order: Callable[[str, tuple[str, str, str, str] | None], str]


def _shopify(devstore) -> Harness:
    control = httpx.Client(base_url=devstore.url, timeout=60)
    client_id, client_secret = f"app-{secrets.token_hex(4)}", f"secret-{secrets.token_hex(16)}"
    control.post("/_devstore/apps", json={"client_id": client_id, "client_secret": client_secret}).raise_for_status()
    domain = f"contract-{secrets.token_hex(4)}.myshopify.com"
    control.post("/_devstore/shops", json={"domain": domain}).raise_for_status()
    control.post(f"/_devstore/shops/{domain}/generate", json=GENERATE).raise_for_status()
    stats = control.get(f"/_devstore/shops/{domain}/stats").json()
    connector = ShopifyConnector(api_key=client_id, api_secret=client_secret, scopes=SCOPES, api_origin=devstore.url,
                                 max_throttle_wait=5)
    request = connector.authorization_request(domain, REDIRECT_URI, "contract-state")
    location = httpx.get(request.url, follow_redirects=False, timeout=10).headers["location"]
    query = dict(parse_qsl(urlsplit(location).query))
    credentials = connector.exchange_code(connector.verify_callback(query), query["code"], REDIRECT_URI)

    def discount(code: str) -> tuple[set[str], int | None]:
        stored = next(d for d in control.get(f"/_devstore/shops/{domain}/discounts").json() if d["code"] == code)
        return {str(i) for i in stored["product_ids"] + stored["variant_ids"]}, stored["usage_limit"]

    def customer(external_id: str) -> tuple[tuple[str, ...] | None, dict[str, str]]:
        stored = control.get(f"/_devstore/shops/{domain}/customers/{external_id}").json()
        tags = tuple(tag for tag in stored["tags"].split(", ") if tag)
        return tags, {m["key"]: m["value"] for m in stored["metafields"] if m["namespace"] == "comeback"}

    def place_order(gift_card: str, address: tuple[str, str, str, str] | None) -> str:
        shipping = None if address is None else dict(zip(("address1", "address2", "zip", "country_code"), address,
                                                          strict=True))
        response = control.post(f"/_devstore/shops/{domain}/orders",
                                json={"gift_card": gift_card, "shipping_address": shipping})
        response.raise_for_status()
        return str(response.json()["id"])

    def sign(body: bytes):
        digest = base64.b64encode(hmac.new(client_secret.encode(), body, hashlib.sha256).digest()).decode()
        return ({"X-Shopify-Topic": "orders/updated", "X-Shopify-Hmac-Sha256": digest,
                 "X-Shopify-Shop-Domain": domain, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                 "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-API-Version": "2026-10"}, {})

    return Harness(
        "shopify", connector, credentials,
        {"customers": stats["customers"], "products": stats["products"], "orders": stats["orders"]},
        sign,
        lambda status, count: control.post("/_devstore/faults", json={"status": status, "count": count}).raise_for_status(),
        lambda: control.post(f"/_devstore/shops/{domain}/uninstall", json={"client_id": client_id}).raise_for_status(),
        4, discount, customer, place_order,
    )


def _woocommerce(devstore) -> Harness:
    control = httpx.Client(base_url=devstore.url, timeout=60)
    handle = f"contract-{secrets.token_hex(4)}"
    control.post("/_devstore/woo/stores", json={"handle": handle}).raise_for_status()
    control.post(f"/_devstore/woo/stores/{handle}/generate", json=GENERATE).raise_for_status()
    stats = control.get(f"/_devstore/woo/stores/{handle}/stats").json()
    key = control.post(f"/_devstore/woo/stores/{handle}/keys", json={"permissions": "read_write"}).json()
    connector = WooCommerceConnector(https_only=False, allow_private=True, max_attempts=2)
    store_url = f"{devstore.url}/woo/{handle}"
    credentials = connector.verify_keys(store_url, key["consumer_key"], key["consumer_secret"])
    secret = secrets.token_urlsafe(24)
    # A plain-HTTP store takes OAuth 1.0a only: reads go through the connector's REST client.
    def discount(code: str) -> tuple[set[str], int | None]:
        (stored,) = connector.client(credentials).get("/coupons", {"code": code}).data
        return {str(i) for i in stored["product_ids"]}, stored["usage_limit"]

    def customer(external_id: str) -> tuple[tuple[str, ...] | None, dict[str, str]]:
        stored = connector.client(credentials).get(f"/customers/{external_id}").data
        return None, {m["key"].removeprefix("comeback_"): m["value"] for m in stored["meta_data"]
                      if m["key"].startswith("comeback_")}

    def place_order(gift_card: str, address: tuple[str, str, str, str] | None) -> str:
        # A store with the Gift Cards extension; an order shipping nowhere has no billing address either.
        control.post(f"/_devstore/woo/stores/{handle}", json={"gift_cards_installed": True}).raise_for_status()
        fields = ("address_1", "address_2", "postcode", "country")
        shipping = dict.fromkeys(fields, "") if address is None else dict(zip(fields, address, strict=True))
        body = {"email": "contract@example.com", "gift_card": gift_card, "shipping": shipping}
        if address is None:
            body["billing"] = dict.fromkeys(fields, "")
        response = control.post(f"/_devstore/woo/stores/{handle}/orders", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def sign(body: bytes):
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        return ({"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Signature": digest, "X-WC-Webhook-ID": "1",
                 "X-WC-Webhook-Delivery-ID": "x", "Content-Type": "application/json"},
                {"shop_key": store_url, "secret": secret})

    return Harness(
        "woocommerce", connector, credentials,
        {"customers": stats["customers"], "products": stats["products"],
         "orders": stats["orders"] - stats.get("orders_checkout-draft", 0)},
        sign,
        lambda status, count: control.post(f"/_devstore/woo/stores/{handle}/faults",
                                           json={"status": status, "count": count, "retry_after": 0}).raise_for_status(),
        lambda: control.delete(f"/_devstore/woo/stores/{handle}/keys/{key['key_id']}").raise_for_status(),
        2, discount, customer, place_order,
    )


@pytest.fixture(params=["shopify", "woocommerce"])
def harness(request, devstore):
    made = {"shopify": _shopify, "woocommerce": _woocommerce}[request.param](devstore)
    yield made
    made.connector.close()


def _all(harness: Harness, resource: str) -> list[Any]:
    records, cursor, pages = [], None, 0
    while True:
        page = harness.connector.fetch_page(harness.credentials, resource, cursor=cursor, updated_since=None)
        records.extend(page.records)
        pages += 1
        assert pages < 200, "paging does not end"
        if page.next_cursor is None:
            return records
        assert page.next_cursor != cursor
        cursor = page.next_cursor


def test_install_starts_at_the_store_and_carries_the_state(harness):
    request = harness.connector.authorization_request(harness.credentials.shop_key, REDIRECT_URI, "st-42")
    url = urlsplit(request.url)
    params = dict(parse_qsl(url.query))
    assert request.state == "st-42"
    assert "st-42" in params.values()
    assert REDIRECT_URI in params.values()
    with pytest.raises(base.InvalidShopError):
        harness.connector.normalize_shop_key("ftp://not a store")


@pytest.mark.parametrize(("resource", "record_type"), [
    ("customers", base.Customer), ("products", base.Product), ("orders", base.Order),
])
def test_pages_cover_every_record_once(harness, resource, record_type):
    records = [r for r in _all(harness, resource) if isinstance(r, record_type)]
    ids = [r.external_id for r in records]
    assert len(ids) == len(set(ids)) == harness.expected[resource]
    assert all(r.updated_at.tzinfo is not None for r in records)
    if resource == "orders":
        assert all(isinstance(r.total_price, Decimal) and r.currency for r in records)
        assert any(r.line_items for r in records)


def test_refunds_come_with_the_orders(harness):
    records = _all(harness, "orders")
    refunds = [r for r in records if isinstance(r, base.Refund)]
    refunds += [refund for r in records if isinstance(r, base.Order) for refund in r.refunds]
    assert refunds and all(refund.amount.amount > 0 and refund.line_items is not None for refund in refunds)


def test_carts_are_carts(harness):
    carts = [r for r in _all(harness, "carts") if isinstance(r, base.Cart)]
    assert carts and all(cart.lines and cart.total_price >= 0 for cart in carts)


def test_webhooks_verify_only_as_signed(harness):
    body = json.dumps({"id": 1, "date_modified_gmt": "2026-11-30T10:00:00", "updated_at": "2026-11-30T10:00:00Z",
                       "note": "Caf\u00e9", "image": "https://cdn.example/a.png"}, separators=(",", ":")
                      ).replace("/", "\\/").encode()
    headers, extra = harness.sign(body)
    envelope = harness.connector.verify_webhook(headers, body, **extra)
    assert (envelope.platform, envelope.kind, envelope.body) == (harness.platform, base.ORDER_UPSERT, body)
    assert envelope.delivery_key
    with pytest.raises(base.InvalidSignatureError):
        harness.connector.verify_webhook(headers, body + b" ", **extra)
    with pytest.raises(base.InvalidSignatureError):
        harness.connector.verify_webhook(headers, json.dumps(json.loads(body)).encode(), **extra)


# The key of "12 Main St.", "Apt 4", 97205, US: each platform below spells it differently.
MAIN_STREET_KEY = "ff7e6fbab03789c5f6e9cca5721bb57d68a89f345fe0bd75d4d43ed0352b7e61"
SPELLINGS = {"shopify": ("12 Main St.", "Apt 4", "97205", "US"),
             "woocommerce": ("12  MAIN ST", "apt. 4", "97205", "us")}


def test_gift_cards_and_shipping_addresses_read_alike_on_every_platform(harness):
    # given an order a gift card paid 4.20 of, and one shipping nowhere, placed in the store
    shipped = harness.place_order("4.20", SPELLINGS[harness.platform])
    nowhere = harness.place_order("0.00", None)
    # when the orders are read through the connector's pages
    orders = {r.external_id: r for r in _all(harness, "orders") if isinstance(r, base.Order)}
    # then both platforms give the same amount and the same key, and no key without an address
    assert (orders[shipped].gift_card_amount, orders[shipped].gift_card_amount_known) == (Decimal("4.20"), True)
    assert orders[shipped].shipping_address_key == MAIN_STREET_KEY
    assert orders[shipped].total_price > orders[shipped].gift_card_amount
    assert (orders[nowhere].gift_card_amount, orders[nowhere].shipping_address_key) == (Decimal("0"), None)
    # and what was refetched agrees with the page
    refetched = [r for r in harness.connector.fetch_records(harness.credentials, base.Refetch(base.REFETCH_ORDER, shipped))
                 if isinstance(r, base.Order)]
    assert refetched == [orders[shipped]]


def test_discount_codes_are_created_once(harness):
    code = f"CONTRACT-{secrets.token_hex(3).upper()}"
    spec = base.DiscountSpec(code=code, kind=base.DISCOUNT_PERCENTAGE, value=Decimal("10"), title="Contract")
    first, bad = harness.connector.create_discounts(
        harness.credentials, [spec, base.DiscountSpec(code=code + "-X", kind=base.DISCOUNT_PERCENTAGE,
                                                      value=Decimal("0"))])
    assert (first.code, first.created, first.error) == (code, True, None) and first.external_id
    assert (bad.created, bad.external_id) == (False, None) and "value" in bad.error
    (again,) = harness.connector.create_discounts(harness.credentials, [spec])
    assert (again.created, again.external_id) == (False, first.external_id)
    (shipping,) = harness.connector.create_discounts(harness.credentials, [base.DiscountSpec(
        code=code + "-SHIP", kind=base.DISCOUNT_FREE_SHIPPING)])
    assert shipping.created is True and shipping.error is None


def test_free_product_codes_name_their_products_and_are_created_once(harness):
    products = [r for r in _all(harness, "products") if isinstance(r, base.Product) and r.variants]
    whole, other = products[0], products[1]
    code = f"FREE-{secrets.token_hex(3).upper()}"
    spec = base.DiscountSpec(code=code, kind=base.DISCOUNT_FREE_PRODUCT, value=other.variants[-1].price,
                             product_external_ids=(whole.external_id,),
                             variant_external_ids=(other.variants[-1].external_id,))
    first, bad = harness.connector.create_discounts(harness.credentials, [
        spec, base.DiscountSpec(code=code + "-X", kind=base.DISCOUNT_FREE_PRODUCT, value=Decimal("5"))])
    assert (first.code, first.created, first.error) == (code, True, None) and first.external_id
    assert (bad.created, bad.external_id) == (False, None)
    assert bad.error == "product_external_ids: a free product needs at least one product or variant"
    assert harness.discount(code) == ({whole.external_id, other.variants[-1].external_id}, 1)
    (again,) = harness.connector.create_discounts(harness.credentials, [spec])
    assert (again.created, again.external_id, again.error) == (False, first.external_id, None)


def test_customer_tags_change_where_the_platform_has_them(harness):
    customer = next(r for r in _all(harness, "customers") if isinstance(r, base.Customer))
    written = harness.connector.set_customer_attributes(harness.credentials, [base.CustomerAttributes(
        customer.external_id, (("tier", "Gold"),), tags_add=("comeback-gold", "comeback-member"))])
    again = harness.connector.set_customer_attributes(harness.credentials, [base.CustomerAttributes(
        customer.external_id, (("tier", "Gold"),), tags_add=("comeback-gold",), tags_remove=("comeback-member",))])
    assert (written, again) == (1, 1)
    tags, values = harness.customer(customer.external_id)
    assert values["tier"] == "Gold"
    if harness.platform == "shopify":
        assert "comeback-gold" in tags and "comeback-member" not in tags
    else:
        assert tags is None


def test_customer_attributes_are_written(harness):
    customer = next(r for r in _all(harness, "customers") if isinstance(r, base.Customer))
    written = harness.connector.set_customer_attributes(harness.credentials, [
        base.CustomerAttributes(customer.external_id, (("points_balance", "250"), ("tier", "Silver")))])
    assert written == 2
    assert harness.connector.set_customer_attributes(harness.credentials, []) == 0


def test_unknown_resources_are_terminal(harness):
    with pytest.raises(base.TerminalError):
        harness.connector.fetch_page(harness.credentials, "invoices", cursor=None, updated_since=None)
    with pytest.raises(base.TerminalError):
        harness.connector.fetch_records(harness.credentials, base.Refetch("invoices", "1"))


def test_server_errors_that_persist_are_retryable(harness):
    # Exactly as many failures as tries: the faults are used up when the call gives up.
    harness.fault(503, harness.attempts)
    with pytest.raises(base.RetryableError):
        harness.connector.fetch_page(harness.credentials, "customers", cursor=None, updated_since=None)


def test_a_passing_rate_limit_is_waited_out(harness):
    harness.fault(429, 1)
    page = harness.connector.fetch_page(harness.credentials, "customers", cursor=None, updated_since=None)
    assert page.records


def test_revoked_credentials_are_auth_revoked(harness):
    harness.revoke()
    with pytest.raises(base.AuthRevokedError):
        harness.connector.fetch_page(harness.credentials, "customers", cursor=None, updated_since=None)
