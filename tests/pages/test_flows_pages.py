"""The flows pages: the list's and the flow's funnel and lift as the reports count them, the editor
through the flows API (its 422 beside an input the page has), the draft preview, the test send,
one shop only."""

from __future__ import annotations

import datetime as dt
import html as markup
import re

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.flows import definitions, reports, steps
from app.messaging import tracking
from app.store.models import Flow, FlowRun, Message
from app.store.types import utcnow
from app.web.pages import flows as flows_page
from tests.flows import support
from tests.helpers import run_jobs

CART = definitions.ABANDONED_CART
API = f"/api/admin/flows/{CART}"
HOUR = dt.timedelta(hours=1)


def _row(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', html, re.S)
    assert found, value
    return found.group(1)


def _cell(row: str, stage: str) -> str:
    found = re.search(rf'data-stage="{stage}">(.*?)</td>', row, re.S)
    assert found, stage
    return re.sub(r"<[^>]+>", " ", found.group(1)).split()[0]


def _versions(shop_id: int) -> int:
    return db.session().execute(select(func.count()).select_from(Flow).where(Flow.shop_id == shop_id,
                                                                              Flow.key == CART)).scalar_one()


def _sent_cart_run(admin, settings, n: int, at: dt.datetime, *, holdout: bool = False):
    """Customer ``c<n>`` leaves a cart at ``at``; its first reminder goes (or is held out) an hour later."""
    session = db.session()
    shop = admin.shop
    support.write(session, shop, support.customer(f"c{n}", email=f"c{n}@example.com", at=at - 24 * HOUR),
                  support.cart(f"cart-{n}", at=at, customer=f"c{n}", email=f"c{n}@example.com"))
    support.evaluate(session, shop, at)
    run = [r for r in support.runs_of(session, shop, CART) if r.subject_id == f"cart-{n}"][0]
    session.execute(update(FlowRun).where(FlowRun.id == run.id).values(is_holdout=holdout))
    session.commit()
    outcome = steps.execute(session, run.id, 0, support.FakeStore().services(settings), now=at + HOUR)
    assert outcome.status == ("held_out" if holdout else "sent")
    if outcome.message_id:
        session.execute(update(Message).where(Message.id == outcome.message_id).values(status="sent",
                                                                                        sent_at=at + HOUR))
        session.commit()
    return run, outcome.message_id


def test_the_list_and_the_flow_page_show_the_funnel_the_report_counts(admin, settings):
    # given three reminders sent (one clicked and followed by an order) and two held-out shoppers
    at = utcnow().replace(microsecond=0) + dt.timedelta(seconds=2)
    _, clicked = _sent_cart_run(admin, settings, 1, at)
    _sent_cart_run(admin, settings, 2, at)
    _sent_cart_run(admin, settings, 3, at)
    _sent_cart_run(admin, settings, 4, at, holdout=True)
    _sent_cart_run(admin, settings, 5, at, holdout=True)
    session = db.session()
    tracking.record_click(session, session.get(Message, clicked).token, "https://shop.example/cart", now=at + 2 * HOUR)
    session.commit()
    support.write(session, admin.shop, support.order("9001", at=at + 3 * HOUR, customer="c1", email="c1@example.com",
                                                     total="30.00"))
    report = reports.report(session, admin.shop_id, CART)
    assert (report["messages"]["sent"], report["messages"]["clicked"], report["attributed"]["orders"]) == (3, 1, 1)
    # when the merchant opens the list
    listed = _row(admin.html("/admin/flows"), "data-flow", CART)
    # then the cart flow's row has the report's numbers, on, with the holdout still too small for a lift
    assert [_cell(listed, stage) for stage in ("sent", "clicked", "ordered")] == ["3", "1", "1"]
    assert "33.3%" in listed and "badge success" in listed
    assert "Not enough customers in the holdout yet: 2 of 30 needed." in listed
    revenue = re.search(r"data-revenue>(.*?)</td>", listed).group(1)
    assert "30.00" in revenue
    # and the flow page's funnel table says the same, with each stage's share of the sent e-mails
    page = admin.html(f"/admin/flows/{CART}")
    for stage, count, share in (("sent", "3", "100.0%"), ("clicked", "1", "33.3%"), ("ordered", "1", "33.3%")):
        row = _row(page, "data-stage", stage)
        assert f"<td class=\"num\" data-count>{count}</td>" in row and share in row and 'aria-hidden="true"' in row
    assert "Not enough customers in the holdout yet: 2 of 30 needed." in page
    # its recent runs are listed, newest first
    assert page.count("<tr data-run=") == 5


def test_the_list_counts_the_last_30_days_and_the_flow_page_every_run(admin, settings):
    # given two reminders sent, one of them by a run that started 40 days ago
    at = utcnow().replace(microsecond=0) + dt.timedelta(seconds=2)
    _sent_cart_run(admin, settings, 1, at)
    old_run, _ = _sent_cart_run(admin, settings, 2, at)
    session = db.session()
    session.execute(update(FlowRun).where(FlowRun.id == old_run.id)
                    .values(started_at=utcnow() - dt.timedelta(days=flows_page.LIST_PERIOD_DAYS + 10)))
    session.commit()
    # when the merchant opens the list and the flow page
    html = admin.html("/admin/flows")
    listed = _row(html, "data-flow", CART)
    page = admin.html(f"/admin/flows/{CART}")
    # then the list counts only the recent run and says so; the flow page counts both
    assert "Figures count the runs started in the last 30 days." in markup.unescape(html)
    assert _cell(listed, "sent") == "1"
    assert "<td class=\"num\" data-count>2</td>" in _row(page, "data-stage", "sent")


def test_the_lift_and_its_interval_are_shown_once_the_holdout_is_big_enough(admin):
    # given 40 recipients (12 ordered) and 30 held-out customers (3 ordered) whose first step is recorded
    session = db.session()
    now = utcnow().replace(microsecond=0)
    first = now - 10 * 24 * HOUR
    rows = []
    for n in range(70):
        holdout = n >= 40
        rows.append(FlowRun(shop_id=admin.shop_id, flow_key=CART, flow_version=1, trigger_key=f"cart:l{n}",
                            subject_kind="cart", subject_id=f"l{n}", customer_external_id=f"l{n}",
                            email=f"l{n}@example.com", state="completed", reference_at=first, started_at=first,
                            is_holdout=holdout, steps=[{"step": 0, "outcome": "held_out" if holdout else "sent",
                                                        "at": first.isoformat()}]))
    session.add_all(rows)
    session.commit()
    buyers = [f"l{n}" for n in range(12)] + [f"l{n}" for n in range(40, 43)]
    support.write(session, admin.shop, *[support.order(f"8{n}", at=first + 5 * HOUR, customer=customer,
                                                       email=f"{customer}@example.com")
                                         for n, customer in enumerate(buyers)])
    difference, low, high = reports.newcombe(12, 40, 3, 30)
    assert reports.report(session, admin.shop_id, CART)["lift"]["ci95"] == [low, high]
    # when the merchant opens the flow and the list
    page = admin.html(f"/admin/flows/{CART}")
    listed = _row(admin.html("/admin/flows"), "data-flow", CART)

    # then both show the report's lift with its 95 % range, and the page explains it in one sentence
    def points(value):
        return f"{'+' if value > 0 else '−' if value < 0 else ''}{abs(value) * 100:.1f}"

    assert f"{points(difference)} points" in page and f"{points(difference)} points" in listed
    assert f"95% confidence range: {points(low)} to {points(high)} points" in page
    assert f"95% range {points(low)} to {points(high)}" in listed
    sentence = re.search(r"<p data-lift-sentence>(.*?)</p>", page, re.S).group(1)
    verdict = "up" if low > 0 else "down" if high < 0 else "unclear"
    assert ("30.0%" in sentence and "10.0%" in sentence and
            ("includes zero" in sentence if verdict == "unclear" else "more often" in sentence))


def test_saving_a_delay_through_the_forms_api_path_changes_the_stored_flow(admin):
    page = admin.html(f"/admin/flows/{CART}")
    # the form posts to the flow's API, with the delays as the hours the API takes
    assert f'data-api="PUT {API}"' in page
    assert 'name="steps.1.delay_hours" data-type="number" value="24"' in page
    # when the second reminder is moved to two days (what flows.js writes: 2 days = 48 hours)
    saved = admin.api("PUT", API, {"enabled": True, "steps": {"1": {"delay_hours": 48, "enabled": True}}})
    assert saved.status_code == 200, saved.get_json()
    # then the stored flow has a new version with that delay, and the page shows it in days
    db.session().expire_all()
    flow = definitions.current(db.session(), admin.shop_id, CART)
    assert (flow.version, [step["delay_hours"] for step in flow.steps]) == (2, [1, 48, 72])
    again = admin.html(f"/admin/flows/{CART}")
    assert re.search(r'id="step-1-delay" min="0" step="any" value="2"', again)
    assert re.search(r'<option value="days" selected>days</option>', again)


def test_a_delay_too_long_for_a_cart_is_refused_beside_the_input_the_form_has(admin):
    page = admin.html(f"/admin/flows/{CART}")
    refused = admin.api("PUT", API, {"steps": {"2": {"delay_hours": 169}}})
    assert refused.status_code == 422
    field = refused.get_json()["field"]
    assert field == "steps[2].delay_hours" and "at most 168" in refused.get_json()["error"]
    # the form has the input admin.js looks the field up by (brackets as dots), and the visible one it marks
    dotted = field.replace("[", ".").replace("]", "")
    assert f'name="{dotted}"' in page and f'data-field="{dotted}"' in page
    assert "At most 168 hours (7 days)." in page
    db.session().expire_all()
    assert _versions(admin.shop_id) == 1
    assert definitions.current(db.session(), admin.shop_id, CART).steps[2]["delay_hours"] == 72


def test_the_draft_preview_renders_the_unsaved_texts_and_stores_nothing(admin):
    page = admin.html(f"/admin/flows/{CART}")
    assert '<iframe id="email-preview" class="email-preview" sandbox' in page
    for name in ("steps.0.subject", "steps.0.intro", "steps.2.incentive.kind", "steps.2.incentive.value"):
        assert f'name="{name}"' in page
    versions = _versions(admin.shop_id)
    draft = {"subject": "Your mug is waiting, {first_name}", "intro": "We put your cart aside for two days."}
    shown = admin.api("POST", f"{API}/steps/0/preview", {"step": draft})
    assert shown.status_code == 200, shown.get_json()
    body = shown.get_json()
    assert (body["source"], body["subject"]) == ("sample", "Your mug is waiting, there")
    assert "We put your cart aside for two days." in body["html"] and "Sample product" in body["html"]
    # a code drafted on the last step shows in its preview
    coupon = admin.api("POST", f"{API}/steps/2/preview", {"step": {"incentive": {
        "kind": "percentage", "value": "10", "expires_hours": 48, "minimum_subtotal": None}}}).get_json()
    assert coupon["context"]["coupon"]["description"] == "10% off" and "CB-PREVIEW00" in coupon["text"]
    # nothing was stored
    db.session().expire_all()
    assert _versions(admin.shop_id) == versions
    flow = definitions.current(db.session(), admin.shop_id, CART)
    assert (flow.steps[0]["subject"], flow.steps[0]["intro"], flow.steps[2]["incentive"]) == (None, None, None)
    # a draft a save would refuse is refused the same way, naming a field the form has
    bad = admin.api("POST", f"{API}/steps/0/preview", {"step": {"subject": "Hi {nickname}"}})
    assert (bad.status_code, bad.get_json()["field"]) == (422, "steps[0].subject")
    early = admin.api("POST", f"{API}/steps/0/preview", {"step": {"incentive": {"kind": "percentage", "value": "10",
                                                                                 "expires_hours": 48}}})
    assert (early.status_code, early.get_json()["field"]) == (422, "steps[0].incentive")
    assert admin.api("POST", f"{API}/steps/0/preview", {"step": {"delay_hours": 2}}).status_code == 422
    assert admin.api("POST", f"{API}/steps/0/preview", {"subject": "x"}).status_code == 400
    assert admin.api("POST", f"{API}/steps/9/preview", {"step": {}}).status_code == 404
    assert admin.api("POST", "/api/admin/flows/newsletter/steps/0/preview", {"step": {}}).status_code == 404
    db.session().expire_all()
    assert _versions(admin.shop_id) == versions


def test_a_test_send_delivers_the_drafted_step_to_the_mailbox(admin, mailbox):
    page = admin.html(f"/admin/flows/{CART}")
    assert 'id="test-send-form"' in page and 'type="email" id="test-email" name="email"' in page
    assert 'data-test-result role="status" aria-live="polite"' in page
    sent = admin.api("POST", f"{API}/steps/0/test", {"email": "Owner@Example.com",
                                                     "step": {"subject": "Draft: your cart misses you"}})
    assert sent.status_code == 202, sent.get_json()
    assert run_jobs() == []
    (received,) = mailbox.received
    assert received.rcpt_tos == ["owner@example.com"]
    assert received.message["Subject"] == "[Test] Draft: your cart misses you"
    status = admin.api("GET", sent.get_json()["status_url"]).get_json()
    assert status["status"] == "sent"
    # the draft was sent, not saved
    db.session().expire_all()
    assert definitions.current(db.session(), admin.shop_id, CART).steps[0]["subject"] is None
    # a bad address is refused beside the form's input, and nothing more is sent
    refused = admin.api("POST", f"{API}/steps/0/test", {"email": "nobody"})
    assert (refused.status_code, refused.get_json()["field"]) == (422, "email")
    assert run_jobs() == [] and len(mailbox.received) == 1


def test_another_shop_sees_its_own_flow_and_none_of_this_shops(admin, other_admin, settings):
    assert admin.api("PUT", API, {"steps": {"0": {"subject": "Nord's secret subject"}}}).status_code == 200
    at = utcnow().replace(microsecond=0) + dt.timedelta(seconds=2)
    run, _ = _sent_cart_run(admin, settings, 1, at)
    mine = admin.html(f"/admin/flows/{CART}")
    assert "Nord&#39;s secret subject" in mine or "Nord's secret subject" in markup.unescape(mine)
    theirs = other_admin.html(f"/admin/flows/{CART}")
    assert "secret subject" not in markup.unescape(theirs)
    assert 'name="steps.0.subject" data-type="nullable" maxlength="150"\n                 value=""' in theirs
    assert f'data-run="{run.id}"' in mine and f'data-run="{run.id}"' not in theirs
    listed = _row(other_admin.html("/admin/flows"), "data-flow", CART)
    assert _cell(listed, "sent") == "0"
    # this shop's run cannot be previewed nor test-sent from the other shop
    assert other_admin.api("POST", f"{API}/steps/0/preview", {"step": {}, "run": run.id}).status_code == 404
    assert admin.api("POST", f"{API}/steps/0/preview", {"step": {}, "run": run.id}).status_code == 200
    assert other_admin.api("POST", f"{API}/steps/0/test", {"email": "a@example.com", "run": run.id}
                           ).status_code == 404
    # the other shop's draft preview renders its own (unchanged) flow
    own = other_admin.api("POST", f"{API}/steps/0/preview", {"step": {}}).get_json()
    assert "secret" not in own["subject"]


def test_unknown_flows_and_bad_pages_are_refused(admin):
    assert admin.get("/admin/flows/newsletter").status_code == 404
    assert admin.get(f"/admin/flows/{CART}", before="abc").status_code == 400
    assert admin.get(f"/admin/flows/{CART}", before="1").status_code == 200


@pytest.mark.parametrize("hours, shown", [(1, {"amount": 1, "unit": "hours"}), (48, {"amount": 2, "unit": "days"}),
                                          (0, {"amount": 0, "unit": "hours"}), (1.5, {"amount": 1.5, "unit": "hours"})])
def test_delays_are_shown_in_days_when_whole(hours, shown):
    assert flows_page._delay(hours) == shown


@pytest.mark.parametrize("language, title, waiting", [
    ("de", "Verlassener Warenkorb", "Noch nicht genug Kunden in der Kontrollgruppe: 0 von 30 nötig."),
    ("fr", "Panier abandonné", "Pas encore assez de clients dans le groupe témoin : 0 sur 30 nécessaires."),
])
def test_the_pages_speak_the_merchants_language(admin, language, title, waiting):
    page = markup.unescape(admin.html(f"/admin/flows/{CART}", locale=language))
    assert f"<h1>{title}</h1>" in page and waiting in page
    listed = markup.unescape(admin.html("/admin/flows", locale=language))
    assert title in listed and waiting in listed
