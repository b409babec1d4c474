"""The customers pages in Chromium: search, the points form's inline error and new balance, export, erasure."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.extensions import db
from app.loyalty import ledger
from app.store.models import Customer, LoyaltyMember, Order, PrivacyRequest


def _buyer(shop_id: int) -> Customer:
    session = db.session()
    external_id = session.execute(
        select(Order.customer_external_id).where(Order.shop_id == shop_id, Order.customer_external_id.is_not(None))
        .group_by(Order.customer_external_id).order_by(func.count().desc(), Order.customer_external_id)
    ).scalars().first()
    return session.execute(select(Customer).where(Customer.shop_id == shop_id, Customer.external_id == external_id)
                           ).scalar_one()


def _available(customer: Customer) -> int:
    session = db.session()
    session.expire_all()
    member = session.execute(select(LoyaltyMember).where(LoyaltyMember.shop_id == customer.shop_id,
                                                         LoyaltyMember.customer_external_id == customer.external_id)
                             ).scalar_one_or_none()
    return ledger.balance(session, member.id).available if member else 0


def test_search_opens_the_profile_and_the_points_form_shows_errors_and_the_new_balance(admin_browser):
    admin = admin_browser
    customer = _buyer(admin.shop.id)
    email, customer_id = customer.email, customer.id
    ui = admin.open("/admin/customers")
    assert admin.axe() == []
    admin.screenshot("customers")
    ui.fill("#customer-search", email[:7])
    ui.click("button[type=submit]")
    ui = admin.wait_for_navigation()
    ui.locator("table.data a", has_text=customer.first_name).first.click()
    ui = admin.wait_for_navigation()
    ui.locator("h1", has_text=customer.first_name).wait_for()
    assert admin.axe() == []
    admin.screenshot("customer")
    before = _available(customer)
    # a deduction beyond the balance is refused beside the points field
    ui.fill('[name="points"]', str(-(before + 1000)))
    ui.fill('[name="reason"]', "Testing the limit")
    ui.click("[data-adjust] button[type=submit]")
    ui.locator('.field-error[data-for="points"]', has_text="below zero").wait_for()
    assert ui.get_attribute('[name="points"]', "aria-invalid") == "true"
    assert _available(customer) == before
    # a valid adjustment: the new balance is shown, the ledger holds it
    ui.fill('[name="points"]', "125")
    ui.fill('[name="reason"]', "Goodwill for a late parcel")
    ui.click("[data-adjust] button[type=submit]")
    ui.locator("[data-adjust-result]", has_text="New balance").wait_for()
    assert _available(customer) == before + 125
    assert ui.locator("[data-balance]").inner_text().replace(",", "") == str(before + 125)
    assert ui.input_value('[name="points"]') == ""
    admin.script_errors()
    # the export downloads the customer's data as JSON
    with admin.page.expect_download() as download:
        ui.click("[data-export]")
    saved = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert saved["customer"]["email"] == email
    assert any(entry["reason"] == "Goodwill for a late parcel" for entry in saved["loyalty"]["ledger"])
    # the erasure asks first, says what goes, then erases and reloads
    ui.click("[data-erase-open]")
    dialog = ui.locator("#erase-dialog")
    dialog.wait_for()
    assert "This cannot be undone." in dialog.inner_text()
    assert admin.axe() == []
    dialog.locator("button[value=cancel]").click()
    db.session().expire_all()
    assert db.session().get(Customer, customer_id).email == email
    ui.click("[data-erase-open]")
    dialog.locator("[data-erase-confirm]").click()
    ui.locator(".banner.warning", has_text="was erased on").wait_for(timeout=15_000)
    db.session().expire_all()
    assert db.session().get(Customer, customer_id).email is None
    kinds = db.session().execute(select(PrivacyRequest.kind).where(PrivacyRequest.shop_id == admin.shop.id)
                                 .order_by(PrivacyRequest.id)).scalars().all()
    assert kinds == ["data_request", "customer_redact"]
    assert admin.script_errors() == []
