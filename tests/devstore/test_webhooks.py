"""Webhooks: subscriptions, signed deliveries, retries, duplicate/shuffle, uninstall."""

from __future__ import annotations

import base64
import hashlib
import hmac

from tests.devstore.dshelpers import CLIENT_ID, CLIENT_SECRET, SHOP, gql, subscribe

HEADERS = ("x-shopify-topic", "x-shopify-hmac-sha256", "x-shopify-shop-domain",
           "x-shopify-api-version", "x-shopify-webhook-id", "x-shopify-event-id",
           "x-shopify-triggered-at")


def _verify(request) -> bool:
    digest = hmac.new(CLIENT_SECRET.encode(), request.body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(),
                               request.headers["x-shopify-hmac-sha256"])


def _drain(http):
    response = http.post("/_devstore/delivery/drain", json={"timeout": 10})
    assert response.json() == {"drained": True}


def test_order_webhooks_are_signed_and_shaped(http, token, receiver):
    for topic in ("ORDERS_CREATE", "ORDERS_PAID", "CUSTOMERS_CREATE",
                  "CUSTOMERS_PURCHASING_SUMMARY"):
        created = subscribe(http, token, topic, receiver.url + "/webhooks")
        assert created["userErrors"] == []
    order = http.post(f"/_devstore/shops/{SHOP}/orders",
                      json={"email": "new.buyer@example.com"}).json()
    _drain(http)
    topics = [r.headers["x-shopify-topic"] for r in receiver.requests]
    assert topics == ["customers/create", "orders/create", "orders/paid",
                      "customers/purchasing_summary"]
    for request in receiver.requests:
        assert request.path == "/webhooks"
        assert all(h in request.headers for h in HEADERS)
        assert request.headers["x-shopify-shop-domain"] == SHOP
        assert request.headers["x-shopify-api-version"] == "2026-10"
        assert _verify(request)
    created = receiver.by_topic("orders/create")[0].json()
    assert created["id"] == order["id"]
    assert created["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
    assert created["financial_status"] == "paid"
    assert created["email"] == "new.buyer@example.com"
    assert created["customer"]["email"] == "new.buyer@example.com"
    summary = receiver.by_topic("customers/purchasing_summary")[0].json()
    assert summary["number_of_orders"] == 1
    assert summary["amount_spent"]["amount"] == created["total_price"]
    assert summary["last_order_id"] == order["id"]
    log = http.get("/_devstore/deliveries", params={"topic": "orders/create"}).json()
    assert len(log) == 1
    assert log[0]["status"] == 200 and log[0]["attempts"] == 1
    assert log[0]["body"]["id"] == order["id"]


def test_duplicate_subscription_is_user_error(http, token, receiver):
    assert subscribe(http, token, "ORDERS_CREATE", receiver.url)["userErrors"] == []
    again = subscribe(http, token, "ORDERS_CREATE", receiver.url)
    assert again["webhookSubscription"] is None
    assert again["userErrors"][0]["message"] == "Address for this topic has already been taken"
    listed = gql(http, token, "{ webhookSubscriptions(first: 10) { nodes { id topic uri } } }"
                 ).json()["data"]["webhookSubscriptions"]["nodes"]
    assert [(n["topic"], n["uri"]) for n in listed] == [("ORDERS_CREATE", receiver.url)]
    deleted = gql(http, token, "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { "
                               "deletedWebhookSubscriptionId userErrors { message } } }",
                  {"id": listed[0]["id"]}).json()["data"]["webhookSubscriptionDelete"]
    assert deleted == {"deletedWebhookSubscriptionId": listed[0]["id"], "userErrors": []}


def test_retry_after_500_keeps_webhook_id(http, token, receiver):
    subscribe(http, token, "ORDERS_CREATE", receiver.url)
    receiver.statuses = [500, 502]
    http.post(f"/_devstore/shops/{SHOP}/orders", json={})
    _drain(http)
    assert len(receiver.requests) == 3
    assert len({r.headers["x-shopify-webhook-id"] for r in receiver.requests}) == 1
    log = http.get("/_devstore/deliveries", params={"shop": SHOP}).json()
    assert [(e["status"], e["attempts"], e["state"]) for e in log] == [(200, 3, "delivered")]


def test_retries_give_up_after_three_more_attempts(http, token, receiver):
    subscribe(http, token, "ORDERS_CREATE", receiver.url)
    receiver.statuses = [500] * 10
    http.post(f"/_devstore/shops/{SHOP}/orders", json={})
    _drain(http)
    assert len(receiver.requests) == 4
    log = http.get("/_devstore/deliveries").json()
    assert [(e["status"], e["attempts"], e["state"]) for e in log] == [(500, 4, "failed")]


def test_duplicate_mode_sends_twice(http, token, receiver):
    subscribe(http, token, "ORDERS_CREATE", receiver.url)
    http.post("/_devstore/delivery", json={"duplicate": True})
    http.post(f"/_devstore/shops/{SHOP}/orders", json={})
    _drain(http)
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["x-shopify-webhook-id"] == second.headers["x-shopify-webhook-id"]
    assert first.body == second.body


def test_shuffle_holds_then_releases_in_reverse(http, token, receiver):
    subscribe(http, token, "ORDERS_CREATE", receiver.url)
    http.post("/_devstore/delivery", json={"shuffle": True})
    ids = [http.post(f"/_devstore/shops/{SHOP}/orders", json={}).json()["id"] for _ in range(3)]
    _drain(http)
    assert receiver.requests == []
    assert http.post("/_devstore/delivery/flush").json() == {"released": 3}
    _drain(http)
    assert [r.json()["id"] for r in receiver.requests] == list(reversed(ids))


def test_refund_and_cancel_events(http, token, receiver):
    for topic in ("REFUNDS_CREATE", "ORDERS_UPDATED", "ORDERS_CANCELLED"):
        subscribe(http, token, topic, receiver.url)
    order = http.post(f"/_devstore/shops/{SHOP}/orders", json={}).json()
    line = order["line_items"][0]
    refund = http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/refund",
                       json={"line_items": [{"line_item_id": line["id"], "quantity": 1}]})
    assert refund.status_code == 201
    _drain(http)
    assert [r.headers["x-shopify-topic"] for r in receiver.requests] == [
        "refunds/create", "orders/updated"]
    refund_body = receiver.requests[0].json()
    assert refund_body["order_id"] == order["id"]
    assert refund_body["refund_line_items"][0]["line_item_id"] == line["id"]
    assert refund_body["transactions"][0]["kind"] == "refund"
    updated = receiver.requests[1].json()
    expected = "refunded" if len(order["line_items"]) == 1 and line["quantity"] == 1 and \
        order["total_price"] == refund_body["transactions"][0]["amount"] else "partially_refunded"
    assert updated["financial_status"] == expected
    assert updated["updated_at"] > order["updated_at"]
    http.post(f"/_devstore/shops/{SHOP}/orders/{order['id']}/cancel")
    _drain(http)
    assert [r.headers["x-shopify-topic"] for r in receiver.requests[2:]] == [
        "orders/cancelled", "orders/updated"]
    stored = http.get(f"/_devstore/shops/{SHOP}/orders/{order['id']}").json()
    assert stored["cancelled_at"] is not None


