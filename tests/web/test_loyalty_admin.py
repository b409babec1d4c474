"""The merchant's loyalty API: session tokens, validation, adjustments, and nothing of another shop."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.extensions import db
from app.store.models import LoyaltyMember, Shop
from tests.conftest import API_KEY
from tests.helpers import DevstoreShop, bearer, install, run_jobs


def _add_member(domain: str, customer_id: str) -> None:
    session = db.session()
    shop = session.execute(select(Shop).where(Shop.domain == domain)).scalar_one()
    session.add(LoyaltyMember(shop_id=shop.id, customer_external_id=customer_id, email=f"{customer_id}@example.com"))
    session.commit()


def test_the_loyalty_api_needs_a_session_token(client):
    assert client.get("/api/admin/loyalty/program").status_code == 401
    assert client.get("/api/admin/loyalty/program", headers=bearer("junk")).status_code == 401


def test_the_program_has_defaults_and_changes_are_validated_versions(client, installed):
    token = installed.session_token(API_KEY)
    program = client.get("/api/admin/loyalty/program", headers=bearer(token)).get_json()
    assert (program["version"], program["settings"]["points_per_unit"], program["settings"]["pending_days"]) == (1, 1, 14)
    bad = client.put("/api/admin/loyalty/program", json={"pending_days": 400}, headers=bearer(token))
    assert bad.status_code == 422 and bad.get_json()["field"] == "pending_days"
    assert client.put("/api/admin/loyalty/program", data="x", headers=bearer(token)).status_code == 400
    good = client.put("/api/admin/loyalty/program", json={"points_per_unit": 3}, headers=bearer(token))
    assert good.status_code == 200 and good.get_json()["version"] == 2
    assert client.get("/api/admin/loyalty/program", headers=bearer(token)).get_json()["settings"]["points_per_unit"] == 3


def test_adjustments_need_a_reason_happen_once_and_show_in_the_history(client, installed):
    token = installed.session_token(API_KEY)
    _add_member(installed.domain, "c1")
    url = "/api/admin/loyalty/members/c1/adjustments"
    assert client.post(url, json={"points": 50, "key": "a1"}, headers=bearer(token)).status_code == 400
    assert client.post(url, json={"points": 50, "key": "a1", "reason": " "}, headers=bearer(token)).status_code == 400
    assert client.post(url, json={"points": "50", "key": "a1", "reason": "goodwill"}, headers=bearer(token)).status_code == 400
    first = client.post(url, json={"points": 50, "key": "a1", "reason": "goodwill"}, headers=bearer(token))
    again = client.post(url, json={"points": 50, "key": "a1", "reason": "goodwill"}, headers=bearer(token))
    assert (first.status_code, again.status_code, again.get_json()["added"]) == (201, 200, False)
    member = client.get("/api/admin/loyalty/members/c1", headers=bearer(token)).get_json()
    assert member["balance"] == {"available": 50, "pending": 0, "spendable": 50, "debt": 0}
    (entry,) = member["history"]
    assert (entry["cause"], entry["points"], entry["reason"], entry["actor"]) == (
        "adjustment", 50, "goodwill", f"admin:{installed.domain}")
    found = client.get("/api/admin/loyalty/members", query_string={"q": "c1@"}, headers=bearer(token)).get_json()
    assert [m["customer_id"] for m in found] == ["c1"]
    liability = client.get("/api/admin/loyalty/liability", headers=bearer(token)).get_json()
    assert (liability["points"], liability["amount"]) == (50, "0.50")
    short = client.post(url, json={"points": -51, "key": "a2", "reason": "mistake"}, headers=bearer(token))
    assert short.status_code == 422 and "below zero: 50 points available" in short.get_json()["error"]
    assert client.get("/api/admin/loyalty/members/c1", headers=bearer(token)).get_json()["balance"]["available"] == 50


def test_another_shops_members_are_404(client, installed, devstore):
    other = DevstoreShop(devstore.url, "other-" + installed.domain)
    other.create()
    install(client, other)
    assert run_jobs() == []
    _add_member(other.domain, "theirs")
    token = installed.session_token(API_KEY)
    assert client.get("/api/admin/loyalty/members/theirs", headers=bearer(token)).status_code == 404
    adjust = client.post("/api/admin/loyalty/members/theirs/adjustments",
                         json={"points": 5, "key": "x", "reason": "r"}, headers=bearer(token))
    assert adjust.status_code == 404
    assert client.get("/api/admin/loyalty/members", headers=bearer(token)).get_json() == []
    own = client.get("/api/admin/loyalty/members/theirs", headers=bearer(other.session_token(API_KEY)))
    assert own.status_code == 200 and own.get_json()["balance"]["available"] == 0
    actions = client.post("/api/admin/loyalty/members/theirs/actions", json={"action": "x", "key": "k"},
                          headers=bearer(token))
    assert actions.status_code == 404


def test_rewards_and_tiers_are_read_and_replaced_as_new_versions(client, installed):
    token = installed.session_token(API_KEY)
    rewards = client.get("/api/admin/loyalty/rewards", headers=bearer(token)).get_json()
    assert {r["kind"] for r in rewards["rewards"]} >= {"fixed_amount", "percentage", "free_shipping", "variable"}
    tiers = [{"name": "Member", "threshold": 0, "multiplier": "1"},
             {"name": "VIP", "threshold": 1000, "multiplier": "2", "entry_points": 300, "perks": ["free shipping"]}]
    put = client.put("/api/admin/loyalty/tiers", json=tiers, headers=bearer(token))
    assert put.status_code == 200
    assert put.get_json()["tiers"][0] == {"name": "Member", "threshold": 0, "multiplier": "1", "entry_points": 0,
                                          "perks": []}
    assert put.get_json()["version"] == 2
    bad = client.put("/api/admin/loyalty/rewards", json=[{"id": "x"}], headers=bearer(token))
    assert bad.status_code == 422 and bad.get_json()["field"] == "rewards[0]"
    assert client.get("/api/admin/loyalty/program", headers=bearer(token)).get_json()["version"] == 2


def test_custom_actions_are_posted_with_an_idempotency_key(client, installed):
    token = installed.session_token(API_KEY)
    put = client.put("/api/admin/loyalty/program", json={"custom_actions": [
        {"id": "quiz", "name": "Took the style quiz", "points": 40, "limit": "per_key"}]}, headers=bearer(token))
    assert put.status_code == 200
    _add_member(installed.domain, "c1")
    url = "/api/admin/loyalty/members/c1/actions"
    first = client.post(url, json={"action": "quiz", "key": "q-1"}, headers=bearer(token))
    again = client.post(url, json={"action": "quiz", "key": "q-1"}, headers=bearer(token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["balance"]["available"] == 40 and again.get_json()["balance"]["available"] == 40
    assert client.post(url, json={"action": "nope", "key": "k"}, headers=bearer(token)).status_code == 404
    assert client.post(url, json={"action": "quiz"}, headers=bearer(token)).status_code == 400
    assert client.post("/api/admin/loyalty/members/unknown/actions", json={"action": "quiz", "key": "k"},
                       headers=bearer(token)).status_code == 404
    events = client.get("/api/admin/loyalty/events", headers=bearer(token)).get_json()
    assert [(e["kind"], e["payload"]["points"]) for e in events] == [("points_earned", 40)]
    assert client.get("/api/admin/loyalty/events?after=-1", headers=bearer(token)).status_code == 400
    # the books at the end of yesterday did not owe the points earned today
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    then = client.get(f"/api/admin/loyalty/liability?at={yesterday}", headers=bearer(token)).get_json()
    now = client.get("/api/admin/loyalty/liability", headers=bearer(token)).get_json()
    assert (then["points"], now["points"], now["amount"]) == (0, 40, "0.40")
    assert client.get("/api/admin/loyalty/liability?at=9999-12-31", headers=bearer(token)).status_code == 400
    assert client.get("/api/admin/loyalty/liability?at=yesterday", headers=bearer(token)).status_code == 400
