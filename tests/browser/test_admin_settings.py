"""The settings page in Chromium: the live launcher preview and contrast warning, saving each card, inline errors."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.flows import definitions
from app.loyalty import program as programs
from app.store.models import MessagingSettings

PAGE = "/admin/settings"


@pytest.fixture(autouse=True)
def _shell_favicon(admin_browser):
    """Drop the late 404 of the devstore admin shell's favicon (no page response of ours failed)."""
    refused: list[int] = []
    admin_browser.page.on("response", lambda response: refused.append(response.status)
                          if response.status == 404 else None)
    yield
    if not refused:
        admin_browser.tab.errors[:] = [error for error in admin_browser.tab.errors if "status of 404" not in error]


def _saving(admin, path: str):
    """Wait for the form's PUT to ``path`` to be answered."""
    return admin.page.expect_response(lambda response: response.request.method == "PUT" and path in response.url)






def _widget(shop_id: int) -> dict:
    db.session().expire_all()
    return programs.current(db.session(), shop_id)["widget"]


def _messaging(shop_id: int) -> dict:
    db.session().expire_all()
    row = db.session().get(MessagingSettings, shop_id)
    return dict(row.settings) if row is not None else {}


def test_the_preview_follows_the_form_and_saving_stores_the_look(admin_browser):
    admin = admin_browser
    refused = admin.watch_refusals()
    ui = admin.open(PAGE)
    assert admin.axe() == []
    stage = ui.locator("#launcher-stage")
    assert stage.locator("[data-preview-label]").inner_text() == "Rewards"
    # label and position show at once, nothing is saved
    ui.fill('[name="widget.launcher_label"]', "Club perks")
    ui.select_option('[name="widget.position"]', "bottom-left")
    assert stage.locator("[data-preview-label]").inner_text() == "Club perks"
    assert stage.get_attribute("data-position") == "bottom-left"
    assert "Club perks" in ui.locator("[data-preview-description]").inner_text()
    # a main colour close to the panel's white: the warning appears, and the text on it turns dark
    ui.locator('[name="widget.primary_color"]').fill("#eeeeee")
    ui.locator("[data-contrast-banner]", has_text="below 3:1").wait_for()
    assert stage.evaluate("el => el.style.getPropertyValue('--stage-on-primary')") == "#1a1a1a"
    assert _widget(admin.shop.id)["launcher_label"] is None
    # a dark one: the warning goes, the text turns white
    ui.locator('[name="widget.primary_color"]').fill("#203040")
    ui.locator("[data-contrast-banner]").wait_for(state="detached")
    assert stage.evaluate("el => el.style.getPropertyValue('--stage-on-primary')") == "#ffffff"
    with _saving(admin, "/api/admin/loyalty/program"):
        ui.click('#branding-form button[type=submit]')
    ui.locator("#toast", has_text="Widget saved").wait_for()
    widget = _widget(admin.shop.id)
    assert (widget["launcher_label"], widget["position"], widget["primary_color"]) == (
        "Club perks", "bottom-left", "#203040")
    admin.assert_clean(refused)


def test_contact_rules_holdouts_and_language_save_from_their_cards(admin_browser):
    admin = admin_browser
    refused = admin.watch_refusals()
    ui = admin.open(PAGE)
    # quiet hours off: the times are disabled and the rule is stored as none
    ui.uncheck("#quiet-on")
    assert ui.locator('[name="quiet_hours.start"]').is_disabled()
    ui.fill('[name="contact_budget_hours"]', "30")
    with _saving(admin, "/api/admin/messaging/settings"):
        ui.click("#contact-form button[type=submit]")
    ui.locator("#toast", has_text="Contact rules saved").wait_for()
    stored = _messaging(admin.shop.id)
    assert stored["quiet_hours"] is None and stored["contact_budget_hours"] == 30.0
    # and on again with other times
    ui.check("#quiet-on")
    ui.fill('[name="quiet_hours.start"]', "22:00")
    ui.fill('[name="quiet_hours.end"]', "07:30")
    with _saving(admin, "/api/admin/messaging/settings"):
        ui.click("#contact-form button[type=submit]")
    assert _messaging(admin.shop.id)["quiet_hours"] == {"start": "22:00", "end": "07:30"}
    # a holdout in percent is stored as a share
    ui.fill("#holdout-win_back", "12.5")
    with _saving(admin, "/api/admin/flows/win_back"):
        ui.locator("#holdout-win_back").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    ui.locator("#toast", has_text="Holdout saved for Win-back").wait_for()
    db.session().expire_all()
    assert float(definitions.current(db.session(), admin.shop.id, "win_back")["holdout_share"]) == 0.125
    # the email language
    ui.select_option('[name="language"]', "es")
    with _saving(admin, "/api/admin/messaging/settings"):
        ui.locator('[name="language"]').locator("xpath=ancestor::form").locator("button[type=submit]").click()
    ui.locator("#toast", has_text="Email language saved").wait_for()
    assert _messaging(admin.shop.id)["language"] == "es"
    admin.assert_clean(refused)


def test_bad_values_are_marked_beside_their_fields(admin_browser):
    admin = admin_browser
    refused = admin.watch_refusals()
    ui = admin.open(PAGE)
    # the browser's own range check, shown beside the field, nothing sent
    ui.fill("#holdout-abandoned_cart", "60")
    ui.locator("#holdout-abandoned_cart").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    ui.locator('#err-holdout-abandoned_cart:not(:empty)').wait_for()
    assert ui.get_attribute("#holdout-abandoned_cart", "aria-invalid") == "true"
    db.session().expire_all()
    assert float(definitions.current(db.session(), admin.shop.id, "abandoned_cart")["holdout_share"]) == 0.10
    # a rule only the server knows comes back beside its field
    ui.fill('[name="sender_name"]', "Plants <and> more")
    ui.locator('[name="sender_name"]').locator("xpath=ancestor::form").locator("button[type=submit]").click()
    ui.locator('.field-error[data-for="sender_name"]', has_text="without <").wait_for()
    assert ui.get_attribute('[name="sender_name"]', "aria-invalid") == "true"
    assert "sender_name" not in _messaging(admin.shop.id)
    assert admin.axe() == []
    # the refused call is logged by the browser as a failed request; nothing else went wrong
    admin.assert_clean(refused, expected=(422,))
