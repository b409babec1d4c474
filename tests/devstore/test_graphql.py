"""GraphQL Admin API: shapes, pagination, search, cost and throttling."""

from __future__ import annotations

import time

import pytest

from tests.devstore.dshelpers import SHOP, gql

WINDOW = {"start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}


@pytest.fixture
def seeded(http):
    response = http.post(f"/_devstore/shops/{SHOP}/generate", json={
        "seed": 7, "customers": 40, "products": 6, "orders": 120, "checkouts": 10, **WINDOW})
    assert response.status_code == 200
    return response.json()


def test_shop_fields_and_cost_extension(http, token):
    response = gql(http, token, "{ shop { id name myshopifyDomain currencyCode "
                                "ianaTimezone email } }")
    assert response.status_code == 200
    body = response.json()
    shop = body["data"]["shop"]
    assert shop["myshopifyDomain"] == SHOP
    assert shop["name"] == "Demo Store"
    assert shop["currencyCode"] == "USD"
    assert shop["id"].startswith("gid://shopify/Shop/")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1
    assert cost["actualQueryCost"] == 1
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert cost["throttleStatus"]["restoreRate"] == 100.0
    assert 1998 <= cost["throttleStatus"]["currentlyAvailable"] <= 2000


ORDERS_PAGE = """
query($after: String) {
  orders(first: 50, after: $after, sortKey: UPDATED_AT) {
    edges { cursor node { id updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def test_pagination_walks_all_orders_once(http, token, seeded):
    seen, after, pages = [], None, 0
    while True:
        body = gql(http, token, ORDERS_PAGE, {"after": after}).json()
        connection = body["data"]["orders"]
        seen += [e["node"] for e in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert after == connection["edges"][-1]["cursor"]
    assert pages == 3
    assert len(seen) == 120
    assert len({o["id"] for o in seen}) == 120
    stamps = [o["updatedAt"] for o in seen]
    assert stamps == sorted(stamps)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 52
    assert body["extensions"]["cost"]["actualQueryCost"] == 22


def test_search_by_updated_at(http, token, seeded):
    everything = []
    after = None
    while True:
        page = gql(http, token, ORDERS_PAGE, {"after": after}).json()["data"]["orders"]
        everything += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    pivot = everything[80]["updatedAt"]
    expected_after = [o["id"] for o in everything if o["updatedAt"] > pivot]
    expected_upto = [o["id"] for o in everything if o["updatedAt"] <= pivot]
    query = """query($q: String) { orders(first: 250, query: $q, sortKey: UPDATED_AT) {
                 nodes { id } } }"""
    got = gql(http, token, query, {"q": f"updated_at:>'{pivot}'"}).json()
    assert [n["id"] for n in got["data"]["orders"]["nodes"]] == expected_after
    got = gql(http, token, query, {"q": f"updated_at:<={pivot}"}).json()
    assert [n["id"] for n in got["data"]["orders"]["nodes"]] == expected_upto
    got = gql(http, token, query, {"q": f"updated_at:>='{pivot}' updated_at:<'{pivot}'"}).json()
    assert got["data"]["orders"]["nodes"] == []


def test_order_shape(http, token, seeded):
    query = """query($after: String) { orders(first: 10, after: $after) {
        pageInfo { hasNextPage endCursor } nodes {
        id name email createdAt updatedAt processedAt cancelledAt displayFinancialStatus
        displayFulfillmentStatus currencyCode test tags customer { id } discountCodes
        totalPriceSet { shopMoney { amount currencyCode } }
        subtotalPriceSet { shopMoney { amount } } totalDiscountsSet { shopMoney { amount } }
        totalTaxSet { shopMoney { amount } } totalShippingPriceSet { shopMoney { amount } }
        currentTotalPriceSet { shopMoney { amount } }
        lineItems(first: 5) { nodes { id title quantity sku variant { id } product { id }
          originalUnitPriceSet { shopMoney { amount } } discountedTotalSet { shopMoney { amount } } } }
        refunds { id createdAt note totalRefundedSet { shopMoney { amount } }
          refundLineItems(first: 5) { nodes { lineItem { id } quantity
            subtotalSet { shopMoney { amount } } } } } } } }"""
    http.post(f"/_devstore/shops/{SHOP}/throttle", json={
        "maximum_available": 20000, "restore_rate": 10000, "currently_available": 20000})
    orders, after = [], None
    while True:
        body = gql(http, token, query, {"after": after}).json()
        assert "errors" not in body, body
        assert body["extensions"]["cost"]["requestedQueryCost"] < 1000
        orders += body["data"]["orders"]["nodes"]
        if not body["data"]["orders"]["pageInfo"]["hasNextPage"]:
            break
        after = body["data"]["orders"]["pageInfo"]["endCursor"]
    assert len(orders) == 120
    assert orders[0]["name"] == "#1001"
    for order in orders:
        assert order["id"].startswith("gid://shopify/Order/")
        assert order["currencyCode"] == "USD"
        assert 1 <= len(order["lineItems"]["nodes"]) <= 4
        total = float(order["totalPriceSet"]["shopMoney"]["amount"])
        parts = sum(float(order[k]["shopMoney"]["amount"]) for k in
                    ("subtotalPriceSet", "totalTaxSet", "totalShippingPriceSet"))
        assert abs(total - parts) < 0.001
        refunded = sum(float(r["totalRefundedSet"]["shopMoney"]["amount"])
                       for r in order["refunds"])
        current = float(order["currentTotalPriceSet"]["shopMoney"]["amount"])
        assert abs(current - (total - refunded)) < 0.001
        if order["refunds"]:
            assert order["displayFinancialStatus"] in ("PARTIALLY_REFUNDED", "REFUNDED")
    statuses = {o["displayFinancialStatus"] for o in orders}
    assert "PAID" in statuses and statuses & {"PARTIALLY_REFUNDED", "REFUNDED"}
    assert seeded["refunds"] == sum(len(o["refunds"]) for o in orders)


def test_customers_products_checkouts(http, token, seeded):
    query = """{
      customers(first: 40, sortKey: UPDATED_AT) { nodes { id firstName lastName
        defaultEmailAddress { emailAddress marketingState } defaultPhoneNumber { phoneNumber }
        createdAt updatedAt state tags numberOfOrders amountSpent { amount currencyCode }
        emailMarketingConsent { marketingState consentUpdatedAt } } }
      products(first: 10) { nodes { id title handle status vendor productType tags createdAt
        updatedAt variants(first: 5) { nodes { id title sku price inventoryQuantity } } } }
      abandonedCheckouts(first: 20) { nodes { id abandonedCheckoutUrl createdAt updatedAt
        completedAt customer { id } totalPriceSet { shopMoney { amount } }
        lineItems(first: 5) { nodes { id title quantity variant { id } product { id }
          originalUnitPriceSet { shopMoney { amount } } } } } }
    }"""
    body = gql(http, token, query).json()
    assert "errors" not in body, body
    customers = body["data"]["customers"]["nodes"]
    assert len(customers) == 40
    assert sum(int(c["numberOfOrders"]) for c in customers) == 120
    assert len(body["data"]["products"]["nodes"]) == 6
    for product in body["data"]["products"]["nodes"]:
        assert 1 <= len(product["variants"]["nodes"]) <= 3
    checkouts = body["data"]["abandonedCheckouts"]["nodes"]
    assert len(checkouts) == 10


def test_validation_error_is_http_200(http, token):
    response = gql(http, token, "{ shop { nope } }")
    assert response.status_code == 200
    body = response.json()
    assert "Cannot query field 'nope'" in body["errors"][0]["message"]
    assert "data" not in body


def test_first_over_250_and_missing_first(http, token):
    over = gql(http, token, "{ orders(first: 251) { nodes { id } } }").json()
    assert "250" in over["errors"][0]["message"]
    missing = gql(http, token, "{ orders { nodes { id } } }").json()
    assert missing["errors"][0]["message"] == "you must provide one of first or last"


def test_max_cost_exceeded(http, token):
    query = "{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }"
    body = gql(http, token, query).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["errors"][0]["extensions"]["cost"] == 2 + 250 * (1 + 2 + 10)
    assert "data" not in body
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] >= 1999


def test_throttled_then_restored(http, token):
    http.post(f"/_devstore/shops/{SHOP}/throttle", json={
        "maximum_available": 100, "restore_rate": 50, "currently_available": 10})
    query = "{ customers(first: 40) { nodes { id } } }"  # costs 42
    throttled = gql(http, token, query)
    assert throttled.status_code == 200
    body = throttled.json()
    assert body["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    assert "data" not in body
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 42
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["maximumAvailable"] == 100.0
    assert cost["throttleStatus"]["restoreRate"] == 50.0
    assert cost["throttleStatus"]["currentlyAvailable"] < 42
    time.sleep(0.8)
    restored = gql(http, token, query).json()
    assert "errors" not in restored
    assert restored["data"]["customers"]["nodes"] == []
    assert restored["extensions"]["cost"]["actualQueryCost"] == 2


def test_node_lookup_and_reverse(http, token, seeded):
    last = gql(http, token, "{ orders(first: 1, reverse: true, sortKey: ID) { nodes { id name } } }"
               ).json()["data"]["orders"]["nodes"][0]
    assert last["name"] == "#1120"
    node = gql(http, token, 'query($id: ID!) { node(id: $id) { id ... on Order { name } } }',
               {"id": last["id"]}).json()["data"]["node"]
    assert node == last


def test_faults(http, token):
    http.post("/_devstore/faults", json={"status": 429, "count": 2})
    first = gql(http, token, "{ shop { id } }")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert gql(http, token, "{ shop { id } }").status_code == 429
    assert gql(http, token, "{ shop { id } }").status_code == 200
    http.post("/_devstore/faults", json={"status": 503, "count": 1})
    assert gql(http, token, "{ shop { id } }").status_code == 503
    assert http.post("/_devstore/faults", json={"status": 404}).status_code == 400


ORDER_PAYMENTS = """query($id: ID!) { order(id: $id) {
  shippingAddress { firstName address1 address2 city provinceCode zip country countryCodeV2 }
  transactionsCount { count }
  transactions(first: 5) { id kind status gateway formattedGateway amountSet { shopMoney { amount } } }
  authorized: transactions(first: 5, capturable: true) { kind gateway } } }"""


def _mug(http) -> int:
    product = http.post(f"/_devstore/shops/{SHOP}/products", json={
        "title": "Mug", "variants": [{"title": "Default Title", "price": "20.00"}]})
    assert product.status_code == 201, product.text
    return product.json()["variants"][0]["id"]


def test_orders_carry_their_transactions_and_shipping_address(http, token):
    variant = _mug(http)
    # given an order of 2 × 20.00 (+ 8 % tax + 5.99 shipping = 49.19), 5.00 of it by gift card
    placed = http.post(f"/_devstore/shops/{SHOP}/orders", json={
        "email": "ada@example.com", "line_items": [{"variant_id": variant, "quantity": 2}], "gift_card": "5.00",
        "shipping_address": {"first_name": "Ada", "address1": "12 Main St.", "address2": "Apt 4",
                             "city": "Portland", "province_code": "OR", "zip": "97205", "country_code": "US"}})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["total_price"] == "49.19"
    # then the REST order names the gateways and the address, and carries no transactions
    assert order["payment_gateway_names"] == ["gift_card", "bogus"]
    assert "transactions" not in order
    assert {k: order["shipping_address"][k] for k in ("address1", "address2", "zip", "country_code", "country")} == {
        "address1": "12 Main St.", "address2": "Apt 4", "zip": "97205", "country_code": "US",
        "country": "United States"}
    # and GraphQL has both payments, priced 3 points each
    body = gql(http, token, ORDER_PAYMENTS, {"id": order["admin_graphql_api_id"]}).json()
    assert "errors" not in body, body
    data = body["data"]["order"]
    assert data["shippingAddress"] == {"firstName": "Ada", "address1": "12 Main St.", "address2": "Apt 4",
                                       "city": "Portland", "provinceCode": "OR", "zip": "97205",
                                       "country": "United States", "countryCodeV2": "US"}
    assert [(t["kind"], t["status"], t["gateway"], t["amountSet"]["shopMoney"]["amount"])
            for t in data["transactions"]] == [("SALE", "SUCCESS", "gift_card", "5.00"),
                                               ("SALE", "SUCCESS", "bogus", "44.19")]
    assert data["transactions"][0]["formattedGateway"] == "Gift card"
    assert all(t["id"].startswith("gid://shopify/OrderTransaction/") for t in data["transactions"])
    assert data["transactionsCount"] == {"count": 2} and data["authorized"] == []
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 1 + 1 + 5 * 3 + 5 * 1


def test_a_refund_goes_back_to_the_card_first_then_to_the_gift_card(http, token):
    variant = _mug(http)
    order = http.post(f"/_devstore/shops/{SHOP}/orders", json={
        "line_items": [{"variant_id": variant, "quantity": 2}], "gift_card": "5.00"}).json()
    refund = http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/refund", json={"amount": "46.00"})
    assert refund.status_code == 201, refund.text
    assert [(t["gateway"], t["amount"]) for t in refund.json()["transactions"]] == [
        ("bogus", "44.19"), ("gift_card", "1.81")]
    data = gql(http, token, ORDER_PAYMENTS, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    assert [(t["kind"], t["gateway"], t["amountSet"]["shopMoney"]["amount"]) for t in data["transactions"]] == [
        ("SALE", "gift_card", "5.00"), ("SALE", "bogus", "44.19"), ("REFUND", "bogus", "44.19"),
        ("REFUND", "gift_card", "1.81")]
    assert data["transactionsCount"] == {"count": 4}


def test_authorized_shipless_and_gift_card_only_orders(http, token):
    variant = _mug(http)
    authorized = http.post(f"/_devstore/shops/{SHOP}/orders", json={
        "line_items": [{"variant_id": variant}], "financial_status": "authorized", "shipping_address": None}).json()
    assert authorized["shipping_address"] is None and authorized["payment_gateway_names"] == ["bogus"]
    data = gql(http, token, ORDER_PAYMENTS, {"id": authorized["admin_graphql_api_id"]}).json()["data"]["order"]
    assert data["shippingAddress"] is None
    assert data["authorized"] == [{"kind": "AUTHORIZATION", "gateway": "bogus"}]
    # a gift card worth more than the order pays it all, no more
    covered = http.post(f"/_devstore/shops/{SHOP}/orders", json={
        "line_items": [{"variant_id": variant}], "gift_card": "500.00"}).json()
    assert covered["payment_gateway_names"] == ["gift_card"]
    data = gql(http, token, ORDER_PAYMENTS, {"id": covered["admin_graphql_api_id"]}).json()["data"]["order"]
    assert [t["amountSet"]["shopMoney"]["amount"] for t in data["transactions"]] == [covered["total_price"]]
    # a buyer's order ships to the buyer's address unless told otherwise
    default = http.post(f"/_devstore/shops/{SHOP}/orders", json={"line_items": [{"variant_id": variant}]}).json()
    assert default["shipping_address"]["address1"] and default["shipping_address"]["country_code"]


@pytest.mark.parametrize("body", [
    {"gift_card": "lots"}, {"gift_card": "-1.00"}, {"shipping_address": "12 Main St"},
    {"shipping_address": {"address1": "1 Rue", "country_code": "XX"}},
    {"shipping_address": {"address1": 12}},
])
def test_bad_gift_cards_and_addresses_are_refused(http, body):
    response = http.post(f"/_devstore/shops/{SHOP}/orders", json=body)
    assert response.status_code == 400, response.text
    assert http.get(f"/_devstore/shops/{SHOP}/stats").json()["orders"] == 0
