"""Embedded admin: session tokens, token exchange, framing policy, shop scoping, bad input."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import select

from app.extensions import db
from app.store.models import Shop, SyncRun
from app.store.types import utcnow
from tests.conftest import API_KEY, API_SECRET
from tests.helpers import DevstoreShop, bearer, install, run_jobs


def test_admin_api_needs_a_session_token(client):
    for path in ("/api/admin/shop", "/api/admin/sync", "/api/admin/sync/runs/1"):
        response = client.get(path)
        assert response.status_code == 401
        assert "session token" in response.get_json()["error"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_malformed_session_tokens_are_401(client, token):
    response = client.get("/api/admin/shop", headers=bearer(token))
    assert response.status_code == 401


def test_a_valid_session_token_gives_the_shop(client, installed):
    token = installed.session_token(API_KEY)
    response = client.get("/api/admin/shop", headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["domain"], body["platform"], body["status"]) == (installed.domain, "shopify", "active")
    assert "access_token" not in body and "refresh_token" not in body


def test_session_tokens_signed_wrong_or_for_another_app_or_expired_are_401(client, installed):
    claims = {"iss": f"https://{installed.domain}/admin", "dest": f"https://{installed.domain}", "aud": API_KEY,
              "sub": "1", "exp": int(utcnow().timestamp()) + 60, "nbf": int(utcnow().timestamp()) - 1,
              "iat": int(utcnow().timestamp()), "jti": "j", "sid": "s"}
    wrong_secret = jwt.encode(claims, "not-our-secret-but-long-enough-for-hs256", algorithm="HS256")
    other_app = jwt.encode({**claims, "aud": "another-app"}, API_SECRET, algorithm="HS256")
    expired = jwt.encode({**claims, "exp": int(utcnow().timestamp()) - 120}, API_SECRET, algorithm="HS256")
    bad_dest = jwt.encode({**claims, "dest": "https://evil.example.com"}, API_SECRET, algorithm="HS256")
    for token in (wrong_secret, other_app, expired, bad_dest):
        assert client.get("/api/admin/shop", headers=bearer(token)).status_code == 401


def test_a_new_shop_is_installed_by_token_exchange(client, store):
    # given a shop that opens the app without ever going through the OAuth redirect
    token = store.session_token(API_KEY)
    response = client.get("/api/admin/shop", headers=bearer(token))
    assert response.status_code == 200
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    assert shop.status == "active" and shop.access_token and shop.refresh_token
    # and its set-up and backfill follow
    assert run_jobs() == []
    db.session().expire_all()
    assert db.session().get(Shop, shop.id).webhooks_registered_at is not None


def test_sync_progress_is_reported(client, installed):
    response = client.get("/api/admin/sync", headers=bearer(installed.session_token(API_KEY)))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "completed"
    orders = next(item for item in body["resources"] if item["resource"] == "orders")
    assert (orders["processed"], orders["total"], orders["percent"]) == (12, 12, 100.0)


def test_another_shops_sync_run_is_404(client, installed, devstore):
    other = DevstoreShop(devstore.url, "other-" + installed.domain)
    other.create()
    install(client, other)
    assert run_jobs() == []
    other_shop = db.session().execute(select(Shop).where(Shop.domain == other.domain)).scalar_one()
    other_run = db.session().execute(select(SyncRun).where(SyncRun.shop_id == other_shop.id)).scalars().first()
    token = installed.session_token(API_KEY)
    assert client.get(f"/api/admin/sync/runs/{other_run.id}", headers=bearer(token)).status_code == 404
    own = client.get(f"/api/admin/sync/runs/{other_run.id}", headers=bearer(other.session_token(API_KEY)))
    assert own.status_code == 200 and own.get_json()["id"] == other_run.id
    assert client.get("/api/admin/sync/runs/not-a-number", headers=bearer(token)).status_code == 404


def test_admin_page_is_framed_only_by_the_shop_admin(client, installed):
    response = client.get("/admin/onboarding", query_string={"shop": installed.domain,
                                                             "id_token": installed.session_token(API_KEY)})
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{installed.domain} https://admin.shopify.com" in policy
    # App Bridge comes from the platform (here devstore, which stands in for Shopify's CDN)
    assert "script-src 'self' http://127.0.0.1:" in policy
    page = response.get_data(as_text=True)
    assert 'name="shopify-api-key"' in page and "app-bridge.js" in page
    # without a session token: the bounce page that asks App Bridge for one, and no data
    bare = client.get("/admin/onboarding", query_string={"shop": installed.domain})
    assert bare.status_code == 200
    assert f"frame-ancestors https://{installed.domain} https://admin.shopify.com" in (
        bare.headers["Content-Security-Policy"])
    text = bare.get_data(as_text=True)
    assert "bounce.js" in text and "orders" not in text.lower()
    assert f'{installed.domain}:' in text and f'/admin/apps/{API_KEY}/onboarding"' in text


def test_admin_page_bad_input(client, installed, store):
    # no shop and no session: the sign-in page
    missing = client.get("/admin")
    assert missing.status_code == 302 and missing.headers["Location"].startswith("/admin/sign-in")
    wrong = client.get("/admin", query_string={"shop": "evil.com"})
    assert wrong.status_code == 400 and "is not a shop address" in wrong.get_data(as_text=True)
    response = client.get("/admin", query_string={"shop": installed.domain, "id_token": "forged"})
    assert response.status_code == 401 and "did not vouch" in response.get_data(as_text=True)
    other = DevstoreShop(store.base_url, "third-" + installed.domain)
    other.create()
    mismatch = client.get("/admin", query_string={"shop": installed.domain, "id_token": other.session_token(API_KEY)})
    assert mismatch.status_code == 401 and "another shop" in mismatch.get_data(as_text=True)


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "redis": "ok"}


def test_data_exports_are_handed_to_the_merchant_of_that_shop_only(client, installed, devstore, live_app):
    from app.store.models import Customer

    shop = db.session().execute(select(Shop).where(Shop.domain == installed.domain)).scalar_one()
    customer = db.session().execute(select(Customer).where(Customer.shop_id == shop.id).limit(1)).scalar_one()
    installed.control("POST", "/compliance/customers-data_request", client_id=API_KEY,
                      customer_id=int(customer.external_id))
    installed.drain_deliveries()
    assert run_jobs() == []
    token = installed.session_token(API_KEY)
    listing = client.get("/api/admin/privacy-requests", headers=bearer(token))
    assert listing.status_code == 200
    (request,) = listing.get_json()
    assert (request["kind"], request["customer_external_id"]) == ("data_request", customer.external_id)
    detail = client.get(f"/api/admin/privacy-requests/{request['id']}", headers=bearer(token))
    assert detail.status_code == 200
    assert detail.get_json()["export"]["customer"]["email"] == customer.email
    # another shop's merchant cannot see it
    other = DevstoreShop(devstore.url, "privacy-" + installed.domain)
    other.create()
    install(client, other)
    assert run_jobs() == []
    foreign = client.get(f"/api/admin/privacy-requests/{request['id']}", headers=bearer(other.session_token(API_KEY)))
    assert foreign.status_code == 404
    assert client.get("/api/admin/privacy-requests", headers=bearer(other.session_token(API_KEY))).get_json() == []
