"""The connector against the local devstore, over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import redis as redis_lib

from connectors.base import AuthRevokedError, Credentials, Order
from connectors.shopify.connector import ShopifyConnector
from connectors.shopify.throttle import key_for

devstore_server = pytest.importorskip("devstore.server")

REDIRECT_URI = "https://comeback.test/auth/callback"
SCOPES = "read_customers,read_orders,read_products,read_checkouts"


@pytest.fixture(scope="module")
def store():
    server = devstore_server.serve_in_thread(host="127.0.0.1", port=0)
    yield server
    server.stop()


class Control:
    """Drive devstore's /_devstore control endpoints."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=30)

    def post(self, path: str, body: dict | None = None) -> dict:
        response = self.http.post(path, json=body or {})
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else {}


@pytest.fixture(scope="module")
def control(store):
    client = Control(store.url)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def app(control):
    client_id = "app-" + secrets.token_hex(4)
    client_secret = "secret-" + secrets.token_hex(16)
    control.post("/_devstore/apps", {"client_id": client_id, "client_secret": client_secret,
                                     "compliance_uri": "https://comeback.test/webhooks/compliance"})
    return client_id, client_secret


def _connector(store, app, **kwargs) -> ShopifyConnector:
    client_id, client_secret = app
    return ShopifyConnector(api_key=client_id, api_secret=client_secret, scopes=SCOPES,
                            api_origin=store.url, **kwargs)


def _new_shop(control, **generate) -> str:
    domain = f"shop-{secrets.token_hex(4)}.myshopify.com"
    control.post("/_devstore/shops", {"domain": domain})
    if generate:
        control.post(f"/_devstore/shops/{domain}/generate", {"seed": 7, **generate})
    return domain


def _install(connector: ShopifyConnector, shop: str) -> Credentials:
    """Run the browser part of OAuth with httpx, then verify and exchange the code."""
    request = connector.authorization_request(shop, REDIRECT_URI, "state-123")
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        response = browser.get(request.url)
        hops = 0
        while response.status_code in (301, 302, 303, 307) and not response.headers["location"].startswith(REDIRECT_URI):
            response = browser.get(response.headers["location"])
            hops += 1
            assert hops < 5
    assert response.status_code in (302, 303), response.text[:500]
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    query = dict(parse_qsl(urlsplit(location).query))
    assert query["state"] == "state-123"
    assert connector.verify_callback(query) == shop
    return connector.exchange_code(shop, query["code"], REDIRECT_URI)


@pytest.fixture(scope="module")
def seeded(store, control, app):
    shop = _new_shop(control, customers=130, products=60, orders=37, checkouts=12)
    connector = _connector(store, app)
    credentials = _install(connector, shop)
    yield connector, shop, credentials
    connector.close()


def test_install_gives_an_expiring_token_and_refresh_token(seeded):
    _, shop, credentials = seeded
    now = dt.datetime.now(dt.timezone.utc)
    assert credentials.shop_key == shop
    assert credentials.access_token and credentials.refresh_token
    assert dt.timedelta(minutes=59) < credentials.expires_at - now <= dt.timedelta(minutes=60)
    assert credentials.refresh_token_expires_at - now > dt.timedelta(days=89)


def test_a_code_works_once(store, control, app):
    connector = _connector(store, app)
    shop = _new_shop(control)
    request = connector.authorization_request(shop, REDIRECT_URI, "s")
    with httpx.Client(timeout=10) as browser:
        location = browser.get(request.url).headers["location"]
    query = dict(parse_qsl(urlsplit(location).query))
    connector.exchange_code(shop, query["code"], REDIRECT_URI)
    with pytest.raises(Exception) as error:
        connector.exchange_code(shop, query["code"], REDIRECT_URI)
    assert type(error.value).__name__ in {"TerminalError", "AuthRevokedError"}


