"""Webhooks as WooCommerce delivers them: ping, signature, coalescing, auto-disable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

SECRET = "whsec-Ünïcode-free"


def _subscribe(woo, key, receiver, topic, path="/hooks", status="active"):
    response = woo.rest("POST", "/webhooks", key, json={
        "name": "Comeback", "topic": topic, "delivery_url": receiver.url + path,
        "secret": SECRET, "status": status})
    assert response.status_code == 201, response.text
    return response.json()


def _topic(receiver, topic):
    with receiver.lock:
        return [r for r in receiver.requests if r.headers.get("x-wc-webhook-topic") == topic]


def test_creation_pings_with_a_form_body(woo, key, receiver):
    hook = _subscribe(woo, key, receiver, "order.created")
    assert hook["resource"] == "order" and hook["event"] == "created"
    assert hook["hooks"] == ["woocommerce_new_order"] and "secret" not in hook
    woo.drain()
    [ping] = receiver.requests
    assert ping.body == f"webhook_id={hook['id']}".encode()
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert not any(h.startswith("x-wc-webhook") for h in ping.headers)
    bad = woo.rest("POST", "/webhooks", key, json={"topic": "order.paid",
                                                   "delivery_url": receiver.url})
    assert bad.status_code == 400
    assert bad.json()["code"] == "woocommerce_rest_webhook_invalid_topic"


def test_signature_is_over_the_escaped_raw_bytes(woo, key, receiver):
    hook = _subscribe(woo, key, receiver, "customer.created")
    created = woo.ctl("POST", "/customers", {"email": "gruesse@example.com",
                                             "first_name": "Grüße", "last_name": "Café 😀"}, 201)
    woo.drain()
    [delivery] = _topic(receiver, "customer.created")
    raw = delivery.body
    assert b"\\u00fc\\u00dfe" in raw and b"Caf\\u00e9 \\ud83d\\ude00" in raw
    assert b"https:\\/\\/" in raw and b'", "' not in raw and b'": ' not in raw
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
    headers = delivery.headers
    assert headers["x-wc-webhook-signature"] == base64.b64encode(digest).decode()
    assert headers["x-wc-webhook-source"] == woo.store_https_url + "/"
    assert headers["x-wc-webhook-id"] == str(hook["id"])
    assert (headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"]) == (
        "customer", "created")
    assert headers["user-agent"] == "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-wc-webhook-delivery-id"])
    assert json.loads(raw)["first_name"] == "Grüße" and json.loads(raw)["id"] == created["id"]
    [entry] = woo.control("GET", "/deliveries", params={"topic": "customer.created"}).json()
    assert entry["state"] == "delivered" and entry["status"] == 200
    assert entry["body"] == raw.decode() and entry["webhook_id"] == hook["id"]


def test_changes_within_the_window_coalesce(woo, key, receiver):
    woo.control("POST", "/delivery", {"coalesce_seconds": 0.5})
    _subscribe(woo, key, receiver, "order.updated")
    order = woo.ctl("POST", "/orders", {"email": "c@example.com"}, 201)
    woo.ctl("PATCH", f"/orders/{order['id']}", {"status": "on-hold"})
    woo.ctl("PATCH", f"/orders/{order['id']}", {"billing_email": "new@example.com"})
    woo.drain()
    [delivery] = _topic(receiver, "order.updated")
    body = delivery.json()
    assert body["status"] == "on-hold" and body["billing"]["email"] == "new@example.com"


def test_failures_are_not_retried_and_disable_after_five(woo, key, receiver):
    hook = _subscribe(woo, key, receiver, "product.updated")
    woo.drain()
    receiver.statuses.extend([500] * 5)
    product = woo.ctl("POST", "/products", {"name": "Tee", "regular_price": "9.00"}, 201)
    for n in range(1, 6):
        woo.ctl("PATCH", f"/products/{product['id']}", {"regular_price": f"{9 + n}.00"})
        woo.drain()
        summary = woo.ctl("GET", "")["webhooks"][0]
        assert summary["failure_count"] == n
        assert summary["status"] == ("disabled" if n == 5 else "active")
    assert len(_topic(receiver, "product.updated")) == 5
    woo.ctl("PATCH", f"/products/{product['id']}", {"name": "Quiet"})
    woo.drain()
    assert len(_topic(receiver, "product.updated")) == 5
    log = woo.control("GET", "/deliveries", params={"topic": "product.updated"}).json()
    assert [e["state"] for e in log] == ["failed"] * 5
    again = woo.rest("PUT", f"/webhooks/{hook['id']}", key, json={"status": "active"}).json()
    assert again["status"] == "active"
    woo.ctl("PATCH", f"/products/{product['id']}", {"name": "Loud"})
    woo.drain()
    assert _topic(receiver, "product.updated")[-1].json()["name"] == "Loud"
    assert woo.ctl("GET", "")["webhooks"][0]["failure_count"] == 0
    pings = [r for r in receiver.requests if r.body.startswith(b"webhook_id=")]
    assert len(pings) == 2


def test_order_lifecycle_topics(woo, key, receiver):
    for topic in ("order.created", "order.deleted", "order.restored"):
        _subscribe(woo, key, receiver, topic, "/" + topic)
    woo.drain()
    draft = woo.ctl("POST", "/drafts", {"email": "d@example.com"}, 201)
    assert draft["status"] == "checkout-draft"
    woo.ctl("DELETE", f"/orders/{draft['id']}")
    woo.drain()
    woo.ctl("POST", f"/orders/{draft['id']}/restore")
    woo.ctl("DELETE", f"/orders/{draft['id']}?force=true")
    woo.drain()
    assert _topic(receiver, "order.created")[0].json()["status"] == "checkout-draft"
    deleted = [r.json() for r in _topic(receiver, "order.deleted")]
    assert deleted[0]["status"] == "trash" and deleted[1] == {"id": draft["id"]}
    assert _topic(receiver, "order.restored")[0].json()["status"] == "checkout-draft"
    forced = woo.rest("DELETE", "/webhooks/1", key)
    assert forced.status_code == 501
    assert woo.rest("DELETE", "/webhooks/1", key, {"force": "true"}).status_code == 200
