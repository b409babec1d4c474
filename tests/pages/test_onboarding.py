"""The onboarding page and its API: import progress, program, widget, first flows, skip and resume."""

from __future__ import annotations

import datetime as dt
import html as markup
import json
import re
from pathlib import Path

from sqlalchemy import select

from app import platforms
from app.extensions import db
from app.flows import definitions
from app.messaging.render import format_money
from app.store.models import Onboarding, Shop, SyncRun
from app.store.types import utcnow
from tests.conftest import API_KEY
from tests.helpers import run_jobs

ROOT = Path(__file__).resolve().parents[2]
FLOW_KEYS = definitions.KEYS


def _row(shop_id: int) -> Onboarding | None:
    session = db.session()
    session.expire_all()
    return session.get(Onboarding, shop_id)


def _shop(shop_id: int) -> Shop:
    session = db.session()
    session.expire_all()
    shop = session.get(Shop, shop_id)
    assert shop is not None
    return shop


def _step(html: str, name: str) -> str:
    """The markup of one step of the page."""
    match = re.search(rf'<li id="step-{name}".*?(?=<li id="step-|</ol>\n</div>)', html, re.S)
    assert match, name
    return match.group(0)


def _is_done(html: str, name: str) -> bool:
    return bool(re.match(rf'<li id="step-{name}" class="done"', _step(html, name)))


def _client_data(html: str) -> dict:
    return json.loads(markup.unescape(re.search(r'<script type="application/json" id="onboarding-data">(.*?)</script>',
                                                html, re.S).group(1)))


def _embed_handles() -> list[str]:
    """The app embed blocks of the widget's theme extension (their handle is the file name)."""
    handles = []
    for path in sorted((ROOT / "extensions" / "comeback-widget" / "blocks").glob("*.liquid")):
        schema = json.loads(re.search(r"{% schema %}(.*?){% endschema %}", path.read_text(), re.S).group(1))
        if schema.get("target") in ("head", "body", "compliance_head"):
            handles.append(path.stem)
    return handles


# --- the import ---------------------------------------------------------------------------------


def test_progress_on_the_page_equals_the_sync_runs(admin):
    # given: the fixture's store imported in full
    session = db.session()
    runs = session.execute(select(SyncRun).where(SyncRun.shop_id == admin.shop_id, SyncRun.kind == "backfill")
                           .order_by(SyncRun.id)).scalars().all()
    latest = {run.resource: run for run in runs}
    assert latest and all(run.status == "completed" for run in latest.values())
    html = admin.html("/admin/onboarding")
    for resource, run in latest.items():
        text = f"{run.processed_count:,} of {run.total_count:,} {resource}"
        assert f'aria-labelledby="sync-{resource}-label"' in html
        assert f'aria-valuenow="100.0"\n               aria-valuetext="{text}"' in html, resource
    assert _is_done(html, "backfill") and _client_data(html)["sync_status"] == "completed"

    # when: a new import of the orders is a quarter through, started a minute ago
    now = utcnow()
    running = SyncRun(shop_id=admin.shop_id, kind="backfill", resource="orders", status="importing",
                      processed_count=1240, total_count=5000, started_at=now - dt.timedelta(seconds=70),
                      import_started_at=now - dt.timedelta(seconds=60))
    session.add(running)
    session.commit()

    # then: a (re)load shows its numbers, the bar and the time left in words, and the script follows it
    html = admin.html("/admin/onboarding")
    orders = re.search(r'<li data-resource="orders".*?</li>', html, re.S).group(0)
    assert 'role="progressbar"' in orders and 'aria-valuemin="0" aria-valuemax="100" aria-valuenow="24.8"' in orders
    assert 'aria-valuetext="1,240 of 5,000 orders"' in orders and 'style="width: 24.8%"' in orders
    assert ">1,240 of 5,000 orders<" in orders and "About 3 minutes left" in orders and "Importing" in orders
    assert not _is_done(html, "backfill") and _client_data(html)["sync_status"] == "running"
    api = admin.api("GET", "/api/admin/sync").get_json()
    item = next(item for item in api["resources"] if item["resource"] == "orders")
    assert (item["processed"], item["total"], item["percent"]) == (1240, 5000, 24.8)
    status = admin.api("GET", "/api/admin/onboarding").get_json()
    assert status["next_step"] == "backfill" and status["steps"][0]["done"] is False

    # when: it fails, the page says so and what to do
    running.status, running.last_error, running.finished_at = "failed", "the store answered 503", utcnow()
    session.commit()
    html = admin.html("/admin/onboarding")
    assert "The import stopped" in html and "starts it again by itself within two hours" in html
    assert "the store answered 503" in html and 'role="alert"' in _step(html, "backfill")


