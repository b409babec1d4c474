"""The WooCommerce connector's reads against devstore: refunds, incremental pages, write-back batches."""

from __future__ import annotations

import datetime as dt
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
