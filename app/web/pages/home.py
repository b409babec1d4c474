"""The home page: the few figures that matter, each with its definition, and three charts.

The figures come from the domain code as the JSON APIs give them (``app.analytics``,
``app.flows.reports``, ``app.loyalty.ledger``, the segments' ``customer_metrics``); this module
only gathers and words them. The order-based figures (cohorts, new and returning revenue,
repeat rate, flow lift) read every counted order of the shop: 2 to 4 s for 100,000 customers
and 500,000 orders. So they are kept in Redis per shop (``CACHE_SECONDS`` when a view computed
them, ``WARM_SECONDS`` when the hourly warm-up in ``jobs.segmentation`` did) and the page says
when they were computed. The key holds what changes their meaning (currency, time zone, the
day) and the order of magnitude of the shop's orders, refunds and flow runs (their counts'
bit length, through the shop's indexes): a shop whose first orders or first flow runs arrive
sees them at once. When they are not kept, a small shop (under ``INLINE_ORDERS`` orders)
computes them while the page renders; a large one gets the page at once with boxes of reserved
size saying "Calculating…", and home.js fills them from ``GET /api/admin/analytics/home``
(``figures_payload``: the same figures, kept, and the same macros' markup). The rest (members,
redemptions, points, churn, RFM) is read live: each is one indexed aggregate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from decimal import Decimal
from typing import Any

import redis
from flask import current_app, g
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from app import onboarding
from app.analytics import cohorts, common, customers, programs
from app.extensions import db, redis_holder
from app.flows import definitions, reports
from app.messaging import render as formatting
from app.messaging import translations as message_words
from app.segments import metrics
from app.store.models import (
    CustomerMetrics,
    FlowRun,
    LoyaltyMember,
    Order,
    Redemption,
    Refund,
    SegmentModel,
    Shop,
)
from app.store.types import utcnow
from app.web.pages import blueprint, i18n, link, page
from app.web.pages import render as render_page

log = logging.getLogger(__name__)

PATH = "/admin"
WINDOW_DAYS = 365
COHORT_MONTHS = 12
# Fewer held-out customers than this and the interval says little; the page says so instead.
MIN_HOLDOUT = 50
CACHE_SECONDS = 300
# What the warm-up job computes is kept until the one after next (it runs hourly).
WARM_SECONDS = 2 * 3600
# A shop whose home page was opened within this is warmed up every hour.
SEEN_SECONDS = 7 * 24 * 3600
# Below this many orders the figures are computed while the page renders; above, after.
INLINE_ORDERS = 20_000
CACHE_VERSION = 1
# The heatmaps' colour scale: from a pale to a deep blue; text is black or white, whichever
# contrasts more (at least 4.58:1 for any background).
_PALE = (0xEE, 0xF4, 0xFC)
_DEEP = (0x0B, 0x3D, 0x91)


# --- figures ----------------------------------------------------------------------------------


def _sizes(session: Session, shop: Shop) -> list[int]:
    """How many orders, refunds and flow runs the shop has (three indexed counts)."""
    return [int(session.execute(select(func.count()).select_from(model).where(model.shop_id == shop.id)).scalar_one())
            for model in (Order, Refund, FlowRun)]


def _cache_key(shop: Shop, now: dt.datetime, sizes: list[int]) -> str:
    """What the cached figures depend on in kind: the shop's settings, the day, how many rows (roughly)."""
    parts = [CACHE_VERSION, shop.id, shop.platform, shop.domain, shop.created_at, shop.currency, shop.timezone,
             now.astimezone(common.zone(shop)).date().isoformat(),
             *(size.bit_length() for size in sizes)]
    return f"cb:home:{shop.id}:{hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]}"


def _order_figures(session: Session, shop: Shop, now: dt.datetime) -> dict[str, Any]:
    """Cohorts, new and returning revenue, repeat rate and every flow's report (JSON-ready)."""
    timezone = common.zone(shop)
    year, month = common.month_of(now, timezone)
    months = common.months_ending(year, month, COHORT_MONTHS, timezone)
    flows = {}
    for key in definitions.KEYS:
        found = reports.report(session, shop.id, key)
        if found["runs"]:
            flows[key] = {"runs": found["runs"], "conversion": found["conversion"], "lift": found["lift"],
                          "revenue": found["attributed"]["revenue"], "orders": found["attributed"]["orders"]}
    # Both figures are views of one grid: read it once.
    grid = cohorts.read_grid(session, shop, months)
    return {"cohorts": cohorts.cohorts(session, shop, months, grid=grid),
            "split": cohorts.revenue_split(session, shop, months, grid=grid),
            "repeat": customers.repeat_rate(session, shop, WINDOW_DAYS, now),
            "flows": flows, "at": now.isoformat()}


