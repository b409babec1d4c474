"""The merchant's referral API: session tokens, listing, decisions on blocked referrals, nothing of another shop."""

from __future__ import annotations

from rq.job import Job
from sqlalchemy import func, select

from app.extensions import db, redis_holder
from app.loyalty import referrals
from app.store.models import LoyaltyMember, Redemption, Referral, Shop
from jobs.loyalty import issue_job_id
from jobs.queues import queue
from tests.conftest import API_KEY
from tests.helpers import DevstoreShop, bearer, install, run_jobs

URL = "/api/admin/loyalty/referrals"


def _shop(domain: str) -> Shop:
    return db.session().execute(select(Shop).where(Shop.domain == domain)).scalar_one()


def _refer(domain: str, *emails: str) -> list[int]:
    """Ana (a member of the shop) refers each email, from addresses of their own; returns the ids."""
    session = db.session()
    shop = _shop(domain)
    ana = session.execute(select(LoyaltyMember).where(LoyaltyMember.shop_id == shop.id,
                                                      LoyaltyMember.customer_external_id == "ana")
                          ).scalar_one_or_none()
    if ana is None:
        ana = LoyaltyMember(shop_id=shop.id, customer_external_id="ana", email="ana.lee@gmail.com")
        session.add(ana)
        session.flush()
    code = referrals.code_for(session, ana)
    ids = [referrals.invite(session, shop.id, code, email, ip=f"198.51.100.{i}").id for i, email in enumerate(emails)]
    session.commit()
    return ids


def _referral(referral_id: int) -> Referral:
    db.session().expire_all()
    return db.session().get(Referral, referral_id)


def test_the_referral_api_needs_a_session_token(client):
    assert client.get(URL).status_code == 401
    assert client.post(f"{URL}/1/approve", json={}, headers=bearer("junk")).status_code == 401


def test_the_list_filters_by_status_and_pages_newest_first(client, installed):
    # given a clean referral and two blocked ones (Ana's own mailbox)
    token = installed.session_token(API_KEY)
    clean, own, tagged = _refer(installed.domain, "bea@example.org", "ana.lee@gmail.com", "analee+x@gmail.com")
    # when the merchant lists them
    listed = client.get(URL, headers=bearer(token)).get_json()
    blocked = client.get(URL, query_string={"status": "blocked", "limit": 1}, headers=bearer(token)).get_json()
    rest = client.get(URL, query_string={"status": "blocked", "limit": 1, "before": blocked["next_before"]},
                      headers=bearer(token)).get_json()
    # then newest first, filtered and paged
    assert ([r["id"] for r in listed["referrals"]], listed["next_before"]) == ([tagged, own, clean], None)
    assert ([r["id"] for r in blocked["referrals"]], blocked["next_before"]) == ([tagged], tagged)
    assert [r["id"] for r in rest["referrals"]] == [own]
    first = listed["referrals"][2]
    assert (first["status"], first["reasons"], first["friend_email"], first["advocate"]["customer_id"],
            first["friend_code"]["status"], first["order"]) == (
        "invited", [], "bea@example.org", "ana", "pending", None)
    # and bad filters are refused with a message
    for bad in ({"status": "nope"}, {"limit": "0"}, {"limit": "x"}, {"limit": "101"}, {"before": "-1"},
                {"limit": "\u00b2"}, {"before": "9" * 30}):
        answer = client.get(URL, query_string=bad, headers=bearer(token))
        assert answer.status_code == 400 and answer.get_json()["error"], bad


def test_one_referral_shows_its_reasons(client, installed):
    token = installed.session_token(API_KEY)
    (own,) = _refer(installed.domain, "Ana.Lee@gmail.com")
    seen = client.get(f"{URL}/{own}", headers=bearer(token))
    assert seen.status_code == 200
    assert (seen.get_json()["status"], seen.get_json()["reasons"], seen.get_json()["friend_code"]) == (
        "blocked", ["self-referral: the friend's email is the advocate's own email"], None)
    assert client.get(f"{URL}/{own + 1000}", headers=bearer(token)).status_code == 404


