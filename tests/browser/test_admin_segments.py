"""The segments pages in Chromium: the rule builder, its live count and inline errors, saving, the audit."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.store.models import CustomerMetrics, Segment, SegmentMember


def _matching(shop_id: int, least_orders: int) -> int:
    return db.session().execute(select(func.count()).select_from(CustomerMetrics).where(
        CustomerMetrics.shop_id == shop_id, CustomerMetrics.order_count >= least_orders)).scalar_one()


def test_the_builder_counts_marks_a_bad_row_and_creates_the_segment(admin_browser):
    admin = admin_browser
    ui = admin.open("/admin/segments/new")
    preview = ui.locator("[data-preview]")
    # the starting row (total spent more than 500) is counted at once
    preview.locator("text=/match/").wait_for()
    # a second row: the operators follow the field
    ui.click("[data-add-row]")
    row = ui.locator("[data-row]").nth(1)
    row.locator('[data-role="field"]').select_option("tags")
    assert row.locator('[data-role="op"] option').evaluate_all("els => els.map(e => e.value)") == [
        "contains", "not_contains"]
    row.locator('[data-role="field"]').select_option("order_count")
    assert row.locator('[data-role="op"] option').evaluate_all("els => els.map(e => e.value)") == [
        "=", "!=", "<", "<=", ">", ">="]
    assert row.locator('[data-role="value"]').get_attribute("data-field") == "rules.all.1.value"
    # an empty number comes back from the preview beside that row's input
    row.locator('[data-role="op"]').select_option(">=")
    row.locator('[data-role="value"]').fill("")
    row.locator('.field-error[data-for="rules.all.1.value"]', has_text="must be a number").wait_for()
    assert row.locator('[data-role="value"]').get_attribute("aria-invalid") == "true"
    # removing the first row renumbers the second; a valid value gives the count the database holds
    ui.locator("[data-row]").nth(0).locator("[data-remove-row]").click()
    row = ui.locator("[data-row]").nth(0)
    assert row.locator('[data-role="value"]').get_attribute("data-field") == "rules.all.0.value"
    row.locator('[data-role="value"]').fill("2")
    expected = _matching(admin.shop.id, 2)
    words = {0: "No customers match", 1: "1 customer matches"}.get(expected, f"About {expected} customers match")
    preview.locator(f"text={words}").wait_for()
    # switching to "any" renumbers the paths
    ui.check('input[name="combinator"][value="any"]')
    assert row.locator('[data-role="value"]').get_attribute("data-field") == "rules.any.0.value"
    # saving creates it and opens its page
    ui.fill('[name="name"]', "Repeat buyers")
    ui.click("button[type=submit]")
    ui = admin.wait_for_navigation()
    ui.locator("h1", has_text="Repeat buyers").wait_for()
    db.session().expire_all()
    segment = db.session().execute(select(Segment).where(Segment.shop_id == admin.shop.id,
                                                         Segment.key == "repeat_buyers")).scalar_one()
    assert segment.rules == {"any": [{"field": "order_count", "op": ">=", "value": 2}]}
    members = db.session().execute(select(func.count()).select_from(SegmentMember)
                                   .where(SegmentMember.segment_id == segment.id)).scalar_one()
    assert members == expected == ui.locator("[data-member]").count()
    assert admin.script_errors() == []


def test_every_segments_page_passes_the_accessibility_audit(admin_browser):
    admin = admin_browser
    for path in ("/admin/segments", "/admin/segments/new", "/admin/segments/vip", "/admin/segments/at_risk"):
        admin.open(path)
        assert admin.axe() == [], path
    assert admin.script_errors() == []


def test_changing_rules_asks_first_and_a_merchants_segment_can_be_deleted(admin_browser):
    admin = admin_browser
    created = admin.view.api("POST", "/api/admin/segments", {
        "name": "Big spenders", "rules": {"all": [{"field": "total_spent", "op": ">", "value": 100}]}})
    assert created.status_code == 201
    ui = admin.open("/admin/segments/big_spenders")
    ui.locator('[data-role="value"]').first.fill("50")
    # cancelling the question keeps the rules
    ui.click("button[type=submit]")
    dialog = ui.locator("#confirm-dialog")
    dialog.locator("[data-confirm-text]", has_text="Members are recomputed at once").wait_for()
    dialog.locator('button[value="cancel"]').click()
    db.session().expire_all()
    stored = db.session().execute(select(Segment).where(Segment.shop_id == admin.shop.id,
                                                        Segment.key == "big_spenders")).scalar_one()
    assert stored.rules["all"][0]["value"] == 100
    # confirming saves them and reloads the page with the new members
    ui.click("button[type=submit]")
    dialog.locator('button[value="confirm"]').click()
    ui = admin.wait_for_navigation()
    ui.locator(".page-header .subdued", has_text="50").wait_for()
    db.session().expire_all()
    assert db.session().get(Segment, stored.id).rules == {"all": [{"field": "total_spent", "op": ">", "value": 50}]}
    # deleting asks, then goes back to the list without it
    ui.click("[data-delete-segment]")
    ui.locator("#confirm-dialog").locator('button[value="confirm"]').click()
    ui = admin.wait_for_navigation()
    ui.locator("h1", has_text="Segments").wait_for()
    db.session().expire_all()
    assert db.session().get(Segment, stored.id).deleted_at is not None
    assert ui.locator('[data-segment="big_spenders"]').count() == 0
    assert admin.script_errors() == []
