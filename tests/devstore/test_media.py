"""Product media, taxonomy categories, storefront pages and fulfilments in the Shopify dialect."""

from __future__ import annotations

import json
import struct

import pytest

from devstore.images import png
from tests.devstore.dshelpers import CLIENT_ID, CLIENT_SECRET, SHOP, authorize, gql, subscribe, wait_bulk

PRODUCT = """query($id: ID!) { product(id: $id) {
  handle featuredMedia { id mediaContentType status preview { status image { url width height } } }
  featuredImage { url } onlineStoreUrl category { id name fullName }
} }"""


def _drain(http):
    assert http.post("/_devstore/delivery/drain", json={"timeout": 10}).json()["drained"]


def _product(http, **body):
    response = http.post(f"/_devstore/shops/{SHOP}/products", json={"title": "Stoneware Mug", **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_product_has_an_image_a_page_and_a_taxonomy_category(http, token, server):
    made = _product(http, category="Mugs", product_type="Kitchen")
    image = made["image"]
    src = f"{server.url}/cdn/shops/demo-store/files/{image['id']}.png"
    # the REST payload (webhooks) carries image, images, category and publication
    assert image == {"id": image["id"], "alt": "Stoneware Mug", "position": 1, "product_id": made["id"],
                     "created_at": image["created_at"], "updated_at": image["created_at"],
                     "admin_graphql_api_id": f"gid://shopify/MediaImage/{image['id']}", "width": 64,
                     "height": 64, "src": src, "variant_ids": []}
    assert made["images"] == [image]
    assert made["category"] == {"admin_graphql_api_id": "gid://shopify/TaxonomyCategory/dv-6", "name": "Mugs",
                                "full_name": "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs"}
    assert made["published_at"] == made["created_at"] and made["published_scope"] == "global"
    # and GraphQL the same
    body = gql(http, token, PRODUCT, {"id": made["admin_graphql_api_id"]}).json()
    assert "errors" not in body, body
    assert body["data"]["product"] == {
        "handle": "stoneware-mug",
        "featuredMedia": {"id": f"gid://shopify/MediaImage/{image['id']}", "mediaContentType": "IMAGE",
                          "status": "READY",
                          "preview": {"status": "READY", "image": {"url": src, "width": 64, "height": 64}}},
        "featuredImage": {"url": src},
        "onlineStoreUrl": f"https://{SHOP}/products/stoneware-mug",
        "category": {"id": "gid://shopify/TaxonomyCategory/dv-6", "name": "Mugs",
                     "fullName": "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs"}}


def test_the_image_is_a_real_png_and_a_removed_one_is_gone(http):
    made = _product(http)
    src = made["image"]["src"]
    response = http.get(src)
    assert (response.status_code, response.headers["content-type"]) == (200, "image/png")
    assert response.content == png(f"{SHOP}/{made['image']['id']}")
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", response.content[16:24]) == (64, 64)
    changed = http.patch(f"/_devstore/shops/{SHOP}/products/{made['id']}", json={"image": None}).json()
    assert (changed["image"], changed["images"]) == (None, [])
    assert http.get(src).status_code == 404
    assert http.get("/cdn/shops/demo-store/files/1.png").status_code == 404
    assert http.get("/cdn/shops/no-such-shop/files/1.png").status_code == 404


def test_unpublished_or_draft_products_have_no_storefront_url_or_page(http, token):
    made = _product(http, category="Candles")
    page = http.get("/products/stoneware-mug", headers={"Host": SHOP})
    assert page.status_code == 200 and f'src="{made["image"]["src"]}"' in page.text
    hidden = http.patch(f"/_devstore/shops/{SHOP}/products/{made['id']}", json={"published": False}).json()
    assert hidden["published_at"] is None
    query = "query($id: ID!) { product(id: $id) { onlineStoreUrl } }"
    assert gql(http, token, query, {"id": made["admin_graphql_api_id"]}).json()["data"]["product"] == {
        "onlineStoreUrl": None}
    assert http.get("/products/stoneware-mug", headers={"Host": SHOP}).status_code == 404
    http.patch(f"/_devstore/shops/{SHOP}/products/{made['id']}", json={"published": True, "status": "draft"})
    assert gql(http, token, query, {"id": made["admin_graphql_api_id"]}).json()["data"]["product"] == {
        "onlineStoreUrl": None}


def test_bad_product_media_input_is_refused(http):
    for body, message in (({"category": "Spaceships"}, "category must be null or one of"),
                          ({"image": "https://example.com/x.png"}, "image must be true"),
                          ({"published": "yes"}, "published must be a boolean")):
        response = http.post(f"/_devstore/shops/{SHOP}/products", json={"title": "X", **body})
        assert response.status_code == 400 and message in response.json()["error"]


def test_generated_products_have_images_and_categories(http, token):
    http.post(f"/_devstore/shops/{SHOP}/generate", json={"seed": 4, "customers": 0, "products": 6, "orders": 0})
    query = "{ products(first: 10) { nodes { title productType featuredMedia { id } category { name } } } }"
    nodes = gql(http, token, query).json()["data"]["products"]["nodes"]
    assert len(nodes) == 6
    assert all(n["featuredMedia"] and n["category"]["name"] for n in nodes)


ORDER_FULFILLMENTS = """query($id: ID!) { order(id: $id) {
  displayFulfillmentStatus fulfillments(first: 2) { id name status createdAt totalQuantity }
  fulfillmentsCount { count }
} }"""


def test_fulfilling_an_order_sends_its_webhooks_and_shows_in_graphql(http, token, receiver):
    for topic in ("ORDERS_UPDATED", "ORDERS_FULFILLED"):
        subscribe(http, token, topic, receiver.url)
    order = http.post(f"/_devstore/shops/{SHOP}/orders", json={}).json()
    fulfillment = http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/fulfillments")
    assert fulfillment.status_code == 201, fulfillment.text
    made = fulfillment.json()
    assert (made["name"], made["status"], made["order_id"]) == (f"{order['name']}.1", "success", order["id"])
    assert http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/fulfillments").status_code == 400
    _drain(http)
    (fulfilled,) = receiver.by_topic("orders/fulfilled")
    (updated,) = receiver.by_topic("orders/updated")
    assert fulfilled.json() == updated.json()
    assert updated.json()["fulfillment_status"] == "fulfilled"
    assert [f["id"] for f in updated.json()["fulfillments"]] == [made["id"]]
    data = gql(http, token, ORDER_FULFILLMENTS, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    quantity = sum(li["quantity"] for li in order["line_items"])
    assert data == {"displayFulfillmentStatus": "FULFILLED", "fulfillmentsCount": {"count": 1}, "fulfillments": [
        {"id": f"gid://shopify/Fulfillment/{made['id']}", "name": made["name"], "status": "SUCCESS",
         "createdAt": data["fulfillments"][0]["createdAt"], "totalQuantity": quantity}]}
    # cancelling it leaves the order unfulfilled, the fulfilment listed as cancelled
    cancel = http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/fulfillments/{made['id']}/cancel")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    again = http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/fulfillments/{made['id']}/cancel")
    assert again.status_code == 400
    data = gql(http, token, ORDER_FULFILLMENTS, {"id": order["admin_graphql_api_id"]}).json()["data"]["order"]
    assert (data["displayFulfillmentStatus"], [f["status"] for f in data["fulfillments"]]) == (
        "UNFULFILLED", ["CANCELLED"])


def test_a_cancelled_order_cannot_be_fulfilled(http):
    order = http.post(f"/_devstore/shops/{SHOP}/orders", json={}).json()
    http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/cancel")
    response = http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/fulfillments")
    assert response.status_code == 400
    assert http.post(f"/_devstore/shops/{SHOP}/orders/1/fulfillments").status_code == 404


def test_bulk_exports_keep_fulfillments_inline_and_media_as_objects(http, token):
    http.post(f"/_devstore/shops/{SHOP}/generate", json={"seed": 9, "customers": 5, "products": 2, "orders": 12})
    query = ("{ orders { edges { node { id fulfillments { createdAt status } } } } "
             "products { edges { node { id featuredMedia { preview { image { url } } } category { name } } } } }")
    mutation = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }"
    for part in (query.split(" products")[0] + " }", "{ products" + query.split(" products")[1]):
        started = gql(http, token, mutation, {"q": part}).json()["data"]["bulkOperationRunQuery"]
        assert started["userErrors"] == []
        node = wait_bulk(http, token, started["bulkOperation"]["id"])
        lines = [json.loads(line) for line in http.get(node["url"]).text.splitlines()]
        assert lines and all("__parentId" not in line for line in lines)
        if "orders" in part:
            assert any(line["fulfillments"] and line["fulfillments"][0]["status"] == "SUCCESS" for line in lines)
        else:
            assert all(line["featuredMedia"]["preview"]["image"]["url"].endswith(".png") for line in lines)


CONSENT = """mutation($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt } }
    userErrors { field message code }
  }
}"""


@pytest.fixture
def writer(http) -> str:
    """A token granted write_customers (the consent mutation needs it)."""
    code = authorize(http, scope="read_customers,write_customers")["code"]
    response = http.post("/admin/oauth/access_token", headers={"Host": SHOP}, json={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "expiring": "1"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_the_consent_mutation_needs_write_customers(http, token):
    customer = http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": "cy@example.com"}).json()["customer"]
    body = gql(http, token, CONSENT, {"input": {"customerId": customer["admin_graphql_api_id"],
                                                "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED"}}}).json()
    assert body["data"] == {"customerEmailMarketingConsentUpdate": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["ACCESS_DENIED"]
    shown = http.get(f"/_devstore/shops/{SHOP}/customers/{customer['id']}").json()["email_marketing_consent"]
    assert shown["state"] == "not_subscribed"


def _consent(http, token, customer_gid, state, at=None, **extra):
    consent = {"marketingState": state, **({"consentUpdatedAt": at} if at else {}), **extra}
    body = gql(http, token, CONSENT, {"input": {"customerId": customer_gid, "emailMarketingConsent": consent}}).json()
    assert "errors" not in body, body
    return body["data"]["customerEmailMarketingConsentUpdate"]


def test_the_consent_mutation_records_the_newest_decision_and_sends_webhooks(http, token, writer, receiver):
    for topic in ("CUSTOMERS_UPDATE", "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE"):
        subscribe(http, token, topic, receiver.url)
    customer = http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": "ada@example.com"}).json()["customer"]
    gid = customer["admin_graphql_api_id"]
    payload = _consent(http, writer, gid, "SUBSCRIBED", "2026-11-30T10:00:00Z", marketingOptInLevel="SINGLE_OPT_IN")
    assert payload == {"userErrors": [], "customer": {"id": gid, "emailMarketingConsent": {
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN",
        "consentUpdatedAt": "2026-11-30T10:00:00Z"}}}
    # the same state again, and an older decision, change nothing
    _consent(http, writer, gid, "SUBSCRIBED", "2026-11-30T11:00:00Z")
    older = _consent(http, writer, gid, "UNSUBSCRIBED", "2026-11-29T10:00:00Z")
    assert older["customer"]["emailMarketingConsent"]["marketingState"] == "SUBSCRIBED"
    newer = _consent(http, writer, gid, "UNSUBSCRIBED", "2026-12-01T10:00:00Z")
    assert newer["customer"]["emailMarketingConsent"] == {
        "marketingState": "UNSUBSCRIBED", "marketingOptInLevel": None, "consentUpdatedAt": "2026-12-01T10:00:00Z"}
    _drain(http)
    states = [r.json()["email_marketing_consent"]["state"]
              for r in receiver.by_topic("customers/email_marketing_consent_update")]
    assert states == ["subscribed", "unsubscribed"]
    assert [r.json()["id"] for r in receiver.by_topic("customers/update")] == [customer["id"]] * 2
    shown = http.get(f"/_devstore/shops/{SHOP}/customers/{customer['id']}").json()["email_marketing_consent"]
    assert shown["state"] == "unsubscribed"


def test_the_consent_mutation_answers_bad_input_with_user_errors(http, writer):
    customer = http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": "bo@example.com"}).json()["customer"]
    gid = customer["admin_graphql_api_id"]
    assert _consent(http, writer, gid, "NOT_SUBSCRIBED")["userErrors"] == [{
        "field": ["input", "emailMarketingConsent", "marketingState"],
        "message": "Marketing state must be one of SUBSCRIBED, UNSUBSCRIBED, PENDING", "code": "INCLUSION"}]
    assert _consent(http, writer, "gid://shopify/Customer/1", "UNSUBSCRIBED")["userErrors"] == [{
        "field": ["input", "customerId"], "message": "Customer not found", "code": "INVALID"}]
    assert _consent(http, writer, gid, "UNSUBSCRIBED", "yesterday")["userErrors"] == [{
        "field": ["input", "emailMarketingConsent", "consentUpdatedAt"], "message": "Consent updated at is invalid",
        "code": "INVALID"}]
    http.patch(f"/_devstore/shops/{SHOP}/customers/{customer['id']}", json={"email": None})
    assert _consent(http, writer, gid, "UNSUBSCRIBED")["userErrors"] == [{
        "field": ["input", "customerId"], "message": "The customer must have an email address", "code": "INVALID"}]


def test_a_quoted_search_value_keeps_escaped_quotes_and_backslashes(http, token):
    http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": 'o"neil\\x@example.com'})
    http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": "o@example.com"})
    query = "query($q: String!) { customers(first: 5, query: $q) { nodes { defaultEmailAddress { emailAddress } } } }"
    nodes = gql(http, token, query, {"q": 'email:"o\\"neil\\\\x@example.com"'}).json()["data"]["customers"]["nodes"]
    assert nodes == [{"defaultEmailAddress": {"emailAddress": 'o"neil\\x@example.com'}}]
