"""WooCommerce product images, permalinks and categories, completion times, and consent write-back.

Against devstore over real HTTP: pages, refetches and signed webhook deliveries give the same
values; consent goes out as customer meta through the batch endpoint and comes back with the
customer.
"""

from __future__ import annotations

import datetime as dt
import struct

import httpx
import pytest

from connectors import base
from connectors.base import ConsentResult, ConsentUpdate
from tests.connectors.receiver import WebhookReceiver
from tests.connectors.woocommerce.devstore_store import Store

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def store(devstore, receiver, devstore_certificate):
    instance = Store(devstore, receiver, devstore_certificate[0])
    yield instance
    instance.close()


# --- products -------------------------------------------------------------------------------


def test_a_product_reads_the_same_through_a_page_a_refetch_and_its_webhook(store):
    # given a product filed in two categories, with its image
    made = store.control("POST", "/products", {"name": "Linen Apron", "regular_price": "24.00",
                                               "categories": ["Kitchen", "Aprons"]})
    product_id = str(made["id"])
    # when it is read through a page, a refetch and its product.created delivery
    paged = store.read("products")[product_id]
    (refetched,) = store.connector.fetch_records(store.credentials, base.Refetch(base.REFETCH_PRODUCT, product_id))
    (created,) = store.webhooks("product.created")
    # then all know the image, the permalink and the categories
    src, home = made["images"][0]["src"], store.home()
    assert src.startswith(f"{home}/wp-content/uploads/") and src.endswith(f"/linen-apron-{made['images'][0]['id']}.png")
    assert (paged.image_url, paged.url, paged.categories, paged.unknown_fields) == (
        src, f"{home}/product/linen-apron/", ("Kitchen", "Aprons"), frozenset())
    assert refetched == paged and created.records == (paged,)
    # and the image is a real PNG where WordPress keeps uploads (the store's https home)
    response = httpx.get(src, timeout=10, verify=store.certificate)
    assert (response.status_code, response.headers["content-type"]) == (200, "image/png")
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", response.content[16:24]) == (64, 64)


def test_a_product_without_image_or_category_says_so(store):
    made = store.control("POST", "/products", {"name": "Plain Box", "categories": ["Boxes"]})
    store.webhooks("product.created")
    store.control("PATCH", f"/products/{made['id']}", {"image": None, "categories": []})
    (updated,) = store.webhooks("product.updated")
    (record,) = updated.records
    # WooCommerce files a product in no category as Uncategorized
    assert (record.image_url, record.categories, record.unknown_fields) == (None, ("Uncategorized",), frozenset())
    assert store.read("products")[str(made["id"])] == record
    assert httpx.get(made["images"][0]["src"], timeout=10, verify=store.certificate).status_code == 404


def test_generated_products_carry_images_and_their_category(store):
    store.control("POST", "/generate", {"seed": 2, "customers": 0, "products": 8, "orders": 0})
    products = store.read("products")
    assert len(products) == 8
    for product in products.values():
        assert product.image_url and product.url.endswith(f"/product/{product.handle}/")
        assert product.categories == (product.product_type,)


def test_a_partial_body_leaves_the_media_fields_unknown(store):
    (record,) = store.connector.parse_event("product.updated", (
        b'{"id":5,"name":"Mug","slug":"mug","type":"simple","status":"publish","price":"9.00",'
        b'"date_modified_gmt":"2026-11-30T10:00:00"}')).records
    assert (record.image_url, record.url, record.categories) == (None, None, ())
    assert record.unknown_fields == frozenset({"image_url", "url", "categories"})


# --- orders ---------------------------------------------------------------------------------


def _gmt(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)


def test_an_order_is_fulfilled_when_it_is_completed_and_stays_so(store):
    # given an order in processing: not fulfilled
    placed = store.control("POST", "/orders", {"email": "ana@example.com"})
    order_id = str(placed["id"])
    assert placed["date_completed_gmt"] is None
    (created,) = store.webhooks("order.created")
    assert (created.records[0].fulfilled_at, created.records[0].unknown_fields) == (None, frozenset())
    # when it is completed
    completed = store.control("PATCH", f"/orders/{order_id}", {"status": "completed"})
    at = _gmt(completed["date_completed_gmt"])
    (updated,) = store.webhooks("order.updated")
    # then its webhook and a page both say when
    assert (updated.records[0].fulfilled_at, updated.records[0].fulfillment_status) == (at, "fulfilled")
    assert store.read("orders")[order_id].fulfilled_at == at
    # and refunding it later does not take the completion back
    store.control("POST", f"/orders/{order_id}/refund", {})
    refunded = store.read("orders")[order_id]
    assert (refunded.financial_status, refunded.fulfilled_at) == ("refunded", at)


# --- consent --------------------------------------------------------------------------------


def _meta(store: Store, customer_id: str):
    customer = store.rest(f"/customers/{customer_id}")
    return next((m["value"] for m in customer["meta_data"] if m["key"] == "comeback_email_consent"), None)


