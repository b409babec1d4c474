"""The admin API's refusals in the page's language: the pages say it in ``X-Comeback-Language``,
the ``"error"`` of a 4xx comes back translated, its status and field unchanged; every refusal
written as a plain sentence in the admin's rules has a translation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import select

from app.store.models import Customer
from app.web import customers_admin, refusals
from app.web.pages import i18n

ROOT = Path(__file__).resolve().parents[2]
ASK = refusals.HEADER

# (method, path, body or None, field, {language: refusal}); "{customer}" in a path is a customer's id
CASES = [
    ("PUT", "/api/admin/loyalty/program", {"pending_days": 999}, "pending_days", {
        "en": "pending_days: must be a whole number from 0 to 365",
        "de": "pending_days: muss eine ganze Zahl von 0 bis 365 sein",
        "fr": "pending_days: doit être un nombre entier de 0 à 365"}),
    ("PUT", "/api/admin/loyalty/program", {"rewards": [
        {"id": "ten", "name": "Ten percent", "kind": "percentage", "points": 100, "value": "150",
         "minimum_subtotal": None, "code_days": 30}]}, "rewards[0].value", {
        "en": "rewards[0].value: a percentage must be at most 100",
        "de": "rewards[0].value: ein Prozentsatz darf höchstens 100 sein",
        "fr": "rewards[0].value: un pourcentage doit être au plus 100"}),
    ("PUT", "/api/admin/loyalty/program", {"tiers": [{"name": "Bronze", "threshold": 10, "multiplier": 1}]},
     "tiers[0].threshold", {
        "en": "tiers[0].threshold: the first tier starts at 0",
        "de": "tiers[0].threshold: die erste Stufe beginnt bei 0",
        "fr": "tiers[0].threshold: le premier niveau commence à 0"}),
    ("POST", "/api/admin/segments/preview", {"rules": {"all": [
        {"field": "order_count", "op": ">", "value": 1}, {"field": "spend_percentile", "op": ">", "value": 150}]}},
     "rules.all[1].value", {
        "en": "rules.all[1].value: must be from 0 to 100",
        "de": "rules.all[1].value: muss zwischen 0 und 100 liegen",
        "fr": "rules.all[1].value: doit être compris entre 0 et 100"}),
    ("PUT", "/api/admin/flows/win_back", {"holdout_share": 0.9}, "holdout_share", {
        "en": "holdout_share: must be from 0 to 0.5",
        "de": "holdout_share: muss zwischen 0 und 0.5 liegen",
        "fr": "holdout_share: doit être compris entre 0 et 0.5"}),
    ("POST", "/api/admin/customers/{customer}/adjustments", {"points": 0, "reason": "Goodwill", "key": "k-0"},
     "points", {
        "en": "Enter a whole number of points other than 0 (negative to deduct).",
        "de": "Geben Sie eine ganze Zahl von Punkten ungleich 0 ein (negativ zum Abziehen).",
        "fr": "Saisissez un nombre entier de points différent de 0 (négatif pour déduire)."}),
    ("POST", "/api/admin/customers/{customer}/adjustments",
     {"points": 5, "reason": "x" * (customers_admin.MAX_REASON + 1), "key": "k-1"}, "reason", {
        "en": f"Keep the reason to {customers_admin.MAX_REASON} characters.",
        "de": f"Der Grund darf höchstens {customers_admin.MAX_REASON} Zeichen lang sein.",
        "fr": f"Le motif doit tenir en {customers_admin.MAX_REASON} caractères."}),
    ("PUT", "/api/admin/messaging/settings", {"sender_name": "Shop <b>"}, "sender_name", {
        "en": 'sender_name: must be null or a name of 1 to 80 characters, without <, > or "',
        "de": 'sender_name: muss null oder ein Name mit 1 bis 80 Zeichen ohne <, > oder " sein',
        "fr": 'sender_name: doit être null ou un nom de 1 à 80 caractères, sans <, > ni "'}),
    ("PUT", "/api/admin/messaging/settings", {"attribution_days": 99}, "attribution_days", {
        "en": "attribution_days: must be a whole number of days from 1 to 60",
        "de": "attribution_days: muss eine ganze Zahl von Tagen von 1 bis 60 sein",
        "fr": "attribution_days: doit être un nombre entier de jours de 1 à 60"}),
    ("GET", "/api/admin/segments/nope", None, None, {
        "en": "no segment 'nope'",
        "de": "kein Segment 'nope'",
        "fr": "aucun segment 'nope'"}),
]


def _call(admin, method: str, path: str, body, language: str | None):
    """The request as admin.js sends it: the admin's credentials and, when given, the page's language."""
    headers = admin.headers()
    if language is not None:
        headers[ASK] = language
    return admin.client.open(path, method=method, json=body, headers=headers)


def test_each_api_refuses_in_the_language_the_page_asks_for(admin):
    customer = select(Customer.id).where(Customer.shop_id == admin.shop_id).order_by(Customer.id).limit(1)
    from app.extensions import db

    customer_id = db.session().execute(customer).scalar_one()
    for method, path, body, field, texts in CASES:
        path = path.replace("{customer}", str(customer_id))
        english = _call(admin, method, path, body, None)
        assert english.status_code in (404, 422), (path, english.status_code, english.get_data(as_text=True))
        assert english.get_json().get("field") == field, path
        assert english.get_json()["error"] == texts["en"], path
        for asked, expected in (("en", "en"), ("xx", "en"), ("de", "de"), ("fr", "fr"), ("de-DE", "de")):
            answer = _call(admin, method, path, body, asked)
            assert answer.status_code == english.status_code, (path, asked)
            assert answer.get_json() == {**english.get_json(), "error": texts[expected]}, (path, asked)


def test_an_answer_that_is_no_refusal_is_left_as_it_is(admin):
    plain = _call(admin, "GET", "/api/admin/loyalty/program", None, None)
    german = _call(admin, "GET", "/api/admin/loyalty/program", None, "de")
    assert german.status_code == plain.status_code == 200
    assert german.get_data() == plain.get_data()


def test_the_pages_send_their_language_with_every_api_call():
    script = (ROOT / "app/web/pages/static/admin.js").read_text(encoding="utf-8")
    assert f'"{ASK}": document.documentElement.lang' in script


# --- translate -------------------------------------------------------------------------------


def test_the_values_of_a_refusal_are_carried_into_the_translation():
    message = "rewards[3].name: must be 1 to 80 characters"
    assert refusals.translate(message, "de") == "rewards[3].name: muss 1 bis 80 Zeichen lang sein"
    assert refusals.translate(message, "fr") == "rewards[3].name: doit comporter de 1 à 80 caractères"


def test_the_most_specific_template_wins():
    # "must be from {minimum}" matches too (minimum = "0 to 100"); the template with more fixed text wins
    assert refusals.translate("rules.all[0].value: must be from 0 to 100", "de") == (
        "rules.all[0].value: muss zwischen 0 und 100 liegen")
    assert refusals.translate("rules.all[0].value: must be from 0", "de") == "rules.all[0].value: muss mindestens 0 sein"
    assert refusals.translate("language: must be one of en, de, fr (or null for the default, en)", "fr") == (
        "language: doit être l’une de ces valeurs : en, de, fr (ou null pour la valeur par défaut, en)")
    assert refusals.translate("tiers[0]: must have exactly multiplier, name (optional: perks)", "de") == (
        "tiers[0]: muss genau diese Felder haben: multiplier, name (optional: perks)")


def test_a_refusal_inside_a_refusal_is_translated_too():
    message = "the step cannot be shown: steps[0].intro: must be one line"
    assert refusals.translate(message, "de") == (
        "der Schritt kann nicht angezeigt werden: steps[0].intro: muss eine einzige Zeile sein")


def test_a_long_message_echoing_what_a_client_sent_is_left_as_it_is():
    # a key of thousands of characters in "<key>: unknown setting (known: …)": no template is tried
    message = "x: " * 2000 + ": unknown setting (known: pending_days)"
    assert len(message) > refusals.MAX_LENGTH
    assert refusals.translate(message, "de") == message
    short = "x: unknown setting (known: pending_days)"
    assert refusals.translate(short, "de") != short


def test_the_ledgers_own_refusal_of_a_deduction_is_translated():
    assert refusals.translate("this would take the balance below zero: 50 points available", "fr") == (
        "cela ferait passer le solde sous zéro : 50 points disponibles")


def test_literal_braces_in_a_refusal_are_kept():
    assert refusals.translate('rules: must be {"all": [...]} or {"any": [...]}', "de") == (
        'rules: muss {"all": [...]} oder {"any": [...]} sein')
    assert refusals.translate("steps[0].subject: {coupon} is not a value an email can fill in (use {name})",
                              "fr") == ("steps[0].subject: {coupon} n’est pas une valeur qu’un e-mail peut "
                                        "remplir (utilisez {name})")


@pytest.mark.parametrize("message, language", [
    ("something no rule says", "de"),
    ("pending_days: must be a whole number, or so it says", "de"),
    ("pending_days: must be a whole number from 0 to 365", "en"),
    ("pending_days: must be a whole number from 0 to 365", "xx"),
])
def test_a_message_without_a_template_or_in_english_is_unchanged(message, language):
    assert refusals.translate(message, language) == message


def test_every_english_template_is_a_pattern_of_its_own():
    english = refusals.templates("en")
    assert len(set(english.values())) == len(english)
    for language in set(i18n.LANGUAGES) - {"en"}:
        assert sorted(refusals.templates(language)) == sorted(english)


# --- completeness ----------------------------------------------------------------------------

# Where the admin pages' refusals are written: the admin APIs and the rules they call.
SOURCES = [
    "app/web/admin.py", "app/web/loyalty_admin.py", "app/web/loyalty_referrals_admin.py", "app/web/flows_admin.py",
    "app/web/segments_admin.py", "app/web/customers_admin.py", "app/web/messaging_admin.py",
    "app/web/onboarding_admin.py", "app/loyalty/program.py", "app/loyalty/widget.py", "app/loyalty/ledger.py",
    "app/flows/definitions.py", "app/segments/rules.py", "app/segments/membership.py",
    "app/messaging/preferences.py", "app/onboarding.py",
]
# errors raised as (field, message) and shown as "field: message"
FIELD_ERRORS = {"ProgramError", "FlowError", "RuleError", "SegmentError", "SettingsError", "WidgetError"}
# errors whose message is shown as it is
PLAIN_ERRORS = {"StepNotReadyError": 1, "LedgerError": 0}


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _refusal(call: ast.Call) -> str | None:
    """The message a call refuses with when it is a plain sentence, as the API's answer carries it."""
    name, args = _name(call), call.args
    if name in FIELD_ERRORS and len(args) == 2 and _text(args[1]) is not None:
        field = _text(args[0])
        if field is None:
            field = "steps[0].value"  # built from the place: any path
        elif name == "WidgetError":
            field = f"widget.{field}" if field else "widget"
        return f"{field}: {_text(args[1])}"
    if name in PLAIN_ERRORS and len(args) > PLAIN_ERRORS[name]:
        return _text(args[PLAIN_ERRORS[name]])
    if name in ("error_response", "abort") and args and isinstance(args[0], ast.Constant) \
            and isinstance(args[0].value, int) and 400 <= args[0].value < 500:
        if name == "error_response":
            return _text(args[1]) if len(args) > 1 else None
        return next((_text(k.value) for k in call.keywords if k.arg == "description"), None)
    return None


def _refusals() -> list[tuple[str, int, str]]:
    found = []
    for source in SOURCES:
        tree = ast.parse((ROOT / source).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                message = _refusal(node)
                if message is not None:
                    found.append((source, node.lineno, message))
    return found


def test_the_completeness_check_finds_the_refusals():
    messages = {message for _source, _line, message in _refusals()}
    assert len(messages) > 80
    assert "program: send a JSON object with the settings to change" in messages
    assert "Enter a whole number of points other than 0 (negative to deduct)." in messages


@pytest.mark.parametrize("language", sorted(set(i18n.LANGUAGES) - {"en"}))
def test_every_plain_refusal_of_the_admin_has_a_translation(language):
    untranslated = [(source, line, message) for source, line, message in _refusals()
                    if refusals.translate(message, language) == message]
    assert not untranslated, untranslated
