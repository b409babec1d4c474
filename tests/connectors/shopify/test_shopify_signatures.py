"""Shop domains, OAuth callback HMAC, webhook HMAC and session tokens, on published vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl

import jwt
import pytest

from connectors.base import IGNORED, ORDER_UPSERT, InvalidShopError, InvalidSignatureError
from connectors.shopify.connector import ShopifyConnector
from connectors.shopify.oauth import callback_hmac, callback_message


def test_shop_domains_accept_and_reject_the_published_lists(connector, vectors):
    for domain in vectors["shop_domains"]["accept"]:
        assert connector.normalize_shop_key(domain) == domain.lower()
    for domain in vectors["shop_domains"]["reject"]:
        with pytest.raises(InvalidShopError):
            connector.normalize_shop_key(domain)


def test_shop_domain_rejects_a_trailing_newline(connector):
    with pytest.raises(InvalidShopError):
        connector.normalize_shop_key("x.myshopify.com\nevil.com")


def test_callback_hmac_matches_the_first_vector(vectors):
    vector = vectors["oauth_hmac"][0]
    query = dict(parse_qsl(vector["query"]))
    assert callback_message(query) == vector["message"]
    assert callback_hmac(query, vector["secret"]) == vector["hmac_hex"]


def test_callback_hmac_matches_the_second_vector(vectors):
    vector = vectors["oauth_hmac"][1]
    assert callback_hmac(vector["params"], vector["secret"]) == vector["hmac_hex"]


def test_verify_callback_returns_the_shop(vectors):
    vector = vectors["oauth_hmac"][0]
    connector = ShopifyConnector(api_key="k", api_secret=vector["secret"], scopes="")
    assert connector.verify_callback(dict(parse_qsl(vector["query"]))) == "some-shop.myshopify.com"
    second = vectors["oauth_hmac"][1]
    query = dict(second["params"], hmac=second["hmac_hex"])
    assert connector.verify_callback(query) == "some-shop.myshopify.com"


def test_verify_callback_accepts_the_old_secret_during_rotation(vectors):
    vector = vectors["oauth_hmac"][0]
    connector = ShopifyConnector(api_key="k", api_secret="new", old_api_secret=vector["secret"], scopes="")
    assert connector.verify_callback(dict(parse_qsl(vector["query"]))) == "some-shop.myshopify.com"


@pytest.mark.parametrize("change", [
    {"shop": "other-shop.myshopify.com"},
    {"hmac": "0" * 64},
    {"hmac": ""},
])
def test_verify_callback_rejects_tampered_queries(vectors, change):
    vector = vectors["oauth_hmac"][0]
    query = dict(parse_qsl(vector["query"]))
    query.update(change)
    connector = ShopifyConnector(api_key="k", api_secret=vector["secret"], scopes="")
    with pytest.raises(InvalidSignatureError):
        connector.verify_callback(query)


def test_verify_callback_rejects_a_signed_but_invalid_shop():
    query = {"code": "c", "shop": "evil.com", "timestamp": "1"}
    query["hmac"] = callback_hmac(query, "hush")
    connector = ShopifyConnector(api_key="k", api_secret="hush", scopes="")
    with pytest.raises(InvalidSignatureError):
        connector.verify_callback(query)


def _webhook_headers(hmac_value: str, **extra: str) -> dict[str, str]:
    headers = {"X-Shopify-Hmac-Sha256": hmac_value, "X-Shopify-Topic": "orders/create",
               "X-Shopify-Shop-Domain": "Some-Shop.myshopify.com", "X-Shopify-API-Version": "2026-10",
               "X-Shopify-Webhook-Id": "wh-1", "X-Shopify-Event-Id": "ev-1",
               "X-Shopify-Triggered-At": "2026-11-30T10:00:00.000Z"}
    headers.update(extra)
    return headers


def test_webhook_hmac_vector_verifies(vectors):
    vector = vectors["webhook_hmac"][0]
    connector = ShopifyConnector(api_key="k", api_secret=vector["secret"], scopes="")
    envelope = connector.verify_webhook(_webhook_headers(vector["hmac_base64"]), vector["body"].encode())
    assert envelope.platform == "shopify"
    assert envelope.shop_key == "some-shop.myshopify.com"
    assert envelope.topic == "orders/create"
    assert envelope.kind == ORDER_UPSERT
    assert envelope.delivery_key == "ev-1:orders/create"
    assert envelope.body == vector["body"].encode()
    assert envelope.api_version == "2026-10"
    assert envelope.triggered_at is not None and envelope.triggered_at.utcoffset().total_seconds() == 0


def test_webhook_headers_are_case_insensitive_and_fall_back_to_webhook_id(vectors):
    vector = vectors["webhook_hmac"][0]
    connector = ShopifyConnector(api_key="k", api_secret=vector["secret"], scopes="")
    headers = {k.lower(): v for k, v in _webhook_headers(vector["hmac_base64"]).items()}
    headers["x-shopify-topic"] = "themes/publish"
    envelope = connector.verify_webhook(headers, vector["body"].encode())
    assert envelope.delivery_key == "ev-1:themes/publish"
    assert envelope.kind == IGNORED
    del headers["x-shopify-event-id"]
    assert connector.verify_webhook(headers, vector["body"].encode()).delivery_key == "wh-1"


def test_webhook_with_old_secret_verifies(vectors):
    vector = vectors["webhook_hmac"][0]
    connector = ShopifyConnector(api_key="k", api_secret="rotated", old_api_secret=vector["secret"], scopes="")
    connector.verify_webhook(_webhook_headers(vector["hmac_base64"]), vector["body"].encode())


@pytest.mark.parametrize("body", [b'{"foo": "bar" }', b'{"foo":"bar"}', b""])
def test_webhook_with_altered_body_is_rejected(vectors, body):
    vector = vectors["webhook_hmac"][0]
    connector = ShopifyConnector(api_key="k", api_secret=vector["secret"], scopes="")
    with pytest.raises(InvalidSignatureError):
        connector.verify_webhook(_webhook_headers(vector["hmac_base64"]), body)


def test_webhook_without_signature_is_rejected(vectors):
    vector = vectors["webhook_hmac"][0]
    connector = ShopifyConnector(api_key="k", api_secret=vector["secret"], scopes="")
    headers = _webhook_headers("")
    with pytest.raises(InvalidSignatureError):
        connector.verify_webhook(headers, vector["body"].encode())
    del headers["X-Shopify-Hmac-Sha256"]
    with pytest.raises(InvalidSignatureError):
        connector.verify_webhook(headers, vector["body"].encode())


def test_webhook_body_that_is_not_utf8_is_verified_over_raw_bytes():
    body = b'{"note": "\xff\xfe"}'
    signature = base64.b64encode(hmac.new(b"s", body, hashlib.sha256).digest()).decode()
    connector = ShopifyConnector(api_key="k", api_secret="s", scopes="")
    assert connector.verify_webhook(_webhook_headers(signature), body).body == body
    with pytest.raises(InvalidSignatureError):
        connector.verify_webhook(_webhook_headers(signature), body + b" ")


def test_session_token_vector_is_valid_at_its_now(vectors):
    vector = vectors["session_token"][0]
    connector = ShopifyConnector(api_key=vector["api_key"], api_secret=vector["secret"], scopes="")
    shop, claims = connector.verify_session_token("Bearer " + vector["token"], "https://app/x",
                                                  now=vector["now"])
    assert shop == "exampleshop.myshopify.com"
    for key, value in vector["claims"].items():
        assert claims[key] == value


def test_session_token_vector_is_expired_at_real_time(vectors):
    vector = vectors["session_token"][0]
    connector = ShopifyConnector(api_key=vector["api_key"], api_secret=vector["secret"], scopes="")
    with pytest.raises(InvalidSignatureError, match="expired"):
        connector.verify_session_token("Bearer " + vector["token"], "https://app/x")


def test_session_token_vector_fails_with_a_wrong_secret_or_audience(vectors):
    vector = vectors["session_token"][0]
    wrong_secret = ShopifyConnector(api_key=vector["api_key"], api_secret="not-hush", scopes="")
    with pytest.raises(InvalidSignatureError, match="signature"):
        wrong_secret.verify_session_token("Bearer " + vector["token"], "", now=vector["now"])
    wrong_app = ShopifyConnector(api_key="another-app", api_secret=vector["secret"], scopes="")
    with pytest.raises(InvalidSignatureError, match="aud"):
        wrong_app.verify_session_token("Bearer " + vector["token"], "", now=vector["now"])


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer "])
def test_session_token_header_must_be_bearer(connector, header):
    with pytest.raises(InvalidSignatureError):
        connector.verify_session_token(header, "https://app/x")


def _token(**overrides) -> str:
    now = int(time.time())
    claims = {"iss": "https://a-shop.myshopify.com/admin", "dest": "https://a-shop.myshopify.com",
              "aud": "client-id-123", "sub": "1", "exp": now + 60, "nbf": now - 5, "iat": now - 5,
              "jti": "j", "sid": "s"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, "hush", algorithm="HS256")


def test_session_token_checks_dest_and_iss(connector):
    assert connector.verify_session_token("Bearer " + _token(), "")[0] == "a-shop.myshopify.com"
    for bad in (
        _token(dest="https://evil.com", iss="https://evil.com/admin"),
        _token(iss="https://b-shop.myshopify.com/admin"),
        _token(dest="http://a-shop.myshopify.com"),
        _token(nbf=int(time.time()) + 60),
        _token(exp=int(time.time()) - 11),
        _token(dest=None),
    ):
        with pytest.raises(InvalidSignatureError):
            connector.verify_session_token("Bearer " + bad, "")


def test_session_token_leeway_is_ten_seconds(connector):
    assert connector.verify_session_token("Bearer " + _token(exp=int(time.time()) - 5), "")


def test_frame_ancestors(connector):
    assert connector.frame_ancestors("A-Shop.myshopify.com") == [
        "https://a-shop.myshopify.com", "https://admin.shopify.com"]


def test_compliance_request_for_another_shop_than_the_header_is_refused():
    import base64
    import hashlib
    import hmac as hmac_lib
    import json as json_lib

    from connectors.base import InvalidSignatureError

    secret = "compliance-secret"
    connector = ShopifyConnector(api_key="k", api_secret=secret, scopes="")
    body = json_lib.dumps({"shop_id": 1, "shop_domain": "victim.myshopify.com"}).encode()
    digest = base64.b64encode(hmac_lib.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Topic": "shop/redact", "X-Shopify-Hmac-Sha256": digest,
               "X-Shopify-Shop-Domain": "attacker.myshopify.com", "X-Shopify-Event-Id": "e1"}
    with pytest.raises(InvalidSignatureError, match="another shop"):
        connector.verify_webhook(headers, body)
    headers["X-Shopify-Shop-Domain"] = "victim.myshopify.com"
    assert connector.verify_webhook(headers, body).shop_key == "victim.myshopify.com"


def test_the_admin_frame_is_app_bridge_from_shopifys_cdn(connector):
    frame = connector.admin_frame("A-Shop.myshopify.com")
    assert frame == {"script": "https://cdn.shopify.com/shopifycloud/app-bridge.js", "api_key": connector.api_key,
                     "embed_url": f"https://a-shop.myshopify.com/admin/apps/{connector.api_key}"}


def test_an_emulated_admin_may_frame_the_app_on_its_own_port():
    emulated = ShopifyConnector(api_key="key", api_secret="secret", scopes="read_orders",
                                api_origin="http://127.0.0.1:8100")
    assert emulated.frame_ancestors("a-shop.myshopify.com") == [
        "https://a-shop.myshopify.com", "https://admin.shopify.com", "http://a-shop.myshopify.com.localhost:8100",
        "http://a-shop.myshopify.com:8100"]
    assert emulated.admin_frame("a-shop.myshopify.com") == {
        "script": "http://127.0.0.1:8100/cdn/shopifycloud/app-bridge.js", "api_key": "key",
        "embed_url": "http://a-shop.myshopify.com:8100/admin/apps/key"}


def test_the_app_embed_link_opens_the_theme_editor_at_the_widget(connector):
    assert connector.app_embed_link("A-Shop.myshopify.com") == (
        f"https://a-shop.myshopify.com/admin/themes/current/editor?context=apps"
        f"&activateAppId={connector.api_key}/app-embed")