def test_the_page_speaks_german_and_french(admin):
    german = admin.html("/admin/onboarding", locale="de")
    assert "<h1>Erste Schritte</h1>" in german and "Treueprogramm prüfen" in german
    french = admin.html("/admin/onboarding", locale="fr")
    assert "<h1>Premiers pas</h1>" in french and "Vérifier votre programme de fidélité" in french


# --- the program ------------------------------------------------------------------------------------


def test_the_program_is_explained_and_marking_it_changes_the_row(admin):
    html = admin.html("/admin/onboarding")
    program = _step(html, "program")
    # the defaults in plain sentences: what is earned, what rewards cost
    assert f"<strong>1 point</strong> for every {format_money(1, admin.shop.currency)} spent." in program
    assert "Not counted: shipping, taxes, discounts, the part paid with gift cards." in program
    assert "can be spent after 14 days" in program and "50 points for joining" in program
    assert "Points expire 365 days after they're earned. Members get reminder emails 30 and 7 days before." in program
    assert "<th scope=\"row\">5 off your order</th>" in program and "<td>500 points</td>" in program
    assert "<td>1,000 points</td>" in program and "From 100 points, in steps of 100, up to 5,000" in program
    assert "<strong>Silver</strong> from 500 points, earning 1.25× points" in program
    assert 'data-api="POST /api/admin/onboarding/steps/program"' in program and "/admin/loyalty" in program
    assert _row(admin.shop_id).program_reviewed_at is None

    first = admin.api("POST", "/api/admin/onboarding/steps/program")
    assert first.status_code == 200 and first.get_json()["steps"][1] == {
        "name": "program", "done": True, "reviewed_at": _row(admin.shop_id).program_reviewed_at.isoformat()}
    reviewed_at = _row(admin.shop_id).program_reviewed_at
    assert reviewed_at is not None
    # again: harmless, the first time is kept
    assert admin.api("POST", "/api/admin/onboarding/steps/program").status_code == 200
    assert _row(admin.shop_id).program_reviewed_at == reviewed_at
    assert _is_done(admin.html("/admin/onboarding"), "program")


def test_unknown_and_automatic_steps_are_refused(admin):
    unknown = admin.api("POST", "/api/admin/onboarding/steps/payments")
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": "no onboarding step 'payments' (steps: backfill, program, widget, flows)",
                                  "field": "step"}
    automatic = admin.api("POST", "/api/admin/onboarding/steps/backfill")
    assert automatic.status_code == 422 and "finishes by itself" in automatic.get_json()["error"]
    assert admin.api("GET", "/api/admin/onboarding/steps/program").status_code == 405
    row = _row(admin.shop_id)
    assert row is None or (row.program_reviewed_at, row.widget_confirmed_at, row.flows_enabled_at) == (None, None, None)
    # without credentials: nothing
    assert admin.client.post("/api/admin/onboarding/skip", headers={}).status_code in (401, 403)
    row = _row(admin.shop_id)
    assert row is None or row.skipped_at is None


# --- the widget ---------------------------------------------------------------------------------------


