"""Bulk query operations: JSONL shape, counts, ordering, one at a time."""

from __future__ import annotations

import json

import httpx

from tests.devstore.dshelpers import SHOP, gql, wait_bulk

RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id status } userErrors { field message code } } }"""
ORDERS_QUERY = """{ orders(query: "updated_at:>'2000-01-01T00:00:00Z'") { edges { node {
  id name totalPriceSet { shopMoney { amount currencyCode } }
  refunds { id totalRefundedSet { shopMoney { amount } } }
  lineItems { edges { node { id quantity variant { id } } } } } } } }"""


def _seed(http, orders=150):
    response = http.post(f"/_devstore/shops/{SHOP}/generate", json={
        "seed": 11, "customers": 60, "products": 8, "orders": orders,
        "start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"})
    assert response.status_code == 200
    return http.get(f"/_devstore/shops/{SHOP}/stats").json()


def test_bulk_jsonl_lines_parents_and_counts(http, token):
    stats = _seed(http)
    started = gql(http, token, RUN, {"q": ORDERS_QUERY}).json()["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    assert started["bulkOperation"]["status"] == "CREATED"
    op = wait_bulk(http, token, started["bulkOperation"]["id"])
    assert op["status"] == "COMPLETED"
    assert op["errorCode"] is None
    assert op["rootObjectCount"] == "150"
    assert op["objectCount"] == str(150 + stats["line_items"])
    download = httpx.get(op["url"], trust_env=False)
    assert download.status_code == 200
    assert op["fileSize"] == str(len(download.content))
    lines = [json.loads(line) for line in download.text.splitlines()]
    assert len(lines) == 150 + stats["line_items"]
    current_parent = None
    roots = 0
    for line in lines:
        if "__parentId" in line:
            assert set(line) == {"id", "quantity", "variant", "__parentId"}
            assert line["id"].startswith("gid://shopify/LineItem/")
            assert line["__parentId"] == current_parent
        else:
            roots += 1
            assert set(line) == {"id", "name", "totalPriceSet", "refunds"}
            assert "lineItems" not in line
            assert line["totalPriceSet"]["shopMoney"]["currencyCode"] == "USD"
            current_parent = line["id"]
    assert roots == 150
    refunded = [r for line in lines if "__parentId" not in line for r in line["refunds"]]
    assert len(refunded) == stats["refunds"]
    assert lines[0]["name"] == "#1001"


def test_bulk_refund_line_items_nested_under_refunds(http, token):
    _seed(http, 80)
    query = """{ orders { edges { node { id refunds { id refundLineItems { edges { node {
        quantity lineItem { id } } } } } } } } }"""
    started = gql(http, token, RUN, {"q": query}).json()["data"]["bulkOperationRunQuery"]
    op = wait_bulk(http, token, started["bulkOperation"]["id"])
    lines = [json.loads(x) for x in httpx.get(op["url"], trust_env=False).text.splitlines()]
    refund_ids = {r["id"] for line in lines if "__parentId" not in line for r in line["refunds"]}
    children = [line for line in lines if "__parentId" in line]
    assert children
    assert {c["__parentId"] for c in children} <= refund_ids
    assert all(set(c) == {"quantity", "lineItem", "__parentId"} for c in children)


def test_bulk_orders_carry_transactions_and_the_address_inline(http, token):
    http.post(f"/_devstore/shops/{SHOP}/generate", json={
        "seed": 3, "customers": 10, "products": 3, "orders": 40, "gift_card_rate": 0.5,
        "start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}).raise_for_status()
    query = """{ orders { edges { node { id shippingAddress { address1 zip countryCodeV2 }
        transactionsCount { count } transactions { kind status gateway amountSet { shopMoney { amount } } }
        lineItems { edges { node { id } } } } } } }"""
    started = gql(http, token, RUN, {"q": query}).json()["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    op = wait_bulk(http, token, started["bulkOperation"]["id"])
    assert op["status"] == "COMPLETED"
    roots = [json.loads(x) for x in httpx.get(op["url"], trust_env=False).text.splitlines()
             if "__parentId" not in x]
    assert len(roots) == 40
    assert all(root["transactionsCount"]["count"] == len(root["transactions"]) >= 1 for root in roots)
    gateways = {t["gateway"] for root in roots for t in root["transactions"]}
    assert gateways == {"gift_card", "bogus"}
    assert all(root["shippingAddress"]["address1"] and root["shippingAddress"]["countryCodeV2"] for root in roots)


def test_second_bulk_while_running_is_rejected(http, token):
    _seed(http, 20000)
    double = """mutation($q: String!) {
      a: bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { code } }
      b: bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { code message } } }"""
    body = gql(http, token, double, {"q": ORDERS_QUERY}).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] == 20
    first, second = body["data"]["a"], body["data"]["b"]
    assert first["userErrors"] == []
    assert second["bulkOperation"] is None
    assert second["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    current = gql(http, token, "{ currentBulkOperation { id status } }").json()
    assert current["data"]["currentBulkOperation"]["id"] == first["bulkOperation"]["id"]
    assert wait_bulk(http, token, first["bulkOperation"]["id"])["status"] == "COMPLETED"


def test_bulk_rejects_invalid_query(http, token):
    body = gql(http, token, RUN, {"q": "{ orders { edges { node { nope } } } }"}).json()
    errors = body["data"]["bulkOperationRunQuery"]["userErrors"]
    assert errors[0]["code"] == "INVALID"
    assert errors[0]["field"] == ["query"]
    body = gql(http, token, RUN, {"q": "{ shop { id } }"}).json()
    assert body["data"]["bulkOperationRunQuery"]["userErrors"][0]["code"] == "INVALID"
