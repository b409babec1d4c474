"""The storefront API through Shopify's app proxy: identity from the signature only, 4xx, 429, ETag."""

from __future__ import annotations

import time

from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger
from app.loyalty import program as programs
from app.store.models import Customer, LoyaltyMember, Redemption, Shop
from tests.conftest import API_SECRET
from tests.helpers import proxy_query, run_jobs


def _get(client, store, path, customer=None, headers=None, **params):
    return client.get(f"/proxy/{path}?{proxy_query(store.domain, customer, secret=API_SECRET, **params)}",
                      headers=headers or {})


def _post(client, store, path, customer=None, body=None):
    return client.post(f"/proxy/{path}?{proxy_query(store.domain, customer, secret=API_SECRET)}", json=body)


def _shop(domain: str) -> Shop:
    return db.session().execute(select(Shop).where(Shop.domain == domain)).scalar_one()


def _customers(domain: str) -> list[str]:
    shop = _shop(domain)
    return list(db.session().execute(select(Customer.external_id).where(Customer.shop_id == shop.id)
                                     .order_by(Customer.id)).scalars())


def _give(domain: str, customer_id: str, points: int) -> None:
    session = db.session()
    shop = _shop(domain)
    member = ledger.member_for(session, shop.id, customer_external_id=customer_id, email=None)
    ledger.adjust(session, shop.id, member.id, points, key=f"seed-{customer_id}", actor="test", reason="seed",
                  program=programs.ensure(session, shop.id))
    session.commit()


def test_requests_must_be_signed_fresh_and_from_an_installed_store(client, installed):
    assert client.get("/proxy/program").status_code == 401
    stale = client.get(f"/proxy/program?{proxy_query(installed.domain, secret=API_SECRET, at=time.time() - 600)}")
    assert stale.status_code == 401 and "stale" in stale.get_json()["error"]
    forged = client.get(f"/proxy/program?{proxy_query(installed.domain, secret='not-the-secret')}")
    assert forged.status_code == 401
    unknown = client.get(f"/proxy/program?{proxy_query('nobody.myshopify.com', secret=API_SECRET)}")
    assert unknown.status_code == 404


def test_the_program_is_public_cacheable_and_revalidated_by_etag(client, installed):
    first = _get(client, installed, "program", currency="EUR", rate="0.9")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, max-age=60"
    assert {r["id"] for r in first.get_json()["rewards"]} >= {"5-off", "free-shipping"}
    again = _get(client, installed, "program", currency="EUR", rate="0.9",
                 headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.data) == (304, b"")
    assert _get(client, installed, "program", currency="usd", rate="x").status_code == 400


def test_a_visitor_sees_no_member_data_and_a_shopper_only_their_own(client, installed):
    ana, bo = _customers(installed.domain)[:2]
    _give(installed.domain, ana, 700)
    assert _get(client, installed, "me").status_code == 401
    mine = _get(client, installed, "me", ana)
    assert mine.status_code == 200 and mine.headers["Cache-Control"] == "private, no-store"
    assert mine.get_json()["points"]["available"] == 700
    # whatever the parameters say, the signed customer is the one answered for
    theirs = _get(client, installed, "me", bo, customer_id=ana, logged_in=ana)
    assert theirs.get_json()["points"]["available"] == 0


def test_redeeming_spends_once_per_key_and_the_code_is_created_in_the_store(client, installed):
    ana, bo = _customers(installed.domain)[:2]
    _give(installed.domain, ana, 700)
    made = _post(client, installed, "redeem", ana, {"reward": "5-off", "key": "widget-1"})
    again = _post(client, installed, "redeem", ana, {"reward": "5-off", "key": "widget-1"})
    assert (made.status_code, again.status_code) == (201, 200)
    assert made.get_json()["code"] == again.get_json()["code"]
    assert run_jobs() == []
    codes = {d["code"] for d in installed.control("GET", "/discounts")}
    assert made.get_json()["code"] in codes
    # another shopper cannot use Ana's key to reach her redemption, nor spend points they lack
    stolen = _post(client, installed, "redeem", bo, {"reward": "5-off", "key": "widget-1"})
    assert stolen.status_code == 409
    assert _post(client, installed, "redeem", bo, {"reward": "5-off", "key": "bo-1"}).status_code == 409
    for bad in ({}, {"reward": 5, "key": "k"}, {"reward": "nope", "key": "k2"}, {"reward": "5-off"}):
        answer = _post(client, installed, "redeem", ana, bad)
        assert 400 <= answer.status_code < 500 and answer.get_json()["error"], bad
    assert _post(client, installed, "redeem", None, {"reward": "5-off", "key": "anon"}).status_code == 401
    session = db.session()
    assert session.execute(select(Redemption.member_id).distinct()).scalars().all() == [
        session.execute(select(LoyaltyMember.id).where(LoyaltyMember.customer_external_id == ana)).scalar_one()]