def test_the_widget_step_is_right_for_the_platform(admin):
    html = admin.html("/admin/onboarding")
    widget = _step(html, "widget")
    if admin.platform == "shopify":
        handles = _embed_handles()
        assert handles == ["app-embed"]
        # devstore stands in for the shop's admin here, on its own port
        origin = platforms.connector("shopify").frame_ancestors(admin.shop.domain)[-1]
        link = (f"{origin}/admin/themes/current/editor?context=apps"
                f"&amp;activateAppId={API_KEY}/{handles[0]}")
        assert f'href="{link}" target="_top"' in widget and 'data-mode="app_embed"' in widget
        assert "I switched it on" in widget and not _is_done(html, "widget")
        status = admin.api("GET", "/api/admin/onboarding").get_json()
        assert status["steps"][2]["link"] == markup.unescape(link) and status["steps"][2]["detected"] is None
        # the merchant confirms: the row changes and the step is done
        assert _row(admin.shop_id).widget_confirmed_at is None
        assert admin.api("POST", "/api/admin/onboarding/steps/widget").status_code == 200
        assert _row(admin.shop_id).widget_confirmed_at is not None
        assert _is_done(admin.html("/admin/onboarding"), "widget")
        # nothing to look for on this platform
        check = admin.api("POST", "/api/admin/onboarding/widget/check")
        assert check.status_code == 200 and check.get_json()["checking"] is False
        return

    # WooCommerce: the plugin is detected because the app could write its settings
    shop = _shop(admin.shop_id)
    assert shop.storefront_configured_at is not None
    assert 'data-mode="plugin"' in widget and "Plugin detected" in widget and _is_done(html, "widget")
    assert "activateAppId" not in html
    assert admin.api("POST", "/api/admin/onboarding/steps/widget").status_code == 200
    assert _row(admin.shop_id).widget_confirmed_at is not None

    # when the configuration is forgotten: not detected, with what to do, and no confirming by hand
    shop.storefront_configured_at = None
    db.session().commit()
    html = admin.html("/admin/onboarding")
    widget = _step(html, "widget")
    assert "Plugin detected" not in widget and "The Comeback plugin was not found" in widget
    assert "Upload Plugin" in widget and "data-check-widget" in widget and not _is_done(html, "widget")
    refused = admin.api("POST", "/api/admin/onboarding/steps/widget")
    assert refused.status_code == 422 and "not detected yet" in refused.get_json()["error"]
    assert admin.api("GET", "/api/admin/onboarding").get_json()["steps"][2]["detected"] is False

    # "Check again" configures the plugin again: detected once the job ran
    check = admin.api("POST", "/api/admin/onboarding/widget/check")
    assert check.status_code == 202 and check.get_json()["checking"] is True
    assert run_jobs() == []
    assert _shop(admin.shop_id).storefront_configured_at is not None
    assert admin.api("GET", "/api/admin/onboarding").get_json()["steps"][2]["detected"] is True
    assert "Plugin detected" in _step(admin.html("/admin/onboarding"), "widget")

    # a store without the plugin stays not detected after a check
    admin.control.control("POST", "", plugin_installed=False)
    shop = _shop(admin.shop_id)
    shop.storefront_configured_at = None
    db.session().commit()
    assert admin.api("POST", "/api/admin/onboarding/widget/check").status_code == 202
    assert run_jobs() == []
    assert _shop(admin.shop_id).storefront_configured_at is None
    assert admin.api("GET", "/api/admin/onboarding").get_json()["steps"][2]["detected"] is False


# --- the flows ----------------------------------------------------------------------------------------


def test_enabling_a_flow_through_the_pages_api_enables_it(admin):
    # given: every flow switched off
    for key in FLOW_KEYS:
        assert admin.api("PUT", f"/api/admin/flows/{key}", {"enabled": False}).status_code == 200
    html = admin.html("/admin/onboarding")
    flows = _step(html, "flows")
    for key in ("abandoned_cart", "post_purchase", "win_back", "birthday"):
        assert re.search(rf'id="flow-{key}" data-flow="{key}"[^>]*aria-describedby="flow-{key}-about" >', flows), key
    assert "Invites back customers who haven't ordered for 90 days." in flows
    refused = admin.api("POST", "/api/admin/onboarding/steps/flows")
    assert refused.status_code == 422 and "turn on at least one flow" in refused.get_json()["error"]
    row = _row(admin.shop_id)
    assert row is not None and row.flows_enabled_at is None

    # when: the page's switch for win-back (the flows API), then the step
    assert admin.api("PUT", "/api/admin/flows/win_back", {"enabled": True}).status_code == 200
    marked = admin.api("POST", "/api/admin/onboarding/steps/flows")

    # then: the flow is on in the database and the step is done
    session = db.session()
    session.expire_all()
    assert definitions.current(session, admin.shop_id, "win_back").is_enabled
    assert not definitions.current(session, admin.shop_id, "abandoned_cart").is_enabled
    assert marked.status_code == 200 and marked.get_json()["steps"][3]["enabled"] == ["win_back"]
    assert _row(admin.shop_id).flows_enabled_at is not None
    html = admin.html("/admin/onboarding")
    assert re.search(r'id="flow-win_back" data-flow="win_back"[^>]*checked>', html)
    assert _is_done(html, "flows")


