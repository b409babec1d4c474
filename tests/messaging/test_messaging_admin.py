"""The merchant's messaging API and test sends: settings with field-named refusals, the log, one shop only."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from app.extensions import db
from app.flows import definitions
from app.messaging import consent, delivery, outbox, preferences
from app.store.models import EmailSuppression, Message, MessagingSettings, Shop
from tests.conftest import API_KEY
from tests.helpers import DevstoreShop, bearer, install, run_jobs
from tests.messaging.support import CONTEXTS

SETTINGS = "/api/admin/messaging/settings"
TEST_SEND = f"/api/admin/flows/{definitions.ABANDONED_CART}/steps/0/test"


@pytest.fixture()
def admin(client, store):
    store.generate(seed=5, customers=2, products=2, orders=0)
    install(client, store)
    assert run_jobs() == []
    return store, bearer(store.session_token(API_KEY))


def _shop(domain: str) -> Shop:
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.domain == domain)).scalar_one()


def test_the_messaging_api_needs_a_session_token(client):
    assert client.get(SETTINGS).status_code == 401
    assert client.post(TEST_SEND, json={"email": "me@example.com"}).status_code == 401


def test_settings_start_from_the_apps_defaults_and_change_one_at_a_time(client, admin, settings):
    store, auth = admin
    shown = client.get(SETTINGS, headers=auth).get_json()
    assert shown == {"contact_budget_hours": settings.messaging_contact_budget_hours,
                     "quiet_hours": {"start": "21:00", "end": "08:00"} if settings.messaging_quiet_hours else None,
                     "transactional_email": "all", "sender_name": None, "reply_to": None, "attribution_days": 5,
                     "language": "en", "logo_url": None, "updated_at": None, "updated_by": None}
    changed = client.put(SETTINGS, json={"contact_budget_hours": 24, "quiet_hours": {"start": "22:30", "end": "07:00"},
                                         "reply_to": " Help@Nord.example ", "sender_name": "Nord Coffee"},
                         headers=auth)
    assert changed.status_code == 200
    body = changed.get_json()
    assert (body["contact_budget_hours"], body["quiet_hours"], body["reply_to"], body["sender_name"]) == (
        24.0, {"start": "22:30", "end": "07:00"}, "help@nord.example", "Nord Coffee")
    assert body["updated_by"] == f"admin:{store.domain}"
    # a second change keeps the first
    again = client.put(SETTINGS, json={"quiet_hours": None}, headers=auth).get_json()
    assert (again["contact_budget_hours"], again["quiet_hours"]) == (24.0, None)
    # and delivery uses them
    shop = _shop(store.domain)
    config = preferences.apply(db.session(), shop.id, delivery.DeliveryConfig(app_url="http://x", secret_key="k",
                                                                               sender="a@b.example"))
    assert (config.contact_budget, config.quiet_hours, config.reply_to) == (dt.timedelta(hours=24), None,
                                                                           "help@nord.example")


@pytest.mark.parametrize(("body", "field", "text"), [
    ({"contact_budget_hours": 0}, "contact_budget_hours", "from 1 to 168"),
    ({"contact_budget_hours": True}, "contact_budget_hours", "from 1 to 168"),
    ({"quiet_hours": "21-8"}, "quiet_hours", 'or {"start": "HH:MM", "end": "HH:MM"}'),
    ({"quiet_hours": {"start": "21:00", "end": "21:00"}}, "quiet_hours", "different times"),
    ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours", "HH:MM"),
    ({"transactional_email": "some"}, "transactional_email", "all, subscribed, off"),
    ({"sender_name": "Nord <evil@x>"}, "sender_name", "without <, >"),
    ({"reply_to": "not-an-address"}, "reply_to", "not an email address"),
    ({"attribution_days": 61}, "attribution_days", "from 1 to 60"),
    ({"logo_url": "http://nord.example/logo.png"}, "logo_url", "must be empty or an https:// address of an image"),
    ({"logo_url": "https://"}, "logo_url", "an https:// address"),
    ({"logo_url": "logo.png"}, "logo_url", "an https:// address"),
    ({"logo_url": "javascript:alert(1)"}, "logo_url", "an https:// address"),
    ({"logo_url": "https://cdn.nord.example/a logo.png"}, "logo_url", "an https:// address"),
    ({"logo_url": "https://user:secret@cdn.nord.example/logo.png"}, "logo_url", "an https:// address"),
    ({"logo_url": "https://cdn.nord.example/" + "x" * 1976}, "logo_url", "an https:// address"),
    ({"logo_url": 42}, "logo_url", "an https:// address"),
    ({"budget": 3}, "budget", "unknown setting"),
    ({}, "", "send an object"),
])
def test_bad_settings_are_refused_with_the_field_named_and_nothing_is_stored(client, admin, body, field, text):
    _, auth = admin
    refused = client.put(SETTINGS, json=body, headers=auth)
    assert refused.status_code == 422
    assert refused.get_json()["field"] == field and text in refused.get_json()["error"]
    assert db.session().execute(select(MessagingSettings)).first() is None
    assert client.put(SETTINGS, data="x", headers=auth).status_code == 400


def test_a_logo_address_is_stored_trimmed_kept_by_other_changes_and_removed_when_empty(client, admin):
    store, auth = admin
    longest = "https://cdn.nord.example/" + "x" * 1975  # 2000 characters: the most accepted
    assert len(longest) == preferences.MAX_LOGO_URL
    saved = client.put(SETTINGS, json={"logo_url": f"  {longest}  "}, headers=auth)
    assert saved.status_code == 200 and saved.get_json()["logo_url"] == longest
    logo = "https://cdn.nord.example/logo.png?v=2"
    assert client.put(SETTINGS, json={"logo_url": logo}, headers=auth).get_json()["logo_url"] == logo
    shop = _shop(store.domain)
    assert db.session().get(MessagingSettings, shop.id).settings["logo_url"] == logo
    assert preferences.logo_url(db.session(), shop.id) == logo
    # another setting's change keeps it, and it is shown
    assert client.put(SETTINGS, json={"sender_name": "Nord"}, headers=auth).get_json()["logo_url"] == logo
    assert client.get(SETTINGS, headers=auth).get_json()["logo_url"] == logo
    # empty (what the page's form sends as null) or blank: no logo
    for empty in (None, "", "   "):
        assert client.put(SETTINGS, json={"logo_url": logo}, headers=auth).status_code == 200
        assert client.put(SETTINGS, json={"logo_url": empty}, headers=auth).get_json()["logo_url"] is None
        db.session().expire_all()
        assert db.session().get(MessagingSettings, shop.id).settings["logo_url"] is None
        assert preferences.logo_url(db.session(), shop.id) is None


@pytest.fixture()
def mail(app, settings, smtp_server, monkeypatch):
    configured = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                                     smtp_from="Comeback <mail@comeback.example>")
    monkeypatch.setitem(app.extensions, "comeback.settings", configured)
    return configured


def test_a_test_send_arrives_marked_as_a_test_with_the_merchants_texts(client, admin, mail, smtp):
    store, auth = admin
    url = f"/api/admin/flows/{definitions.ABANDONED_CART}"
    assert client.put(url, json={"steps": {"0": {"subject": "{first_name}, still thinking?",
                                                 "intro": "We kept your cart for you."}}},
                      headers=auth).status_code == 200
    assert client.put(SETTINGS, json={"reply_to": "help@nord.example", "sender_name": "Nord Coffee"},
                      headers=auth).status_code == 200
    # when the merchant sends the first reminder to their own address (at any hour: no quiet hours)
    sent = client.post(TEST_SEND, json={"email": "Owner@Nord.example"}, headers=auth)
    assert sent.status_code == 202
    body = sent.get_json()
    assert (body["message"]["category"], body["message"]["status"], body["source"]) == ("test", "queued", "sample")
    assert run_jobs() == []
    # then it arrives, marked, with the merchant's subject and intro, their sender name and reply-to
    (received,) = smtp.received
    text = received.message.get_body(("plain",)).get_content()
    html = received.message.get_body(("html",)).get_content()
    assert received.rcpt_tos == ["owner@nord.example"]
    assert received.message["Subject"] == "[Test] there, still thinking?"
    assert received.message["From"] == "Nord Coffee <mail@comeback.example>"
    assert received.message["Reply-To"] == "help@nord.example"
    assert "We kept your cart for you." in text
    # it carries no one-click unsubscribe (the merchant cannot unsubscribe their own address by it)
    assert received.message["List-Unsubscribe"] is None and "#unsubscribe" in html
    status = client.get(body["status_url"], headers=auth).get_json()
    assert status["status"] == "sent" and status["sent_at"]


def test_a_test_send_with_the_same_idempotency_key_sends_once(client, admin, mail, smtp):
    _, auth = admin
    headers = {**auth, "Idempotency-Key": "abc-1"}
    first = client.post(TEST_SEND, json={"email": "owner@nord.example"}, headers=headers).get_json()
    second = client.post(TEST_SEND, json={"email": "owner@nord.example"}, headers=headers).get_json()
    assert first["message"]["id"] == second["message"]["id"]
    assert run_jobs() == []
    assert len(smtp.received) == 1


@pytest.mark.parametrize(("body", "status", "text"), [
    ({"email": "nobody"}, 422, "email: not an email address"),
    ({}, 422, "email: email must be text"),
    ({"email": "a@b.example", "cc": "x@y.example"}, 422, "cc: unknown field"),
    ({"email": "a@b.example", "run": "one"}, 400, "run must be the id"),
    ({"email": "a@b.example", "run": 999999}, 404, "no run 999999"),
])
def test_a_bad_test_send_is_refused_and_nothing_is_queued(client, admin, body, status, text):
    _, auth = admin
    refused = client.post(TEST_SEND, json=body, headers=auth)
    assert refused.status_code == status and text in refused.get_json()["error"]
    assert db.session().execute(select(Message)).first() is None
    assert client.post(TEST_SEND, data="x", headers=auth).status_code == 400
    assert client.post(f"/api/admin/flows/{definitions.ABANDONED_CART}/steps/7/test", json={"email": "a@b.example"},
                       headers=auth).status_code == 404


def test_a_test_send_to_a_suppressed_address_says_so(client, admin):
    store, auth = admin
    consent.suppress(db.session(), _shop(store.domain).id, "owner@nord.example", "hard_bounce")
    db.session().commit()
    refused = client.post(TEST_SEND, json={"email": "owner@nord.example"}, headers=auth)
    assert refused.status_code == 422 and "hard_bounce" in refused.get_json()["error"]


def test_test_sends_are_limited_per_hour(client, admin, monkeypatch):
    from app.web import flows_admin

    _, auth = admin
    monkeypatch.setattr(flows_admin, "TEST_SENDS_PER_HOUR", 2)
    assert [client.post(TEST_SEND, json={"email": "o@nord.example"}, headers=auth).status_code
            for _ in range(3)] == [202, 202, 429]


def test_the_message_log_and_suppressions_belong_to_their_shop(client, admin, devstore):
    store, auth = admin
    shop = _shop(store.domain)
    session = db.session()
    made = outbox.create_message(session, shop.id, template="points_earned", dedupe_key="flow:12:0",
                                 context=CONTEXTS["points_earned"], email="ana@example.com").message
    consent.suppress(session, shop.id, "gone@example.com", "hard_bounce", detail="550 no such user")
    consent.suppress(session, shop.id, "left@example.com", "unsubscribed")
    session.commit()
    listed = client.get("/api/admin/messaging/messages?email=Ana@Example.com", headers=auth).get_json()
    assert [(m["id"], m["template"], m["flow_run"]) for m in listed["messages"]] == [
        (made.id, "points_earned", {"run_id": 12, "step": 0})]
    assert client.get("/api/admin/messaging/messages?status=lost", headers=auth).status_code == 400
    assert {s["email"] for s in client.get("/api/admin/messaging/suppressions", headers=auth).get_json()} == {
        "gone@example.com", "left@example.com"}
    # an unsubscribe cannot be undone by the merchant; a bounce can
    assert client.delete("/api/admin/messaging/suppressions/left@example.com", headers=auth).status_code == 409
    assert client.delete("/api/admin/messaging/suppressions/gone@example.com", headers=auth).status_code == 204
    assert client.delete("/api/admin/messaging/suppressions/gone@example.com", headers=auth).status_code == 404
    assert [r.email for r in session.execute(select(EmailSuppression)).scalars()] == ["left@example.com"]
    # another shop sees none of it
    other = DevstoreShop(devstore.url, "other-" + store.domain)
    other.create()
    install(client, other)
    assert run_jobs() == []
    theirs = bearer(other.session_token(API_KEY))
    assert client.get(f"/api/admin/messaging/messages/{made.id}", headers=theirs).status_code == 404
    assert client.get(f"/api/admin/messaging/messages/{made.id}", headers=auth).status_code == 200
    assert client.get("/api/admin/messaging/messages", headers=theirs).get_json()["messages"] == []
    assert client.get("/api/admin/messaging/suppressions", headers=theirs).get_json() == []
    assert client.delete("/api/admin/messaging/suppressions/left@example.com", headers=theirs).status_code == 404
