"""Templates in the shop's language: complete catalogues, every template in every language, the
setting, and a real send that arrives in German."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.flows import definitions
from app.messaging import delivery, outbox, preferences, render, translations
from app.messaging.render import Branding, format_date, format_money, format_number
from app.store.models import MessagingSettings
from tests.conftest import API_KEY
from tests.helpers import bearer, install, run_jobs
from tests.messaging.support import CART, CONTEXTS
from tests.messaging.test_delivery import NOON, cart_message

TEMPLATES_DIR = Path(render.__file__).parent / "templates"
CATALOGUES_DIR = Path(translations.__file__).parent
FOREIGN = ("de", "fr", "es")
SETTINGS = "/api/admin/messaging/settings"
BRAND = Branding(shop_name="Caf\u00e9 Nord", shop_url="https://nord.example.com", currency="EUR",
                 timezone="Europe/Paris")
UNSUBSCRIBE = "http://127.0.0.1:5000/m/u/signed-token"
NBSP = "\u00a0"
# A lookup in a template: t("id", ...) or named("id", ...) (which uses "id" and "id_anonymous").
LOOKUP = re.compile(r"""\b(t|named)\(\s*["']([^"']+)["']""")


def _catalogues() -> dict[str, dict[str, str]]:
    return {language: json.loads((CATALOGUES_DIR / f"{language}.json").read_text(encoding="utf-8"))
            for language in translations.LANGUAGES}


def _used_keys() -> set[str]:
    used = set(translations.CODE_KEYS)
    for source in TEMPLATES_DIR.iterdir():
        for function, key in LOOKUP.findall(source.read_text(encoding="utf-8")):
            used.update((key, f"{key}_anonymous") if function == "named" else (key,))
    return used


def _render(template, context, language, **kwargs):
    category = render.category_of(template)
    return render.render(template, render.validate_context(template, context), BRAND, language=language,
                         unsubscribe_url=UNSUBSCRIBE if category == "marketing" else None, **kwargs)


# --- the catalogues ----------------------------------------------------------------------------

def test_there_is_a_catalogue_for_every_language_and_nothing_else():
    assert sorted(path.stem for path in CATALOGUES_DIR.glob("*.json")) == sorted(translations.LANGUAGES)


@pytest.mark.parametrize("language", FOREIGN)
def test_every_catalogue_has_exactly_the_keys_of_the_english_one(language):
    catalogues = _catalogues()
    assert sorted(set(catalogues["en"]) - set(catalogues[language])) == [], f"missing in {language}.json"
    assert sorted(set(catalogues[language]) - set(catalogues["en"])) == [], f"only in {language}.json"


@pytest.mark.parametrize("language", FOREIGN)
def test_every_text_names_the_same_placeholders_in_every_language(language):
    catalogues = _catalogues()
    differing = {key: (sorted(translations.placeholders(text)),
                       sorted(translations.placeholders(catalogues[language].get(key, ""))))
                 for key, text in catalogues["en"].items()
                 if translations.placeholders(text) != translations.placeholders(catalogues[language].get(key, ""))}
    assert differing == {}


def test_every_key_the_templates_use_exists_and_every_key_is_used():
    used = _used_keys()
    # the scan found the lookups (a template that stopped using t() would show up here too)
    assert {"cart.heading", "cart.heading_anonymous", "footer.unsubscribe_link", "item.quantity"} <= used
    for language, texts in _catalogues().items():
        assert sorted(used - set(texts)) == [], f"used but missing in {language}.json"
        assert sorted(set(texts) - used) == [], f"in {language}.json but used nowhere"


def test_no_template_keeps_an_english_sentence_of_its_own():
    # what is left outside the lookups: tags, Jinja, punctuation, and no words of a sentence
    for source in TEMPLATES_DIR.iterdir():
        text = source.read_text(encoding="utf-8")
        if source.name == "base.html":
            text = text.split("<body>", 1)[1]
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|<[^>]*>|&\w+;", " ", text, flags=re.S)
        words = re.findall(r"[A-Za-z]{3,}", text)
        assert words == [], f"{source.name}: {words}"


def test_texts_have_no_markup_and_placeholders_that_format():
    for language, texts in _catalogues().items():
        for key, text in texts.items():
            assert "<" not in text and ">" not in text, (language, key)
            text.format(**dict.fromkeys(translations.placeholders(text), "x"))


# --- rendering ---------------------------------------------------------------------------------

def _english_phrases(language: str) -> set[str]:
    """The English catalogue's wording (runs of two or more words between placeholders) that the
    other language does not happen to share."""
    theirs = " | ".join(_catalogues()[language].values())
    phrases = set()
    for text in _catalogues()["en"].values():
        for fragment in re.split(r"\{[^}]*\}", text):
            fragment = fragment.strip(" .,:!?()")
            if len(fragment.split()) >= 2 and fragment not in theirs:
                phrases.add(fragment)
    return phrases


@pytest.mark.parametrize("language", translations.LANGUAGES)
@pytest.mark.parametrize("template", sorted(render.TEMPLATES))
def test_every_template_renders_in_every_language_without_english_left(template, language):
    named = {**CONTEXTS[template], "first_name": "Ana"}
    minimal = {key: CONTEXTS[template][key] for key in render.TEMPLATES[template][1]}
    for context in (named, minimal, CONTEXTS[template]):
        message = _render(template, context, language)
        assert message.subject and "\n" not in message.subject
        assert f'<html lang="{language}">' in message.html
        assert "Caf\u00e9 Nord" in message.text
        if language == "en":
            continue
        everything = "\n".join((message.subject, message.html, message.text))
        left = sorted(phrase for phrase in _english_phrases(language) if phrase in everything)
        assert left == [], f"English left in {template} ({language})"
        for english in ("You get this email", "Unsubscribe", "points", "Valid until", "Quantity", "there"):
            if english not in "".join(_catalogues()[language].values()):
                assert english not in everything.replace("1.5 points per unit spent", ""), english


def test_the_german_cart_reminder():
    message = _render("cart_reminder", CART, "de")
    assert message.subject == "Ana, Ihr Warenkorb bei Caf\u00e9 Nord wartet auf Sie"
    assert re.search(r"<h1[^>]*>Sie haben etwas vergessen, Ana</h1>", message.html)
    assert "Ihr Warenkorb wartet noch auf Sie. Machen Sie dort weiter, wo Sie aufgeh\u00f6rt haben:" in message.html
    assert f"- Mug <Nord> x 2: 12,50{NBSP}\u20ac" in message.text
    assert f"Gesamt: 29,00{NBSP}\u20ac" in message.text
    # 23:30 UTC on 10 December is the 11th in Paris
    assert "Schlie\u00dfen Sie Ihre Bestellung mit dem Code BACK10 ab (g\u00fcltig bis 11. Dezember 2026)." \
        in message.text
    assert "G\u00fcltig bis 11. Dezember 2026" in message.html
    assert "Zur\u00fcck zum Warenkorb: https://nord.example.com/cart/recover?token=abc&step=2" in message.text
    assert "Sie erhalten diese E-Mail, weil Sie zugestimmt haben, Nachrichten von Caf\u00e9 Nord zu erhalten." \
        in message.text
    assert f"Abmelden: {UNSUBSCRIBE}" in message.text
    assert re.search(r'Von diesen E-Mails <a href="http://127\.0\.0\.1:5000/m/u/signed-token"[^>]*>abmelden</a>\.',
                     message.html)
    # without a first name the texts that name the customer take their other form
    anonymous = _render("cart_reminder", {**CART, "first_name": None}, "de")
    assert anonymous.subject == "Ihr Warenkorb bei Caf\u00e9 Nord wartet auf Sie"
    assert "Sie haben etwas vergessen." in anonymous.text


def test_french_and_spanish_wording_numbers_and_dates():
    french = _render("points_expiring", {"points": 1250, "expires_on": "2027-01-01", "first_name": "Luc"}, "fr")
    # a subject is one line of plain spaces; the body keeps the narrow no-break space of 1 250
    assert french.subject == "1 250 de vos points expirent le 1er janvier 2027"
    assert "1\u202f250 points expirent le 1er janvier 2027." in french.text
    assert "Vos points vont bient\u00f4t expirer, Luc." in french.text
    assert f"Utiliser vos points{NBSP}: https://nord.example.com" in french.text
    spanish = _render("points_earned", {"points": 1250, "balance": 12500}, "es")
    assert spanish.subject == "Ha ganado 1250 puntos en Caf\u00e9 Nord"
    assert "Su saldo actual es de 12.500 puntos." in spanish.text
    assert "Su saldo actual es de <strong>12.500 puntos</strong>." in spanish.html
    assert "\u00a1Ha ganado puntos!" in spanish.text
    win_back = _render("win_back", CONTEXTS["win_back"], "es")
    assert win_back.subject == "Le echamos de menos: un regalo de Caf\u00e9 Nord"
    assert "v\u00e1lido hasta el 31 de diciembre de 2026" in win_back.text


def test_amounts_numbers_and_dates_per_language():
    assert [format_money("1234.5", "EUR", language) for language in translations.LANGUAGES] == [
        "\u20ac1,234.50", f"1.234,50{NBSP}\u20ac", f"1\u202f234,50{NBSP}\u20ac", f"1234,50{NBSP}\u20ac"]
    assert format_money("10", "CHF", "de") == f"10,00{NBSP}CHF"
    assert format_money("1500", "JPY", "fr") == f"1\u202f500{NBSP}\u00a5"
    assert format_money("-3", "USD", "es") == f"-3,00{NBSP}$"
    assert (format_money("10", "CHF"), format_money("1500", "JPY")) == ("10.00 CHF", "\u00a51,500")
    assert [format_number(12500, language) for language in translations.LANGUAGES] == [
        "12,500", "12.500", "12\u202f500", "12.500"]
    assert [format_date("2026-12-05", None, language) for language in translations.LANGUAGES] == [
        "5 December 2026", "5. Dezember 2026", "5 d\u00e9cembre 2026", "5 de diciembre de 2026"]
    assert format_date("2026-03-01", None, "fr") == "1er mars 2026"
    assert format_date("2026-03-01", None, "de") == "1. M\u00e4rz 2026"


def test_english_is_the_default_and_unchanged():
    for template in render.TEMPLATES:
        category = render.category_of(template)
        context = render.validate_context(template, CONTEXTS[template])
        unsubscribe = UNSUBSCRIBE if category == "marketing" else None
        assert render.render(template, context, BRAND, unsubscribe_url=unsubscribe) == render.render(
            template, context, BRAND, unsubscribe_url=unsubscribe, language="en")
    message = _render("cart_reminder", CART, "en")
    assert message.subject == "Ana, your cart at Caf\u00e9 Nord is waiting"
    assert "You left something behind, Ana." in message.text and "x 2: \u20ac12.50" in message.text


def test_an_unknown_language_is_refused():
    with pytest.raises(translations.TranslationError, match="unknown language 'it'"):
        _render("cart_reminder", CART, "it")
    with pytest.raises(ValueError, match="no text 'cart.nothing'"):
        translations.text("de", "cart.nothing")


def test_the_merchants_own_subject_and_intro_are_used_as_written():
    context = {**CART, "first_name": None, "subject_override": "{first_name}, Ihr Korb bei {shop_name}",
               "intro": "Wir haben alles f\u00fcr Sie aufgehoben.\n\nBis bald!"}
    german = _render("cart_reminder", context, "de")
    assert german.subject == "liebe Kundin, lieber Kunde, Ihr Korb bei Caf\u00e9 Nord"
    assert re.search(r"<p[^>]*>Wir haben alles f\u00fcr Sie aufgehoben\.</p>\s*<p[^>]*>Bis bald!</p>", german.html)
    # not translated: an English text stays English in a German shop's mail
    english_text = _render("cart_reminder", {**CART, "subject_override": "Still thinking, {first_name}?"}, "de")
    assert english_text.subject == "Still thinking, Ana?"


# --- the setting ---------------------------------------------------------------------------------

@pytest.fixture()
def admin(client, store):
    store.generate(seed=5, customers=2, products=2, orders=0)
    install(client, store)
    assert run_jobs() == []
    return store, bearer(store.session_token(API_KEY))


@pytest.mark.parametrize(("value", "text"), [
    ("it", "must be one of en, de, fr, es"),
    ("DE", "must be one of en, de, fr, es"),
    ("de-DE", "must be one of en, de, fr, es"),
    (1, "must be one of en, de, fr, es"),
    (["de"], "must be one of en, de, fr, es"),
])
def test_a_bad_language_is_refused_with_the_field_named(client, admin, value, text):
    _, auth = admin
    refused = client.put(SETTINGS, json={"language": value}, headers=auth)
    assert refused.status_code == 422
    assert refused.get_json()["field"] == "language" and text in refused.get_json()["error"]
    assert db.session().execute(select(MessagingSettings)).first() is None


def test_the_language_is_set_shown_and_reset(client, admin):
    store, auth = admin
    # a shop that never chose one writes English
    assert client.get(SETTINGS, headers=auth).get_json()["language"] == "en"
    changed = client.put(SETTINGS, json={"language": "de"}, headers=auth)
    assert changed.status_code == 200 and changed.get_json()["language"] == "de"
    # another change keeps it
    assert client.put(SETTINGS, json={"attribution_days": 7}, headers=auth).get_json()["language"] == "de"
    assert client.get(SETTINGS, headers=auth).get_json()["language"] == "de"
    # the flows' preview speaks it too
    preview = client.get(f"/api/admin/flows/{definitions.ABANDONED_CART}/steps/0/preview", headers=auth).get_json()
    assert preview["subject"].startswith("Ihr Warenkorb bei ") and preview["subject"].endswith(" wartet auf Sie")
    assert "Sie haben etwas vergessen" in preview["html"] and "Zur\u00fcck zum Warenkorb" in preview["text"]
    # null: back to the default
    reset = client.put(SETTINGS, json={"language": None}, headers=auth).get_json()
    assert (reset["language"], reset["attribution_days"]) == ("en", 7)
    preview = client.get(f"/api/admin/flows/{definitions.ABANDONED_CART}/steps/0/preview", headers=auth).get_json()
    assert preview["subject"].startswith("Your cart at ")


def test_the_shops_language_goes_into_the_delivery_configuration(session, mail_shop, config):
    assert preferences.apply(session, mail_shop.id, config).language == "en"
    preferences.update(session, mail_shop.id, {"language": "fr"}, config, actor="test")
    session.commit()
    assert preferences.apply(session, mail_shop.id, config).language == "fr"
    assert preferences.load(session, mail_shop.id, config).describe()["language"] == "fr"


# --- sending -----------------------------------------------------------------------------------

def test_a_cart_reminder_arrives_in_german_when_the_shop_writes_german(session, mail_shop, subscriber, smtp,
                                                                       channel, config):
    # given a German shop and a cart reminder written before it chose German
    message = cart_message(session, mail_shop)
    session.commit()
    preferences.update(session, mail_shop.id, {"language": "de"}, config, actor="test")
    session.commit()
    # when it is delivered
    assert delivery.deliver(session, message.id, channel, config, now=NOON).status == "sent"
    # then it arrives in the shop's language at send time
    (received,) = smtp.received
    mail = received.message
    assert mail["Subject"] == "Ana, Ihr Warenkorb bei Caf\u00e9 Nord wartet auf Sie"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.get_body(("html",)).get_content()
    assert text.startswith("Caf\u00e9 Nord\n\nSie haben etwas vergessen, Ana.\n\nIhr Warenkorb wartet noch auf Sie:")
    assert f"x 2: 12,50{NBSP}\u20ac" in text and f"Gesamt: 29,00{NBSP}\u20ac" in text
    assert "(g\u00fcltig bis 11. Dezember 2026)" in text
    assert "Abmelden: " in text and "You left" not in text and "Unsubscribe" not in text
    assert '<html lang="de">' in html and "Sie haben etwas vergessen, Ana</h1>" in html


def test_a_loyalty_notice_arrives_in_spanish(session, mail_shop, subscriber, smtp, channel, config):
    preferences.update(session, mail_shop.id, {"language": "es"}, config, actor="test")
    message = outbox.create_message(session, mail_shop.id, template="points_earned", dedupe_key="p-es",
                                    customer_external_id="c1", context=CONTEXTS["points_earned"]).message
    session.commit()
    assert delivery.deliver(session, message.id, channel, config, now=NOON).status == "sent"
    mail = smtp.received[0].message
    assert mail["Subject"] == "Ha ganado 1250 puntos en Caf\u00e9 Nord"
    text = mail.get_body(("plain",)).get_content()
    assert "\u00a1Ha ganado puntos, Ana!" in text and "Su saldo actual es de 3400 puntos." in text
    assert "Recibe este correo en relaci\u00f3n con su cuenta en Caf\u00e9 Nord." in text


@pytest.fixture()
def mail(app, settings, smtp_server, monkeypatch):
    configured = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                                     smtp_from="Comeback <mail@comeback.example>")
    monkeypatch.setitem(app.extensions, "comeback.settings", configured)
    return configured


def test_a_test_send_arrives_in_the_shops_language(client, admin, mail, smtp):
    _, auth = admin
    assert client.put(SETTINGS, json={"language": "fr"}, headers=auth).status_code == 200
    sent = client.post(f"/api/admin/flows/{definitions.ABANDONED_CART}/steps/0/test",
                       json={"email": "owner@nord.example"}, headers=auth)
    assert sent.status_code == 202
    assert run_jobs() == []
    (received,) = smtp.received
    assert received.message["Subject"].startswith("[Test] Votre panier chez ")
    text = received.message.get_body(("plain",)).get_content()
    assert "Vous avez oubli\u00e9 quelque chose." in text and f"Retrouver votre panier{NBSP}: " in text
