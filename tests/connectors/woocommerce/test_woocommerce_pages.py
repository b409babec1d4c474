"""The WooCommerce connector's reads against devstore: refunds, incremental pages, write-back batches."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from decimal import Decimal

import httpx
import pytest

from connectors import base
from connectors.woocommerce.connector import WooCommerceConnector


@pytest.fixture()
def store(devstore):
    control = httpx.Client(base_url=devstore.url, timeout=60)
    handle = f"pages-{secrets.token_hex(4)}"
    control.post("/_devstore/woo/stores", json={"handle": handle}).raise_for_status()
    control.post(f"/_devstore/woo/stores/{handle}/generate", json={
        "seed": 4, "customers": 20, "products": 6, "orders": 150, "refund_rate": 0.2}).raise_for_status()
    key = control.post(f"/_devstore/woo/stores/{handle}/keys", json={}).json()
    connector = WooCommerceConnector(https_only=False, allow_private=True)
    credentials = connector.verify_keys(f"{devstore.url}/woo/{handle}", key["consumer_key"], key["consumer_secret"])
    yield connector, credentials, control, handle
    connector.close()


def _read(connector, credentials, resource, since=None):
    records, cursor = [], None
    while True:
        page = connector.fetch_page(credentials, resource, cursor=cursor, updated_since=since)
        records.extend(page.records)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


def _refunds(records):
    return sorted((r for r in records if isinstance(r, base.Refund)), key=lambda r: r.external_id)


def test_refunds_come_through_the_store_wide_endpoint_or_order_by_order(store):
    connector, credentials, control, handle = store
    through_endpoint = _refunds(_read(connector, credentials, "orders"))
    assert len(through_endpoint) == control.get(f"/_devstore/woo/stores/{handle}/stats").json()["refunds"] > 0
    control.post(f"/_devstore/woo/stores/{handle}", json={"refunds_endpoint": False}).raise_for_status()
    older = WooCommerceConnector(https_only=False, allow_private=True)
    order_by_order = _refunds(_read(older, credentials, "orders"))
    older.close()
    assert order_by_order == through_endpoint
    assert all(r.line_items or r.amount.amount > 0 for r in through_endpoint)


def test_orders_and_products_are_read_incrementally_customers_in_full(store):
    connector, credentials, control, handle = store
    since = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    assert [r for r in _read(connector, credentials, "orders", since) if isinstance(r, base.Order)] == []
    order = control.get(f"/_devstore/woo/stores/{handle}/orders/{_first_order_id(connector, credentials)}").json()
    control.patch(f"/_devstore/woo/stores/{handle}/orders/{order['id']}", json={"status": "completed"}
                  ).raise_for_status()
    changed = [r for r in _read(connector, credentials, "orders", since - dt.timedelta(seconds=5))
               if isinstance(r, base.Order)]
    assert [r.external_id for r in changed] == [str(order["id"])]
    assert changed[0].fulfillment_status == "fulfilled"
    # Customers cannot be filtered by date: the same full list whatever the cursor start.
    assert len(_read(connector, credentials, "customers", since)) == 20


def _first_order_id(connector, credentials) -> int:
    page = connector.fetch_page(credentials, "orders", cursor=None, updated_since=None)
    return int(next(r for r in page.records if isinstance(r, base.Order)).external_id)


def test_more_than_a_batch_of_coupons_goes_out_in_batches_of_100(store):
    connector, credentials, control, handle = store
    specs = [base.DiscountSpec(code=f"BULK-{n:03d}", kind=base.DISCOUNT_FIXED_AMOUNT, value=Decimal("5"),
                               expires_at=dt.datetime(2027, 1, 31, tzinfo=dt.timezone.utc),
                               customer_email=f"c{n}@example.com", minimum_subtotal=Decimal("20"))
             for n in range(130)]
    results = connector.create_discounts(credentials, specs)
    assert [r.code for r in results] == [s.code for s in specs]
    assert all(r.created and r.external_id for r in results)
    assert control.get(f"/_devstore/woo/stores/{handle}/stats").json()["coupons"] == 130
    with connector.client(credentials) as client:
        (coupon,) = client.get("/coupons", {"code": "bulk-007"}).data
    assert (coupon["discount_type"], coupon["amount"], coupon["minimum_amount"], coupon["email_restrictions"],
            coupon["date_expires_gmt"][:10], coupon["usage_limit_per_user"]) == (
        "fixed_cart", "5.00", "20.00", ["c7@example.com"], "2027-01-31", 1)


def test_a_free_product_is_a_coupon_for_one_entitled_item(store):
    connector, credentials, control, handle = store
    products = [r for r in _read(connector, credentials, "products") if isinstance(r, base.Product)]
    variable = next(p for p in products if len(p.variants) > 1)
    simple = next(p for p in products if len(p.variants) == 1)
    spec = base.DiscountSpec(code="FREE-ONE", kind=base.DISCOUNT_FREE_PRODUCT, value=Decimal("19.99"),
                             expires_at=dt.datetime(2027, 1, 31, tzinfo=dt.timezone.utc),
                             customer_email="Ada@Example.com",
                             # A simple product is its own variant: the id is sent once.
                             product_external_ids=(simple.external_id,),
                             variant_external_ids=(simple.variants[0].external_id, variable.variants[1].external_id))
    (result,) = connector.create_discounts(credentials, [spec])
    assert result.created and result.error is None
    (coupon,) = connector.client(credentials).get("/coupons", {"code": "free-one"}).data
    assert coupon["id"] == int(result.external_id)
    assert {name: coupon[name] for name in (
        "discount_type", "amount", "product_ids", "limit_usage_to_x_items", "usage_limit", "usage_limit_per_user",
        "email_restrictions", "individual_use", "free_shipping", "minimum_amount")} == {
        "discount_type": "percent", "amount": "100.00",
        "product_ids": [int(simple.external_id), int(variable.variants[1].external_id)],
        "limit_usage_to_x_items": 1, "usage_limit": 1, "usage_limit_per_user": 1,
        "email_restrictions": ["ada@example.com"], "individual_use": True, "free_shipping": False,
        "minimum_amount": "0.00"}
    assert coupon["date_expires_gmt"][:10] == "2027-01-31"


@pytest.mark.parametrize("spec,error", [
    (base.DiscountSpec(code="F1", kind=base.DISCOUNT_FREE_PRODUCT, value=Decimal("5")),
     "product_external_ids: a free product needs at least one product or variant"),
    (base.DiscountSpec(code="F2", kind=base.DISCOUNT_FREE_PRODUCT, value=Decimal("5"), product_external_ids=("mug",)),
     "product_external_ids: invalid id 'mug'"),
    (base.DiscountSpec(code="F3", kind=base.DISCOUNT_FREE_PRODUCT, value=Decimal("0"), variant_external_ids=("7",)),
     "value: an amount must be more than 0"),
    (base.DiscountSpec(code="F4", kind=base.DISCOUNT_FIXED_AMOUNT, value=Decimal("5"), variant_external_ids=("7",)),
     "product_external_ids: only a free product discount takes products"),
])
def test_a_free_product_without_products_is_refused_before_sending(store, spec, error):
    connector, credentials, control, handle = store
    assert connector.create_discounts(credentials, [spec]) == [base.DiscountResult(spec.code, None, False, error=error)]
    assert control.get(f"/_devstore/woo/stores/{handle}/stats").json()["coupons"] == 0


def test_customer_tags_are_ignored_the_meta_carries_the_values(store):
    connector, credentials, control, handle = store
    customer = next(r for r in _read(connector, credentials, "customers") if isinstance(r, base.Customer))
    client = connector.client(credentials)  # the connector's own cached client: not closed here
    before = client.get(f"/customers/{customer.external_id}").data
    assert connector.set_customer_attributes(credentials, [
        base.CustomerAttributes(customer.external_id, (), tags_add=("comeback-gold",))]) == 0
    assert client.get(f"/customers/{customer.external_id}").data == before  # no write at all
    assert connector.set_customer_attributes(credentials, [base.CustomerAttributes(
        customer.external_id, (("tier", "Gold"),), tags_add=("comeback-gold",), tags_remove=("comeback-silver",))]) == 1
    after = client.get(f"/customers/{customer.external_id}").data
    assert [(m["key"], m["value"]) for m in after["meta_data"] if m["key"].startswith("comeback_")] == [
        ("comeback_tier", "Gold")]
    assert {k: v for k, v in after.items() if k not in ("meta_data", "date_modified", "date_modified_gmt")} == {
        k: v for k, v in before.items() if k not in ("meta_data", "date_modified", "date_modified_gmt")}


def test_a_variation_change_reads_its_product_with_every_variation(store):
    connector, credentials, control, handle = store
    products = [r for r in _read(connector, credentials, "products") if isinstance(r, base.Product)]
    variable = next(p for p in products if len(p.variants) > 1)
    (again,) = connector.fetch_records(credentials, base.Refetch(base.REFETCH_PRODUCT, variable.external_id))
    assert again.variants == variable.variants and again.variants_complete
    assert connector.fetch_records(credentials, base.Refetch(base.REFETCH_PRODUCT, "999999")) == ()


def test_records_leaving_the_listing_while_we_page_do_not_make_others_skipped(store):
    connector, credentials, control, handle = store
    first = connector.fetch_page(credentials, "orders", cursor=None, updated_since=None)
    seen = {r.external_id for r in first.records if isinstance(r, base.Order)}
    # Five orders of the first page go to the trash: everything after them moves up by five.
    for external_id in sorted(seen, key=int)[:5]:
        control.delete(f"/_devstore/woo/stores/{handle}/orders/{external_id}").raise_for_status()
    cursor = first.next_cursor
    while cursor is not None:
        page = connector.fetch_page(credentials, "orders", cursor=cursor, updated_since=None)
        seen |= {r.external_id for r in page.records if isinstance(r, base.Order)}
        cursor = page.next_cursor
    remaining = set()
    with connector.client(credentials) as client:
        for number in (1, 2):
            remaining |= {str(o["id"]) for o in client.get("/orders", {"per_page": 100, "page": number}).data
                          if o["status"] not in ("pending", "checkout-draft")}
    assert remaining and remaining <= seen


def test_a_bad_cursor_is_terminal(store):
    connector, credentials, _, _ = store
    with pytest.raises(base.TerminalError, match="invalid page cursor"):
        connector.fetch_page(credentials, "orders", cursor="o12:x", updated_since=None)


# --- gift cards and shipping addresses -----------------------------------------------------

SHIPPING = {"first_name": "Ana", "last_name": "Ruiz", "address_1": "Hauptstraße 5", "address_2": "2. OG",
            "city": "Berlin", "postcode": "10115", "country": "DE"}


@pytest.fixture()
def gift_store(devstore):
    control = httpx.Client(base_url=devstore.url, timeout=60)
    handle = f"gift-{secrets.token_hex(4)}"
    control.post("/_devstore/woo/stores", json={"handle": handle}).raise_for_status()
    control.post(f"/_devstore/woo/stores/{handle}", json={"gift_cards_installed": True}).raise_for_status()
    control.post(f"/_devstore/woo/stores/{handle}/generate", json={
        "seed": 5, "customers": 3, "products": 2, "orders": 0}).raise_for_status()
    key = control.post(f"/_devstore/woo/stores/{handle}/keys", json={}).json()
    connector = WooCommerceConnector(https_only=False, allow_private=True)
    credentials = connector.verify_keys(f"{devstore.url}/woo/{handle}", key["consumer_key"], key["consumer_secret"])
    yield connector, credentials, control, handle
    connector.close()


def _order(connector, credentials, external_id: str) -> base.Order:
    return next(r for r in _read(connector, credentials, "orders")
                if isinstance(r, base.Order) and r.external_id == external_id)


def test_a_gift_card_order_reads_the_same_through_pages_webhooks_and_a_refetch(gift_store):
    connector, credentials, control, handle = gift_store
    # given an order a gift card paid 6.40 of, shipped to an address
    placed = control.post(f"/_devstore/woo/stores/{handle}/orders",
                          json={"email": "ana@example.com", "gift_card": "6.40", "shipping": SHIPPING}).json()
    order_id = str(placed["id"])
    assert [card["amount"] for card in placed["gift_cards"]] == [6.4]
    # when it is read through a page, its webhook payload and a refetch
    paged = _order(connector, credentials, order_id)
    hooked = connector.parse_event("order.created", json.dumps(placed).encode()).records[0]
    refetched = connector.fetch_records(credentials, base.Refetch(base.REFETCH_ORDER, order_id))
    # then all three know the amount, the order's whole total and the address key
    key = base.shipping_address_key("hauptstrasse 5", "2 og", "10115", "DE")
    assert (paged.gift_card_amount, paged.gift_card_amount_known, paged.shipping_address_key) == (
        Decimal("6.40"), True, key)
    assert paged.total_price == Decimal(placed["total"]) + Decimal("6.40")
    assert hooked == paged
    assert refetched == (paged, base.CartCompletion(f"order-{order_id}", paged.processed_at))


def test_a_full_refund_gives_back_what_the_card_paid_and_keeps_the_gift_card_amount(gift_store):
    connector, credentials, control, handle = gift_store
    placed = control.post(f"/_devstore/woo/stores/{handle}/orders",
                          json={"email": "bo@example.com", "gift_card": "5.00"}).json()
    refund = control.post(f"/_devstore/woo/stores/{handle}/orders/{placed['id']}/refund", json={}).json()
    assert refund["amount"] == placed["total"]  # the extension credits the gift card back itself
    order = _order(connector, credentials, str(placed["id"]))
    assert (order.gift_card_amount, order.financial_status) == (Decimal("5.00"), "refunded")
    refunds = [r for r in _read(connector, credentials, "orders")
               if isinstance(r, base.Refund) and r.order_external_id == order.external_id]
    assert sum(r.amount.amount for r in refunds) == order.total_price - order.gift_card_amount
