"""The customers pages and their API: search, profile and timeline, points, export and erasure."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.loyalty import ledger
from app.store.models import (
    Customer,
    CustomerMetrics,
    LedgerEntry,
    LoyaltyMember,
    Message,
    Order,
    PrivacyRequest,
    Segment,
    SegmentEvent,
    SegmentMember,
)
from app.store.types import utcnow


def _buyer(admin) -> tuple[Customer, list[Order]]:
    """A customer of the admin's shop with orders in the mirror."""
    session = db.session()
    external_id = session.execute(
        select(Order.customer_external_id).where(Order.shop_id == admin.shop_id,
                                                 Order.customer_external_id.is_not(None))
        .group_by(Order.customer_external_id).order_by(func.count().desc(), Order.customer_external_id)
    ).scalars().first()
    customer = session.execute(select(Customer).where(Customer.shop_id == admin.shop_id,
                                                      Customer.external_id == external_id)).scalar_one()
    orders = session.execute(select(Order).where(Order.shop_id == admin.shop_id,
                                                 Order.customer_external_id == external_id)).scalars().all()
    return customer, list(orders)


def _adjust(admin, customer: Customer, points: int, reason: str = "Goodwill for a late parcel", key: str | None = None):
    return admin.api("POST", f"/api/admin/customers/{customer.id}/adjustments",
                     {"points": points, "reason": reason, "key": key or uuid.uuid4().hex})


def _balance(customer: Customer) -> int:
    session = db.session()
    session.expire_all()
    member = session.execute(select(LoyaltyMember).where(LoyaltyMember.shop_id == customer.shop_id,
                                                         LoyaltyMember.customer_external_id == customer.external_id)
                             ).scalar_one()
    return ledger.balance(session, member.id).available


def _message(admin, customer: Customer, **values) -> Message:
    session = db.session()
    values.setdefault("sent_at", utcnow())
    message = Message(shop_id=admin.shop_id, customer_external_id=customer.external_id, email=customer.email.lower(),
                      category="marketing", template="win_back", context={"coupon": {"code": "COME-BACK-10"}},
                      dedupe_key=f"test:{uuid.uuid4().hex}", status="sent",
                      token=uuid.uuid4().hex[:32], **values)
    session.add(message)
    session.commit()
    return message


# --- search ------------------------------------------------------------------------------------


def test_search_finds_by_email_and_name_and_never_another_shops_customers(admin, other_admin):
    # given a customer of each shop
    customer, orders = _buyer(admin)
    foreign, _ = _buyer(other_admin)
    # when the merchant searches by the beginning of the email, in capitals, and by name
    by_email = admin.api("GET", "/api/admin/customers", query_string={"q": customer.email[:6].upper()})
    by_name = admin.api("GET", "/api/admin/customers", query_string={"q": f"{customer.first_name} {customer.last_name}"})
    # then the customer is found, and only this shop's customers are listed
    assert by_email.status_code == 200
    assert customer.id in [row["id"] for row in by_email.get_json()["customers"]]
    assert by_name.get_json()["customers"][0]["id"] == customer.id
    # with the store's own figures, or (a store that keeps none) those of the orders we hold
    assert by_name.get_json()["customers"][0]["orders"] == (
        customer.order_count if customer.order_count is not None else len(orders))
    assert all(row["email"].lower().startswith(customer.email[:6].lower()) for row in by_email.get_json()["customers"])
    # and another shop's customer is never found, by email nor name
    for query in (foreign.email, foreign.first_name, foreign.email[:4]):
        found = admin.api("GET", "/api/admin/customers", query_string={"q": query}).get_json()["customers"]
        assert foreign.id not in [row["id"] for row in found]
    page = admin.html("/admin/customers", q=customer.email)
    assert customer.email in page
    assert re.search(rf'/admin/customers/{customer.id}[?"]', page)
    other_page = admin.html("/admin/customers", q=foreign.email)
    assert not re.search(rf'/admin/customers/{foreign.id}[?"]', other_page) and "No customers match" in other_page


def test_search_by_order_number_and_external_id(admin):
    customer, orders = _buyer(admin)
    for query in (orders[0].number, orders[0].number.lstrip("#"), orders[0].external_id):
        found = admin.api("GET", "/api/admin/customers", query_string={"q": query}).get_json()["customers"]
        assert found[0]["id"] == customer.id, query


