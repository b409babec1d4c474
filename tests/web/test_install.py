"""Install through OAuth against devstore: validation, state, HMAC, encrypted credentials."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.store.models import OAuthState, Shop
from tests.conftest import API_KEY, SHARED
from tests.helpers import install

VECTORS = json.loads((SHARED / "fixtures" / "shopify_vectors.json").read_text())


@pytest.mark.parametrize("domain", VECTORS["shop_domains"]["reject"] + ["", "a.myshopify.com/evil", "http://x.myshopify.com"])
def test_install_rejects_bad_shop_domains(client, domain):
    response = client.get("/auth/shopify/install", query_string={"shop": domain})
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert db.session().execute(select(func.count()).select_from(OAuthState)).scalar_one() == 0


@pytest.mark.parametrize("domain", VECTORS["shop_domains"]["accept"])
def test_install_redirects_accepted_domains_with_a_state(client, domain, devstore):
    response = client.get("/auth/shopify/install", query_string={"shop": domain})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    params = dict(parse_qsl(location.query))
    assert f"{location.scheme}://{location.netloc}" == devstore.url
    assert location.path == "/admin/oauth/authorize"
    assert params["shop"] == domain.lower()
    assert params["client_id"] == API_KEY
    assert params["redirect_uri"].endswith("/auth/shopify/callback")
    state = db.session().get(OAuthState, params["state"])
    assert state is not None and state.shop_domain == domain.lower() and state.used_at is None


def test_full_install_stores_encrypted_expiring_credentials(client, store, settings):
    install(client, store)
    shop = db.session().execute(select(Shop).where(Shop.domain == store.domain)).scalar_one()
    assert shop.status == "active"
    assert shop.access_token and shop.refresh_token
    assert shop.access_token_expires_at is not None and shop.refresh_token_expires_at is not None
    # and the database holds only ciphertext
    raw = db.session().execute(text("SELECT access_token, refresh_token FROM shops WHERE id = :id"),
                               {"id": shop.id}).one()
    assert shop.access_token not in raw[0] and raw[0].startswith("gAAAA")
    assert shop.refresh_token not in raw[1]


def test_replayed_callback_is_refused_and_changes_nothing(client, store):
    callback = install(client, store)
    before = db.session().execute(select(Shop.access_token).where(Shop.domain == store.domain)).scalar_one()
    response = client.get(callback)
    assert response.status_code == 400
    assert "state" in response.get_json()["error"]
    db.session().expire_all()
    after = db.session().execute(select(Shop.access_token).where(Shop.domain == store.domain)).scalar_one()
    assert after == before


def test_bad_hmac_is_401_and_stores_nothing(client, store):
    response = client.get("/auth/shopify/install", query_string={"shop": store.domain})
    approval = store.http.get(response.headers["Location"], follow_redirects=False)
    callback = urlsplit(approval.headers["Location"])
    params = dict(parse_qsl(callback.query))
    params["code"] = params["code"] + "x"  # any change breaks the signature
    result = client.get(f"{callback.path}?{urlencode(params)}")
    assert result.status_code == 401
    assert db.session().execute(select(func.count()).select_from(Shop)).scalar_one() == 0


def test_unknown_state_is_400(client, store):
    response = client.get("/auth/shopify/install", query_string={"shop": store.domain})
    approval = store.http.get(response.headers["Location"], follow_redirects=False)
    callback = urlsplit(approval.headers["Location"])
    db.session().execute(OAuthState.__table__.delete())
    db.session().commit()
    result = client.get(f"{callback.path}?{callback.query}")
    assert result.status_code == 400
    assert db.session().execute(select(func.count()).select_from(Shop)).scalar_one() == 0


def test_state_of_another_shop_is_refused(client, store, devstore):
    from tests.helpers import DevstoreShop

    other = DevstoreShop(devstore.url, "other-" + store.domain)
    other.create()
    first = client.get("/auth/shopify/install", query_string={"shop": store.domain})
    state = dict(parse_qsl(urlsplit(first.headers["Location"]).query))["state"]
    second = client.get("/auth/shopify/install", query_string={"shop": other.domain})
    approval = other.http.get(second.headers["Location"].replace(
        dict(parse_qsl(urlsplit(second.headers["Location"]).query))["state"], state), follow_redirects=False)
    callback = urlsplit(approval.headers["Location"])
    result = client.get(f"{callback.path}?{callback.query}")
    assert result.status_code == 400
    assert db.session().execute(select(func.count()).select_from(Shop)).scalar_one() == 0


def test_unknown_platform_is_404(client):
    assert client.get("/auth/nosuch/install", query_string={"shop": "a.myshopify.com"}).status_code == 404
    assert client.get("/auth/nosuch/callback").status_code == 404


def test_callback_without_code_is_400_and_stores_nothing(client, store):
    response = client.get("/auth/shopify/install", query_string={"shop": store.domain})
    approval = store.http.get(response.headers["Location"], follow_redirects=False)
    params = dict(parse_qsl(urlsplit(approval.headers["Location"]).query))
    del params["code"]
    # re-sign what is left, as a forger with the secret would; the missing code is still refused
    import hashlib
    import hmac as hmac_lib

    from tests.conftest import API_SECRET

    params.pop("hmac")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["hmac"] = hmac_lib.new(API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    result = client.get("/auth/shopify/callback", query_string=params)
    assert result.status_code == 400
    assert "code" in result.get_json()["error"]
    assert db.session().execute(select(func.count()).select_from(Shop)).scalar_one() == 0
