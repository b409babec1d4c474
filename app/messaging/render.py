"""Render a message: subject, responsive HTML with the CSS inlined, and a plain-text part.

Templates live in ``app/messaging/templates/``: ``<name>.html`` (autoescaped) and ``<name>.txt``
(whose ``subject`` block is the subject line), both extending a base layout with the shop's
branding and a footer; marketing mail carries the unsubscribe link. After rendering, every
http(s) link of both parts goes through the message's click-tracking URL and the HTML gets the
open pixel; links to the app's own message endpoints (the unsubscribe page) stay as they are.

Every fixed text of a template comes from the catalogue of the message's language
(``app/messaging/translations/<language>.json``): templates call ``t("cart.heading", name=...)``,
or ``named("cart.heading")`` for a text that has a ``_anonymous`` form used when the customer's
first name is unknown. Amounts, numbers and dates are written the way the language writes them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html as html_lib
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import css_inline
from jinja2 import ChainableUndefined, Environment, PackageLoader, Undefined, pass_eval_context, select_autoescape
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.loyalty import widget
from app.messaging import preferences, translations
from app.messaging.tracking import LinkTracker, is_web_url
from app.store.models import LoyaltyProgram, Shop

# Each template, the category it is (marketing mail needs consent and carries an unsubscribe
# link) and the context keys it cannot do without.
TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cart_reminder": ("marketing", ("items", "recovery_url")),
    "thank_you": ("marketing", ()),
    "review_request": ("marketing", ("review_url",)),
    "cross_sell": ("marketing", ("recommendations",)),
    "win_back": ("marketing", ("coupon",)),
    "birthday": ("marketing", ()),
    "points_earned": ("transactional", ("points",)),
    "reward_available": ("transactional", ("reward_name",)),
    "points_expiring": ("transactional", ("points", "expires_on")),
    "tier_upgrade": ("transactional", ("tier",)),
}

# Context keys holding a link, a list of things (each with links of its own) and amounts.
_URL_KEYS = ("recovery_url", "review_url", "shop_url", "rewards_url", "logo_url")
_LIST_KEYS = ("items", "recommendations", "products")
_ITEM_URL_KEYS = ("url", "image_url")
_MONEY_KEYS = ("price", "total")
_INTEGER_KEYS = ("points", "balance", "quantity")
_MAX_LIST = 50
# A merchant's own subject line and opening text (a flow step's ``subject`` / ``intro``) replace
# the template's; they may name these values in braces: ``{first_name}, your cart is waiting``.
PLACEHOLDERS = ("first_name", "shop_name")
MAX_SUBJECT = 150
MAX_INTRO = 2000
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class ContextError(ValueError):
    """A template's context is missing something or holds something it cannot show."""

    def __init__(self, field: str, message: str):
        super().__init__(f"context.{field}: {message}")
        self.field = field


@dataclasses.dataclass(frozen=True)
class Branding:
    """How the shop looks in its mail: the widget's main colour, with readable text on it."""

    shop_name: str
    shop_url: str
    currency: str | None = None
    timezone: str | None = None
    primary_color: str = widget.DEFAULTS["primary_color"]
    logo_url: str | None = None

    @property
    def button_text_color(self) -> str:
        return widget.readable_on(self.primary_color)


@dataclasses.dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str


def shop_url(shop: Shop) -> str:
    """The storefront's address: the shop's domain, or its URL where the store is known by one."""
    domain = shop.domain or ""
    return domain.rstrip("/") if domain.startswith(("http://", "https://")) else f"https://{domain}"


def branding_for(session: Session, shop: Shop) -> Branding:
    """The shop's name, address, currency, time zone, the colour its program's widget uses and the
    logo of its messaging settings."""
    # Only the widget's look of the newest version is needed (not the whole program checked).
    settings = session.execute(select(LoyaltyProgram.settings).where(LoyaltyProgram.shop_id == shop.id)
                               .order_by(LoyaltyProgram.version.desc()).limit(1)).scalar_one_or_none()
    colour = widget.with_defaults((settings or {}).get("widget"))["primary_color"]
    if not isinstance(colour, str) or not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        colour = widget.DEFAULTS["primary_color"]
    return Branding(shop_name=shop.name or shop.domain, shop_url=shop_url(shop), currency=shop.currency,
                    timezone=shop.timezone, primary_color=colour,
                    logo_url=preferences.logo_url(session, shop.id))


