"""The merchant's flows API: session tokens, settings with field-named refusals, runs, previews, one shop only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.flows import definitions
from app.store.models import Shop
from app.store.types import utcnow
from tests.conftest import API_KEY
from tests.flows import support
from tests.helpers import DevstoreShop, bearer, install, run_jobs

CART = definitions.ABANDONED_CART


@pytest.fixture()
def admin(client, store):
    """A devstore shop installed through OAuth, and its session token."""
    store.generate(seed=3, customers=2, products=2, orders=0)
    install(client, store)
    assert run_jobs() == []
    return store, bearer(store.session_token(API_KEY))


def _shop(domain: str) -> Shop:
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.domain == domain)).scalar_one()


def _carts(domain: str, count: int) -> list[int]:
    """``count`` carts left just now, evaluated into runs; their run ids, oldest first."""
    shop = _shop(domain)
    session = db.session()
    now = utcnow().replace(microsecond=0)
    support.write(session, shop, *[support.cart(f"cart-{n}", at=now, customer=f"c{n}", email=f"c{n}@example.com")
                                   for n in range(count)])
    support.evaluate(session, shop, now)
    return [run.id for run in support.runs_of(session, shop, CART)]


def test_the_flows_api_needs_a_session_token(client):
    assert client.get("/api/admin/flows").status_code == 401
    assert client.get(f"/api/admin/flows/{CART}", headers=bearer("junk")).status_code == 401


def test_every_built_in_is_listed_with_its_settings_and_run_counts(client, admin):
    store, auth = admin
    _carts(store.domain, 2)
    listed = client.get("/api/admin/flows", headers=auth).get_json()
    assert [f["key"] for f in listed] == list(definitions.KEYS)
    cart = listed[0]
    assert (cart["name"], cart["category"], cart["version"], cart["runs"]) == (
        "Abandoned cart", "marketing", 1, {"active": 2, "completed": 0, "exited": 0})
    assert [s["delay_hours"] for s in cart["settings"]["steps"]] == [1, 24, 72]
    assert listed[4]["category"] == "transactional"
    one = client.get(f"/api/admin/flows/{CART}", headers=auth).get_json()
    assert one["settings"] == cart["settings"]
    assert client.get("/api/admin/flows/newsletter", headers=auth).status_code == 404


def test_a_change_is_validated_and_stored_as_a_new_version(client, admin):
    _, auth = admin
    url = f"/api/admin/flows/{CART}"
    bad = client.put(url, json={"steps": {"0": {"delay_hours": "soon"}}}, headers=auth)
    assert (bad.status_code, bad.get_json()["field"]) == (422, "steps[0].delay_hours")
    assert "steps[0].delay_hours: must be a number" in bad.get_json()["error"]
    early = client.put(url, json={"steps": {"0": {"incentive": {"kind": "percentage", "value": "10",
                                                                  "expires_hours": 24}}}}, headers=auth)
    assert (early.status_code, early.get_json()["field"]) == (422, "steps[0].incentive")
    assert client.put(url, data="x", headers=auth).status_code == 400
    assert client.put("/api/admin/flows/newsletter", json={"enabled": False}, headers=auth).status_code == 404
    good = client.put(url, json={"steps": {"0": {"delay_hours": 2, "subject": "Still thinking it over?"},
                                           "2": {"incentive": {"kind": "fixed_amount", "value": "5",
                                                               "expires_hours": 48}}},
                                 "holdout_share": 0.2}, headers=auth)
    assert good.status_code == 200
    changed = good.get_json()
    assert (changed["version"], changed["settings"]["steps"][0]["delay_hours"],
            changed["settings"]["steps"][0]["subject"], changed["settings"]["steps"][2]["incentive"]["value"],
            changed["settings"]["holdout_share"]) == (2, 2, "Still thinking it over?", "5", 0.2)
    assert client.get(url, headers=auth).get_json()["version"] == 2


def test_runs_are_listed_newest_first_a_page_at_a_time(client, admin):
    store, auth = admin
    ids = _carts(store.domain, 3)
    url = f"/api/admin/flows/{CART}/runs"
    first = client.get(url, query_string={"limit": 2}, headers=auth).get_json()
    assert [r["id"] for r in first["runs"]] == [ids[2], ids[1]]
    assert first["next_before"] == ids[1]
    second = client.get(url, query_string={"limit": 2, "before": first["next_before"]}, headers=auth).get_json()
    assert ([r["id"] for r in second["runs"]], second["next_before"]) == ([ids[0]], None)
    run = second["runs"][0]
    assert (run["state"], run["subject"], run["next_step"], run["is_holdout"] in (True, False)) == (
        "active", {"kind": "cart", "id": "cart-0"}, 0, True)
    assert client.get(url, query_string={"state": "exited"}, headers=auth).get_json()["runs"] == []
    assert client.get(f"{url}/{ids[0]}", headers=auth).get_json()["id"] == ids[0]
    for bad in ({"limit": 0}, {"limit": "x"}, {"limit": 500}, {"before": "-1"}, {"state": "lost"},
                {"holdout": "maybe"}):
        assert client.get(url, query_string=bad, headers=auth).status_code == 400, bad


def test_a_step_is_previewed_from_a_sample_or_from_a_real_run(client, admin):
    store, auth = admin
    (run_id,) = _carts(store.domain, 1)
    sample = client.get(f"/api/admin/flows/{CART}/steps/0/preview", headers=auth)
    assert sample.status_code == 200
    body = sample.get_json()
    assert (body["template"], body["source"]) == ("cart_reminder", "sample")
    assert "Sample product" in body["html"] and "Sample product" in body["text"]
    assert body["subject"].startswith("Your cart at ")
    real = client.get(f"/api/admin/flows/{CART}/steps/0/preview", query_string={"run": run_id}, headers=auth)
    assert real.status_code == 200
    assert real.get_json()["source"] == "run"
    assert real.get_json()["context"]["items"] == [{"name": "Mug 0", "quantity": 1, "price": "20.00"}]
    assert "Mug 0" in real.get_json()["html"]
    win_back = client.get(f"/api/admin/flows/{definitions.WIN_BACK}/steps/0/preview", headers=auth).get_json()
    assert win_back["context"]["coupon"]["description"] == "15% off" and "CB-PREVIEW00" in win_back["text"]
    assert client.get(f"/api/admin/flows/{CART}/steps/3/preview", headers=auth).status_code == 404
    assert client.get(f"/api/admin/flows/{CART}/steps/0/preview", query_string={"run": "abc"},
                      headers=auth).status_code == 400


def test_another_shops_runs_are_404(client, admin, devstore):
    store, auth = admin
    other = DevstoreShop(devstore.url, "other-" + store.domain)
    other.create()
    install(client, other)
    assert run_jobs() == []
    (theirs,) = _carts(other.domain, 1)
    assert client.get(f"/api/admin/flows/{CART}/runs/{theirs}", headers=auth).status_code == 404
    assert client.get(f"/api/admin/flows/{CART}/steps/0/preview", query_string={"run": theirs},
                      headers=auth).status_code == 404
    assert client.get(f"/api/admin/flows/{CART}/runs", headers=auth).get_json()["runs"] == []
    own = client.get(f"/api/admin/flows/{CART}/runs/{theirs}", headers=bearer(other.session_token(API_KEY)))
    assert own.status_code == 200
    # a change in one shop leaves the other's flow as it was
    assert client.put(f"/api/admin/flows/{CART}", json={"enabled": False}, headers=auth).status_code == 200
    other_flow = client.get(f"/api/admin/flows/{CART}", headers=bearer(other.session_token(API_KEY))).get_json()
    assert (other_flow["version"], other_flow["settings"]["enabled"]) == (1, True)


def test_the_report_counts_only_the_flows_own_runs(client, admin):
    _, auth = admin
    report = client.get(f"/api/admin/flows/{CART}/report", headers=auth).get_json()
    assert (report["runs"], report["messages"]["sent"], report["lift"], report["attribution_days"]) == (0, 0, None, 5)
    assert client.get(f"/api/admin/flows/{CART}/report", query_string={"attribution_days": 0},
                      headers=auth).status_code == 400
