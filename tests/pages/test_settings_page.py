"""The settings page: current values shown, each card's form saving through its API, refusals named."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.flows import definitions
from app.loyalty import program as programs
from app.store.models import Flow, LoyaltyProgram, MessagingSettings

PAGE = "/admin/settings"


def form_api(page: str, field: str) -> str:
    """The ``data-api`` of the form holding the input (or fieldset) named ``field``."""
    for form in re.findall(r"<form\b.*?</form>", page, flags=re.S):
        if re.search(rf'(name|data-field)="{re.escape(field)}"', form):
            return re.search(r'data-api="([^"]+)"', form).group(1)
    raise AssertionError(f"no form with a field {field!r}")


def has_input(page: str, name: str) -> bool:
    return re.search(rf'<(input|select|textarea)\b[^>]*\bname="{re.escape(name)}"', page) is not None


def stored_messaging(shop_id: int) -> dict:
    db.session().expire_all()
    row = db.session().get(MessagingSettings, shop_id)
    return dict(row.settings) if row is not None else {}


def stored_widget(shop_id: int) -> dict:
    db.session().expire_all()
    program = programs.current(db.session(), shop_id)
    assert program is not None
    return program["widget"]


def stored_holdout(shop_id: int, key: str) -> float:
    db.session().expire_all()
    flow = definitions.current(db.session(), shop_id, key)
    assert flow is not None
    return float(flow["holdout_share"])


def send(admin, page: str, field: str, body: dict):
    method, path = form_api(page, field).split(" ")
    return admin.api(method, path, json=body)


def test_the_page_shows_the_defaults_of_a_new_shop(admin):
    page = admin.html(PAGE)
    assert "<h1>Settings</h1>" in page
    # the widget's look as the program holds it
    assert 'name="widget.primary_color" value="#2e6b57"' in page
    assert 'name="widget.background_color" value="#ffffff"' in page
    assert '<option value="bottom-right" selected>Bottom right</option>' in page
    # messaging: the app's defaults (16 hours, quiet 21:00 to 08:00, 5 days, English)
    assert re.search(r'name="contact_budget_hours"[^>]*value="16"', page)
    assert re.search(r'name="quiet_hours.start"\s+data-quiet-time\s+value="21:00"', page)
    assert re.search(r'name="quiet_hours.end"\s+data-quiet-time\s+value="08:00"', page)
    assert 'id="quiet-on" data-skip data-quiet-toggle checked' in page
    assert re.search(r'name="attribution_days"[^>]*value="5"', page)
    assert '<option value="en" lang="en" selected>English</option>' in page
    # every built-in flow has its holdout row: 10 % for marketing flows, 0 % for loyalty notices
    assert re.search(r'id="holdout-abandoned_cart"[^>]*value="10"', page)
    assert re.search(r'id="holdout-points_earned"[^>]*value="0"', page)
    assert page.count("data-holdout-form") == len(definitions.KEYS)
    # the currency is the store's, shown with examples in each email language
    assert admin.shop.currency and f"<strong>{admin.shop.currency}</strong>" in page
    # the JavaScript's data and the page's own script and styles
    assert 'id="settings-data"' in page and "/admin/static/settings.js?v=" in page
    assert "/admin/static/settings.css?v=" in page


def test_the_page_shows_values_the_shop_changed(admin):
    assert admin.api("PUT", "/api/admin/messaging/settings", json={
        "contact_budget_hours": 24, "quiet_hours": None, "sender_name": "Plant Corner",
        "reply_to": "help@example.com", "attribution_days": 9, "language": "fr",
        "transactional_email": "subscribed"}).status_code == 200
    assert admin.api("PUT", "/api/admin/loyalty/program", json={"widget": {
        "primary_color": "#112233", "launcher_label": "Perks", "position": "bottom-left"}}).status_code == 200
    assert admin.api("PUT", "/api/admin/flows/win_back", json={"holdout_share": 0.25}).status_code == 200

    page = admin.html(PAGE)
    assert 'name="widget.primary_color" value="#112233"' in page
    assert 'value="Perks"' in page and 'data-position="bottom-left"' in page
    assert '<option value="bottom-left" selected>Bottom left</option>' in page
    assert re.search(r'name="contact_budget_hours"[^>]*value="24"', page)
    # no quiet hours: the switch is off and the null is what the form sends
    assert re.search(r'id="quiet-on" data-skip data-quiet-toggle\s*>', page)
    assert re.search(r'name="quiet_hours" data-type="json" value="null" data-quiet-none\s*>', page)
    assert re.search(r'name="quiet_hours.start"[^>]*disabled', page)
    assert 'value="Plant Corner"' in page and 'value="help@example.com"' in page
    assert re.search(r'name="attribution_days"[^>]*value="9"', page)
    assert '<option value="fr" lang="fr" selected>' in page
    assert '<option value="subscribed" selected>' in page
    assert re.search(r'id="holdout-win_back"[^>]*value="25"', page)
    assert re.search(r'name="holdout_share" data-type="number" value="0.25"', page)


def test_each_form_saves_through_its_api(admin):
    page = admin.html(PAGE)
    # branding
    response = send(admin, page, "widget.primary_color", {"widget": {
        "enabled": False, "primary_color": "#AA3300", "background_color": "#fafafa",
        "launcher_label": "Club points", "position": "bottom-left"}})
    assert response.status_code == 200, response.get_json()
    widget = stored_widget(admin.shop_id)
    assert (widget["enabled"], widget["primary_color"], widget["background_color"], widget["launcher_label"],
            widget["position"]) == (False, "#aa3300", "#fafafa", "Club points", "bottom-left")
    # an empty label goes back to the translated default
    assert send(admin, page, "widget.launcher_label", {"widget": {"launcher_label": None}}).status_code == 200
    assert stored_widget(admin.shop_id)["launcher_label"] is None

    # sender
    assert send(admin, page, "sender_name", {"sender_name": "Plant Corner", "reply_to": "Help@Example.com"}
                ).status_code == 200
    stored = stored_messaging(admin.shop_id)
    assert (stored["sender_name"], stored["reply_to"]) == ("Plant Corner", "help@example.com")

    # contact rules, quiet hours on and then off
    assert send(admin, page, "contact_budget_hours", {
        "contact_budget_hours": 36, "quiet_hours": {"start": "22:30", "end": "07:15"},
        "transactional_email": "off"}).status_code == 200
    stored = stored_messaging(admin.shop_id)
    assert stored["contact_budget_hours"] == 36.0 and stored["transactional_email"] == "off"
    assert stored["quiet_hours"] == {"start": "22:30", "end": "07:15"}
    assert send(admin, page, "quiet_hours", {"contact_budget_hours": 36, "quiet_hours": None,
                                             "transactional_email": "off"}).status_code == 200
    assert stored_messaging(admin.shop_id)["quiet_hours"] is None
    # the sender chosen before is kept: each form changes only its own settings
    assert stored_messaging(admin.shop_id)["sender_name"] == "Plant Corner"

    # attribution window
    assert send(admin, page, "attribution_days", {"attribution_days": 14}).status_code == 200
    assert stored_messaging(admin.shop_id)["attribution_days"] == 14

    # holdout of one flow; the others keep theirs
    assert form_api(page, "holdout_share") == "PUT /api/admin/flows/abandoned_cart"
    assert admin.api("PUT", "/api/admin/flows/post_purchase", json={"holdout_share": 0.125}).status_code == 200
    assert stored_holdout(admin.shop_id, "post_purchase") == 0.125
    assert stored_holdout(admin.shop_id, "abandoned_cart") == 0.10

    # email language
    assert send(admin, page, "language", {"language": "de"}).status_code == 200
    assert stored_messaging(admin.shop_id)["language"] == "de"

    page = admin.html(PAGE)
    assert '<option value="de" lang="de" selected>' in page
    assert re.search(r'name="quiet_hours.start"[^>]*disabled', page)


def test_the_sender_card_saves_the_emails_logo_and_shows_its_preview(admin, other_admin):
    page = admin.html(PAGE)
    # the input is in the sender form, empty, with its help and a hidden preview named for the shop
    assert form_api(page, "logo_url") == "PUT /api/admin/messaging/settings"
    sender_form = next(form for form in re.findall(r"<form\b.*?</form>", page, flags=re.S) if 'name="sender_name"' in form)
    field = re.search(r'<input type="url" id="logo-url" name="logo_url" data-type="nullable"[^>]*>', sender_form)
    assert field and 'value=""' in field.group(0)
    assert '<label for="logo-url">Logo address</label>' in sender_form
    assert "Shown at the top of your emails. An https:// address of a PNG, JPEG or SVG image, at most 600 px wide." in (
        html_lib.unescape(sender_form))
    preview = re.search(r"<img data-logo-image[^>]*>", sender_form).group(0)
    shop_name = admin.shop.name or admin.shop.domain
    assert "hidden" in preview and html_lib.unescape(re.search(r'alt="([^"]*)"', preview).group(1)) == (
        f"Logo of {shop_name}, as your emails show it")
    assert "data-logo-error" in sender_form

    logo = "https://cdn.example.com/brand/logo.png"
    response = send(admin, page, "logo_url", {"sender_name": None, "reply_to": None, "logo_url": logo})
    assert response.status_code == 200, response.get_json()
    assert stored_messaging(admin.shop_id)["logo_url"] == logo
    # shown on the page the next time, and at the top of the emails' preview
    page = admin.html(PAGE)
    assert re.search(rf'name="logo_url"[^>]*value="{re.escape(logo)}"', page)
    email = admin.api("GET", f"/api/admin/flows/{definitions.ABANDONED_CART}/steps/0/preview").get_json()["html"]
    (image,) = re.findall(r'<img class="logo"[^>]*>', email)
    assert f'src="{logo}"' in image
    # another shop's emails don't carry it
    other = other_admin.api("GET", f"/api/admin/flows/{definitions.ABANDONED_CART}/steps/0/preview").get_json()
    assert logo not in other["html"] and stored_messaging(other_admin.shop_id).get("logo_url") is None
    # emptied (the form sends null): no logo
    assert send(admin, page, "logo_url", {"logo_url": None}).status_code == 200
    assert stored_messaging(admin.shop_id)["logo_url"] is None


@pytest.mark.parametrize(("field", "path", "body"), [
    ("quiet_hours", "/api/admin/messaging/settings", {"quiet_hours": {"start": "25:00", "end": "08:00"}}),
    ("quiet_hours", "/api/admin/messaging/settings", {"quiet_hours": {"start": "08:00", "end": "08:00"}}),
    ("contact_budget_hours", "/api/admin/messaging/settings", {"contact_budget_hours": 200}),
    ("attribution_days", "/api/admin/messaging/settings", {"attribution_days": 0}),
    ("language", "/api/admin/messaging/settings", {"language": "it"}),
    ("reply_to", "/api/admin/messaging/settings", {"reply_to": "not an address"}),
    ("sender_name", "/api/admin/messaging/settings", {"sender_name": "<script>"}),
    ("logo_url", "/api/admin/messaging/settings", {"logo_url": "http://example.com/logo.png"}),
    ("transactional_email", "/api/admin/messaging/settings", {"transactional_email": "sometimes"}),
    ("widget.primary_color", "/api/admin/loyalty/program", {"widget": {"primary_color": "red"}}),
    ("widget.background_color", "/api/admin/loyalty/program", {"widget": {"background_color": "#12345"}}),
    ("widget.position", "/api/admin/loyalty/program", {"widget": {"position": "top-left"}}),
    ("widget.launcher_label", "/api/admin/loyalty/program", {"widget": {"launcher_label": "x" * 31}}),
    ("holdout_share", "/api/admin/flows/abandoned_cart", {"holdout_share": 0.6}),
])
def test_a_bad_value_is_refused_naming_an_input_of_the_page(admin, field, path, body):
    page = admin.html(PAGE)
    messaging_before = stored_messaging(admin.shop_id)
    versions_before = db.session().execute(select(LoyaltyProgram.version).where(
        LoyaltyProgram.shop_id == admin.shop_id)).scalars().all()
    flows_before = db.session().execute(select(Flow.key, Flow.version).where(Flow.shop_id == admin.shop_id)).all()

    response = admin.api("PUT", path, json=body)

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field
    assert has_input(page, field), f"the page has no input named {field}"
    # and the form that owns the input posts to the API that refused it
    assert form_api(page, field).split(" ")[1] == path
    # nothing was stored
    assert stored_messaging(admin.shop_id) == messaging_before
    db.session().expire_all()
    assert db.session().execute(select(LoyaltyProgram.version).where(
        LoyaltyProgram.shop_id == admin.shop_id)).scalars().all() == versions_before
    assert db.session().execute(select(Flow.key, Flow.version).where(Flow.shop_id == admin.shop_id)
                                ).all() == flows_before


def test_quiet_hours_errors_show_beside_the_quiet_hours_fields(admin):
    page = admin.html(PAGE)
    fieldset = re.search(r'<fieldset data-field="quiet_hours".*?</fieldset>', page, flags=re.S).group(0)
    assert 'name="quiet_hours.start"' in fieldset and 'name="quiet_hours.end"' in fieldset
    assert '<p class="field-error" data-for="quiet_hours"' in fieldset


def test_a_low_contrast_pair_shows_a_warning(admin):
    assert 'data-contrast-banner' not in admin.html(PAGE)
    # a light main colour on a white panel: its buttons won't stand out
    assert admin.api("PUT", "/api/admin/loyalty/program", json={"widget": {
        "primary_color": "#f0f0f0", "background_color": "#ffffff"}}).status_code == 200
    page = admin.html(PAGE)
    banner = re.search(r'<div class="banner warning" data-contrast-banner>(.*?)</div>', page, flags=re.S)
    assert banner and "below 3:1" in html_lib.unescape(banner.group(1))


def test_the_page_speaks_the_merchants_language(admin):
    page = admin.html(PAGE, locale="de")
    assert "<h1>Einstellungen</h1>" in page and "Ruhezeiten" in page


def test_another_shop_neither_sees_nor_changes_these_settings(admin, other_admin):
    assert admin.api("PUT", "/api/admin/messaging/settings", json={
        "sender_name": "First Shop Sender", "contact_budget_hours": 48}).status_code == 200
    assert admin.api("PUT", "/api/admin/loyalty/program", json={"widget": {"primary_color": "#123456"}}
                     ).status_code == 200
    assert admin.api("PUT", "/api/admin/flows/win_back", json={"holdout_share": 0.3}).status_code == 200

    other_page = other_admin.html(PAGE)
    assert "First Shop Sender" not in other_page and "#123456" not in other_page
    assert re.search(r'name="contact_budget_hours"[^>]*value="16"', other_page)
    assert re.search(r'id="holdout-win_back"[^>]*value="10"', other_page)

    # the other shop's saves change its own rows only
    assert other_admin.api("PUT", "/api/admin/messaging/settings", json={"sender_name": "Second"}).status_code == 200
    assert other_admin.api("PUT", "/api/admin/loyalty/program", json={"widget": {"primary_color": "#654321"}}
                           ).status_code == 200
    assert other_admin.api("PUT", "/api/admin/flows/win_back", json={"holdout_share": 0.05}).status_code == 200
    assert stored_messaging(admin.shop_id)["sender_name"] == "First Shop Sender"
    assert stored_messaging(admin.shop_id)["contact_budget_hours"] == 48.0
    assert stored_widget(admin.shop_id)["primary_color"] == "#123456"
    assert stored_holdout(admin.shop_id, "win_back") == 0.3
    assert stored_messaging(other_admin.shop_id)["sender_name"] == "Second"
    assert stored_holdout(other_admin.shop_id, "win_back") == 0.05
    assert "First Shop Sender" in admin.html(PAGE)