def category_of(template: str) -> str:
    """The category a template is sent in; raises ``ValueError`` for an unknown template."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r} (known: {', '.join(sorted(TEMPLATES))})")
    return TEMPLATES[template][0]


def validate_context(template: str, context: Any) -> dict[str, Any]:
    """Check a context before it is stored: required keys, links, amounts, lists. Returns a copy."""
    category_of(template)
    if not isinstance(context, Mapping):
        raise ContextError("", "must be an object")
    context = dict(context)
    for key in TEMPLATES[template][1]:
        if context.get(key) in (None, "", [], {}):
            raise ContextError(key, f"is required by the {template} template")
    for key in _URL_KEYS:
        if context.get(key) is not None and not (isinstance(context[key], str) and is_web_url(context[key])):
            raise ContextError(key, "must be an http(s) address")
    for key in _LIST_KEYS:
        items = context.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or len(items) > _MAX_LIST:
            raise ContextError(key, f"must be a list of at most {_MAX_LIST} objects")
        for n, item in enumerate(items):
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"].strip():
                raise ContextError(f"{key}[{n}]", "must be an object with a name")
            for url_key in _ITEM_URL_KEYS:
                if item.get(url_key) is not None and not (isinstance(item[url_key], str)
                                                          and is_web_url(item[url_key])):
                    raise ContextError(f"{key}[{n}].{url_key}", "must be an http(s) address")
            _check_values(item, f"{key}[{n}].")
    _check_values(context, "")
    coupon = context.get("coupon")
    if coupon is not None:
        if not isinstance(coupon, Mapping) or not isinstance(coupon.get("code"), str) or not coupon["code"].strip():
            raise ContextError("coupon", "must be an object with a code")
        if coupon.get("expires_at") is not None and _as_moment(coupon["expires_at"]) is None:
            raise ContextError("coupon.expires_at", "must be an ISO date or date-time")
    if context.get("expires_on") is not None and _as_moment(context["expires_on"]) is None:
        raise ContextError("expires_on", "must be an ISO date or date-time")
    for key, limit in (("subject_override", MAX_SUBJECT), ("intro", MAX_INTRO)):
        value = context.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise ContextError(key, f"must be a text of at most {limit} characters")
        try:
            check_placeholders(value)
        except ValueError as error:
            raise ContextError(key, str(error)) from None
    if context.get("bought") is not None and not (isinstance(context["bought"], list)
                                                  and all(isinstance(b, str) for b in context["bought"])):
        raise ContextError("bought", "must be a list of texts")
    if context.get("perks") is not None and not (isinstance(context["perks"], list)
                                                 and all(isinstance(p, str) for p in context["perks"])):
        raise ContextError("perks", "must be a list of texts")
    return context


def _check_values(values: Mapping[str, Any], prefix: str) -> None:
    for key in _MONEY_KEYS:
        if values.get(key) is not None and _as_decimal(values[key]) is None:
            raise ContextError(prefix + key, "must be an amount, e.g. \"12.50\"")
    for key in _INTEGER_KEYS:
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ContextError(prefix + key, "must be a whole number")


def check_placeholders(text: str) -> None:
    """Raise ``ValueError`` when a merchant's text names a value in braces that is not one of ``PLACEHOLDERS``."""
    for name in _PLACEHOLDER.findall(text):
        if name.strip() not in PLACEHOLDERS:
            raise ValueError(f"{{{name}}} is not a value an email can fill in (use "
                             + ", ".join(f"{{{known}}}" for known in PLACEHOLDERS) + ")")


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Put the values into a merchant's text; a lone brace stays as it is."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip(), m.group(0)), text)


# --- formatting -------------------------------------------------------------------------------

_SYMBOLS = {"USD": "$", "EUR": "\u20ac", "GBP": "\u00a3", "JPY": "\u00a5", "CAD": "CA$", "AUD": "A$",
            "NZD": "NZ$", "INR": "\u20b9", "BRL": "R$", "MXN": "MX$", "KRW": "\u20a9"}
_NO_MINOR_UNITS = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"}
# How each language writes numbers: the thousands separator, the decimal mark, the smallest
# number that is grouped (Spanish writes 1250 but 12.500), and whether a currency symbol comes
# after the amount (``12,50 €``, a no-break space between them) rather than before (``€12.50``).
_NUMBERS: dict[str, tuple[str, str, int, bool]] = {
    "en": (",", ".", 1000, False),
    "de": (".", ",", 1000, True),
    "fr": ("\u202f", ",", 1000, True),
    "es": (".", ",", 10000, True),
}