def test_search_pages_by_fifty_newest_first(admin):
    # given 120 customers whose email starts alike
    session = db.session()
    now = utcnow()
    session.add_all([Customer(shop_id=admin.shop_id, platform=admin.platform, external_id=f"bulk-{n}",
                              email=f"bulk{n:03d}@example.com", first_name="Bulk", last_name=f"N{n}",
                              created_at=now, updated_at=now) for n in range(120)])
    session.commit()
    first = admin.api("GET", "/api/admin/customers", query_string={"q": "BULK"}).get_json()
    second = admin.api("GET", "/api/admin/customers", query_string={"q": "bulk", "before": first["older"]}).get_json()
    third = admin.api("GET", "/api/admin/customers", query_string={"q": "bulk", "before": second["older"]}).get_json()
    emails = [row["email"] for page in (first, second, third) for row in page["customers"]]
    assert [len(first["customers"]), len(second["customers"]), len(third["customers"])] == [50, 50, 20]
    assert emails == [f"bulk{n:03d}@example.com" for n in reversed(range(120))]
    assert third["older"] is None and first["newer"] is None
    back = admin.api("GET", "/api/admin/customers", query_string={"q": "bulk", "after": second["newer"]}).get_json()
    assert [row["email"] for row in back["customers"]] == [row["email"] for row in first["customers"]]
    # the page offers the next page, keeping the search
    html = admin.html("/admin/customers", q="bulk")
    assert f"q=bulk&amp;before={first['older']}" in html
    assert admin.api("GET", "/api/admin/customers", query_string={"q": "x" * 321}).status_code == 422
    assert admin.get("/admin/customers", before="abc").status_code == 400


# --- the profile -----------------------------------------------------------------------------------


def test_profile_timeline_shows_orders_points_with_reason_and_messages(admin):
    # given a customer with orders, a manual adjustment and a message sent to them
    customer, orders = _buyer(admin)
    assert _adjust(admin, customer, 40, reason="Apology for the broken mug").status_code == 201
    _message(admin, customer)
    # when the merchant opens the profile
    html = admin.html(f"/admin/customers/{customer.id}")
    # then it shows the customer and, newest first, their orders, the points with their reason and the email
    assert f"<h1>{customer.first_name} {customer.last_name}</h1>" in html
    assert customer.email in html
    for order in orders:
        assert f"Order {order.number} placed" in html
    assert "+40 points · Manual adjustment" in html and "reason: Apology for the broken mug" in html
    assert "“Win-back” email · sent" in html
    assert html.index("Win-back") < html.index(f"Order {orders[0].number} placed")
    assert f'data-api="POST /api/admin/customers/{customer.id}/adjustments"' in html
    api = admin.api("GET", f"/api/admin/customers/{customer.id}").get_json()
    assert api["loyalty"]["balance"]["available"] == _balance(customer)
    assert {event["kind"] for event in api["timeline"]} >= {"order", "points", "message"}
    assert {event["number"] for event in api["timeline"] if event["kind"] == "order"} == {o.number for o in orders}


def test_profile_shows_segments_rfm_and_segment_changes(admin):
    customer, _ = _buyer(admin)
    session = db.session()
    key = f"c:{customer.external_id}"
    segment = Segment(shop_id=admin.shop_id, key="vip-test", name="Big spenders", rules={"all": []})
    session.add(segment)
    session.flush()
    session.add(SegmentMember(segment_id=segment.id, customer_key=key, shop_id=admin.shop_id))
    session.add(SegmentEvent(shop_id=admin.shop_id, segment_id=segment.id, segment_key="vip-test", kind="entered",
                             customer_key=key, customer_external_id=customer.external_id))
    session.execute(CustomerMetrics.__table__.delete().where(CustomerMetrics.shop_id == admin.shop_id,
                                                             CustomerMetrics.customer_key == key))
    session.add(CustomerMetrics(shop_id=admin.shop_id, customer_key=key, customer_external_id=customer.external_id,
                                r_score=5, f_score=4, m_score=3, rfm_segment="champions", churn_band="low",
                                p_alive=0.87))
    session.commit()
    html = admin.html(f"/admin/customers/{customer.id}")
    assert "Big spenders" in html and "Entered the segment “Big spenders”" in html
    assert "Champions" in html and "Recency 5 · Frequency 4 · Monetary 3" in html and "87% likely" in html


