"""Live events: checkouts, customers, products, trickle and control API errors."""

from __future__ import annotations

import time

from tests.devstore.dshelpers import SHOP, gql, subscribe


def _drain(http):
    assert http.post("/_devstore/delivery/drain", json={"timeout": 10}).json()["drained"]


def test_checkout_complete_customer_and_product_events(http, token, receiver):
    for topic in ("CHECKOUTS_CREATE", "CHECKOUTS_UPDATE", "ORDERS_CREATE", "CUSTOMERS_UPDATE",
                  "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE", "PRODUCTS_CREATE",
                  "PRODUCTS_UPDATE", "PRODUCTS_DELETE"):
        subscribe(http, token, topic, receiver.url)
    product = http.post(f"/_devstore/shops/{SHOP}/products", json={
        "title": "Blue Mug", "variants": [{"title": "Default Title", "price": "12.50",
                                           "sku": "MUG-1"}]}).json()
    variant_id = product["variants"][0]["id"]
    checkout = http.post(f"/_devstore/shops/{SHOP}/checkouts", json={
        "email": "cart@example.com",
        "line_items": [{"variant_id": variant_id, "quantity": 2}]}).json()
    assert checkout["total_price"] == "25.00"
    assert checkout["completed_at"] is None
    done = http.post(f"/_devstore/shops/{SHOP}/checkouts/{checkout['id']}/complete").json()
    assert done["order"]["line_items"][0]["variant_id"] == variant_id
    customer_id = done["order"]["customer"]["id"]
    http.patch(f"/_devstore/shops/{SHOP}/customers/{customer_id}", json={"first_name": "Ada"})
    http.post(f"/_devstore/shops/{SHOP}/customers/{customer_id}/consent",
              json={"state": "subscribed"})
    http.patch(f"/_devstore/shops/{SHOP}/products/{product['id']}", json={"title": "Red Mug"})
    http.delete(f"/_devstore/shops/{SHOP}/products/{product['id']}")
    _drain(http)
    topics = [r.headers["x-shopify-topic"] for r in receiver.requests]
    assert topics == ["products/create", "checkouts/create", "orders/create",
                      "checkouts/update", "customers/update",
                      "customers/email_marketing_consent_update", "products/update",
                      "products/delete"]
    assert receiver.by_topic("checkouts/update")[0].json()["completed_at"] is not None
    consent = receiver.by_topic("customers/email_marketing_consent_update")[0].json()
    assert consent["email_marketing_consent"]["state"] == "subscribed"
    assert receiver.by_topic("products/delete")[0].json() == {"id": product["id"]}
    customer = gql(http, token, 'query($id: ID!) { customer(id: $id) { firstName '
                   'emailMarketingConsent { marketingState } numberOfOrders } }',
                   {"id": f"gid://shopify/Customer/{customer_id}"}).json()["data"]["customer"]
    assert customer == {"firstName": "Ada", "numberOfOrders": "1",
                        "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}}
    checkouts = gql(http, token, "{ abandonedCheckouts(first: 5) { nodes { completedAt } } }")
    assert checkouts.json()["data"]["abandonedCheckouts"]["nodes"][0]["completedAt"]


def test_trickle_makes_live_orders(http, token):
    started = http.post(f"/_devstore/shops/{SHOP}/trickle",
                        json={"interval_seconds": 0.02, "count": 10, "seed": 3})
    assert started.status_code == 201
    deadline = time.monotonic() + 10
    while http.get(f"/_devstore/shops/{SHOP}/trickle").json()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stats = http.get(f"/_devstore/shops/{SHOP}/stats").json()
    assert stats["orders"] + stats["checkouts"] >= 9
    assert http.delete(f"/_devstore/shops/{SHOP}/trickle").status_code == 200


def test_control_api_rejects_bad_input(http):
    assert http.post("/_devstore/apps", json={"client_id": "x"}).status_code == 400
    assert http.post("/_devstore/shops", json={"domain": "not a domain"}).status_code == 400
    assert http.post(f"/_devstore/shops/{SHOP}/generate",
                     json={"refund_rate": 2}).status_code == 400
    assert http.post("/_devstore/shops/missing.myshopify.com/orders", json={}).status_code == 404
    assert http.post(f"/_devstore/shops/{SHOP}/orders", content=b"[1]",
                     headers={"Content-Type": "application/json"}).status_code == 400
    assert http.post(f"/_devstore/shops/{SHOP}/orders/123/refund", json={}).status_code == 404
    assert http.post("/_devstore/apps", json={"client_id": "x", "client_secret": "y"}
                     ).status_code == 201
    assert http.post("/_devstore/apps", json={"client_id": "x", "client_secret": "z"}
                     ).status_code == 200
