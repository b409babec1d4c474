"""Rendering: every template, branding, inlined CSS, plain text, tracked links, preview, bad context."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from app.loyalty import program as programs
from app.loyalty import widget
from app.messaging import preferences, render, tracking
from app.messaging.render import Branding, ContextError, format_date, format_money
from tests.messaging.support import CART, CONTEXTS

BRAND = Branding(shop_name="Caf\u00e9 Nord", shop_url="https://nord.example.com", currency="EUR",
                 timezone="Europe/Paris", primary_color="#f5d742")
UNSUBSCRIBE = "http://127.0.0.1:5000/m/u/signed-token"


def _render(template, context, **kwargs):
    category = render.category_of(template)
    return render.render(template, render.validate_context(template, context), BRAND,
                         unsubscribe_url=UNSUBSCRIBE if category == "marketing" else None, **kwargs)


@pytest.mark.parametrize("template", sorted(render.TEMPLATES))
def test_every_template_renders_html_with_inlined_css_and_a_text_part(template):
    # when a template is rendered with its context
    message = _render(template, CONTEXTS[template])
    # then it has a subject, HTML whose elements carry their styles, and a plain-text part
    assert message.subject and "\n" not in message.subject
    assert 'style="' in message.html
    assert re.search(r'<td class="header" style="[^"]*border-bottom: 4px solid #f5d742', message.html)
    # only the media queries stay in a <style> element: nothing else is left to a stylesheet
    for block in re.findall(r"<style>(.*?)</style>", message.html, re.S):
        assert block.strip().startswith("@media")
    assert "<" not in message.text.replace("<Nord>", "")
    assert "Caf\u00e9 Nord" in message.text
    # marketing mail carries the unsubscribe link in both parts; transactional mail none
    if render.category_of(template) == "marketing":
        assert UNSUBSCRIBE in message.text and f'href="{UNSUBSCRIBE}"' in message.html
    else:
        assert "nsubscribe" not in message.text and "nsubscribe" not in message.html


def test_cart_reminder_shows_items_coupon_and_the_recovery_link():
    message = _render("cart_reminder", CART)
    assert message.subject == "Ana, your cart at Caf\u00e9 Nord is waiting"
    # items with image, name (escaped), quantity and price in the shop's currency
    assert 'src="https://cdn.example.com/mug.png"' in message.html
    assert ">Mug &lt;Nord&gt;</a>" in message.html and 'alt="Mug <Nord>"' in message.html  # HTML5: safe in quotes
    assert "Quantity: 2" in message.html and "\u20ac12.50" in message.html and "\u20ac4.00" in message.html
    assert "Total: \u20ac29.00" in message.html
    # the coupon's expiry is shown on its day in the shop's time zone (23:30 UTC is the 11th in Paris)
    assert "BACK10" in message.html and "Valid until 11 December 2026" in message.html
    assert 'href="https://nord.example.com/cart/recover?token=abc&amp;step=2"' in message.html
    assert "- Mug <Nord> x 2: \u20ac12.50\n" in message.text
    assert "Return to your cart: https://nord.example.com/cart/recover?token=abc&step=2" in message.text
    assert "the code BACK10 (valid until 11 December 2026)" in message.text


def test_the_button_takes_the_program_colour_with_readable_text():
    dark = _render("points_earned", CONTEXTS["points_earned"])
    light = render.render("points_earned", CONTEXTS["points_earned"],
                          Branding(shop_name="S", shop_url="https://s.example.com", primary_color="#1d3557"))
    button = re.compile(r'<a class="button" href="[^"]*" style="([^"]*)"')
    assert "background-color: #f5d742" in button.search(dark.html).group(1)
    assert f"color: {widget.readable_on('#f5d742')}" in button.search(dark.html).group(1)
    assert widget.readable_on("#f5d742") == "#1a1a1a" and widget.readable_on("#1d3557") == "#ffffff"
    assert "color: #ffffff" in button.search(light.html).group(1)


def test_without_a_first_name_the_greeting_has_none_and_text_is_escaped_in_html_only():
    message = _render("win_back", {"coupon": {"code": "X1"}})
    assert "We miss you</h1>" in message.html and "We miss you, " not in message.html
    assert message.subject == "We miss you: a gift from Caf\u00e9 Nord"
    hostile = _render("points_earned", {"points": 5, "first_name": "<script>alert(1)</script>"})
    assert "<script>" not in hostile.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.html
    assert "You earned points, <script>alert(1)</script>!" in hostile.text
    quoted = _render("cart_reminder", {**CART, "items": [{"name": 'Mug" onerror="alert(1)',
                                                          "image_url": "https://cdn.example.com/m.png"}]})
    assert 'alt="Mug&quot; onerror=&quot;alert(1)"' in quoted.html
    assert not re.search(r"<[^>]*\sonerror=\"", quoted.html)  # no attribute of its own


def test_money_is_formatted_with_the_currency():
    assert format_money("1234.5", "EUR") == "\u20ac1,234.50"
    assert format_money(Decimal("-3"), "USD") == "-$3.00"
    assert format_money("1500", "JPY") == "\u00a51,500"
    assert format_money("9.999", "CHF") == "10.00 CHF"
    assert format_money("2.5", None) == "2.50"
    assert format_date("2027-01-15", "Europe/Paris") == "15 January 2027"
    assert format_date("2026-12-31T23:30:00Z", "America/New_York") == "31 December 2026"
    assert format_date("2026-12-31T23:30:00Z", "Asia/Tokyo") == "1 January 2027"


def test_every_link_goes_through_a_signed_tracking_url_and_html_gets_the_open_pixel():
    tracker = tracking.LinkTracker("http://127.0.0.1:5000", "secret", "tok-1")
    message = _render("cart_reminder", CART, tracker=tracker)
    hrefs = re.findall(r'href="([^"]*)"', message.html)
    # every link but the unsubscribe link is a tracking link; none points elsewhere directly
    assert UNSUBSCRIBE in hrefs
    tracked = [h for h in hrefs if h != UNSUBSCRIBE]
    assert tracked and all(h.startswith("http://127.0.0.1:5000/m/c/tok-1?u=") for h in tracked)
    destinations = {tracking.read_click("secret", "tok-1", parse_qs(urlsplit(h.replace("&amp;", "&")).query)["u"][0])
                    for h in tracked}
    assert destinations == {"https://nord.example.com", "https://nord.example.com/products/mug",
                            "https://nord.example.com/cart/recover?token=abc&step=2"}
    text_links = re.findall(r"https?://\S+", message.text)
    assert all(link.startswith("http://127.0.0.1:5000/m/c/tok-1?u=") or link == UNSUBSCRIBE for link in text_links)
    assert message.html.endswith('<img src="http://127.0.0.1:5000/m/o/tok-1.gif" width="1" height="1" alt="" '
                                 'style="display: block; width: 1px; height: 1px; border: 0;"></body></html>')
    # images are not links: they load from where they are
    assert 'src="https://cdn.example.com/mug.png"' in message.html


def test_a_tracking_signature_does_not_move_to_another_message_or_url():
    tracker = tracking.LinkTracker("http://app", "secret", "tok-1")
    signed = parse_qs(urlsplit(tracker.click_url("https://a.example.com/x")).query)["u"][0]
    with pytest.raises(tracking.InvalidLink):
        tracking.read_click("secret", "tok-2", signed)
    with pytest.raises(tracking.InvalidLink):
        tracking.read_click("other-secret", "tok-1", signed)
    with pytest.raises(tracking.InvalidLink):
        tracking.read_click("secret", "tok-1", signed[:-2] + "xx")
    with pytest.raises(ValueError):
        tracker.click_url("javascript:alert(1)")


@pytest.mark.parametrize(("template", "context", "field"), [
    ("cart_reminder", {"recovery_url": "https://a.example.com/r"}, "items"),
    ("cart_reminder", {"items": [{"name": "A"}], "recovery_url": "javascript:alert(1)"}, "recovery_url"),
    ("cart_reminder", {"items": [{"quantity": 1}], "recovery_url": "https://a.example.com/r"}, "items[0]"),
    ("cart_reminder", {"items": [{"name": "A", "price": "ten"}], "recovery_url": "https://a.example.com/r"},
     "items[0].price"),
    ("cart_reminder", {"items": "A", "recovery_url": "https://a.example.com/r"}, "items"),
    ("win_back", {"coupon": {"expires_at": "2026-12-01"}}, "coupon"),
    ("win_back", {"coupon": {"code": "A", "expires_at": "next week"}}, "coupon.expires_at"),
    ("points_earned", {"points": "many"}, "points"),
    ("points_expiring", {"points": 3}, "expires_on"),
    ("tier_upgrade", {"tier": "Gold", "perks": "all"}, "perks"),
])
def test_a_bad_context_is_refused_naming_the_field(template, context, field):
    with pytest.raises(ContextError) as raised:
        render.validate_context(template, context)
    assert raised.value.field == field


def test_unknown_template_and_marketing_without_unsubscribe_are_refused():
    with pytest.raises(ValueError, match="unknown template 'newsletter'"):
        render.validate_context("newsletter", {})
    with pytest.raises(ValueError, match="unsubscribe"):
        render.render("win_back", {"coupon": {"code": "A"}}, BRAND)


def test_preview_uses_the_shops_program_colour_and_tracks_nothing(session, shop):
    shop.name, shop.currency = "Preview Shop", "GBP"
    programs.ensure(session, shop.id)
    programs.update(session, shop.id, {"widget": {"primary_color": "#aa2200"}}, actor="test")
    session.commit()
    message = render.preview(shop, "cart_reminder", CART, session=session)
    assert message.subject == "Ana, your cart at Preview Shop is waiting"
    assert "border-bottom: 4px solid #aa2200" in message.html and "\u00a312.50" in message.html
    assert "/m/c/" not in message.html and "/m/o/" not in message.html
    assert 'href="#unsubscribe"' in message.html
    with pytest.raises(ContextError):
        render.preview(shop, "cart_reminder", {}, session=session)


def _header(html: str) -> str:
    return re.search(r'<td class="header".*?</td>', html, re.S).group(0)


@pytest.mark.parametrize("template", sorted(render.TEMPLATES))
def test_the_shops_logo_heads_its_emails_when_it_has_one(session, mail_shop, config, template):
    context = render.validate_context(template, CONTEXTS[template])
    # without a logo the header names the shop and there is no logo image
    message = render.preview(mail_shop, template, context, session=session)
    assert 'class="logo"' not in message.html and "<img" not in _header(message.html)
    assert re.search(r'<a class="shop-name"[^>]*>Caf\u00e9 Nord</a>', _header(message.html))
    # with one, the header shows it, linked to the store, named by the shop, no wider than the layout's limit
    logo = "https://cdn.nord.example/logo.png?v=2&size=large"
    preferences.update(session, mail_shop.id, {"logo_url": logo}, config, actor="test")
    session.commit()
    header = _header(render.preview(mail_shop, template, context, session=session).html)
    (image,) = re.findall(r"<img\b[^>]*>", header)
    assert 'src="https://cdn.nord.example/logo.png?v=2&amp;size=large"' in image
    assert 'alt="Caf\u00e9 Nord"' in image and re.search(r'style="[^"]*max-width: 180px', image)
    assert "shop-name" not in header
    # removed again: the name is back
    preferences.update(session, mail_shop.id, {"logo_url": None}, config, actor="test")
    session.commit()
    assert "<img" not in _header(render.preview(mail_shop, template, context, session=session).html)


def test_a_logo_stored_in_a_shape_the_settings_refuse_is_not_shown(session, mail_shop, config):
    from app.store.models import MessagingSettings

    preferences.update(session, mail_shop.id, {"sender_name": "Nord"}, config, actor="test")
    row = session.get(MessagingSettings, mail_shop.id)
    row.settings = {**row.settings, "logo_url": "http://cdn.nord.example/logo.png"}
    session.commit()
    assert render.branding_for(session, mail_shop).logo_url is None


@pytest.mark.parametrize("template", sorted(render.TEMPLATES))
def test_a_merchants_subject_and_intro_replace_the_templates_own(template):
    # given a merchant's own subject line and a two-paragraph opening that name the shopper and the shop
    context = {**CONTEXTS[template], "first_name": "Ana", "subject_override": "{first_name}, news from {shop_name}",
               "intro": "Hello {first_name} & friends,\n\nthis is <b>our</b> {shop_name} note."}
    message = _render(template, context)
    # then the subject is theirs, filled in
    assert message.subject == "Ana, news from Caf\u00e9 Nord"
    # and the opening is shown in both parts: escaped in HTML, one <p> per paragraph
    assert re.search(r"<p[^>]*>Hello Ana &amp; friends,</p>\s*<p[^>]*>this is &lt;b&gt;our&lt;/b&gt; Caf\u00e9 Nord "
                     r"note\.</p>", message.html)
    assert "Hello Ana & friends,\n\nthis is <b>our</b> Caf\u00e9 Nord note." in message.text


def test_without_an_intro_the_templates_own_opening_stays():
    message = _render("cart_reminder", CART)
    assert "Your cart is still waiting. Pick up where you left off:" in message.html


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("subject_override", "{firstname} come back", "{firstname} is not a value an email can fill in"),
    ("intro", "x" * 2001, "must be a text of at most 2000 characters"),
    ("subject_override", 12, "must be a text of at most 150 characters"),
])
def test_a_merchants_text_with_an_unknown_placeholder_or_too_long_is_refused(field, value, expected):
    with pytest.raises(ContextError, match=re.escape(expected)):
        render.validate_context("win_back", {**CONTEXTS["win_back"], field: value})


def test_the_cross_sell_names_what_was_bought_and_links_the_picks():
    message = _render("cross_sell", CONTEXTS["cross_sell"])
    assert "Since you bought Mug, we think you'll like these:" in message.html
    assert 'href="https://nord.example.com/products/teapot"' in message.html
    assert 'src="https://cdn.example.com/teapot.png"' in message.html
    assert "- Teapot: \u20ac35.00 - https://nord.example.com/products/teapot" in message.text
