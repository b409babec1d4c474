"""The app proxy: Shopify's signature, what is forwarded to the app and what comes back."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator
from urllib.parse import parse_qsl

import httpx
import pytest

from devstore import create_app, serve_in_thread
from devstore.storefront import proxy
from tests.conftest import SHARED
from tests.devstore.dshelpers import CLIENT_ID, CLIENT_SECRET, SHOP, install
from tests.devstore.storefront_helpers import Upstream, cookie_from, register_app, serve_upstream, storefront

VECTORS = SHARED / "fixtures" / "shopify_vectors.json"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """The app behind the proxy."""
    state, httpd = serve_upstream()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def proxied(http: httpx.Client, upstream: Upstream) -> Upstream:
    """The test app registered with its app proxy on the upstream and installed on SHOP."""
    assert register_app(http, upstream.url + "/proxy").status_code == 200
    install(http)
    return upstream


@pytest.fixture
def shopper(server: Any) -> Iterator[httpx.Client]:
    """A storefront client on SHOP."""
    with storefront(server.url) as client:
        yield client


def _customer(http: httpx.Client, email: str = "ada@example.com") -> int:
    """Create a customer (through an order, as shoppers come to be) and return its id."""
    response = http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": email})
    assert response.status_code == 201, response.text
    return response.json()["customer"]["id"]


def test_signature_matches_the_published_vector():
    vectors = json.loads(VECTORS.read_text())["app_proxy_signature"]
    for vector in vectors:
        params = parse_qsl(vector["query"], keep_blank_values=True)
        assert proxy.signature(params, vector["secret"]) == vector["signature_hex"]
        # A changed value no longer matches.
        tampered = [(k, "2" if k == "logged_in_customer_id" else v) for k, v in params]
        assert proxy.signature(tampered, vector["secret"]) != vector["signature_hex"]


def test_a_signed_in_shopper_request_is_forwarded_signed(http, proxied, shopper):
    customer_id = _customer(http)
    signed_in = shopper.get("/account/login", params={"customer": customer_id})
    assert signed_in.status_code == 302
    session = cookie_from(signed_in, "_devstore_customer")
    before = int(time.time())
    proxied.reply = (200, [("Content-Type", "application/json"), ("ETag", '"v1"'),
                           ("Cache-Control", "private, max-age=5"), ("Retry-After", "3"),
                           ("Access-Control-Allow-Origin", "*"), ("Set-Cookie", "app=1; Path=/"),
                           ("X-Internal", "secret")], b'{"points": 10}')
    response = shopper.get(
        "/apps/comeback/widget/state", params=[("x", "1"), ("x", "2"), ("shop", "evil"),
                                               ("signature", "forged")],
        headers={"Cookie": f"_devstore_customer={session}; other=1", "Accept": "application/json",
                 "User-Agent": "Chromium-test", "If-None-Match": '"v0"', "X-Custom": "no"})
    assert response.status_code == 200
    assert response.content == b'{"points": 10}'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["etag"] == '"v1"'
    assert response.headers["cache-control"] == "private, max-age=5"
    assert response.headers["retry-after"] == "3"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in response.headers and "x-internal" not in response.headers

    [seen] = proxied.seen
    assert (seen.method, seen.path) == ("GET", "/proxy/widget/state")
    params = dict((k, v) for k, v in seen.query if k != "x")
    assert [v for k, v in seen.query if k == "x"] == ["1", "2"]
    assert params["shop"] == SHOP
    assert params["logged_in_customer_id"] == str(customer_id)
    assert params["path_prefix"] == "/apps/comeback"
    assert before <= int(params["timestamp"]) <= int(time.time())
    assert [k for k, _ in seen.query].count("shop") == 1
    assert [k for k, _ in seen.query].count("signature") == 1
    # The app recomputes the signature over what it received, with the client secret.
    assert params["signature"] == proxy.signature(seen.query, CLIENT_SECRET)
    assert params["signature"] != proxy.signature(seen.query, "another-secret")
    assert "%2Fapps%2Fcomeback" in seen.raw_query
    assert "cookie" not in seen.headers
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["user-agent"] == "Chromium-test"
    assert seen.headers["if-none-match"] == '"v0"'
    assert "x-custom" not in seen.headers


def test_a_visitor_post_keeps_method_body_and_status(http, proxied, shopper):
    proxied.reply = (201, [("Content-Type", "application/json")], b'{"ok": true}')
    response = shopper.post("/apps/comeback/leaderboard?page=2", content=b'{"a": 1}',
                            headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (201, {"ok": True})
    [seen] = proxied.seen
    assert (seen.method, seen.path, seen.body) == ("POST", "/proxy/leaderboard", b'{"a": 1}')
    assert seen.headers["content-type"] == "application/json"
    query = dict(seen.query)
    assert (query["page"], query["logged_in_customer_id"]) == ("2", "")
    assert query["signature"] == proxy.signature(seen.query, CLIENT_SECRET)


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_other_methods_are_forwarded(http, proxied, shopper, method):
    proxied.reply = (204, [], b"")
    response = shopper.request(method, "/apps/comeback/item/7")
    assert response.status_code == 204
    assert [(s.method, s.path) for s in proxied.seen] == [(method, "/proxy/item/7")]


def test_the_bare_prefix_maps_to_the_proxy_url(http, proxied, shopper):
    assert shopper.get("/apps/comeback").status_code == 200
    assert shopper.get("/apps/comeback/").status_code == 200
    assert [s.path for s in proxied.seen] == ["/proxy", "/proxy/"]


def test_unknown_subpath_uninstalled_app_and_foreign_host_are_404(http, proxied, shopper):
    assert shopper.get("/apps/other/x").status_code == 404
    assert shopper.get("/a/comeback/x").status_code == 404
    assert http.get("/apps/comeback/x").status_code == 404  # not a shop's host
    other = http.post("/_devstore/shops", json={"domain": "other-shop"})
    assert other.status_code == 201
    with storefront(str(http.base_url), "other-shop.myshopify.com") as elsewhere:
        assert elsewhere.get("/apps/comeback/x").status_code == 404  # not installed there
    assert http.post(f"/_devstore/shops/{SHOP}/uninstall",
                     json={"client_id": CLIENT_ID}).status_code == 200
    assert shopper.get("/apps/comeback/x").status_code == 404
    assert proxied.seen == []


def test_bad_app_proxy_registration_is_refused(http):
    for bad in ({"url": "ftp://x", "subpath": "a"}, {"url": "https://x", "subpath": "a/b"},
                {"url": "https://x", "subpath": "a", "prefix": "shop"}, "https://x"):
        response = http.post("/_devstore/apps", json={"client_id": CLIENT_ID,
                                                      "client_secret": CLIENT_SECRET,
                                                      "app_proxy": bad})
        assert response.status_code == 400, bad
    for bad_extensions in (["relative/path"], ["/nonexistent/extension"], "/tmp"):
        response = http.post("/_devstore/apps", json={"client_id": CLIENT_ID,
                                                      "client_secret": CLIENT_SECRET,
                                                      "extensions": bad_extensions})
        assert response.status_code == 400, bad_extensions


def test_a_slow_app_is_a_504_and_an_unreachable_one_a_502(upstream):
    app = create_app({"apps": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                "app_proxy": {"url": upstream.url + "/proxy",
                                              "subpath": "comeback"}}],
                      "shops": [SHOP], "app_proxy_timeout": 0.3})
    running = serve_in_thread(app)
    try:
        with httpx.Client(base_url=running.url, trust_env=False, timeout=30) as http:
            install(http)
            upstream.delay = 1.0
            with storefront(running.url) as shopper:
                assert shopper.get("/apps/comeback/slow").status_code == 504
                http.post("/_devstore/apps", json={
                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                    "app_proxy": {"url": "http://127.0.0.1:9/proxy", "subpath": "comeback"}})
                assert shopper.get("/apps/comeback/down").status_code == 502
    finally:
        running.stop()
