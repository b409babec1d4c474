"""The home page in Chromium: the revenue chart draws in its reserved box, nothing shifts, axe finds nothing serious.

On a cold cache of a large shop the page is drawn first with "Calculating…" boxes and home.js
fills them from ``GET /api/admin/analytics/home``: nothing shifts there either, and a failed
request says so and offers a retry.
"""

from __future__ import annotations

import pytest

from app.extensions import redis_holder
from app.web.pages import home
from tests.browser.admin_harness import AdminBrowser
from tests.pages.conftest import open_woo

LAYOUT_SHIFT = """() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => { for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value; })
    .observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve(total), 500);
})"""


def test_the_revenue_chart_draws_in_its_reserved_box(admin_browser):
    # given a shop with orders in the last 12 months
    admin = admin_browser

    # when the home page opens
    ui = admin.open("/admin")

    # then uPlot draws a canvas in the box CSS reserved, the page does not shift, and axe is content
    ui.wait_for_selector("#revenue-chart canvas", timeout=10_000)
    width, height = ui.eval_on_selector("#revenue-chart", "box => [box.clientWidth, box.clientHeight]")
    assert height == 240 and width > 200
    assert ui.eval_on_selector("#revenue-chart canvas", "canvas => canvas.getBoundingClientRect().height") <= 240
    assert ui.evaluate(LAYOUT_SHIFT) <= 0.1
    assert ui.locator("#revenue table.data tbody tr").count() == 12
    assert ui.locator("#cohorts table.heatmap").count() == 1
    assert admin.axe() == []
    assert [error for error in admin.tab.errors if "Failed to load resource" not in error] == []
    admin.screenshot("home")


def test_a_new_shop_sees_explanations_not_a_blank_chart(tab, app, client, devstore, live_app):
    # given a WooCommerce store just connected, with no orders
    admin = AdminBrowser("woocommerce", tab, open_woo(app, client, devstore), live_app, devstore.url)

    # when its home page opens, then the empty states explain and no chart script runs
    ui = admin.open("/admin")
    assert ui.locator("#revenue-chart").count() == 0
    ui.locator("text=Appears after your first 30 days of orders").wait_for()
    assert admin.axe() == []


@pytest.fixture()
def cold(admin_browser, monkeypatch):
    """``admin_browser``'s shop treated as too large to compute its figures while the page renders, none kept."""
    monkeypatch.setattr(home, "INLINE_ORDERS", 1)
    if admin_browser.platform == "woocommerce":
        # Entering from the store's wp-admin lands on the home page: let its figures be fetched first.
        admin_browser.enter_from_store()
        admin_browser.page.wait_for_load_state("networkidle")
    client = redis_holder.get()
    for key in client.scan_iter("cb:home:*"):
        client.delete(key)
    return admin_browser


def _page_errors(admin) -> list[str]:
    return [error for error in admin.tab.errors if "Failed to load resource" not in error]


def test_on_a_cold_cache_the_figures_arrive_after_the_page_without_moving_it(cold):
    # given a large shop whose order figures are not kept
    admin = cold

    # when the home page opens
    ui = admin.open("/admin")

    # then the live cards are there from the start, the order figures fill their boxes once fetched,
    # the chart draws, the subtitle says when they were computed, and the layout does not shift
    assert ui.locator('[data-metric="members"]').count() == 1
    ui.wait_for_selector("#home-figures[data-loaded]", state="attached", timeout=20_000)
    ui.wait_for_selector("#revenue-chart canvas", timeout=10_000)
    assert ui.locator("[data-pending], [data-pending-card]").count() == 0
    assert ui.locator('[data-metric="repeat_rate"] [data-value]').inner_text().endswith("%")
    assert ui.locator('[data-metric="returning_revenue"] [data-value]').count() == 1
    assert ui.locator("#revenue table.data tbody tr").count() == 12
    assert ui.locator("#cohorts table.heatmap").count() == 1
    assert "Figures as of " in ui.locator(".page-header p.subdued").inner_text()
    assert ui.locator("[data-status]").inner_text() == "The figures from your orders are shown."
    assert ui.locator("[data-failed]").is_hidden()
    assert ui.evaluate(LAYOUT_SHIFT) <= 0.1
    assert admin.axe() == []
    assert _page_errors(admin) == []
    admin.screenshot("home-cold")


def test_when_the_figures_cannot_be_fetched_the_page_says_so_and_retries(cold):
    # given a large shop whose order figures are not kept, and a first request for them that fails
    admin = cold
    calls = []

    def first_fails(route):
        calls.append(route.request.url)
        if len(calls) == 1:
            route.fulfill(status=503, content_type="application/json", body='{"error": "unavailable"}')
        else:
            route.continue_()

    admin.page.route("**/api/admin/analytics/home*", first_fails)

    # when the home page opens, then it says the figures couldn't be calculated and offers a retry
    ui = admin.open("/admin")
    failed = ui.locator("[data-failed]")
    failed.wait_for(state="visible", timeout=20_000)
    admin.tab.errors[:] = _page_errors(admin)  # the 503's "Failed to load resource" is what this test wants
    assert "couldn't be calculated" in failed.inner_text()
    assert ui.locator('[data-metric="repeat_rate"][data-pending-card]').count() == 1
    assert admin.axe() == []

    # when the merchant tries again, then the figures appear and the message goes
    ui.get_by_role("button", name="Try again").click()
    ui.wait_for_selector("#home-figures[data-loaded]", state="attached", timeout=20_000)
    assert failed.is_hidden()
    assert ui.locator('[data-metric="repeat_rate"] [data-value]').count() == 1
    assert len(calls) == 2 and "locale=en" in calls[0]
    assert admin.tab.errors == []