def test_actions_and_their_bad_input(client, installed):
    ana = _customers(installed.domain)[0]
    assert _post(client, installed, "social", ana, {"action": "instagram-follow"}).status_code == 201
    assert _post(client, installed, "social", ana, {"action": "instagram-follow"}).status_code == 200
    assert _post(client, installed, "social", ana, {"action": "nope"}).status_code == 404
    assert _post(client, installed, "birthday", ana, {"month": 2, "day": 30}).status_code == 400
    assert _post(client, installed, "birthday", ana, {"month": 6, "day": 1}).status_code == 200
    assert _post(client, installed, "review", ana, {"product": "made-up"}).status_code == 409
    assert _post(client, installed, "claim", ana).status_code == 200
    assert _post(client, installed, "leaderboard", ana, {"opt_in": True, "name": "Ana"}).status_code == 200
    assert _post(client, installed, "social", None, {"action": "instagram-follow"}).status_code == 401
    assert client.post(f"/proxy/social?{proxy_query(installed.domain, ana, secret=API_SECRET)}", data="x",
                       content_type="application/json").status_code == 400
    # a form (what another site can make a shopper's browser post without asking) is refused
    form = client.post(f"/proxy/social?{proxy_query(installed.domain, ana, secret=API_SECRET)}",
                       data={"action": "facebook-share"})
    assert form.status_code == 415 and "application/json" in form.get_json()["error"]


def test_recommendations_are_the_shop_s_popular_products(client, installed):
    answer = _get(client, installed, "recommendations", limit="3")
    products = answer.get_json()["products"]
    assert answer.status_code == 200 and 1 <= len(products) <= 3 and all(p["title"] for p in products)
    assert _get(client, installed, "recommendations", limit="99").status_code == 400


def test_a_shopper_who_hammers_the_api_gets_429(client, installed, monkeypatch, settings):
    import dataclasses

    from app import platforms

    ana = _customers(installed.domain)[0]
    monkeypatch.setattr(platforms, "settings", lambda: dataclasses.replace(settings, storefront_shopper_rate=3))
    answers = [_get(client, installed, "me", ana).status_code for _ in range(5)]
    assert answers[:3] == [200, 200, 200] and answers[3:] == [429, 429]
    limited = _get(client, installed, "me", ana)
    assert int(limited.headers["Retry-After"]) <= 60
    # visitors through the app proxy all come from the proxy's address: they share the shop's
    # budget only, and the widget's scripts (cached by browsers) count toward nothing
    assert [_get(client, installed, "program").status_code for _ in range(5)] == [200] * 5
    monkeypatch.setattr(platforms, "settings", lambda: dataclasses.replace(settings, storefront_shop_rate=11))  # 11 counted so far
    assert [_get(client, installed, "widget/comeback.js").status_code for _ in range(20)] == [200] * 20
    assert _get(client, installed, "program").status_code == 429


def test_woocommerce_widget_requests_are_proved_by_the_plugin_s_customer_token(client, live_app, woo_store):
    from connectors.woocommerce import plugin_signing
    from tests.helpers import connect_woo

    woo_store.generate(seed=3, customers=3, products=2, orders=2)
    assert connect_woo(client, woo_store).status_code == 200
    assert run_jobs() == []
    woo_store.drain_deliveries()
    shop = db.session().execute(select(Shop).where(Shop.platform == "woocommerce")).scalar_one()
    ana, bo = db.session().execute(select(Customer.external_id, Customer.email).where(Customer.shop_id == shop.id)
                                   .order_by(Customer.id).limit(2)).all()
    _give(shop.domain, ana[0], 300)

    def token(customer, store_id=shop.id, secret=shop.storefront_secret, expires=None):
        return plugin_signing.sign_customer_token(secret, str(store_id), customer[0], customer[1] or "",
                                                  expires or int(time.time()) + 600)

    store = {"X-Comeback-Store": str(shop.id)}
    # a visitor sees the program; a shopper their own points, proved by the token alone
    assert client.get("/proxy/program", headers=store).status_code == 200
    assert client.get("/proxy/me", headers=store).status_code == 401
    mine = client.get("/proxy/me", headers={**store, "X-Comeback-Customer": token(ana)})
    assert mine.status_code == 200 and mine.get_json()["points"]["available"] == 300
    theirs = client.get(f"/proxy/me?customer_id={ana[0]}", headers={**store, "X-Comeback-Customer": token(bo)})
    assert theirs.get_json()["points"]["available"] == 0
    # forged, expired, or another store's tokens are refused; an unknown store too
    for bad in (token(ana, secret="wrong"), token(ana, expires=int(time.time()) - 5), token(ana, store_id=shop.id + 1),
                "junk"):
        assert client.get("/proxy/me", headers={**store, "X-Comeback-Customer": bad}).status_code == 401, bad
    assert client.get("/proxy/program", headers={"X-Comeback-Store": str(shop.id + 99)}).status_code == 401
