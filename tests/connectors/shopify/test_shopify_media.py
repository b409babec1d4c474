"""Product media, storefront URLs, categories and fulfilment times: devstore over real HTTP.

Every path the connector reads them through (pages, bulk export, refetch, webhooks) gives the
same values; a webhook leaves unknown what its payload cannot tell.
"""

from __future__ import annotations

import datetime as dt
import struct

import httpx
import pytest

from connectors.base import REFETCH_ORDER, REFETCH_PRODUCT, Order, Refetch
from connectors.shopify import queries
from tests.connectors.receiver import WebhookReceiver
from tests.connectors.shopify.devstore_shop import Shop, register_app

SCOPES = "read_customers,read_orders,read_products"
UTC = dt.timezone.utc
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app_keys(devstore):
    return register_app(devstore, "media")


@pytest.fixture
def shop(devstore, app_keys, receiver):
    instance = Shop(devstore, app_keys, receiver, SCOPES)
    yield instance
    instance.close()


def _png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == PNG_SIGNATURE and body[12:16] == b"IHDR"
    return struct.unpack(">II", body[16:24])


def test_a_product_reads_the_same_through_pages_bulk_and_refetch(shop, devstore):
    # given a published product in a taxonomy category, with a merchant type, and an image
    made = shop.control("POST", "/products", {"title": "Stoneware Mug", "product_type": "Kitchen",
                                              "category": "mugs", "variants": [{"title": "Default Title",
                                                                                "price": "18.00"}]})
    product_id = str(made["id"])
    # when it is read through a page, the bulk export and a refetch
    paged = shop.paged("products")[product_id]
    exported = shop.bulk("products")[product_id]
    (refetched,) = shop.connector.fetch_records(shop.credentials, Refetch(REFETCH_PRODUCT, product_id))
    # then each knows the image, the storefront page and both category names
    image = made["image"]
    assert image["admin_graphql_api_id"] == f"gid://shopify/MediaImage/{image['id']}"
    assert paged.image_url == image["src"] == (f"{devstore.url}/cdn/shops/{shop.domain.split('.')[0]}"
                                               f"/files/{image['id']}.png")
    assert paged.url == f"https://{shop.domain}/products/stoneware-mug"
    assert paged.categories == ("Mugs", "Kitchen")
    assert paged.unknown_fields == frozenset()
    assert exported == paged == refetched
    # and the image is a real PNG on the devstore's own host
    response = httpx.get(paged.image_url, timeout=10)
    assert (response.status_code, response.headers["content-type"]) == (200, "image/png")
    assert _png_size(response.content) == (64, 64)


def test_generated_products_have_media_and_categories_in_every_read(shop):
    shop.control("POST", "/generate", {"seed": 3, "customers": 0, "products": 12, "orders": 0})
    paged = shop.paged("products")
    assert len(paged) == 12
    assert paged == shop.bulk("products")
    for product in paged.values():
        assert product.image_url and product.url == f"https://{shop.domain}/products/{product.handle}"
        # The taxonomy name first, the merchant's type after it.
        assert len(product.categories) == 2 and product.categories[1] == product.product_type


def test_a_product_page_costs_what_queries_says(shop, devstore):
    response = httpx.post(f"{devstore.url}/admin/api/2026-10/graphql.json", timeout=30,
                          headers={"Host": shop.domain, "X-Shopify-Access-Token": shop.credentials.access_token},
                          json={"query": queries.PAGE_QUERIES["products"],
                                "variables": {"first": queries.PAGE_SIZES["products"]}})
    body = response.json()
    assert "errors" not in body, body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 852


def test_a_product_webhook_carries_image_and_categories_not_the_url(shop):
    # given a new product
    made = shop.control("POST", "/products", {"title": "Field Tote", "product_type": "Bags",
                                              "category": "Tote Bags"})
    (created,) = shop.webhooks("products/create")
    (record,) = created.records
    # then its webhook knows the image and categories; the storefront URL it cannot tell
    assert (record.image_url, record.categories) == (made["image"]["src"], ("Tote Bags", "Bags"))
    assert (record.url, record.unknown_fields) == (None, frozenset({"url"}))
    # when it is unpublished, and then loses its image and category
    shop.control("PATCH", f"/products/{made['id']}", {"published": False})
    shop.control("PATCH", f"/products/{made['id']}", {"image": None, "category": None})
    unpublished, stripped = shop.webhooks("products/update", 2)
    # then an unpublished product is known to have no URL, and the empty image and category are known too
    (record,) = unpublished.records
    assert (record.url, record.unknown_fields) == (None, frozenset())
    (record,) = stripped.records
    assert (record.image_url, record.url, record.categories, record.unknown_fields) == (
        None, None, ("Bags",), frozenset())
    assert shop.paged("products")[str(made["id"])] == record


