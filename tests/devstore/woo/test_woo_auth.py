"""wc-auth key delivery, OAuth 1.0a over HTTP, Basic/query keys over HTTPS."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, quote, urlsplit

from tests.devstore.woo.wooclient import oauth_params

AUTH_ARGS = {"app_name": "Comeback", "scope": "read_write", "user_id": "42",
             "return_url": "https://app.example/woo/return?store=7"}


def _authorize(woo, callback_url, **overrides):
    with woo.client() as client:
        return client.get(f"/woo/{woo.handle}/wc-auth/v1/authorize",
                          params={**AUTH_ARGS, "callback_url": callback_url, **overrides})


def test_wc_auth_posts_the_key_and_redirects(woo, receiver):
    response = _authorize(woo, receiver.url + "/woo/callback")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.netloc == "app.example" and location.path == "/woo/return"
    assert parse_qs(location.query) == {"store": ["7"], "success": ["1"], "user_id": ["42"]}
    [posted] = receiver.requests
    assert posted.path == "/woo/callback"
    assert posted.headers["content-type"] == "application/json;charset=UTF-8"
    body = json.loads(posted.body)
    assert list(body) == ["key_id", "user_id", "consumer_key", "consumer_secret",
                          "key_permissions"]
    assert body["key_id"] == 1 and body["user_id"] == "42"
    assert body["key_permissions"] == "read_write"
    assert body["consumer_key"].startswith("ck_") and len(body["consumer_key"]) == 43
    assert body["consumer_secret"].startswith("cs_") and len(body["consumer_secret"]) == 43
    [key] = woo.ctl("GET", "")["keys"]
    assert key["key_id"] == 1 and key["permissions"] == "read_write"
    assert key["truncated_key"] == "…" + body["consumer_key"][-7:]
    assert key["description"].startswith("Comeback - API (")
    listed = woo.rest("GET", "/orders", body)
    assert listed.status_code == 200 and listed.json() == []


def test_wc_auth_deletes_the_key_when_the_callback_is_not_200(woo, receiver):
    receiver.statuses.append(201)
    response = _authorize(woo, receiver.url + "/cb")
    assert response.status_code == 400
    assert "unable to send the consumer data" in response.text
    assert len(receiver.requests) == 1
    assert woo.ctl("GET", "")["keys"] == []
    posted = json.loads(receiver.requests[0].body)
    assert woo.rest("GET", "/orders", posted).status_code == 401


def test_wc_auth_validation_and_denial(woo, receiver):
    missing = _authorize(woo, receiver.url, scope="")
    assert missing.status_code == 400 and "Missing parameter scope" in missing.text
    bad = _authorize(woo, receiver.url, scope="admin")
    assert bad.status_code == 400 and "Invalid scope admin" in bad.text
    woo.ctl("POST", "", {"deny_auth": True})
    denied = _authorize(woo, receiver.url)
    assert denied.status_code == 302
    assert parse_qs(urlsplit(denied.headers["location"]).query) == {
        "store": ["7"], "success": ["0"], "user_id": ["42"]}
    assert receiver.requests == [] and woo.ctl("GET", "")["keys"] == []


def test_oauth1_sha256_and_sha1_are_accepted(woo, key):
    for algorithm in ("HMAC-SHA256", "HMAC-SHA1"):
        response = woo.oauth("GET", "/customers", key, {"per_page": "5", "search": "a b/ü"},
                             algorithm=algorithm)
        assert response.status_code == 200, response.text
        assert response.json() == []


def test_oauth1_in_the_authorization_header(woo, key):
    url = f"{woo.store_url}/wp-json/wc/v3/orders"
    params = oauth_params("GET", url, key["consumer_key"], key["consumer_secret"],
                          {"page": "1"}, algorithm="HMAC-SHA1")
    header = "OAuth " + ", ".join(f'{k}="{quote(v, safe="")}"' for k, v in params.items()
                                  if k.startswith("oauth_"))
    with woo.client() as client:
        response = client.get(url, params={"page": "1"}, headers={"Authorization": header})
    assert response.status_code == 200, response.text


def _error(response):
    return response.status_code, response.json()["code"], response.json()["message"]


def test_oauth1_rejections(woo, key):
    bad = dict(key, consumer_secret="cs_wrong")
    assert _error(woo.oauth("GET", "/orders", bad)) == (
        401, "woocommerce_rest_authentication_error",
        "Invalid signature - provided signature does not match.")
    stale = woo.oauth("GET", "/orders", key, timestamp=int(time.time()) - 16 * 60)
    assert _error(stale) == (401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
    assert woo.oauth("GET", "/orders", key, nonce="n-1").status_code == 200
    assert _error(woo.oauth("GET", "/orders", key, nonce="n-1")) == (
        401, "woocommerce_rest_authentication_error",
        "Invalid nonce - nonce has already been used.")
    unknown = dict(key, consumer_key="ck_" + "0" * 40)
    assert _error(woo.oauth("GET", "/orders", unknown)) == (
        401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")


def test_basic_auth_only_over_https(woo, key):
    assert woo.rest("GET", "/orders", key).status_code == 200
    with woo.client() as client:
        plain = client.get(f"/woo/{woo.handle}/wp-json/wc/v3/orders",
                           auth=(key["consumer_key"], key["consumer_secret"]))
        query = client.get(f"/woo/{woo.handle}/wp-json/wc/v3/orders/1", params={
            "consumer_key": key["consumer_key"], "consumer_secret": key["consumer_secret"]})
    assert _error(plain) == (401, "woocommerce_rest_cannot_view",
                             "Sorry, you cannot list resources.")
    assert _error(query) == (401, "woocommerce_rest_cannot_view",
                             "Sorry, you cannot view this resource.")
    with woo.client(tls=True) as client:
        wrong = client.get(f"/woo/{woo.handle}/wp-json/wc/v3/orders",
                           auth=(key["consumer_key"], "cs_nope"))
    assert _error(wrong) == (401, "woocommerce_rest_authentication_error",
                             "Consumer secret is invalid.")


def test_strip_authorization_keeps_query_keys_working(woo, key):
    woo.ctl("POST", "", {"strip_authorization": True})
    assert woo.rest("GET", "/orders", key).status_code == 401
    with woo.client(tls=True) as client:
        response = client.get(f"/woo/{woo.handle}/wp-json/wc/v3/orders", params={
            "consumer_key": key["consumer_key"], "consumer_secret": key["consumer_secret"]})
    assert response.status_code == 200


def test_read_only_key_cannot_write(woo):
    read = woo.key("read")
    assert woo.rest("GET", "/coupons", read).status_code == 200
    assert _error(woo.rest("POST", "/coupons", read, json={"code": "x"})) == (
        401, "woocommerce_rest_authentication_error",
        "The API key provided does not have write permissions.")
    woo.ctl("DELETE", f"/keys/{read['key_id']}")
    assert woo.rest("GET", "/coupons", read).status_code == 401


def test_index_is_public_and_unknown_routes_404(woo, key):
    with woo.client() as client:
        index = client.get(f"/woo/{woo.handle}/wp-json/")
    assert index.status_code == 200
    assert index.json()["name"] == "Café Grüße" and index.json()["url"] == woo.store_https_url
    assert index.json()["timezone_string"] == "Europe/Berlin"
    assert "wc/v3" in index.json()["namespaces"]
    assert _error(woo.rest("GET", "/nothing", key)) == (
        404, "rest_no_route", "No route was found matching the URL and request method.")
