"""Repeat rate, members against non-members, points owed and flow lift; session tokens and bad parameters."""

from __future__ import annotations

import datetime as dt

import pytest

from app.extensions import db
from app.flows import definitions, reports
from app.loyalty import ledger
from app.store.models import FlowRun
from app.store.types import utcnow
from tests.analytics import support

URL = "/api/admin/analytics"
DAY = dt.timedelta(days=1)
ENDPOINTS = ("cohorts", "repeat-rate", "revenue-split", "points-liability", "members", "flow-lift")


def _customers(target, now, *, prefix=""):
    """Four customers of the last 30 days, worked out by hand below."""
    p = prefix
    support.write(
        target,
        support.order(f"{p}p1a", now - 5 * DAY, "40.00", customer="c-p1"),
        support.order(f"{p}p1b", now - 3 * DAY, "60.00", customer="c-p1"),
        support.order(f"{p}p2a", now - 10 * DAY, "100.00", customer="c-p2"),
        support.refund(f"{p}rp2a", f"{p}p2a", "20.00", now - 9 * DAY),
        support.order(f"{p}p2b", now - 40 * DAY, "70.00", customer="c-p2"),  # outside 30 days
        support.order(f"{p}p2t", now - 4 * DAY, "500.00", customer="c-p2", is_test=True),
        support.order(f"{p}p3a", now - 2 * DAY, "30.00", customer="c-p3"),
        support.order(f"{p}p3x", now - 1 * DAY, "300.00", customer="c-p3", cancelled=True),
        support.order(f"{p}p4a", now - 20 * DAY, "10.00", email="Pat@Example.com"),  # a guest
        support.order(f"{p}p4b", now - 1 * DAY, "20.00", email="pat@example.com"),
        support.order(f"{p}nobody", now - 1 * DAY, "55.00"),
    )


def _members(target):
    # P1 redeemed (engaged); P2 only earned for an order; the guest P4 is a member by email; P3 is not one
    support.member(target, customer="c-p1", entries=(("order", 500), ("redemption", -200)))
    support.member(target, customer="c-p2", entries=(("order", 120),))
    support.member(target, email="pat@example.com")


@pytest.fixture()
def story(admin, other):
    now = utcnow().replace(microsecond=0)
    mine = support.shop(admin[0].domain)
    _customers(mine, now)
    _members(mine)
    theirs = support.shop(other[0].domain)
    # the other shop: the same customer ids ordering, and P3 a member there
    _customers(theirs, now, prefix="x-")
    support.member(theirs, customer="c-p3", entries=(("review", 1000),))
    return mine, theirs, now


def test_every_analytics_call_needs_a_session_token(client):
    for name in ENDPOINTS:
        assert client.get(f"{URL}/{name}").status_code == 401, name
        assert client.get(f"{URL}/{name}", headers={"Authorization": "Bearer junk"}).status_code == 401, name


@pytest.mark.parametrize(("name", "query", "parameter"), [
    ("cohorts", {"months": "0"}, "months"), ("cohorts", {"months": "37"}, "months"),
    ("cohorts", {"months": "twelve"}, "months"), ("cohorts", {"months": "-3"}, "months"),
    ("cohorts", {"end": "2026-13"}, "end"), ("cohorts", {"end": "26-01"}, "end"),
    ("revenue-split", {"end": "March"}, "end"), ("revenue-split", {"months": "1.5"}, "months"),
    ("repeat-rate", {"days": "0"}, "days"), ("repeat-rate", {"days": "3651"}, "days"),
    ("repeat-rate", {"days": "a year"}, "days"), ("members", {"days": "-1"}, "days"),
    ("members", {"basis": "everyone"}, "basis"), ("flow-lift", {"attribution_days": "61"}, "attribution_days"),
    ("flow-lift", {"attribution_days": "0"}, "attribution_days"),
])
def test_a_bad_parameter_is_a_400_that_names_it(client, admin, name, query, parameter):
    _, auth = admin
    response = client.get(f"{URL}/{name}", query_string=query, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"{parameter} must be")


def test_the_repeat_rate_counts_customers_with_two_orders_in_the_window(client, admin, story):
    _, auth = admin
    month = client.get(f"{URL}/repeat-rate", query_string={"days": 30}, headers=auth).get_json()
    # P1 (2 orders), P2 (1: the other is older, the test order does not count), P3 (1: the cancelled
    # one does not count), the guest P4 (2); the order of nobody is no customer's
    assert (month["days"], month["customers"], month["repeat_customers"], month["orders"], month["rate"]) == (
        30, 4, 2, 6, 0.5)
    year = client.get(f"{URL}/repeat-rate", headers=auth).get_json()  # 365 days: P2's older order too
    assert (year["days"], year["customers"], year["repeat_customers"], year["orders"], year["rate"]) == (
        365, 4, 3, 7, 0.75)
    assert dt.datetime.fromisoformat(year["to"]) - dt.datetime.fromisoformat(year["from"]) == 365 * DAY