def test_refresh_rotates_the_refresh_token(store, control, app):
    connector = _connector(store, app)
    shop = _new_shop(control)
    credentials = _install(connector, shop)
    assert connector.refresh_credentials(credentials) is None  # 60 minutes left
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=56)
    fresh = connector.refresh_credentials(credentials, now=soon)
    assert fresh is not None
    assert fresh.access_token != credentials.access_token
    assert fresh.refresh_token and fresh.refresh_token != credentials.refresh_token
    assert connector.shop_info(fresh)["name"]
    # The old refresh token stopped working.
    with pytest.raises(AuthRevokedError):
        connector.refresh_credentials(credentials, now=soon)


def test_expired_token_is_auth_revoked(store, control, app):
    connector = _connector(store, app)
    shop = _new_shop(control)
    credentials = _install(connector, shop)
    control.post(f"/_devstore/shops/{shop}/expire-tokens")
    with pytest.raises(AuthRevokedError):
        connector.shop_info(credentials)
    with pytest.raises(AuthRevokedError):
        connector.shop_info(Credentials(shop_key=shop, access_token="not-a-token"))


def test_shop_info(seeded):
    connector, _, credentials = seeded
    info = connector.shop_info(credentials)
    assert set(info) == {"name", "currency", "timezone", "email"}
    assert all(info.values())


@pytest.mark.parametrize("resource,expected", [
    ("customers", 130), ("products", 60), ("orders", 37), ("carts", 12)])
def test_fetch_page_paginates_everything(seeded, resource, expected):
    connector, _, credentials = seeded
    cursor, ids, pages = None, [], 0
    while True:
        page = connector.fetch_page(credentials, resource, cursor=cursor, updated_since=None)
        ids += [record.external_id for record in page.records]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(ids) == expected
    assert len(set(ids)) == expected
    assert pages > 1 or expected <= 5


def test_fetch_page_filters_by_updated_since(seeded):
    connector, _, credentials = seeded
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3650)
    page = connector.fetch_page(credentials, "customers", cursor=None, updated_since=future)
    assert page.records == () and page.next_cursor is None


def _wait_for(connector, credentials, job, timeout=60):
    deadline = time.monotonic() + timeout
    while job.status == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
        job = connector.poll_backfill(credentials, job)
    return job


def test_bulk_backfill_of_orders_joins_lines_and_refunds(seeded):
    connector, _, credentials = seeded
    job = connector.start_backfill(credentials, "orders")
    assert job.status == "running" and job.job_id.startswith("gid://shopify/BulkOperation/")
    job = _wait_for(connector, credentials, job)
    assert job.status == "completed", job
    assert job.root_object_count == 37
    orders = list(connector.iter_backfill(job))
    assert len(orders) == 37 and all(isinstance(order, Order) for order in orders)
    line_count = sum(len(order.line_items) for order in orders)
    refund_lines = sum(len(refund.line_items) for order in orders for refund in order.refunds)
    assert job.object_count == 37 + line_count + refund_lines
    assert line_count >= 37
    # Pages and the bulk file describe the same orders.
    paged = {}
    cursor = None
    while True:
        page = connector.fetch_page(credentials, "orders", cursor=cursor, updated_since=None)
        paged.update({order.external_id: order for order in page.records})
        if (cursor := page.next_cursor) is None:
            break
    assert {order.external_id: order for order in orders} == paged
    resumed = list(connector.iter_backfill(job, skip=30))
    assert [order.external_id for order in resumed] == [order.external_id for order in orders[30:]]


def test_throttled_calls_wait_and_succeed(store, control, app):
    connector = _connector(store, app)
    shop = _new_shop(control, customers=250, products=0, orders=0, checkouts=0)
    credentials = _install(connector, shop)
    connector.shop_info(credentials)  # devstore applies currently_available to existing buckets only
    control.post(f"/_devstore/shops/{shop}/throttle",
                 {"maximum_available": 1000, "restore_rate": 400, "currently_available": 0})
    started = time.monotonic()
    page = connector.fetch_page(credentials, "customers", cursor=None, updated_since=None)
    assert len(page.records) == 100
    assert time.monotonic() - started >= 0.5