def test_uninstall_revokes_token_and_notifies(http, token, receiver):
    subscribe(http, token, "APP_UNINSTALLED", receiver.url + "/uninstalled")
    subscribe(http, token, "ORDERS_CREATE", receiver.url)
    result = http.post(f"/_devstore/shops/{SHOP}/uninstall", json={"client_id": CLIENT_ID})
    assert result.json()["deleted_subscriptions"] == 2
    _drain(http)
    assert [r.path for r in receiver.requests] == ["/uninstalled"]
    assert receiver.requests[0].json()["myshopify_domain"] == SHOP
    assert _verify(receiver.requests[0])
    assert gql(http, token, "{ shop { id } }").status_code == 401
    http.post(f"/_devstore/shops/{SHOP}/orders", json={})
    _drain(http)
    assert len(receiver.requests) == 1


def test_compliance_goes_to_compliance_uri(http, token, receiver):
    order = http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": "gdpr@example.com"})
    customer_id = order.json()["customer"]["id"]
    response = http.post(f"/_devstore/shops/{SHOP}/compliance/customers-redact",
                         json={"client_id": CLIENT_ID, "customer_id": customer_id})
    assert response.status_code == 200
    _drain(http)
    request = receiver.requests[0]
    assert request.path == "/compliance"
    assert request.headers["x-shopify-topic"] == "customers/redact"
    assert request.json()["orders_to_redact"] == [order.json()["id"]]
    assert request.json()["customer"]["email"] == "gdpr@example.com"
    assert _verify(request)