def format_number(value: Any, language: str = translations.DEFAULT, places: int = 0) -> str:
    """``1250`` is ``1,250`` in English, ``1.250`` in German, ``1 250`` in French, ``1250`` in Spanish."""
    group, mark, grouped_from, _ = _NUMBERS.get(language, _NUMBERS[translations.DEFAULT])
    amount = _as_decimal(value)
    if amount is None:
        return str(value)
    written = f"{abs(amount):,.{places}f}" if abs(amount) >= grouped_from else f"{abs(amount):.{places}f}"
    written = written.replace(",", "\0").replace(".", mark).replace("\0", group)
    return f"-{written}" if amount < 0 else written


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def format_money(value: Any, currency: str | None, language: str = translations.DEFAULT) -> str:
    """``12.5`` in EUR is ``€12.50`` (German, French, Spanish: ``12,50 €``); a currency without a
    symbol here is written after the amount (``10.00 CHF``, ``10,00 CHF``)."""
    amount = _as_decimal(value)
    if amount is None:
        return ""
    code = (currency or "").upper()
    places = 0 if code in _NO_MINOR_UNITS else 2
    amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    number = format_number(abs(amount), language, places)
    sign = "-" if amount < 0 else ""
    if not _NUMBERS.get(language, _NUMBERS[translations.DEFAULT])[3]:
        return f"{sign}{_SYMBOLS[code]}{number}" if code in _SYMBOLS else f"{sign}{number} {code}".rstrip()
    return f"{sign}{number}\u00a0{_SYMBOLS.get(code, code)}".rstrip()


def _as_moment(value: Any) -> dt.date | dt.datetime | None:
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if not isinstance(value, str):
        return None
    try:
        if "T" in value or " " in value.strip():
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def zone(name: str | None) -> ZoneInfo:
    """The shop's IANA time zone; UTC when it has none or an unknown one."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_date(value: Any, timezone: str | None, language: str = translations.DEFAULT) -> str:
    """``2026-12-05`` is ``5 December 2026`` (``5. Dezember 2026``, ``5 décembre 2026``,
    ``5 de diciembre de 2026``); a date-time is shown on its day in the shop's zone."""
    moment = _as_moment(value)
    if moment is None:
        return ""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(zone(timezone)).date()
    day = translations.translate(language, "date.day.1", day=1) if moment.day == 1 else str(moment.day)
    return translations.translate(language, "date.format", day=day, year=moment.year,
                                  month=translations.text(language, f"date.month.{moment.month}"))


# --- rendering --------------------------------------------------------------------------------