def test_budget_is_shared_between_connectors_through_redis(store, control, app):
    client = redis_lib.Redis(host="127.0.0.1", port=6379, db=15)
    shop = _new_shop(control, customers=120, products=0, orders=0, checkouts=0)
    try:
        first = _connector(store, app, redis=client)
        second = _connector(store, app, redis=client)
        credentials = _install(first, shop)
        control.post(f"/_devstore/shops/{shop}/throttle",
                     {"maximum_available": 1000, "restore_rate": 200, "currently_available": 1000})
        first.fetch_page(credentials, "customers", cursor=None, updated_since=None)
        state = client.hgetall(key_for(shop))
        assert float(state[b"maximum"]) == 1000 and float(state[b"restore"]) == 200
        left = float(state[b"available"])
        assert left < 1000
        # The second connector never talked to Shopify, yet it knows what the first spent.
        started = time.monotonic()
        second.fetch_page(credentials, "customers", cursor=None, updated_since=None)
        second.fetch_page(credentials, "customers", cursor=None, updated_since=None)
        assert time.monotonic() - started > 0.5
    finally:
        client.delete(key_for(shop))


def test_server_errors_are_retried(store, control, app):
    connector = _connector(store, app)
    shop = _new_shop(control, customers=3, products=0, orders=0, checkouts=0)
    credentials = _install(connector, shop)
    control.post("/_devstore/faults", {"status": 503, "count": 2})
    page = connector.fetch_page(credentials, "customers", cursor=None, updated_since=None)
    assert len(page.records) == 3


def test_persistent_server_errors_become_retryable(store, control, app):
    from connectors.base import RetryableError

    connector = _connector(store, app)
    shop = _new_shop(control)
    credentials = _install(connector, shop)
    # Faults are global to devstore: ask for exactly as many as the connector's 4 attempts.
    control.post("/_devstore/faults", {"status": 502, "count": 4})
    with pytest.raises(RetryableError):
        connector.shop_info(credentials)
    assert connector.shop_info(credentials)["name"]


def test_register_webhooks_is_idempotent(store, control, app):
    connector = _connector(store, app)
    shop = _new_shop(control)
    credentials = _install(connector, shop)
    uri = "https://comeback.test/webhooks/shopify"
    topics = connector.register_webhooks(credentials, uri)
    assert topics == connector.webhook_topics() and len(topics) == 15
    assert connector.register_webhooks(credentials, uri) == topics
    data = connector.graphql().execute(
        credentials, "{ webhookSubscriptions(first: 100) { nodes { id topic uri } } }")
    nodes = data["webhookSubscriptions"]["nodes"]
    assert len(nodes) == 15
    assert {node["uri"] for node in nodes} == {uri}


def test_session_token_verifies_and_exchanges(store, control, app):
    connector = _connector(store, app)
    shop = _new_shop(control)
    token = control.post(f"/_devstore/shops/{shop}/session-token", {"client_id": app[0]})["token"]
    verified_shop, claims = connector.verify_session_token(f"Bearer {token}", "https://comeback.test/app")
    assert verified_shop == shop and claims["aud"] == app[0]
    credentials = connector.exchange_session_token(token, shop)
    assert credentials.shop_key == shop and credentials.refresh_token
    assert credentials.expires_at > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=55)
    assert connector.shop_info(credentials)["name"]


# --- gift cards and shipping addresses -----------------------------------------------------

ADDRESS = {"first_name": "Ada", "address1": "12 Main St.", "address2": "Apt 4", "city": "Portland",
           "province_code": "OR", "zip": "97205", "country_code": "US"}


@pytest.fixture(scope="module")
def gift_shop(store, control, app):
    shop = _new_shop(control, customers=3, products=2, orders=0)
    connector = _connector(store, app)
    credentials = _install(connector, shop)
    yield connector, shop, credentials
    connector.close()


