"""The onboarding page in Chromium: the import followed live, the steps' buttons, the flow switches,
the plugin check, skipping to Home."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.extensions import db
from app.flows import definitions
from app.store.models import Onboarding, Shop, SyncRun
from app.store.types import utcnow
from tests.helpers import run_jobs

PAGE = "/admin/onboarding"






def _row(shop_id: int) -> Onboarding | None:
    db.session().expire_all()
    return db.session().get(Onboarding, shop_id)


def test_the_import_is_followed_live_and_the_steps_are_marked(admin_browser):
    admin = admin_browser
    refused = admin.watch_refusals()
    session = db.session()
    now = utcnow()
    run = SyncRun(shop_id=admin.shop.id, kind="backfill", resource="orders", status="importing",
                  processed_count=1240, total_count=5000, started_at=now - dt.timedelta(seconds=70),
                  import_started_at=now - dt.timedelta(seconds=60))
    session.add(run)
    session.commit()
    ui = admin.open(PAGE)
    assert admin.axe() == []
    bar = ui.locator('[data-resource="orders"] [role="progressbar"]')
    assert bar.get_attribute("aria-valuenow") == "24.8"
    assert bar.get_attribute("aria-valuetext") == "1,240 of 5,000 orders"

    # the script follows the run without a reload
    run.processed_count = 2500
    session.commit()
    ui.locator('[data-resource="orders"] [data-part="count"]', has_text="2,500 of 5,000 orders").wait_for(timeout=10_000)
    assert bar.get_attribute("aria-valuenow") == "50"
    # when it completes, the page reloads with the step done
    run.status, run.processed_count, run.finished_at = "completed", 5000, utcnow()
    session.commit()
    ui.locator("#step-backfill.done").wait_for(timeout=15_000)

    # "Looks good" marks the program reviewed
    ui.get_by_role("button", name="Looks good").click()
    ui.locator("#step-program.done").wait_for(timeout=10_000)
    assert _row(admin.shop.id).program_reviewed_at is not None
    if admin.platform == "shopify":
        link = ui.locator("[data-embed-link]")
        assert link.get_attribute("target") == "_top" and "activateAppId=" in link.get_attribute("href")
        ui.get_by_role("button", name="I switched it on").click()
        ui.locator("#step-widget.done").wait_for(timeout=10_000)
        assert _row(admin.shop.id).widget_confirmed_at is not None
    admin.assert_clean(refused)


def test_flow_switches_use_the_flows_api(admin_browser):
    admin = admin_browser
    refused = admin.watch_refusals()
    ui = admin.open(PAGE)
    switch = ui.locator("#flow-win_back")
    assert switch.is_checked()
    switch.uncheck()
    ui.locator("#toast", has_text="Win-back is off").wait_for()
    db.session().expire_all()
    assert definitions.current(db.session(), admin.shop.id, "win_back").is_enabled is False
    assert _row(admin.shop.id).flows_enabled_at is None
    switch.check()
    ui.locator("#toast", has_text="Win-back is on").wait_for()
    ui.locator("#step-flows.done").wait_for(timeout=10_000)
    db.session().expire_all()
    assert definitions.current(db.session(), admin.shop.id, "win_back").is_enabled is True
    assert _row(admin.shop.id).flows_enabled_at is not None
    admin.assert_clean(refused)


def test_check_again_finds_the_plugin(woo_admin):
    admin = woo_admin
    refused = admin.watch_refusals()
    shop = db.session().execute(select(Shop).where(Shop.id == admin.shop.id)).scalar_one()
    shop.storefront_configured_at = None
    db.session().commit()
    ui = admin.open(PAGE)
    assert admin.axe() == []
    # the page says it is looking as soon as the button is pressed, before the check is queued:
    # the jobs run once the request that queues it has been answered
    with ui.expect_response(lambda response: response.url.endswith("/api/admin/onboarding/widget/check")) as answer:
        ui.get_by_role("button", name="Check again").click()
    assert answer.value.status == 202
    ui.locator("#widget-check-result", has_text="Looking for the plugin").wait_for()
    assert run_jobs() == []
    ui.locator("#step-widget.done", has_text="Plugin detected").wait_for(timeout=15_000)
    admin.assert_clean(refused)


def test_skip_goes_home_and_the_page_shows_where_you_left_off(admin_browser):
    admin = admin_browser
    refused = admin.watch_refusals()
    ui = admin.open(PAGE)
    ui.get_by_role("button", name="Skip for now").click()
    ui.wait_for_url(lambda url: url.split("?")[0].endswith("/admin"), timeout=10_000)
    assert _row(admin.shop.id).skipped_at is not None
    ui = admin.open(PAGE)
    ui.locator(".banner", has_text="You put setup aside on").wait_for()
    assert admin.axe() == []
    ui.get_by_role("button", name="Resume setup").click()
    ui.get_by_role("button", name="Skip for now").wait_for(timeout=10_000)
    assert _row(admin.shop.id).skipped_at is None
    admin.assert_clean(refused)
