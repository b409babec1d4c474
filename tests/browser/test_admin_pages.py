"""Every admin page in Chromium on both platforms: no script error, no serious accessibility
violation (axe-core), nothing pushed about after it first paints, and a screenshot of each.

``COMEBACK_SCREENSHOTS=1`` writes the screenshots to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.store.models import Customer

PAGES = [("home", "/admin"), ("onboarding", "/admin/onboarding"), ("loyalty", "/admin/loyalty"),
         ("loyalty-rewards", "/admin/loyalty/rewards"), ("loyalty-tiers", "/admin/loyalty/tiers"),
         ("loyalty-referrals", "/admin/loyalty/referrals"), ("loyalty-challenges", "/admin/loyalty/challenges"),
         ("flows", "/admin/flows"), ("flow", "/admin/flows/abandoned_cart"), ("segments", "/admin/segments"),
         ("segment-new", "/admin/segments/new"), ("segment", "/admin/segments/vip"),
         ("customers", "/admin/customers"), ("customer", "/admin/customers/{customer}"),
         ("settings", "/admin/settings")]

SHIFTS = """() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => { for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value; })
    .observe({type: 'layout-shift', buffered: true});
  setTimeout(() => resolve(total), 500);
})"""


def _customer(shop_id: int) -> int:
    return db.session().execute(select(Customer.id).where(Customer.shop_id == shop_id, Customer.email.isnot(None))
                                .order_by(Customer.id)).scalars().first()


def test_every_page_is_accessible_stable_and_photographed(admin_browser):
    customer = _customer(admin_browser.shop.id)
    report = {}
    for name, path in PAGES:
        ui = admin_browser.open(path.format(customer=customer))
        assert ui.locator("h1").count() == 1, f"{path}: one page title"
        violations = admin_browser.axe()
        report[path] = violations
        shift = ui.evaluate(SHIFTS)
        assert shift <= 0.1, f"{path}: layout shift {shift:.3f}"
        admin_browser.screenshot(name)
    assert {path: found for path, found in report.items() if found} == {}
    errors = [error for error in admin_browser.tab.errors if "Failed to load resource" not in error]
    admin_browser.tab.errors.clear()
    assert errors == []


@pytest.mark.parametrize("language, title", [("de", "Kunden"), ("fr", "Clients")])
def test_the_admin_reads_in_the_merchants_language(shopify_admin, language, title):
    ui = shopify_admin.open(f"/admin/customers?locale={language}")
    assert ui.locator("html").get_attribute("lang") == language
    assert ui.locator("nav.tabs a[aria-current=page]").inner_text().strip() == title
    assert shopify_admin.axe() == []