def _kept(client: redis.Redis, shop: Shop, key: str) -> dict[str, Any] | None:
    try:
        kept = client.get(key)
    except redis.RedisError as error:
        log.warning("shop=%s home figures cache unavailable: %s", shop.id, error)
        return None
    return json.loads(kept) if kept is not None else None


def _mark_seen(client: redis.Redis, shop: Shop) -> None:
    try:
        client.set(seen_key(shop.id), 1, ex=SEEN_SECONDS)
    except redis.RedisError as error:
        log.warning("shop=%s home view not recorded: %s", shop.id, error)


def seen_key(shop_id: int) -> str:
    """The Redis key that says the shop's home page was opened in the last ``SEEN_SECONDS``."""
    return f"cb:home:seen:{shop_id}"


def order_figures(session: Session, shop: Shop, now: dt.datetime, *, refresh: bool = False,
                  keep_seconds: int = CACHE_SECONDS) -> dict[str, Any]:
    """``_order_figures``, from Redis when kept for the same fingerprint; computed and kept otherwise.

    ``refresh`` computes them even when kept (the warm-up job), ``keep_seconds`` is how long
    the new figures are kept.
    """
    key = _cache_key(shop, now, _sizes(session, shop))
    client = redis_holder.get()
    if not refresh:
        kept = _kept(client, shop, key)
        if kept is not None:
            return kept
    found = _order_figures(session, shop, now)
    try:
        client.set(key, json.dumps(found), ex=keep_seconds)
    except redis.RedisError as error:
        log.warning("shop=%s home figures not cached: %s", shop.id, error)
    return found


def order_figures_at_once(session: Session, shop: Shop, now: dt.datetime) -> dict[str, Any] | None:
    """The order figures when they are kept or quick to compute (a small shop); None when they must wait.

    A shop with fewer than ``INLINE_ORDERS`` orders computes them within the page's time (a
    few tens of milliseconds); a larger one leaves them to ``GET /api/admin/analytics/home``
    and the page asks for them once drawn.
    """
    client = redis_holder.get()
    _mark_seen(client, shop)
    sizes = _sizes(session, shop)
    kept = _kept(client, shop, _cache_key(shop, now, sizes))
    if kept is not None:
        return kept
    if sizes[0] >= INLINE_ORDERS:
        return None
    return order_figures(session, shop, now)


def loyalty_figures(session: Session, shop: Shop, now: dt.datetime) -> dict[str, Any]:
    """Members now, those who redeemed in the window, and the points owed with their value."""
    members = session.execute(select(func.count()).select_from(LoyaltyMember).where(
        LoyaltyMember.shop_id == shop.id, LoyaltyMember.claimed_by_id.is_(None))).scalar_one()
    redeemed = session.execute(select(func.count(distinct(Redemption.member_id))).where(
        Redemption.shop_id == shop.id, Redemption.status != "refused",
        Redemption.created_at >= now - dt.timedelta(days=WINDOW_DAYS))).scalar_one()
    return {"members": int(members), "redeemed": int(redeemed), "rate": common.share(int(redeemed), int(members)),
            "liability": programs.points_liability(session, shop)}


def segment_figures(session: Session, shop: Shop) -> dict[str, Any]:
    """Churn bands and the RFM grid (R rows 5 … 1, F columns 1 … 5) from the last computation."""
    model = session.get(SegmentModel, shop.id)
    bands = dict(session.execute(select(CustomerMetrics.churn_band, func.count())
                                 .where(CustomerMetrics.shop_id == shop.id, CustomerMetrics.order_count > 0)
                                 .group_by(CustomerMetrics.churn_band)).all())
    grid = [[0] * 5 for _ in range(5)]
    for r, f, count in session.execute(
            select(CustomerMetrics.r_score, CustomerMetrics.f_score, func.count())
            .where(CustomerMetrics.shop_id == shop.id, CustomerMetrics.r_score.is_not(None))
            .group_by(CustomerMetrics.r_score, CustomerMetrics.f_score)):
        grid[5 - r][f - 1] = int(count)
    named = dict(session.execute(select(CustomerMetrics.rfm_segment, func.count())
                                 .where(CustomerMetrics.shop_id == shop.id, CustomerMetrics.rfm_segment.is_not(None))
                                 .group_by(CustomerMetrics.rfm_segment)).all())
    return {"computed_at": model.full_computed_at if model else None,
            "window_days": model.window_days if model else metrics.WINDOW_DAYS,
            "buyers": sum(int(count) for count in bands.values()), "high": int(bands.get("high", 0)),
            "medium": int(bands.get("medium", 0)), "r_by_f": grid,
            "segments": {key: int(named.get(key, 0)) for key in metrics.RFM_SEGMENTS}}


