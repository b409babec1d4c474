"""OAuth: authorize redirect, code exchange, refresh rotation, token exchange."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt

from tests.devstore.dshelpers import API, CLIENT_ID, CLIENT_SECRET, SHOP, authorize, gql, install


def test_authorize_redirect_carries_verifiable_hmac(http):
    params = authorize(http, state="abc")
    assert sorted(params) == ["code", "hmac", "host", "shop", "state", "timestamp"]
    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "hmac")
    expected = hmac.new(CLIENT_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert params["hmac"] == expected
    assert params["shop"] == SHOP
    assert params["state"] == "abc"
    host = params["host"] + "=" * (-len(params["host"]) % 4)
    assert base64.urlsafe_b64decode(host) == b"admin.shopify.com/store/demo-store"
    assert abs(int(params["timestamp"]) - time.time()) < 5


def test_authorize_rejects_unknown_client(http):
    response = http.get("/admin/oauth/authorize", params={
        "shop": SHOP, "client_id": "nope", "redirect_uri": "https://a.example/cb"})
    assert response.status_code == 400


def test_authorize_creates_unknown_shop(http, server):
    authorize(http, shop="brand-new.myshopify.com")
    assert "brand-new.myshopify.com" in server.store.shops


def test_code_is_single_use_and_expiring_token_fields(http):
    code = authorize(http)["code"]
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code,
            "expiring": 1}
    first = http.post("/admin/oauth/access_token", json=body, headers={"Host": SHOP})
    assert first.status_code == 200
    data = first.json()
    assert sorted(data) == ["access_token", "expires_in", "refresh_token",
                            "refresh_token_expires_in", "scope"]
    assert data["expires_in"] == 3600
    assert data["refresh_token_expires_in"] == 7776000
    assert data["scope"] == "read_orders"
    again = http.post("/admin/oauth/access_token", json=body, headers={"Host": SHOP})
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_form_body_without_expiring_gives_plain_token(http):
    code = authorize(http)["code"]
    response = http.post("/admin/oauth/access_token", data={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code})
    assert response.status_code == 200
    assert sorted(response.json()) == ["access_token", "scope"]


def test_wrong_client_secret_is_401(http):
    code = authorize(http)["code"]
    response = http.post("/admin/oauth/access_token", json={
        "client_id": CLIENT_ID, "client_secret": "wrong", "code": code})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_refresh_rotates_and_old_refresh_token_dies(http):
    first = install(http)
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    rotated = http.post("/admin/oauth/access_token", json=body, headers={"Host": SHOP})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3600
    reused = http.post("/admin/oauth/access_token", json=body, headers={"Host": SHOP})
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert gql(http, second["access_token"], "{ shop { id } }").status_code == 200


def _exchange(http, subject_token):
    return http.post("/admin/oauth/access_token", headers={"Host": SHOP}, json={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        "expiring": "1"})


def test_token_exchange_with_minted_session_token(http):
    minted = http.post(f"/_devstore/shops/{SHOP}/session-token", json={"client_id": CLIENT_ID})
    assert minted.status_code == 200
    claims = jwt.decode(minted.json()["token"], CLIENT_SECRET, algorithms=["HS256"],
                        audience=CLIENT_ID)
    assert claims["dest"] == f"https://{SHOP}"
    assert claims["iss"] == f"https://{SHOP}/admin"
    response = _exchange(http, minted.json()["token"])
    assert response.status_code == 200
    data = response.json()
    assert data["expires_in"] == 3600
    assert gql(http, data["access_token"], "{ shop { myshopifyDomain } }").json()[
        "data"]["shop"]["myshopifyDomain"] == SHOP


def test_token_exchange_rejects_bad_session_tokens(http):
    now = int(time.time())
    claims = {"iss": f"https://{SHOP}/admin", "dest": f"https://{SHOP}", "aud": CLIENT_ID,
              "sub": "1", "exp": now + 60, "nbf": now, "iat": now, "jti": "j", "sid": "s"}
    wrong_key = jwt.encode(claims, "another-secret-that-is-long-enough-32b", algorithm="HS256")
    assert _exchange(http, wrong_key).status_code == 400
    expired = jwt.encode({**claims, "exp": now - 120}, CLIENT_SECRET, algorithm="HS256")
    assert _exchange(http, expired).status_code == 400
    wrong_aud = jwt.encode({**claims, "aud": "other"}, CLIENT_SECRET, algorithm="HS256")
    assert _exchange(http, wrong_aud).json()["error"] == "invalid_subject_token"
    good = jwt.encode(claims, CLIENT_SECRET, algorithm="HS256")
    assert _exchange(http, good).status_code == 200


def test_graphql_rejects_bad_and_expired_tokens(http, token):
    expected = {"errors": "[API] Invalid API key or access token "
                          "(unrecognized login or wrong password)"}
    bad = gql(http, "shpat_nope", "{ shop { id } }")
    assert bad.status_code == 401
    assert bad.json() == expected
    assert gql(http, token, "{ shop { id } }").status_code == 200
    assert http.post(f"/_devstore/shops/{SHOP}/expire-tokens").json() == {"expired": 1}
    expired = gql(http, token, "{ shop { id } }")
    assert expired.status_code == 401
    assert expired.json() == expected


def test_token_of_one_shop_fails_on_another(http, token):
    http.post("/_devstore/shops", json={"domain": "other.myshopify.com"})
    response = gql(http, token, "{ shop { id } }", shop="other.myshopify.com")
    assert response.status_code == 401
    assert API.endswith("graphql.json")
