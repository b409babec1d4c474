"""The flow page in Chromium: the live preview of the unsaved step, saving a delay in days, the
API's 422 beside the delay input, the test send's result."""

from __future__ import annotations

from app.extensions import db
from app.flows import definitions
from tests.helpers import run_jobs
from tests.pages.conftest import admin_smtp_server, mailbox  # noqa: F401  (fixtures)

CART = definitions.ABANDONED_CART
PAGE = f"/admin/flows/{CART}"






def _flow(shop_id: int) -> definitions.FlowVersion:
    db.session().expire_all()
    flow = definitions.current(db.session(), shop_id, CART)
    assert flow is not None
    return flow


def test_the_preview_follows_the_draft_and_the_form_saves_delays_in_days(admin_browser):
    admin = admin_browser
    refused = admin.watch_refusals()
    ui = admin.open(PAGE)
    assert admin.axe() == []
    preview = ui.frame_locator("iframe.email-preview")
    preview.locator("body", has_text="Sample product").wait_for()
    # typing a subject and an opening text shows them in the preview, unsaved
    ui.fill("#step-0-subject", "A mug is waiting for you")
    ui.fill("#step-0-intro", "We kept your cart for two days.")
    ui.locator("[data-preview-subject]", has_text="A mug is waiting for you").wait_for()
    preview.locator("body", has_text="We kept your cart for two days.").wait_for()
    assert _flow(admin.shop.id).steps[0]["subject"] is None
    # the last reminder offers a code: the preview shows it
    ui.select_option("#preview-step", "2")
    ui.check("#step-2-offer")
    ui.fill("#step-2-value", "15")
    preview.locator("body", has_text="CB-PREVIEW00").wait_for()
    # a delay of 8 days is more than a cart's week: the API's refusal shows beside the delay input
    ui.fill("#step-2-delay", "8")
    ui.select_option("#step-2-unit", "days")
    ui.click("#flow-form button[type=submit]")
    ui.locator('.field-error[data-for="steps.2.delay_hours"]', has_text="at most 168").wait_for()
    assert ui.get_attribute("#step-2-delay", "aria-invalid") == "true"
    assert _flow(admin.shop.id).version == 1
    # 2 days for the second reminder and 5 days for the last one save as hours
    ui.fill("#step-1-delay", "2")
    ui.select_option("#step-1-unit", "days")
    ui.fill("#step-2-delay", "5")
    ui.click("#flow-form button[type=submit]")
    ui.locator("#toast", has_text="Flow saved").wait_for()
    flow = _flow(admin.shop.id)
    assert [step["delay_hours"] for step in flow.steps] == [1, 48, 120]
    assert (flow.steps[0]["subject"], flow.steps[0]["intro"]) == ("A mug is waiting for you",
                                                                  "We kept your cart for two days.")
    assert flow.steps[2]["incentive"] == {"kind": "percentage", "value": "15", "expires_hours": 48,
                                          "minimum_subtotal": None}
    # turning the flow off asks first, then stores it
    ui.locator("#toast").wait_for(state="hidden")
    ui.uncheck("#flow-enabled")
    ui.click("#flow-form button[type=submit]")
    ui.locator("#confirm-dialog [data-confirm-text]", has_text="ends its runs in progress").wait_for()
    ui.click('#confirm-dialog button[value="confirm"]')
    ui.locator("#toast", has_text="Flow saved").wait_for()
    assert _flow(admin.shop.id).is_enabled is False
    admin.assert_clean(refused, expected=(422,))


def test_a_test_send_reports_its_result(admin_browser, mailbox):  # noqa: F811
    admin = admin_browser
    refused = admin.watch_refusals()
    listed = admin.open("/admin/flows")
    assert admin.axe() == []
    listed.click(f'tr[data-flow="{CART}"] a')
    ui = admin.wait_for_navigation()
    ui.locator("#test-email").wait_for()
    ui.fill("#step-0-subject", "Drafted for the test")
    ui.fill("#test-email", "owner@example.com")
    ui.click("#test-send-form button[type=submit]")
    ui.locator("[data-test-result]", has_text="is on its way").wait_for()
    assert run_jobs() == []
    ui.locator("[data-test-result]", has_text="was sent to owner@example.com").wait_for(timeout=10_000)
    (received,) = mailbox.received
    assert received.message["Subject"] == "[Test] Drafted for the test"
    admin.assert_clean(refused)