# --- words and numbers ------------------------------------------------------------------------


class Words:
    """Numbers, money, dates and sentences in the merchant's language."""

    def __init__(self, language: str, currency: str | None, timezone: str | None):
        self.language, self.currency, self.timezone = language, currency, timezone

    def __call__(self, key: str, **values: Any) -> str:
        return i18n.translate(self.language, f"home.{key}", **values)

    def number(self, value: Any, places: int = 0) -> str:
        return formatting.format_number(value, self.language, places)

    def money(self, value: Any, currency: str | None = None) -> str:
        return formatting.format_money(value, currency or self.currency, self.language)

    def percent(self, share: float | None, places: int = 1) -> str:
        if share is None:
            return ""
        return self("percent", value=self.number(Decimal(str(share)) * 100, places))

    def points(self, difference: float) -> str:
        written = self.number(Decimal(str(abs(difference))) * 100, 1)
        return ("+" if difference > 0 else "−" if difference < 0 else "") + written

    def date(self, value: Any) -> str:
        return formatting.format_date(value, self.timezone, self.language)

    def moment(self, value: str) -> str:
        local = dt.datetime.fromisoformat(value).astimezone(formatting.zone(self.timezone))
        return self("moment", date=self.date(value), time=local.strftime("%H:%M"))

    def month(self, label: str) -> str:
        year, month = label.split("-")
        return f"{message_words.text(self.language, f'date.month.{int(month)}')} {year}"


def _card(key: str, value: str | None, detail: str, definition: str, empty: str | None = None,
          link: str | None = None) -> dict[str, Any]:
    return {"key": key, "value": value, "detail": detail, "definition": definition, "empty": empty, "link": link}


def _shade(share: float) -> str:
    """Inline style for a heatmap cell: background by intensity (0 … 1), text colour kept readable."""
    share = max(0.0, min(1.0, share))
    rgb = [round(pale + (deep - pale) * share) for pale, deep in zip(_PALE, _DEEP, strict=True)]

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2])
    on_black, on_white = (luminance + 0.05) / 0.05, 1.05 / (luminance + 0.05)
    text = "#000000" if on_black >= on_white else "#ffffff"
    return f"background:#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x};color:{text}"


def _total(values: list[str]) -> Decimal:
    return sum((Decimal(value) for value in values), Decimal("0"))


def metric_cards(words: Words, found: dict[str, Any], loyalty: dict[str, Any], segments: dict[str, Any],
                 since: str) -> list[dict[str, Any]]:
    """The metric cards, in order: value (None when not yet), detail, definition with its period."""
    return order_cards(words, found, since) + live_cards(words, loyalty, segments, since)


def pending_cards(words: Words, months: common.Months, since: str) -> list[dict[str, Any]]:
    """The order-based cards while their figures are computed: defined, valued "Calculating…"."""
    return [_card("repeat_rate", None, "", words("repeat_rate_definition", since=since), words("calculating")),
            _card("returning_revenue", None, "",
                  words("returning_revenue_definition", start=words.month(months.labels[0]),
                        end=words.month(months.labels[-1])), words("calculating"))]


def order_cards(words: Words, found: dict[str, Any], since: str) -> list[dict[str, Any]]:
    """The repeat rate's and returning revenue's cards, from the order figures."""
    repeat, split = found["repeat"], found["split"]
    cards = []
    cards.append(_card(
        "repeat_rate", words.percent(repeat["rate"]) if repeat["customers"] else None,
        words("repeat_rate_detail", repeat=words.number(repeat["repeat_customers"]),
              customers=words.number(repeat["customers"])),
        words("repeat_rate_definition", since=since), words("repeat_rate_empty")))
    returning, total = _total(split["returning"]["revenue"]), _total(split["total"]["revenue"])
    months = split["months"]
    cards.append(_card(
        "returning_revenue", words.money(returning) if total else None,
        words("returning_revenue_detail", share=words.percent(round(float(returning / total), 4) if total else None),
              total=words.money(total)),
        words("returning_revenue_definition", start=words.month(months[0]), end=words.month(months[-1])),
        words("returning_revenue_empty")))
    return cards


