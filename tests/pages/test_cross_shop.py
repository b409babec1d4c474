"""Every admin page and API call, asked by another shop's session for this shop's objects, is a 404.

The test walks the app's URL map, so a new route under ``/admin`` or ``/api/admin`` fails here
until it says which object its parameters name (``OBJECTS``) or why it names none of a shop's own
(``SHARED_NAMES``: names every shop has, such as a flow's key, which must then show the asking
shop's own data, never this one's).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger
from app.loyalty import program as programs
from app.store.models import Customer, EmailSuppression, FlowRun, Message, PrivacyRequest, Referral, SyncRun
from app.store.types import utcnow

# Routes whose parameters are not a shop's objects at all.
NOT_SHOP_OBJECTS = {"/admin/static/<path:filename>", "/admin/sign-in/<token>"}
# Parameters that are names every shop has: the other shop gets its own (checked not to leak).
SHARED_NAMES = {"key", "position", "name"}


@pytest.fixture()
def objects(admin) -> dict[str, str]:
    """One of each kind of object in the first shop, by the route parameter that names it."""
    session = db.session()
    shop_id = admin.shop_id
    # store ids repeat across devstore's shops: this customer's id is the first shop's alone
    customer = Customer(shop_id=shop_id, platform=admin.platform, external_id=str(880_000_000 + shop_id),
                        email=f"only-{uuid.uuid4().hex[:8]}@example.com", first_name="Only", last_name="First")
    session.add(customer)
    session.flush()
    program = programs.ensure(session, shop_id)
    member = ledger.member_for(session, shop_id, customer_external_id=customer.external_id, email=customer.email)
    ledger.adjust(session, shop_id, member.id, 120, key="cross-shop", actor="test", reason="gift", program=program)
    referral = Referral(shop_id=shop_id, advocate_id=member.id, friend_email="friend@example.com", status="pending",
                        reasons=[])
    message = Message(shop_id=shop_id, customer_external_id=customer.external_id, email=customer.email,
                      category="marketing", template="cart_reminder", context={}, dedupe_key=uuid.uuid4().hex,
                      token=uuid.uuid4().hex[:32], status="sent", sent_at=utcnow())
    run = FlowRun(shop_id=shop_id, flow_key="abandoned_cart", flow_version=1, trigger_key=uuid.uuid4().hex,
                  subject_kind="customer", subject_id=customer.external_id, reference_at=utcnow())
    request = PrivacyRequest(shop_id=shop_id, kind="data_request", customer_external_id=customer.external_id,
                             created_at=utcnow())
    suppression = EmailSuppression(shop_id=shop_id, email="bounced-only-here@example.com", reason="manual")
    session.add_all([referral, message, run, request, suppression])
    session.commit()
    created = admin.api("POST", "/api/admin/segments", json={
        "name": "Only in the first shop", "key": "only-first-shop",
        "rules": {"all": [{"field": "order_count", "op": ">=", "value": 1}]}})
    assert created.status_code in (200, 201), created.get_data(as_text=True)
    sync_run = session.execute(select(SyncRun.id).where(SyncRun.shop_id == shop_id)).scalars().first()
    segment_key = created.get_json().get("key", "only-first-shop")
    return {"customer_id": str(customer.id), "customer_external_id": customer.external_id,
            "member_customer_id": customer.external_id, "referral_id": str(referral.id),
            "message_id": str(message.id), "run_id": str(run.id), "request_id": str(request.id),
            "email": suppression.email, "segment_key": segment_key, "sync_run_id": str(sync_run),
            "key": segment_key, "position": "0", "name": "program"}


def _value(rule: str, argument: str, objects: dict[str, str]) -> str:
    if argument == "customer_id":
        # our customer id in the admin's own routes; the store's id in the loyalty and segments APIs
        if rule.startswith("/api/admin/loyalty/members") or rule.startswith("/api/admin/segments/customers"):
            return objects["customer_external_id"]
        return objects["customer_id"]
    if argument == "run_id" and rule.startswith("/api/admin/sync"):
        return objects["sync_run_id"]
    if argument == "key" and "/flows" in rule:
        return "abandoned_cart"
    return objects[argument]


def _admin_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule.startswith("/admin") or rule.rule.startswith("/api/admin")) or not rule.arguments:
            continue
        if rule.rule in NOT_SHOP_OBJECTS:
            continue
        yield rule


def _path(rule, objects: dict[str, str]) -> str:
    path = rule.rule
    for argument in rule.arguments:
        converter = next(part for part in path.split("<")[1:] if part.split(">")[0].split(":")[-1] == argument)
        token = "<" + converter.split(">")[0] + ">"
        path = path.replace(token, _value(rule.rule, argument, objects))
    return path


def test_another_shops_session_gets_404_for_this_shops_objects(app, admin, other_admin, objects):
    checked = []
    for rule in _admin_rules(app):
        shared = set(rule.arguments) <= SHARED_NAMES and not any(
            "/segments" in rule.rule and arg == "key" for arg in rule.arguments)
        path = _path(rule, objects)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.rule.startswith("/api/admin"):
                response = other_admin.api(method, path, json={} if method in ("POST", "PUT") else None)
            elif method == "GET":
                response = other_admin.get(path)
            else:
                continue
            text = response.get_data(as_text=True)
            if shared:
                # a name the other shop has too: its own answer, never the first shop's data
                assert "Only in the first shop" not in text and objects["email"] not in text, (method, path)
            else:
                assert response.status_code == 404, (method, path, response.status_code, text[:300])
            checked.append((method, rule.rule))
    # and the first shop's own session gets them (the ids above are real)
    for path in (f"/admin/customers/{objects['customer_id']}", f"/admin/segments/{objects['segment_key']}",
                 f"/api/admin/loyalty/referrals/{objects['referral_id']}",
                 f"/api/admin/messaging/messages/{objects['message_id']}",
                 f"/api/admin/privacy-requests/{objects['request_id']}"):
        response = admin.get(path) if path.startswith("/admin") else admin.api("GET", path)
        assert response.status_code == 200, (path, response.status_code)
    assert len(checked) >= 30, checked