def test_every_step_done_completes_onboarding(admin):
    assert admin.api("POST", "/api/admin/onboarding/steps/program").status_code == 200
    assert admin.api("POST", "/api/admin/onboarding/steps/flows").status_code == 200  # the flows come switched on
    status = admin.api("GET", "/api/admin/onboarding").get_json()
    if admin.platform == "shopify":
        assert status["next_step"] == "widget" and status["completed"] is False
        assert _row(admin.shop_id).completed_at is None
        status = admin.api("POST", "/api/admin/onboarding/steps/widget").get_json()
    assert status["completed"] is True and status["next_step"] is None
    assert [step["done"] for step in status["steps"]] == [True, True, True, True]
    completed_at = _row(admin.shop_id).completed_at
    assert completed_at is not None and status["completed_at"] == completed_at.isoformat()
    html = admin.html("/admin/onboarding")
    assert "You're all set" in html and "Skip for now" not in html


# --- skip and resume -------------------------------------------------------------------------------------


def test_skip_and_resume(admin):
    html = admin.html("/admin/onboarding")
    assert 'data-api="POST /api/admin/onboarding/skip"' in html and "Skip for now" in html
    skipped = admin.api("POST", "/api/admin/onboarding/skip")
    assert skipped.status_code == 200 and skipped.get_json()["skipped"] is True
    skipped_at = _row(admin.shop_id).skipped_at
    assert skipped_at is not None
    assert admin.api("POST", "/api/admin/onboarding/skip").status_code == 200
    assert _row(admin.shop_id).skipped_at == skipped_at  # the first skip's time is kept

    # reopened later: it says so and offers to resume, with the steps as they were
    admin.api("POST", "/api/admin/onboarding/steps/program")
    html = admin.html("/admin/onboarding")
    assert "You put setup aside on" in html and "Resume setup" in html and _is_done(html, "program")

    resumed = admin.api("POST", "/api/admin/onboarding/resume")
    assert resumed.status_code == 200 and resumed.get_json()["skipped"] is False
    row = _row(admin.shop_id)
    assert row.skipped_at is None and row.program_reviewed_at is not None
    assert admin.api("POST", "/api/admin/onboarding/resume").status_code == 200
    assert "Skip for now" in admin.html("/admin/onboarding")


# --- another shop ----------------------------------------------------------------------------------------


def test_another_shop_changes_only_its_own_onboarding(admin, other_admin):
    for path in ("/steps/program", "/steps/widget" if admin.platform == "shopify" else "/steps/flows", "/skip"):
        response = other_admin.api("POST", f"/api/admin/onboarding{path}")
        assert response.status_code == 200, (path, response.get_json())
    theirs = _row(other_admin.shop_id)
    assert theirs.program_reviewed_at is not None and theirs.skipped_at is not None
    ours = _row(admin.shop_id)
    assert ours is None or (ours.program_reviewed_at, ours.widget_confirmed_at, ours.flows_enabled_at,
                            ours.skipped_at) == (None, None, None, None)
    # their page and status are theirs: their own link, their own progress
    html = other_admin.html("/admin/onboarding")
    assert admin.shop.domain not in html and _is_done(html, "program")
    assert not _is_done(admin.html("/admin/onboarding"), "program")
    assert admin.api("GET", "/api/admin/onboarding").get_json()["skipped"] is False
    # their resume does not resume ours
    assert admin.api("POST", "/api/admin/onboarding/skip").status_code == 200
    assert other_admin.api("POST", "/api/admin/onboarding/resume").status_code == 200
    assert _row(admin.shop_id).skipped_at is not None and _row(other_admin.shop_id).skipped_at is None
