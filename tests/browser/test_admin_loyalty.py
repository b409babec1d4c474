"""The loyalty pages in Chromium: the live preview, inline errors, list editing, the member-count confirmation."""

from __future__ import annotations

import copy

from sqlalchemy import func, select

from app.extensions import db
from app.loyalty import ledger
from app.loyalty import program as programs
from app.store.models import LoyaltyProgram

PAGES = ("/admin/loyalty", "/admin/loyalty/rewards", "/admin/loyalty/tiers", "/admin/loyalty/referrals",
         "/admin/loyalty/challenges")


def _program(shop_id: int) -> programs.Program:
    db.session().expire_all()
    found = programs.current(db.session(), shop_id)
    assert found is not None
    return found




def _versions(shop_id: int) -> int:
    return db.session().execute(select(func.count()).select_from(LoyaltyProgram)
                                .where(LoyaltyProgram.shop_id == shop_id)).scalar_one()


def test_the_preview_follows_the_form_and_a_save_keeps_it(admin_browser):
    admin = admin_browser
    ui = admin.open("/admin/loyalty/rewards")
    # the preview shows the stored rewards in the widget's words
    reward = ui.locator('#widget-preview [data-reward="5-off"]')
    reward.wait_for()
    assert "500 points" in reward.inner_text()
    # typing a new price updates the preview without saving
    ui.fill('[name="rewards.0.points"]', "650")
    ui.locator('#widget-preview [data-reward="5-off"]', has_text="650 points").wait_for()
    assert _versions(admin.shop.id) == 1
    # a new reward added in the form appears in the preview, and saving stores it
    ui.click('[data-add="rewards"]')
    ui.fill('[name="rewards.4.name"]', "Free tote bag")
    ui.fill('[name="rewards.4.id"]', "tote")
    ui.select_option('[name="rewards.4.kind"]', "free_shipping")
    assert ui.locator('[name="rewards.4.value"]').is_disabled()
    ui.locator('#widget-preview [data-reward="tote"]', has_text="Free tote bag").wait_for()
    ui.click("button[type=submit]")
    ui.locator("#toast", has_text="Rewards saved").wait_for()
    program = _program(admin.shop.id)
    assert [(r["id"], r["points"], r["kind"], r["value"]) for r in program["rewards"]][::4] == [
        ("5-off", 650, "fixed_amount", "5"), ("tote", 500, "free_shipping", "0")]
    assert admin.axe() == []
    assert admin.script_errors() == []


def test_a_bad_value_is_marked_inline_and_the_servers_refusal_names_the_field(admin_browser):
    admin = admin_browser
    ui = admin.open("/admin/loyalty")
    # the browser's own constraint, shown beside the field as soon as it is left
    ui.fill('[name="pending_days"]', "400")
    ui.locator('[name="signup_points"]').focus()
    ui.locator('.field-error[data-for="pending_days"]').wait_for()
    assert ui.get_attribute('[name="pending_days"]', "aria-invalid") == "true"
    assert ui.locator('.field-error[data-for="pending_days"]').inner_text() != ""
    ui.fill('[name="pending_days"]', "20")
    assert ui.get_attribute('[name="pending_days"]', "aria-invalid") is None
    # a rule only the server knows (reward points in steps) comes back from the preview beside its field
    ui = admin.open("/admin/loyalty/rewards")
    ui.fill('[name="rewards.3.max_points"]', "5050")
    ui.locator('.field-error[data-for="rewards.3.max_points"]', has_text="multiples").wait_for()
    ui.locator("[data-preview-status]", has_text="last valid").wait_for()
    assert _versions(admin.shop.id) == 1
    assert admin.script_errors() == []


def test_a_change_that_reaches_members_asks_first_with_the_count(admin_browser):
    admin = admin_browser
    session = db.session()
    for name in ("gold-1", "gold-2"):
        member = ledger.member_for(session, admin.shop.id, customer_external_id=name, email=f"{name}@example.com")
        member.tier = "Gold"
    session.commit()
    ui = admin.open("/admin/loyalty/tiers")
    ui.fill('[name="tiers.2.threshold"]', "3000")
    # cancelling keeps the program
    ui.click("button[type=submit]")
    dialog = ui.locator("#confirm-dialog")
    dialog.locator("[data-confirm-text]", has_text="2 members are in Gold").wait_for()
    assert "raising its threshold from 2,000 to 3,000" in dialog.inner_text()
    dialog.locator('button[value="cancel"]').click()
    assert _versions(admin.shop.id) == 1
    # confirming saves it
    ui.click("button[type=submit]")
    dialog.locator("[data-confirm-text]", has_text="2 members are in Gold").wait_for()
    dialog.locator('button[value="confirm"]').click()
    ui.locator("#toast", has_text="Tiers saved").wait_for()
    assert _program(admin.shop.id)["tiers"][2]["threshold"] == 3000
    # a change no member feels is saved without asking
    ui.locator("#toast").wait_for(state="hidden")
    ui.fill('[name="tiers.1.entry_points"]', "120")
    ui.click("button[type=submit]")
    ui.locator("#toast", has_text="Tiers saved").wait_for()
    assert _program(admin.shop.id)["tiers"][1]["entry_points"] == 120
    assert admin.script_errors() == []


def test_every_loyalty_page_passes_the_accessibility_audit(admin_browser):
    admin = admin_browser
    rewards = copy.deepcopy(programs.DEFAULTS["rewards"])
    session = db.session()
    programs.update(session, admin.shop.id, {"rewards": rewards}, actor="test")
    session.commit()
    for path in PAGES:
        ui = admin.open(path)
        ui.locator("#widget-preview .wp-panel").wait_for()
        assert admin.axe() == [], path
    assert admin.script_errors() == []