_environment = Environment(
    loader=PackageLoader("app.messaging", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
# ``x is given``: present and not null (an absent key is "undefined", which ``is not none`` lets by).
_environment.tests["given"] = lambda value: value is not None and not isinstance(value, Undefined)
# The media queries of the layout stay in a <style> element (they cannot be inlined); nothing
# is fetched from the network.
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_HREF = re.compile(r'href="([^"]*)"')
_TEXT_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def render(template: str, context: Mapping[str, Any], branding: Branding, *, category: str | None = None,
           unsubscribe_url: str | None = None, tracker: LinkTracker | None = None,
           language: str = translations.DEFAULT) -> RenderedMessage:
    """Render one message in ``language`` (``translations.LANGUAGES``). Marketing mail must be
    given its ``unsubscribe_url``. The merchant's own ``subject_override`` and ``intro`` are used as
    written, in whatever language the merchant wrote them."""
    category = category or category_of(template)
    if category == "marketing" and not unsubscribe_url:
        raise ValueError("marketing mail needs an unsubscribe link")
    translations.catalogue(language)  # an unknown language is refused here, before anything renders
    values = _values(context, branding, category, unsubscribe_url, language)
    text_template = _environment.get_template(f"{template}.txt")
    if isinstance(values.get("subject_override"), str) and values["subject_override"].strip():
        subject = " ".join(values["subject_override"].split())
    else:
        subject = " ".join("".join(text_template.blocks["subject"](text_template.new_context(values))).split())
    values["subject"] = subject
    text = _BLANK_LINES.sub("\n\n", text_template.render(values)).strip() + "\n"
    html = _inliner.inline(_environment.get_template(f"{template}.html").render(values))
    if tracker is not None:
        html = _HREF.sub(lambda m: f'href="{html_lib.escape(_track(tracker, html_lib.unescape(m.group(1))))}"', html)
        text = _TEXT_URL.sub(lambda m: _track(tracker, m.group(0)), text)
        pixel = (f'<img src="{html_lib.escape(tracker.pixel_url())}" width="1" height="1" alt="" '
                 f'style="display: block; width: 1px; height: 1px; border: 0;">')
        html = html.replace("</body>", pixel + "</body>", 1) if "</body>" in html else html + pixel
    return RenderedMessage(subject=subject, html=html, text=text)


def _track(tracker: LinkTracker, url: str) -> str:
    return url if tracker.is_own(url) or not is_web_url(url) else tracker.click_url(url)


def _translator(language: str, first_name: str, has_name: bool) -> tuple[Callable[..., str], Callable[..., str]]:
    """``t(id, **values)`` and ``named(id, **values)`` for the templates.

    In HTML the catalogue's text is escaped and so is every value, except one that is markup
    already (``{% set x %}<strong>…</strong>{% endset %}``), so a translation may wrap values in tags.
    ``named`` gives ``<id>`` with the customer's first name as ``name``, or ``<id>_anonymous``.
    """

    @pass_eval_context
    def t(eval_context: EvalContext, key: str, **values: Any) -> str:
        text = translations.text(language, key)
        try:
            if eval_context.autoescape:
                return Markup(escape(text).format(**values))
            return text.format(**values)
        except (KeyError, IndexError) as error:
            raise translations.TranslationError(f"{language} text {key!r} needs the value {error}") from None

    @pass_eval_context
    def named(eval_context: EvalContext, key: str, **values: Any) -> str:
        if has_name:
            return t(eval_context, key, name=first_name, **values)
        return t(eval_context, f"{key}_anonymous", **values)

    return t, named


def _values(context: Mapping[str, Any], branding: Branding, category: str,
            unsubscribe_url: str | None, language: str) -> dict[str, Any]:
    currency = context.get("currency") if isinstance(context.get("currency"), str) else branding.currency
    timezone = branding.timezone
    first_name = context.get("first_name")
    if isinstance(context.get("logo_url"), str) and not branding.logo_url:
        branding = dataclasses.replace(branding, logo_url=context["logo_url"])
    money: Callable[[Any], str] = lambda value: format_money(value, currency, language)  # noqa: E731
    date: Callable[[Any], str] = lambda value: format_date(value, timezone, language)  # noqa: E731
    number: Callable[[Any], str] = lambda value: format_number(value, language)  # noqa: E731
    given = first_name.strip() if isinstance(first_name, str) else ""
    has_name = bool(given)
    # Unknown: the merchant's own texts say "there" ("Hi {first_name}" is "Hi there"), or the
    # language's own way of addressing a customer.
    name = given or translations.text(language, "name.unknown")
    t, named = _translator(language, name, has_name)
    own = {key: fill_placeholders(context[key], {"first_name": name, "shop_name": branding.shop_name})
           for key in ("subject_override", "intro") if isinstance(context.get(key), str) and context[key].strip()}
    return {
        **context,
        "subject_override": own.get("subject_override"),
        "intro": own.get("intro"),
        "first_name": name,
        "shop": branding,
        "shop_url": context.get("shop_url") or branding.shop_url,
        "primary_color": branding.primary_color,
        "button_text_color": branding.button_text_color,
        "category": category,
        "is_marketing": category == "marketing",
        "unsubscribe_url": unsubscribe_url,
        "money": money,
        "date": date,
        "number": number,
        "language": language,
        "has_name": has_name,
        "t": t,
        "named": named,
    }


def preview(shop: Shop, template: str, context: Mapping[str, Any], *, session: Session | None = None,
            category: str | None = None, language: str = translations.DEFAULT) -> RenderedMessage:
    """What a customer would see, without tracking (for the admin's preview).

    Links are shown as they are; marketing mail shows its unsubscribe link pointing at ``#``.
    """
    from app.extensions import db

    session = session or db.session()
    checked = validate_context(template, context)
    category = category or category_of(template)
    return render(template, checked, branding_for(session, shop), category=category,
                  unsubscribe_url="#unsubscribe" if category == "marketing" else None, language=language)
