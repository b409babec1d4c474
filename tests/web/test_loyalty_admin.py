"""The merchant's loyalty API: session tokens, validation, adjustments, and nothing of another shop."""

from __future__ import annotations

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