def json_bytes(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def _paged_order(connector, credentials, external_id: str) -> Order:
    cursor = None
    while True:
        page = connector.fetch_page(credentials, "orders", cursor=cursor, updated_since=None)
        found = [o for o in page.records if isinstance(o, Order) and o.external_id == external_id]
        if found:
            return found[0]
        cursor = page.next_cursor
        assert cursor is not None, f"order {external_id} not in the pages"


def test_the_order_page_costs_what_queries_says(seeded, store):
    from connectors.shopify import queries

    _, shop, credentials = seeded
    response = httpx.post(f"{store.url}/admin/api/2026-10/graphql.json", timeout=30,
                          headers={"Host": shop, "X-Shopify-Access-Token": credentials.access_token},
                          json={"query": queries.PAGE_QUERIES["orders"],
                                "variables": {"first": queries.PAGE_SIZES["orders"]}})
    body = response.json()
    assert "errors" not in body, body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 982


def test_a_gift_card_order_reads_the_same_through_every_path(gift_shop, control):
    from connectors.base import REFETCH_ORDER, Refetch, shipping_address_key

    connector, shop, credentials = gift_shop
    # given an order a gift card paid 12.50 of, shipped to an address
    placed = control.post(f"/_devstore/shops/{shop}/orders", {"gift_card": "12.50", "shipping_address": ADDRESS})
    order_id = str(placed["id"])
    key = shipping_address_key("12 main st", "apt 4", "97205", "US")
    # when it is read through a page, a refetch and the webhook payload
    paged = _paged_order(connector, credentials, order_id)
    (refetched,) = connector.fetch_records(credentials, Refetch(REFETCH_ORDER, order_id))
    event = connector.parse_event("orders/create", json_bytes(placed))
    # then the reads know the amount and the payload leaves it to a read, with the same key
    assert (paged.gift_card_amount, paged.gift_card_amount_known, paged.shipping_address_key) == (
        Decimal("12.50"), True, key)
    assert refetched == paged
    (hinted,) = event.records
    assert (hinted.gift_card_amount_known, hinted.shipping_address_key) == (False, key)
    assert event.refetch == (Refetch(REFETCH_ORDER, order_id),)
    assert placed["payment_gateway_names"] == ["gift_card", "bogus"]


def test_a_full_refund_leaves_what_the_gift_card_paid(gift_shop, control):
    connector, shop, credentials = gift_shop
    placed = control.post(f"/_devstore/shops/{shop}/orders", {"gift_card": "8.00"})
    order_id = str(placed["id"])
    # when the order is refunded in full (the card first, then the gift card)
    refund = control.post(f"/_devstore/shops/{shop}/orders/{order_id}/refund", {})
    assert [t["gateway"] for t in refund["transactions"]] == ["bogus", "gift_card"]
    assert refund["transactions"][1]["amount"] == "8.00"
    # then the order still says what the gift card paid; the refunds say what went back
    order = _paged_order(connector, credentials, order_id)
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("8.00"), True)
    assert sum(r.amount.amount for r in order.refunds) == order.total_price


def test_bulk_export_carries_gift_cards_and_addresses(gift_shop, control):
    from connectors.base import shipping_address_key

    connector, shop, credentials = gift_shop
    paid = str(control.post(f"/_devstore/shops/{shop}/orders", {"gift_card": "3.10", "shipping_address": ADDRESS})["id"])
    nowhere = str(control.post(f"/_devstore/shops/{shop}/orders", {"shipping_address": None})["id"])
    job = _wait_for(connector, credentials, connector.start_backfill(credentials, "orders"))
    assert job.status == "completed", job
    orders = {o.external_id: o for o in connector.iter_backfill(job)}
    assert (orders[paid].gift_card_amount, orders[paid].gift_card_amount_known) == (Decimal("3.10"), True)
    assert orders[paid].shipping_address_key == shipping_address_key("12 Main St", "Apt 4", "97205", "US")
    assert (orders[nowhere].gift_card_amount, orders[nowhere].shipping_address_key) == (Decimal("0"), None)
    assert orders[nowhere] == _paged_order(connector, credentials, nowhere)