def live_cards(words: Words, loyalty: dict[str, Any], segments: dict[str, Any], since: str) -> list[dict[str, Any]]:
    """Members, redemption rate, points owed and churn risk: read live, each one indexed aggregate."""
    cards = []
    members = loyalty["members"]
    cards.append(_card(
        "members", words.number(members) if members else None, words("members_detail"),
        words("members_definition"), words("members_empty"), link("/admin/loyalty")))
    cards.append(_card(
        "redemption_rate", words.percent(loyalty["rate"]) if members else None,
        words("redemption_rate_detail", redeemed=words.number(loyalty["redeemed"]), members=words.number(members)),
        words("redemption_rate_definition", since=since), words("redemption_rate_empty")))
    owed = loyalty["liability"]
    cards.append(_card(
        "liability", words.money(owed["amount"]) if members or owed["points"] else None,
        words("liability_detail", points=words.number(owed["points"])),
        words("liability_definition", at=words.date(owed["at"])), words("liability_empty")))
    computed = segments["computed_at"]
    cards.append(_card(
        "churn_risk", words.number(segments["high"]) if computed and segments["buyers"] else None,
        words("churn_risk_detail", buyers=words.number(segments["buyers"]), medium=words.number(segments["medium"])),
        words("churn_risk_definition", at=words.date(computed) if computed else words("not_computed")),
        words("churn_risk_empty"), link("/admin/segments")))
    return cards


def flow_rows(words: Words, flows: dict[str, Any]) -> list[dict[str, Any]]:
    """Each flow that has run: recovered revenue, and lift with its interval or why there is none."""
    rows = []
    for key in definitions.KEYS:
        found = flows.get(key)
        if found is None:
            continue
        revenue = found["revenue"]
        shown = [words.money(revenue.get(words.currency, "0"))]
        shown += [words.money(value, currency) for currency, value in revenue.items() if currency != words.currency]
        recipients, holdout = found["conversion"]["recipients"], found["conversion"]["holdout"]
        lift = found["lift"]
        row = {"key": key, "name": words(f"flow_{key}"), "revenue": " + ".join(shown),
               "orders": words("flow_order" if found["orders"] == 1 else "flow_orders",
                               orders=words.number(found["orders"])),
               "lift": None, "interval": None, "verdict": None}
        if holdout["runs"] == 0:
            row["sentence"] = words("lift_no_holdout", recipients=words.number(recipients["runs"]))
        elif holdout["runs"] < MIN_HOLDOUT or lift is None:
            row["sentence"] = words("lift_too_small", holdout=words.number(holdout["runs"]),
                                    minimum=words.number(MIN_HOLDOUT))
        else:
            lower, upper = lift["ci95"]
            row["lift"] = words("lift_value", points=words.points(lift["difference"]))
            row["interval"] = words("lift_interval", lower=words.points(lower), upper=words.points(upper))
            row["sentence"] = words("lift_sentence", holdout=words.number(holdout["runs"]),
                                    recipients=words.number(recipients["runs"]),
                                    holdout_rate=words.percent(holdout["rate"]),
                                    recipients_rate=words.percent(recipients["rate"]))
            row["verdict"] = words("lift_positive" if lower > 0 else "lift_negative" if upper < 0 else "lift_unclear")
        rows.append(row)
    return rows


def cohort_table(words: Words, found: dict[str, Any]) -> dict[str, Any] | None:
    """The cohort heatmap's rows (month, size, cells with text and style); None before any customer."""
    rows = []
    for cohort in found["cohorts"]:
        if not cohort["customers"]:
            continue
        cells = [{"text": words.percent(share, 0), "style": _shade(share or 0.0),
                  "title": words("cohort_cell", active=words.number(active), customers=words.number(cohort["customers"]))}
                 for share, active in zip(cohort["retention"], cohort["active"], strict=True)]
        rows.append({"label": words.month(cohort["cohort"]), "customers": words.number(cohort["customers"]),
                     "cells": cells})
    if not rows:
        return None
    return {"columns": found["months"], "rows": rows}


def rfm_table(words: Words, segments: dict[str, Any]) -> dict[str, Any] | None:
    """The R × F grid with shaded counts, and the named segments' sizes; None before a computation."""
    grid = segments["r_by_f"]
    largest = max((count for row in grid for count in row), default=0)
    if not segments["computed_at"] or not largest:
        return None
    rows = [{"r": r, "cells": [{"text": words.number(count), "style": _shade(count / largest)} for count in row]}
            for r, row in zip((5, 4, 3, 2, 1), grid, strict=True)]
    named = [{"name": words(f"rfm_{key}"), "customers": words.number(count)}
             for key, count in segments["segments"].items()]
    return {"rows": rows, "named": named}


