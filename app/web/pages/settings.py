"""The settings page: the widget's look, the sender, contact rules, measurement, language and currency.

Nothing here is stored by the page itself: each card is a form that posts to the API that owns
the setting (the loyalty program's ``widget``, the shop's messaging settings, each flow's
``holdout_share``), so the rules and their 422 messages live in one place. The currency is the
store's own and is shown, not edited.
"""

from __future__ import annotations

from flask import g

from app.extensions import db
from app.flows import definitions, triggers
from app.loyalty import program as programs
from app.loyalty import widget
from app.messaging import preferences, render
from app.store.types import utcnow
from app.web.messaging_admin import delivery_config
from app.web.pages import blueprint, i18n, page
from app.web.pages import render as render_page

PATH = "/admin/settings"
# The example amount the currency card writes in each language the shop's email may use.
EXAMPLE_AMOUNT = "1234.50"
# The widget's controls (a button on the panel) against the panel: WCAG's 3:1 for non-text contrast.
CONTROL_CONTRAST = 3.0
TEXT_CONTRAST = 4.5


def _look(settings: dict) -> dict:
    """The widget's look with the text colours it will draw and their contrast ratios."""
    look = widget.view(settings)
    return {**look,
            "primary_contrast": round(widget.contrast(look["primary_text"], look["primary_color"]), 2),
            "background_contrast": round(widget.contrast(look["text_color"], look["background_color"]), 2),
            "control_contrast": round(widget.contrast(look["primary_color"], look["background_color"]), 2)}


def _holdouts(flows: dict[str, definitions.FlowVersion]) -> list[dict]:
    rows = []
    for key, flow in flows.items():
        built_in = flow.built_in
        share = float(flow["holdout_share"])
        rows.append({"key": key, "name": built_in.name, "category": built_in.category,
                     "enabled": flow.is_enabled, "share": share,
                     "percent": f"{share * 100:.1f}".rstrip("0").rstrip("."),
                     "default_percent": f"{float(built_in.defaults['holdout_share']) * 100:.1f}".rstrip("0").rstrip(".")})
    return rows


@blueprint.get(PATH)
@page("settings")
def settings_page():
    session = db.session()
    shop = g.shop
    program = programs.ensure(session, shop.id)
    flows = definitions.ensure_all(session, shop.id, triggers.installed_at(shop, utcnow()))
    session.commit()
    config = delivery_config()
    current = preferences.load(session, shop.id, config)
    defaults = preferences.defaults(config)
    look = _look(program["widget"])
    currency = (shop.currency or "").upper() or None
    examples = [{"language": code, "text": render.format_money(EXAMPLE_AMOUNT, currency, code)}
                for code in preferences.LANGUAGES] if currency else []
    language = g.language
    strings = {key: i18n.translate(language, f"settings.{key}") for key in (
        "contrast_text_low", "contrast_control_low", "contrast_figures", "preview_default_label",
        "preview_description", "position_bottom_right", "position_bottom_left")}
    return render_page(
        "pages/settings.html", title=i18n.translate(language, "settings.title"),
        subtitle=i18n.translate(language, "settings.subtitle"),
        look=look, widget_defaults=widget.DEFAULTS, positions=widget.POSITIONS,
        messaging=current.describe(), messaging_defaults=defaults.describe(), sender_address=config.sender,
        transactional_choices=preferences.TRANSACTIONAL_CHOICES, email_languages=preferences.LANGUAGES,
        holdouts=_holdouts(flows), holdout_max=50, currency=currency, currency_examples=examples,
        timezone=shop.timezone or "UTC", platform=shop.platform,
        contrast={"text": TEXT_CONTRAST, "control": CONTROL_CONTRAST},
        script_data={"strings": strings, "text_minimum": TEXT_CONTRAST, "control_minimum": CONTROL_CONTRAST,
                     "default_label": strings["preview_default_label"]})
