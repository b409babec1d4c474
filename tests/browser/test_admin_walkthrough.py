"""The first minutes after install, in Chromium on devstore, as each platform opens the admin.

Shopify: the shop's admin frames Comeback; onboarding's widget step opens the theme editor with
the app embed activated, the merchant saves, and devstore's theme has the embed switched on.
WooCommerce: the merchant opens Comeback from the plugin's screen in wp-admin (a signed link),
and onboarding finds the plugin the app configured. Both then review the program and finish.
"""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select

from app.extensions import db
from app.store.models import Onboarding
from tests.conftest import API_KEY


def _onboarding(shop_id: int) -> Onboarding:
    db.session().expire_all()
    found = db.session().execute(select(Onboarding).where(Onboarding.shop_id == shop_id)).scalar_one_or_none()
    return found or Onboarding(shop_id=shop_id)


def _until(check, seconds: float = 15.0):
    """What ``check`` gives once it gives something (the page saves in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the page did not save in time")


def _embeds(admin) -> list[dict]:
    return httpx.get(f"{admin.devstore_url}/_devstore/shops/{admin.shop.domain}/app-embeds", timeout=5).json()


def test_shopify_the_widget_step_switches_the_app_embed_on_in_the_theme(shopify_admin):
    admin = shopify_admin
    assert [e for e in _embeds(admin) if e.get("enabled")] == []
    ui = admin.open("/admin/onboarding")
    assert "Comeback" in admin.page.title() and ui.locator("#step-backfill").count() == 1
    # the import already finished: its step is done
    assert "done" in (ui.locator("#step-backfill").get_attribute("class") or "")
    ui.locator("#step-program form button").click()
    _until(lambda: _onboarding(admin.shop.id).program_reviewed_at)
    # the deep link leaves the frame for the theme editor, the embed already ticked
    admin.ui.locator("[data-embed-link]").click()
    admin.page.wait_for_url("**/admin/themes/current/editor**")
    assert f"activateAppId={API_KEY}/app-embed" in admin.page.url
    assert admin.page.locator("input[name=enabled]").is_checked()
    admin.page.locator("[data-devstore=save-theme]").click()
    admin.page.wait_for_selector("text=Saved")
    assert [(e["client_id"], e["block"], e["enabled"]) for e in _embeds(admin)] == [(API_KEY, "app-embed", True)]
    # back in the admin, the merchant confirms it
    ui = admin.open("/admin/onboarding")
    ui.locator("#step-widget form button").click()
    _until(lambda: _onboarding(admin.shop.id).widget_confirmed_at)
    # the page reloads (with a fresh token) and shows the step done
    admin.page.wait_for_timeout(300)
    admin._app_frame().wait_for_selector("#step-widget.done", timeout=15_000)
    admin.tab.errors.clear()


def test_woocommerce_opened_from_wp_admin_finds_the_plugin(woo_admin):
    admin = woo_admin
    admin.enter_from_store()
    assert admin.page.url.startswith(admin.live_app)
    ui = admin.open("/admin/onboarding")
    widget = ui.locator("#step-widget")
    assert widget.get_attribute("data-mode") == "plugin" and "done" in (widget.get_attribute("class") or "")
    ui.locator("#step-program form button").click()
    _until(lambda: _onboarding(admin.shop.id).program_reviewed_at)
    # the session is first-party: the cookie is the app's own, HttpOnly
    cookies = {c["name"]: c for c in admin.tab.context.cookies(admin.live_app)}
    assert cookies["comeback_session"]["httpOnly"] and cookies["comeback_session"]["sameSite"] == "Lax"
    admin.tab.errors.clear()