def test_members_are_compared_with_non_members_with_a_note_on_selection_bias(client, admin, story):
    _, auth = admin
    body = client.get(f"{URL}/members", query_string={"days": 30}, headers=auth).get_json()
    assert (body["basis"], body["currency"], body["days"]) == ("enrolled", "EUR", 30)
    assert body["members"] == {  # P1, P2 and the guest P4: 40 + 60, 100 - 20, 10 + 20
        "customers": 3, "orders": 5, "orders_per_customer": 1.6667, "average_order_value": "42.00",
        "repeat_customers": 2, "repeat_rate": 0.6667, "revenue": "210.00", "revenue_per_customer": "70.00",
        "orders_in_other_currencies": 0}
    assert body["non_members"] == {  # P3 (a member of the other shop only)
        "customers": 1, "orders": 1, "orders_per_customer": 1.0, "average_order_value": "30.00",
        "repeat_customers": 0, "repeat_rate": 0.0, "revenue": "30.00", "revenue_per_customer": "30.00",
        "orders_in_other_currencies": 0}
    assert "not what the program adds" in body["note"] and "holdout" in body["note"]
    engaged = client.get(f"{URL}/members", query_string={"days": 30, "basis": "engaged"}, headers=auth).get_json()
    assert engaged["members"] == {  # P1 alone redeemed
        "customers": 1, "orders": 2, "orders_per_customer": 2.0, "average_order_value": "50.00",
        "repeat_customers": 1, "repeat_rate": 1.0, "revenue": "100.00", "revenue_per_customer": "100.00",
        "orders_in_other_currencies": 0}
    assert engaged["non_members"] == {  # P2, P3, P4: 80 + 30 + 30
        "customers": 3, "orders": 4, "orders_per_customer": 1.3333, "average_order_value": "35.00",
        "repeat_customers": 1, "repeat_rate": 0.3333, "revenue": "140.00", "revenue_per_customer": "46.67",
        "orders_in_other_currencies": 0}


def test_points_liability_is_the_ledgers_own(client, admin, story):
    _, auth = admin
    mine, _, _ = story
    body = client.get(f"{URL}/points-liability", headers=auth).get_json()
    owed = ledger.liability(db.session(), mine.id)
    # 500 - 200 + 120 points (the other shop's 1,000 are not ours), at 100 points per unit
    assert (body["points"], body["amount"], body["currency"]) == (420, "4.20", "EUR")
    assert (owed.points, str(owed.amount)) == (420, "4.20")


def _run(target, number, email, customer, *, first_step_at, holdout, flow=definitions.ABANDONED_CART):
    outcome = "held_out" if holdout else "sent"
    return FlowRun(shop_id=target.id, flow_key=flow, flow_version=1, trigger_key=f"t-{number}",
                   subject_kind="cart", subject_id=f"cart-{number}", customer_external_id=customer, email=email,
                   reference_at=first_step_at, is_holdout=holdout, state="completed",
                   steps=[{"step": 0, "outcome": outcome, "at": first_step_at.isoformat()}])


def test_flow_lift_is_each_flows_report(client, admin, story):
    _, auth = admin
    mine, theirs, now = story
    session = db.session()
    session.add_all([
        _run(mine, 1, None, "c-p1", first_step_at=now - 6 * DAY, holdout=False),  # P1 orders a day later
        _run(mine, 2, None, "c-p2", first_step_at=now - 9 * DAY, holdout=False),  # no order after
        _run(mine, 3, None, "c-p3", first_step_at=now - 3 * DAY, holdout=True),  # P3 orders a day later
        _run(mine, 4, "pat@example.com", None, first_step_at=now - 21 * DAY, holdout=True),  # the guest
        _run(theirs, 5, None, "c-p2", first_step_at=now - 11 * DAY, holdout=True),
    ])
    session.commit()
    body = client.get(f"{URL}/flow-lift", headers=auth).get_json()
    assert body["attribution_days"] == 5
    assert [flow["flow"] for flow in body["flows"]] == list(definitions.KEYS)
    cart = body["flows"][0]
    assert (cart["name"], cart["runs"]) == ("Abandoned cart", 4)
    assert cart["conversion"] == {"recipients": {"runs": 2, "converted": 1, "rate": 0.5},
                                  "holdout": {"runs": 2, "converted": 2, "rate": 1.0}}
    assert cart["lift"]["difference"] == -0.5
    report = reports.report(session, mine.id, definitions.ABANDONED_CART)
    assert (cart["conversion"], cart["lift"]) == (report["conversion"], report["lift"])
    assert all(flow["runs"] == 0 and flow["lift"] is None for flow in body["flows"][1:])
    narrow = client.get(f"{URL}/flow-lift", query_string={"attribution_days": 2}, headers=auth).get_json()
    assert narrow["attribution_days"] == 2
    assert narrow["flows"][0]["conversion"] == reports.report(
        session, mine.id, definitions.ABANDONED_CART, attribution_days=2)["conversion"]


def test_the_other_shop_sees_its_own_figures(client, other, story):
    _, their_auth = other
    month = client.get(f"{URL}/repeat-rate", query_string={"days": 30}, headers=their_auth).get_json()
    assert (month["customers"], month["repeat_customers"]) == (4, 2)
    body = client.get(f"{URL}/members", query_string={"days": 30}, headers=their_auth).get_json()
    # there only P3 is a member
    assert (body["members"]["customers"], body["members"]["revenue"]) == (1, "30.00")
    assert (body["non_members"]["customers"], body["non_members"]["revenue"]) == (3, "210.00")
    owed = client.get(f"{URL}/points-liability", headers=their_auth).get_json()
    assert (owed["points"], owed["amount"]) == (1000, "10.00")