def test_profile_shows_older_events_on_request(admin):
    customer, orders = _buyer(admin)
    for n in range(30):
        _message(admin, customer, sent_at=utcnow() - dt.timedelta(minutes=n))
    first = admin.api("GET", f"/api/admin/customers/{customer.id}").get_json()
    assert len(first["timeline"]) == 25 and first["older"]
    rest = admin.api("GET", f"/api/admin/customers/{customer.id}", query_string={"before": first["older"]}).get_json()
    kinds = [event["kind"] for event in first["timeline"] + rest["timeline"]]
    assert kinds.count("message") == 30 and kinds.count("order") == len(orders)
    html = admin.html(f"/admin/customers/{customer.id}")
    assert "Show older" in html
    assert "Back to newest" in admin.html(f"/admin/customers/{customer.id}", before=first["older"])


def test_profile_is_in_the_merchants_language(admin):
    customer, _ = _buyer(admin)
    html = admin.html(f"/admin/customers/{customer.id}", locale="de")
    assert "Punkte anpassen" in html and "Verlauf" in html


# --- points -----------------------------------------------------------------------------------------


def test_adjustment_through_the_forms_api_changes_the_ledger_once_per_key(admin):
    customer, _ = _buyer(admin)
    session = db.session()
    before = ledger.balance(session, ledger.member_for(session, admin.shop_id, customer_external_id=customer.external_id,
                                                       email=customer.email).id).available
    session.commit()
    key = uuid.uuid4().hex
    response = _adjust(admin, customer, 250, reason="Birthday gift", key=key)
    assert response.status_code == 201
    assert response.get_json()["balance"]["available"] == before + 250
    assert _balance(customer) == before + 250
    entry = db.session().execute(select(LedgerEntry).where(LedgerEntry.shop_id == admin.shop_id,
                                                           LedgerEntry.cause_key == f"adjustment:{key}")).scalar_one()
    assert (entry.points, entry.cause, entry.reason) == (250, "adjustment", "Birthday gift")
    # the same form sent again (a retry) moves nothing
    again = _adjust(admin, customer, 250, reason="Birthday gift", key=key)
    assert again.status_code == 200 and again.get_json()["added"] is False
    assert _balance(customer) == before + 250
    # a deduction within the balance passes
    assert _adjust(admin, customer, -100, reason="Points given twice by mistake").status_code == 201
    assert _balance(customer) == before + 150


def test_deduction_beyond_the_balance_and_missing_reason_are_422_naming_the_fields(admin):
    customer, _ = _buyer(admin)
    assert _adjust(admin, customer, 30).status_code == 201
    available = _balance(customer)
    entries = db.session().execute(select(func.count()).select_from(LedgerEntry)
                                   .where(LedgerEntry.shop_id == admin.shop_id)).scalar_one()
    too_much = _adjust(admin, customer, -(available + 1))
    assert too_much.status_code == 422
    assert too_much.get_json()["field"] == "points"
    assert f"has {available:,} points available" in too_much.get_json()["error"]
    no_reason = _adjust(admin, customer, 10, reason="  ")
    assert (no_reason.status_code, no_reason.get_json()["field"]) == (422, "reason")
    zero = _adjust(admin, customer, 0)
    assert (zero.status_code, zero.get_json()["field"]) == (422, "points")
    not_whole = admin.api("POST", f"/api/admin/customers/{customer.id}/adjustments",
                          {"points": "ten", "reason": "x", "key": "k1"})
    assert (not_whole.status_code, not_whole.get_json()["field"]) == (422, "points")
    assert admin.api("POST", f"/api/admin/customers/{customer.id}/adjustments", [1]).status_code == 400
    # nothing was written, and the form names exactly these fields
    db.session().expire_all()
    assert db.session().execute(select(func.count()).select_from(LedgerEntry)
                                .where(LedgerEntry.shop_id == admin.shop_id)).scalar_one() == entries
    assert _balance(customer) == available
    html = admin.html(f"/admin/customers/{customer.id}")
    assert 'name="points"' in html and 'name="reason"' in html and 'name="key"' in html


# --- export and erasure -----------------------------------------------------------------------


def test_export_holds_the_customers_orders_points_and_messages_and_is_recorded(admin):
    customer, orders = _buyer(admin)
    assert _adjust(admin, customer, 75, reason="Thank you for the review").status_code == 201
    _message(admin, customer)
    response = admin.api("POST", f"/api/admin/customers/{customer.id}/export")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="customer-{customer.id}-data.json"'
    export = response.get_json()
    assert export["customer"]["email"] == customer.email
    assert sorted(order["number"] for order in export["orders"]) == sorted(order.number for order in orders)
    assert {"points": 75, "cause": "adjustment", "reason": "Thank you for the review"}.items() <= \
        [entry for entry in export["loyalty"]["ledger"] if entry["cause"] == "adjustment"][0].items()
    assert export["loyalty"]["balance"]["available"] == _balance(customer)
    assert [message["template"] for message in export["messages"]] == ["win_back"]
    listed = admin.api("GET", "/api/admin/privacy-requests").get_json()
    assert listed[0]["id"] == export["privacy_request_id"]
    assert (listed[0]["kind"], listed[0]["customer_external_id"]) == ("data_request", customer.external_id)
    stored = admin.api("GET", f"/api/admin/privacy-requests/{export['privacy_request_id']}").get_json()
    assert stored["export"]["loyalty"]["ledger"] == export["loyalty"]["ledger"]
    # a second export is another harmless record
    assert admin.api("POST", f"/api/admin/customers/{customer.id}/export").status_code == 200