def test_a_draft_product_has_no_storefront_page(shop, devstore):
    made = shop.control("POST", "/products", {"title": "Draft Candle", "status": "draft", "category": "Candles"})
    assert shop.paged("products")[str(made["id"])].url is None
    page = httpx.get(f"{devstore.url}/products/draft-candle", headers={"Host": shop.domain}, timeout=10)
    assert page.status_code == 404
    shop.control("PATCH", f"/products/{made['id']}", {"status": "active"})
    product = shop.paged("products")[str(made["id"])]
    assert product.url == f"https://{shop.domain}/products/draft-candle"
    page = httpx.get(f"{devstore.url}/products/draft-candle", headers={"Host": shop.domain}, timeout=10)
    assert page.status_code == 200 and f'src="{product.image_url}"' in page.text


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(UTC)


def test_the_fulfilment_time_reads_the_same_everywhere(shop):
    # given an order that is not fulfilled yet
    placed = shop.control("POST", "/orders", {})
    order_id = str(placed["id"])
    assert placed["fulfillments"] == []
    (created,) = shop.webhooks("orders/create")
    assert (created.records[0].fulfilled_at, created.records[0].unknown_fields) == (None, frozenset())
    # when it is fulfilled
    fulfillment = shop.control("POST", f"/orders/{order_id}/fulfillments")
    at = _time(fulfillment["created_at"])
    (updated,) = shop.webhooks("orders/updated")
    # then the webhook, a page, a refetch and the bulk export all say when
    (from_webhook,) = [r for r in updated.records if isinstance(r, Order)]
    paged = shop.paged("orders")[order_id]
    (refetched,) = shop.connector.fetch_records(shop.credentials, Refetch(REFETCH_ORDER, order_id))
    exported = shop.bulk("orders")[order_id]
    assert (from_webhook.fulfilled_at, from_webhook.fulfillment_status) == (at, "fulfilled")
    assert paged.fulfilled_at == refetched.fulfilled_at == exported.fulfilled_at == at
    assert paged == refetched == exported
    # when the fulfilment is cancelled, the order is not fulfilled any more
    shop.control("POST", f"/orders/{order_id}/fulfillments/{fulfillment['id']}/cancel")
    _, cancelled = shop.webhooks("orders/updated", 2)
    (record,) = [r for r in cancelled.records if isinstance(r, Order)]
    assert (record.fulfilled_at, record.unknown_fields, record.fulfillment_status) == (None, frozenset(), None)
    assert shop.paged("orders")[order_id].fulfilled_at is None


def test_a_page_that_cut_the_fulfilments_short_cannot_tell(shop):
    # given an order whose first four fulfilments were cancelled
    order_id = str(shop.control("POST", "/orders", {})["id"])
    for _ in range(4):
        fulfillment = shop.control("POST", f"/orders/{order_id}/fulfillments")
        shop.control("POST", f"/orders/{order_id}/fulfillments/{fulfillment['id']}/cancel")
    # then a page (three of them) cannot tell; a read of the order alone can
    paged = shop.paged("orders")[order_id]
    assert (paged.fulfilled_at, paged.unknown_fields) == (None, frozenset({"fulfilled_at"}))
    (refetched,) = shop.connector.fetch_records(shop.credentials, Refetch(REFETCH_ORDER, order_id))
    assert (refetched.fulfilled_at, refetched.unknown_fields) == (None, frozenset())
    # when a fifth one ships, the refetch and the bulk export see it; the page still cannot
    at = _time(shop.control("POST", f"/orders/{order_id}/fulfillments")["created_at"])
    (refetched,) = shop.connector.fetch_records(shop.credentials, Refetch(REFETCH_ORDER, order_id))
    assert refetched.fulfilled_at == shop.bulk("orders")[order_id].fulfilled_at == at
    assert shop.paged("orders")[order_id].unknown_fields == frozenset({"fulfilled_at"})


def test_generated_fulfilled_orders_have_a_fulfilment_time(shop):
    shop.control("POST", "/generate", {"seed": 5, "customers": 10, "products": 3, "orders": 40,
                                       "cancel_rate": 0.1})
    orders = shop.bulk("orders")
    assert orders == shop.paged("orders")
    fulfilled = [o for o in orders.values() if o.fulfillment_status == "fulfilled"]
    assert fulfilled and all(o.fulfilled_at is not None and o.fulfilled_at >= o.created_at for o in fulfilled)
    assert all(o.fulfilled_at is None for o in orders.values() if o.fulfillment_status != "fulfilled")