def revenue_chart(words: Words, split: dict[str, Any]) -> dict[str, Any] | None:
    """The chart's data (JSON for home.js) and its table; None when no month has revenue."""
    new = [float(Decimal(value)) for value in split["new"]["revenue"]]
    returning = [float(Decimal(value)) for value in split["returning"]["revenue"]]
    if not any(new) and not any(returning):
        return None
    labels = [words.month(label) for label in split["months"]]
    table = [{"month": label, "new": words.money(a), "returning": words.money(b), "total": words.money(c)}
             for label, a, b, c in zip(labels, split["new"]["revenue"], split["returning"]["revenue"],
                                       split["total"]["revenue"], strict=True)]
    data = {"months": split["months"], "new": new, "returning": returning, "currency": words.currency,
            "language": words.language, "names": {"new": words("series_new"), "returning": words("series_returning")}}
    return {"data": data, "table": table}


def _months_now(shop: Shop, now: dt.datetime) -> common.Months:
    timezone = common.zone(shop)
    year, month = common.month_of(now, timezone)
    return common.months_ending(year, month, COHORT_MONTHS, timezone)


def _since(words: Words, now: dt.datetime) -> str:
    return words.date(now - dt.timedelta(days=WINDOW_DAYS))


def order_sections(words: Words, found: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """What the page shows of the order figures: subtitle, two cards, flows, revenue chart and cohorts."""
    return {"subtitle": words("subtitle", at=words.moment(found["at"])),
            "order_cards": order_cards(words, found, _since(words, now)), "flows": flow_rows(words, found["flows"]),
            "cohort": cohort_table(words, found["cohorts"]), "chart": revenue_chart(words, found["split"]),
            "other_currency_orders": found["split"]["orders_in_other_currencies"]}


def figures_payload(session: Session, shop: Shop, language: str, now: dt.datetime) -> dict[str, Any]:
    """The order figures (computed and kept unless kept already) and the page's parts that show them.

    ``GET /api/admin/analytics/home`` answers this: ``figures`` are the domain's numbers,
    ``html`` the same markup the page renders with them (from the same macros), which
    home.js puts in place of the boxes that said "Calculating…".
    """
    found = order_figures(session, shop, now)
    words = Words(language, found["split"]["currency"] or shop.currency, shop.timezone)
    shown = order_sections(words, found, now)
    parts = current_app.jinja_env.get_template("pages/home_figures.html").make_module(
        {"t": i18n.translator(language), "min_holdout": MIN_HOLDOUT})
    return {"at": found["at"], "subtitle": shown["subtitle"],
            "figures": {key: found[key] for key in ("repeat", "split", "cohorts", "flows")},
            "html": {"cards": {card["key"]: str(parts.metric_card(card)) for card in shown["order_cards"]},
                     "flows": str(parts.flows_body(shown["flows"])),
                     "revenue": str(parts.revenue_body(shown["chart"], shown["other_currency_orders"])),
                     "cohorts": str(parts.cohorts_body(shown["cohort"]))}}


@blueprint.get(PATH)
@page("home")
def home_page():
    """The home page of the admin: the order figures when kept (or quick), else boxes home.js fills."""
    session = db.session()
    shop: Shop = g.shop
    now = utcnow()
    steps = onboarding.status(session, shop)
    session.commit()  # status records the moment every step is done
    setup = {"completed": steps["completed"], "skipped": steps["skipped"], "total": len(steps["steps"]),
             "done": sum(1 for step in steps["steps"] if step["done"])}
    found = order_figures_at_once(session, shop, now)
    loyalty = loyalty_figures(session, shop, now)
    segments = segment_figures(session, shop)
    currency = (found["split"]["currency"] if found else None) or shop.currency
    words = Words(g.language, currency, shop.timezone)
    since = _since(words, now)
    live = live_cards(words, loyalty, segments, since)
    rfm = rfm_table(words, segments)
    if found is None:
        return render_page(
            "pages/home.html", title=words("title"), subtitle=words("subtitle_pending"), pending=True,
            cards=pending_cards(words, _months_now(shop, now), since) + live, min_holdout=MIN_HOLDOUT, rfm=rfm,
            flows=[], cohort=None, chart=None, other_currency_orders=0, setup=setup)
    shown = order_sections(words, found, now)
    return render_page(
        "pages/home.html", title=words("title"), subtitle=shown["subtitle"], pending=False,
        cards=shown["order_cards"] + live, flows=shown["flows"], min_holdout=MIN_HOLDOUT, cohort=shown["cohort"],
        rfm=rfm, chart=shown["chart"], other_currency_orders=shown["other_currency_orders"], setup=setup)
