"""The storefront widget in real Chromium on devstore's pages, on both platforms.

A visitor sees the launcher and the program with a call to join; a member sees their own
balance, redeems a reward, gets a code the store really holds and applies it to the cart; all
of it by keyboard alone and on a phone-sized screen, in the shop's language.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import Storefront, make_storefront
from tests.helpers import run_jobs

LAUNCHER = "[data-cb=launcher]"
PANEL = "[data-cb=panel]"


def _open(tab, url: str) -> None:
    tab.page.goto(url)
    tab.page.locator(LAUNCHER).wait_for(state="visible", timeout=15_000)
    tab.page.locator(LAUNCHER).click()
    tab.page.locator(PANEL).wait_for(state="visible", timeout=15_000)


def _member(storefront: Storefront, points: int):
    customer = next(c for c in storefront.customers() if c.email)
    storefront.give(customer, points)
    return customer


def test_a_visitor_sees_the_program_and_is_asked_to_join(tab, storefront):
    _open(tab, storefront.home)
    page = tab.page
    join, sign_in = page.locator("[data-cb=join]"), page.locator("[data-cb=sign-in]")
    assert join.is_visible() and sign_in.is_visible()
    expected = ("/account/register", "/account/login") if storefront.platform == "shopify" else (
        "/my-account/", "/my-account/")
    assert join.get_attribute("href").endswith(expected[0]) and sign_in.get_attribute("href").endswith(expected[1])
    rewards = page.locator("[data-cb=reward]")
    assert rewards.count() >= 4 and "5 off your order" in page.locator(PANEL).inner_text()
    # a visitor can see what rewards cost but has nothing to redeem, and no member data is shown
    assert page.locator("[data-cb=redeem]").count() == 0 and page.locator("[data-cb=balance]").count() == 0
    tab.screenshot(f"{storefront.platform}-visitor")


def test_a_member_sees_their_balance_and_redeems_a_code_the_store_holds(tab, storefront):
    customer = _member(storefront, 1_250)
    _open(tab, storefront.signed_in(customer))
    page = tab.page
    assert "1,250" in page.locator("[data-cb=balance]").inner_text()
    assert page.locator("[data-cb=tier]").inner_text().strip().startswith("Bronze")
    progress = page.locator("[data-cb=progress]")
    assert progress.get_attribute("role") == "progressbar" and progress.get_attribute("aria-valuemax")
    # affordable rewards first: 10% off (1,000 points) is affordable, and listed before nothing dearer
    affordable = page.locator("[data-cb=reward]:has([data-cb=redeem]:enabled)")
    assert affordable.count() >= 3
    tab.screenshot(f"{storefront.platform}-member")

    page.locator("[data-cb=reward][data-reward='5-off'] [data-cb=redeem]").click()
    code_box = page.locator("[data-cb=code]").first
    code_box.wait_for(state="visible", timeout=10_000)
    code = code_box.inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9-]{8,}", code), code
    # the store's code is written by a job; the widget waits for it, then offers to apply it
    deadline = time.monotonic() + 30
    while not storefront.has_code(code):
        assert run_jobs() == [] and time.monotonic() < deadline
        time.sleep(0.2)
    apply = page.locator("[data-cb=apply]").first
    apply.wait_for(state="visible", timeout=15_000)
    assert "750" in page.locator("[data-cb=balance]").inner_text()
    tab.screenshot(f"{storefront.platform}-code")
    apply.click()
    page.wait_for_load_state()
    discount = page.locator(".cart-discount")
    assert discount.get_attribute("data-code").upper() == code and discount.get_attribute("data-valid") == "true"


def test_the_widget_works_by_keyboard_alone(tab, storefront):
    customer = _member(storefront, 600)
    page = tab.page
    page.goto(storefront.signed_in(customer))
    page.locator(LAUNCHER).wait_for(state="visible", timeout=15_000)
    launcher = page.locator(LAUNCHER)
    for _ in range(40):  # Tab through the store's page until the launcher has the focus
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
    else:
        pytest.fail("the launcher cannot be reached with Tab")
    assert launcher.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    page.locator(PANEL).wait_for(state="visible", timeout=15_000)
    page.locator("[data-cb=balance]").wait_for(state="visible", timeout=15_000)
    assert launcher.get_attribute("aria-expanded") == "true"
    panel = page.locator(PANEL)
    assert panel.get_attribute("role") == "dialog" and panel.get_attribute("aria-modal") == "true"
    inside = "el => el.contains(el.getRootNode().activeElement)"
    assert panel.evaluate(inside), "the focus did not move into the panel"
    # the focus stays in the dialog however far one tabs, both ways
    for key in ["Tab"] * 30 + ["Shift+Tab"] * 30:
        page.keyboard.press(key)
        assert panel.evaluate(inside), f"{key} left the panel"
    # every control has a name a screen reader can say
    unnamed = panel.evaluate("""el => [...el.querySelectorAll('button, a[href], input')]
        .filter(c => !(c.getAttribute('aria-label') || c.textContent.trim() || c.labels?.length || c.title))
        .map(c => c.outerHTML)""")
    assert unnamed == []
    # a reward redeemed with the keyboard alone
    redeem = page.locator("[data-cb=reward][data-reward='5-off'] [data-cb=redeem]")
    redeem.focus()
    page.keyboard.press("Enter")
    page.locator("[data-cb=code]").first.wait_for(state="visible", timeout=10_000)
    page.keyboard.press("Escape")
    page.locator(PANEL).wait_for(state="hidden", timeout=5_000)
    assert launcher.evaluate("el => el.getRootNode().activeElement === el"), "the focus did not return"
    assert launcher.get_attribute("aria-expanded") == "false"


def test_on_a_phone_the_panel_fills_the_screen(phone_tab, storefront):
    customer = _member(storefront, 300)
    _open(phone_tab, storefront.signed_in(customer))
    page = phone_tab.page
    box = page.locator(PANEL).bounding_box()
    assert box["width"] >= 370 and box["height"] >= 600, box
    # the launcher steps aside while the panel fills the screen (its close button is in the panel)
    assert not page.locator(LAUNCHER).is_visible()
    # nothing sticks out sideways, and the last section can be scrolled to
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator("[data-cb=history]").scroll_into_view_if_needed()
    assert page.locator("[data-cb=history]").is_visible()
    page.locator("[data-cb=close]").click()
    page.locator(PANEL).wait_for(state="hidden")
    assert page.locator(LAUNCHER).is_visible()
    phone_tab.screenshot(f"{storefront.platform}-phone-closed")
    _open(phone_tab, storefront.signed_in(customer))
    phone_tab.screenshot(f"{storefront.platform}-phone")


@pytest.mark.parametrize("platform, locale, label, join", [
    ("shopify", "fr", "Récompenses", "Rejoindre"),
    ("woocommerce", "de_DE", "Prämien", None),
    ("shopify", "es", "Recompensas", None),
])
def test_the_widget_speaks_the_shop_s_language(tab, request, client, devstore, live_app, platform, locale, label,
                                              join):
    storefront = make_storefront(platform, request, client, devstore, live_app, locale=locale)
    _open(tab, storefront.home)
    page = tab.page
    assert page.locator(LAUNCHER).inner_text().strip() == label
    language = locale.split("_")[0]
    assert page.locator(PANEL).evaluate("el => el.closest('[lang]').lang").startswith(language)
    if join:
        assert page.locator("[data-cb=join]").inner_text().strip().startswith(join)
        tab.screenshot(f"{platform}-{language}")


def test_the_merchant_s_colours_and_position_and_no_layout_shift_or_cookies(tab, storefront):
    storefront.program(widget={"primary_color": "#5b2a86", "position": "bottom-left", "launcher_label": "Club"})
    page = tab.page
    page.add_init_script("""window.__shifts = 0; new PerformanceObserver(list => {
        for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__shifts += entry.value;
    }).observe({type: 'layout-shift', buffered: true});""")
    page.goto(storefront.home)
    launcher = page.locator(LAUNCHER)
    launcher.wait_for(state="visible", timeout=15_000)
    assert launcher.inner_text().strip() == "Club"
    style = launcher.evaluate("el => { const s = getComputedStyle(el); return [s.backgroundColor, s.color]; }")
    assert style == ["rgb(91, 42, 134)", "rgb(255, 255, 255)"]
    box = launcher.bounding_box()
    assert box["x"] < 100 and box["y"] > 600, box  # bottom left
    page.wait_for_timeout(500)
    assert page.evaluate("window.__shifts") == 0
    # the widget sets no cookie of its own (a visitor of devstore's pages has none at all)
    assert tab.context.cookies() == []


def test_a_merchant_who_switches_the_widget_off_shows_nothing(tab, storefront):
    storefront.program(widget={"enabled": False})
    page = tab.page
    with page.expect_response(lambda answer: "/program" in answer.url, timeout=15_000) as answered:
        page.goto(storefront.home)
    assert answered.value.ok and answered.value.json()["widget"]["enabled"] is False
    page.wait_for_timeout(300)  # the loader has had the answer: it drew nothing
    assert page.locator("comeback-widget").count() == 0 and page.locator(LAUNCHER).count() == 0