def _customer(store: Store, email: str) -> str:
    customer_id = str(store.control("POST", "/customers", {"email": email, "first_name": "Ana"})["id"])
    store.webhooks("customer.created", 0)
    return customer_id


def _customer_updates(store: Store, customer_id: str) -> list:
    store.drained()
    return [e for e in store.webhooks("customer.updated", 0) if e.records[0].external_id == customer_id]


def test_the_capability_is_offered(store):
    assert base.CAP_CONSENT_WRITEBACK in store.connector.capabilities


def test_an_unsubscribe_by_id_becomes_the_customers_meta_and_its_webhook(store):
    customer_id = _customer(store, "ana@example.com")
    now = dt.datetime.now(UTC)
    results = store.connector.set_email_consent(store.credentials, [
        ConsentUpdate("ana@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, now)])
    assert results == [ConsentResult("ana@example.com", customer_id, base.CONSENT_WRITTEN)]
    assert _meta(store, customer_id) == "no"
    # the customer.updated delivery tells the mirror: unsubscribed
    (event,) = _customer_updates(store, customer_id)
    (record,) = event.records
    assert (record.email_marketing_state, record.consent_updated_at) == ("unsubscribed", record.updated_at)


def test_an_address_finds_its_account_and_a_guest_has_none(store):
    customer_id = _customer(store, "bo@example.com")
    store.control("POST", "/orders", {"email": "guest@example.com"})  # a guest order: no account
    now = dt.datetime.now(UTC)
    results = store.connector.set_email_consent(store.credentials, [
        ConsentUpdate("Bo@Example.com", None, base.CONSENT_SUBSCRIBED, now),
        ConsentUpdate("guest@example.com", None, base.CONSENT_UNSUBSCRIBED, now)])
    assert results == [ConsentResult("Bo@Example.com", customer_id, base.CONSENT_WRITTEN),
                       ConsentResult("guest@example.com", None, base.CONSENT_NO_CUSTOMER)]
    assert _meta(store, customer_id) == "yes"
    (record,) = store.read("customers").values()  # a page read says the same
    assert (record.external_id, record.email_marketing_state) == (customer_id, "subscribed")


def test_writing_the_same_state_twice_is_fine(store):
    customer_id = _customer(store, "cy@example.com")
    update = ConsentUpdate("cy@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, dt.datetime.now(UTC))
    assert store.connector.set_email_consent(store.credentials, [update]) == [
        ConsentResult("cy@example.com", customer_id, base.CONSENT_WRITTEN)]
    assert store.connector.set_email_consent(store.credentials, [update]) == [
        ConsentResult("cy@example.com", customer_id, base.CONSENT_WRITTEN)]
    assert _meta(store, customer_id) == "no"
    assert {e.records[0].email_marketing_state for e in _customer_updates(store, customer_id)} == {"unsubscribed"}


def test_two_decisions_of_one_customer_leave_the_newer(store):
    customer_id = _customer(store, "dee@example.com")
    now = dt.datetime.now(UTC)
    results = store.connector.set_email_consent(store.credentials, [
        ConsentUpdate("dee@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, now),
        ConsentUpdate("dee@example.com", None, base.CONSENT_SUBSCRIBED, now - dt.timedelta(minutes=5))])
    assert [r.status for r in results] == [base.CONSENT_WRITTEN, base.CONSENT_WRITTEN]
    assert _meta(store, customer_id) == "no"


def test_a_deleted_account_is_looked_up_by_address(store):
    customer_id = _customer(store, "eve@example.com")
    now = dt.datetime.now(UTC)
    results = store.connector.set_email_consent(store.credentials, [
        ConsentUpdate("eve@example.com", "9999", base.CONSENT_UNSUBSCRIBED, now),
        ConsentUpdate("nobody@example.com", "9998", base.CONSENT_UNSUBSCRIBED, now)])
    assert results == [ConsentResult("eve@example.com", customer_id, base.CONSENT_WRITTEN),
                       ConsentResult("nobody@example.com", None, base.CONSENT_NO_CUSTOMER)]
    assert _meta(store, customer_id) == "no"


def test_updates_that_cannot_be_sent_are_errors(store):
    customer_id = _customer(store, "fay@example.com")
    results = store.connector.set_email_consent(store.credentials, [
        ConsentUpdate("fay@example.com", customer_id, "not_subscribed", dt.datetime.now(UTC)),
        ConsentUpdate("fay@example.com", "abc", base.CONSENT_UNSUBSCRIBED, dt.datetime.now(UTC)),
        ConsentUpdate("fay@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, dt.datetime(2026, 11, 1))])
    assert [(r.status, r.error) for r in results] == [
        (base.CONSENT_ERROR, "state: must be one of subscribed, unsubscribed"),
        (base.CONSENT_ERROR, "customer_external_id: invalid id 'abc'"),
        (base.CONSENT_ERROR, "occurred_at: must be a timezone-aware datetime")]
    assert _meta(store, customer_id) is None