def test_erase_removes_personal_data_like_the_redact_webhook_and_is_idempotent(admin):
    customer, orders = _buyer(admin)
    email = customer.email
    assert _adjust(admin, customer, 20).status_code == 201
    message = _message(admin, customer)
    assert admin.api("POST", f"/api/admin/customers/{customer.id}/export").status_code == 200
    balance = _balance(customer)
    # when the merchant erases the customer
    response = admin.api("POST", f"/api/admin/customers/{customer.id}/erase")
    assert response.status_code == 200
    assert response.get_json()["already_erased"] is False
    session = db.session()
    session.expire_all()
    erased = session.get(Customer, customer.id)
    assert (erased.email, erased.first_name, erased.last_name, erased.phone, erased.tags) == (None,) * 5
    assert erased.redacted_at is not None
    assert session.execute(select(Order.email).where(Order.shop_id == admin.shop_id,
                                                     Order.customer_external_id == customer.external_id)
                           ).scalars().all() == [None] * len(orders)
    member = session.execute(select(LoyaltyMember).where(LoyaltyMember.shop_id == admin.shop_id,
                                                         LoyaltyMember.customer_external_id == customer.external_id)
                             ).scalar_one()
    assert member.email is None
    assert ledger.balance(session, member.id).available == balance  # the books keep their amounts
    sent = session.get(Message, message.id)
    assert (sent.email, sent.customer_external_id, sent.context) == (None, None, {})
    assert session.execute(select(func.count()).select_from(CustomerMetrics).where(
        CustomerMetrics.shop_id == admin.shop_id, CustomerMetrics.customer_key == f"c:{customer.external_id}")
    ).scalar_one() == 0
    records = session.execute(select(PrivacyRequest).where(PrivacyRequest.shop_id == admin.shop_id)
                              .order_by(PrivacyRequest.id)).scalars().all()
    assert [r.kind for r in records] == ["data_request", "customer_redact"]
    assert records[0].export is None  # the earlier export went too
    assert records[1].result["customers"] == 1 and records[1].result["messages"] == 1
    listed = admin.api("GET", "/api/admin/privacy-requests").get_json()
    assert listed[0]["kind"] == "customer_redact" and listed[0]["customer_external_id"] == customer.external_id
    # the profile says so and offers no more erasure nor adjustment
    html = admin.html(f"/admin/customers/{customer.id}")
    assert "personal data was erased on" in html and email not in html and "data-erase-open" not in html
    # erasing again is fine
    again = admin.api("POST", f"/api/admin/customers/{customer.id}/erase")
    assert again.status_code == 200 and again.get_json()["already_erased"] is True
    session.expire_all()
    assert session.get(Customer, customer.id).email is None
    assert _adjust(admin, customer, 5).status_code == 409


# --- another shop -----------------------------------------------------------------------------


@pytest.mark.parametrize("method,suffix,body", [
    ("GET", "", None),
    ("POST", "/adjustments", {"points": 10, "reason": "x", "key": "k"}),
    ("POST", "/export", None),
    ("POST", "/erase", None),
])
def test_another_shops_session_gets_404(admin, other_admin, method, suffix, body):
    customer, _ = _buyer(admin)
    assert other_admin.get(f"/admin/customers/{customer.id}").status_code == 404
    response = other_admin.api(method, f"/api/admin/customers/{customer.id}{suffix}", body)
    assert response.status_code == 404
    # nothing happened to the customer
    session = db.session()
    session.expire_all()
    assert session.get(Customer, customer.id).email == customer.email
    assert session.execute(select(func.count()).select_from(PrivacyRequest)
                           .where(PrivacyRequest.shop_id.in_((admin.shop_id, other_admin.shop_id)))).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.shop_id == admin.shop_id, LedgerEntry.cause == "adjustment")).scalar_one() == 0