def test_approving_a_blocked_referral_grants_the_code_and_queues_it(client, installed):
    # given a blocked referral
    token = installed.session_token(API_KEY)
    (blocked,) = _refer(installed.domain, "ana.lea@gmail.com")
    # when the merchant approves it with a reason
    answer = client.post(f"{URL}/{blocked}/approve", json={"reason": "her sister"}, headers=bearer(token))
    # then it is invited, keeps its reasons with the decision added, and the friend's code is queued
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["status"], body["reasons"], body["decided_by"], body["friend_code"]["status"]) == (
        "invited", ["near-duplicate email: the friend's email differs from the advocate's by one character",
                    f"approved by admin:{installed.domain}: her sister"], f"admin:{installed.domain}", "pending")
    referral = _referral(blocked)
    redemption = db.session().get(Redemption, referral.friend_redemption_id)
    assert (redemption.reward_id, body["friend_code"]["code"]) == ("referral-friend", redemption.code)
    assert queue("events").job_ids == [issue_job_id(redemption.id)]
    assert Job.fetch(issue_job_id(redemption.id), connection=redis_holder.get()).args == (redemption.id,)
    # and a second decision is a conflict that changes nothing
    again = client.post(f"{URL}/{blocked}/reject", json={"reason": "changed my mind"}, headers=bearer(token))
    assert (again.status_code, again.get_json()["error"]) == (
        409, "only a blocked referral can be approved or rejected; this one is invited")
    assert _referral(blocked).status == "invited"


def test_rejecting_a_blocked_referral_grants_nothing(client, installed):
    token = installed.session_token(API_KEY)
    (blocked,) = _refer(installed.domain, "analee+x@gmail.com")
    answer = client.post(f"{URL}/{blocked}/reject", json={}, headers=bearer(token))
    assert answer.status_code == 200
    assert (answer.get_json()["status"], answer.get_json()["reasons"][-1], answer.get_json()["friend_code"]) == (
        "rejected", f"rejected by admin:{installed.domain}", None)
    assert db.session().execute(select(func.count(Redemption.id))).scalar_one() == 0
    assert queue("events").job_ids == []


def test_a_referral_that_is_not_blocked_cannot_be_decided(client, installed):
    token = installed.session_token(API_KEY)
    (clean,) = _refer(installed.domain, "bea@example.org")
    for action in ("approve", "reject"):
        answer = client.post(f"{URL}/{clean}/{action}", json={}, headers=bearer(token))
        assert answer.status_code == 409
    assert (_referral(clean).status, _referral(clean).decided_by) == ("invited", None)


def test_a_decision_needs_a_json_object_with_a_text_reason(client, installed):
    token = installed.session_token(API_KEY)
    (blocked,) = _refer(installed.domain, "ana.lee@gmail.com")
    for kwargs in ({"data": "x"}, {"json": ["no"]}, {"json": {"reason": 5}}, {"json": {"reason": "x" * 501}}):
        answer = client.post(f"{URL}/{blocked}/approve", headers=bearer(token), **kwargs)
        assert answer.status_code == 400 and answer.get_json()["error"], kwargs
    assert client.post(f"{URL}/abc/approve", json={}, headers=bearer(token)).status_code == 404
    assert (_referral(blocked).status, _referral(blocked).decided_by) == ("blocked", None)


def test_another_shops_referrals_are_404(client, installed, devstore):
    # given a blocked referral in another shop
    other = DevstoreShop(devstore.url, "other-" + installed.domain)
    other.create()
    install(client, other)
    assert run_jobs() == []
    (theirs,) = _refer(other.domain, "ana.lee@gmail.com")
    token = installed.session_token(API_KEY)
    # then this shop neither sees nor decides it
    assert client.get(f"{URL}/{theirs}", headers=bearer(token)).status_code == 404
    for action in ("approve", "reject"):
        answer = client.post(f"{URL}/{theirs}/{action}", json={"reason": "x"}, headers=bearer(token))
        assert (answer.status_code, answer.get_json()["error"]) == (404, f"no referral {theirs}")
    assert client.get(URL, headers=bearer(token)).get_json() == {"referrals": [], "next_before": None}
    assert (_referral(theirs).status, _referral(theirs).decided_by) == ("blocked", None)
    # and the other shop does
    own = client.get(f"{URL}/{theirs}", headers=bearer(other.session_token(API_KEY)))
    assert own.status_code == 200 and own.get_json()["status"] == "blocked"


def test_a_referral_id_beyond_any_row_is_404(client, installed):
    token = installed.session_token(API_KEY)
    assert client.get(f"{URL}/{'9' * 25}", headers=bearer(token)).status_code == 404
