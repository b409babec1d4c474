"""The emails' logo on the settings page in Chromium: its preview follows the address typed, and it saves."""

from __future__ import annotations

import struct
import zlib

from app.extensions import db
from app.store.models import MessagingSettings

PAGE = "/admin/settings"
IMAGES = "https://cdn.logo-test.example"


def _png(width: int, height: int) -> bytes:
    """A plain white PNG of that size (served in place of a merchant's CDN)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _serve_images(admin) -> None:
    """``/logo.png`` is an image; any other address under IMAGES answers 404."""
    logo = _png(240, 80)

    def answer(route):
        if route.request.url.split("?")[0] == f"{IMAGES}/logo.png":
            route.fulfill(status=200, content_type="image/png", body=logo)
        else:
            route.fulfill(status=404, content_type="text/plain", body="no such image")

    admin.page.context.route(f"{IMAGES}/**", answer)


def test_the_logo_preview_follows_the_address_and_the_logo_saves(admin_browser):
    admin = admin_browser
    _serve_images(admin)
    ui = admin.open(PAGE)
    image, problem = ui.locator("[data-logo-image]"), ui.locator("[data-logo-error]")
    # a shop without a logo: nothing to preview
    assert ui.input_value("#logo-url") == ""
    assert image.is_hidden() and problem.is_hidden()

    # an address of an image: it shows once loaded, within the width the emails allow
    ui.fill("#logo-url", f"{IMAGES}/logo.png")
    image.wait_for(state="visible")
    assert image.evaluate("img => img.naturalWidth") == 240
    assert image.evaluate("img => img.getBoundingClientRect().width") <= 180
    assert problem.is_hidden()
    assert admin.axe() == []

    # an address that loads nothing: the preview goes and the hint says what to check
    ui.fill("#logo-url", f"{IMAGES}/missing.png")
    problem.wait_for(state="visible")
    assert image.is_hidden()
    assert "Open it in your browser" in problem.inner_text()

    # not an https:// address, or empty: nothing shown
    ui.fill("#logo-url", "http://cdn.logo-test.example/logo.png")
    ui.wait_for_function("() => document.querySelector('[data-logo-error]').hidden")
    assert image.is_hidden()
    ui.fill("#logo-url", "")
    ui.wait_for_function("() => document.querySelector('[data-logo-error]').hidden")
    assert image.is_hidden()

    # saved with the sender card
    ui.fill("#logo-url", f"{IMAGES}/logo.png")
    image.wait_for(state="visible")
    with admin.page.expect_response(lambda response: response.request.method == "PUT"
                                    and "/api/admin/messaging/settings" in response.url) as answered:
        ui.locator("form:has(#logo-url) button[type=submit]").click()
    assert answered.value.status == 200
    db.session().expire_all()
    assert db.session().get(MessagingSettings, admin.shop.id).settings["logo_url"] == f"{IMAGES}/logo.png"

    # and on the next visit the saved logo is previewed at once
    ui = admin.open(PAGE)
    ui.locator("[data-logo-image]").wait_for(state="visible")
    assert ui.input_value("#logo-url") == f"{IMAGES}/logo.png"
    # no script error; the only failed loads are the missing image's (and the admin shell's favicon) 404s
    for error in admin.tab.errors:
        assert error == "console error: Failed to load resource: the server responded with a status of 404 (Not Found)", (
            error)
    admin.tab.errors.clear()
