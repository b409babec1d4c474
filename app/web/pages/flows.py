"""The flows pages: every built-in flow with its figures, and one flow's funnel, lift and editor.

The figures are ``app.flows.reports.report``'s: the list shows the runs started in the last
``LIST_PERIOD_DAYS`` days, the flow's own page every run of the flow (the numbers the flows API's
``/report`` gives); lift is shown only once the holdout has enough customers for
its interval to mean something. The editor posts to ``PUT /api/admin/flows/<key>`` (its 422
names the field beside its input), the live preview to the draft preview endpoint (nothing is
stored) and the test send to the step's test endpoint.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, g, request
from sqlalchemy import func, select

from app.extensions import db
from app.flows import definitions, incentives, reports, triggers
from app.messaging import preferences, render
from app.store.models import FlowRun
from app.store.types import utcnow
from app.web.messaging_admin import delivery_config
from app.web.pages import blueprint, i18n, page
from app.web.pages import render as render_page

PATH = "/admin/flows"
# Fewer held-out customers than this and a 95 % interval of the lift is too wide to act on.
MIN_HOLDOUT_RUNS = 30
RUNS_PER_PAGE = 50
HOURS_PER_DAY = 24
# The list's figures cover the runs started in this many days (a flow's own page: all its runs).
LIST_PERIOD_DAYS = 30


def _percent(value: float | None, language: str, places: int = 1) -> str:
    if value is None:
        return ""
    number = render.format_number(round(value * 100, places), language, places)
    return f"{number}\u00a0%" if language in ("de", "fr") else f"{number}%"


def _points(value: float, language: str) -> str:
    """A difference of two rates in percentage points, signed (``+3.2``)."""
    number = render.format_number(round(abs(value) * 100, 1), language, 1)
    return f"{'+' if value > 0 else '−' if value < 0 else ''}{number}"


def _money(revenue: dict[str, str], language: str) -> str:
    if not revenue:
        return render.format_money("0", g.shop.currency, language)
    return ", ".join(render.format_money(amount, currency, language) for currency, amount in revenue.items())


def _funnel(found: dict[str, Any], language: str) -> list[dict[str, Any]]:
    """Sent → clicked → ordered, each with its share of the sent messages."""
    sent = found["messages"]["sent"]
    stages = [("sent", sent), ("clicked", found["messages"]["clicked"]), ("ordered", found["attributed"]["orders"])]
    return [{"stage": stage, "count": count, "count_text": render.format_number(count, language),
             "share": (count / sent) if sent else None,
             "share_text": _percent(count / sent, language) if sent else "",
             "width": round(100 * count / sent, 1) if sent else 0} for stage, count in stages]


def _lift(found: dict[str, Any], flow: definitions.FlowVersion, language: str) -> dict[str, Any]:
    """What the page may honestly say about the lift: the interval, or why there is none yet."""
    holdout = found["conversion"]["holdout"]
    recipients = found["conversion"]["recipients"]
    share = float(flow["holdout_share"])
    base = {"holdout_runs": holdout["runs"], "recipient_runs": recipients["runs"], "needed": MIN_HOLDOUT_RUNS,
            "holdout_percent": _percent(share, language, 0),
            "recipient_rate": _percent(recipients["rate"], language), "holdout_rate": _percent(holdout["rate"], language)}
    if share <= 0 and holdout["runs"] == 0:
        return {**base, "state": "no_holdout"}
    if holdout["runs"] < MIN_HOLDOUT_RUNS:
        return {**base, "state": "waiting"}
    if found["lift"] is None:  # a holdout but nobody who got the email yet
        return {**base, "state": "no_recipients"}
    difference = found["lift"]["difference"]
    low, high = found["lift"]["ci95"]
    verdict = "up" if low > 0 else "down" if high < 0 else "unclear"
    return {**base, "state": "measured", "verdict": verdict, "difference": _points(difference, language),
            "low": _points(low, language), "high": _points(high, language),
            "difference_value": difference, "low_value": low, "high_value": high}


def _flows() -> dict[str, definitions.FlowVersion]:
    session = db.session()
    flows = definitions.ensure_all(session, g.shop.id, triggers.installed_at(g.shop, utcnow()))
    session.commit()
    return flows


def _attribution_days() -> int:
    return preferences.load(db.session(), g.shop.id, delivery_config()).attribution_days


def _run_counts() -> dict[str, int]:
    """How many runs each flow has: one indexed count per flow, so a flow without runs costs no report."""
    return dict(db.session().execute(select(FlowRun.flow_key, func.count()).where(FlowRun.shop_id == g.shop.id)
                                     .group_by(FlowRun.flow_key)).all())


def _empty_report(key: str, days: int) -> dict[str, Any]:
    return {"flow": key, "attribution_days": days, "runs": 0,
            "messages": {"written": 0, "sent": 0, "opened": 0, "clicked": 0, "by_status": {}},
            "attributed": {"orders": 0, "revenue": {}},
            "conversion": {"recipients": {"runs": 0, "converted": 0, "rate": None},
                           "holdout": {"runs": 0, "converted": 0, "rate": None}},
            "lift": None}


def _report(key: str, runs: int, days: int, since: dt.datetime | None = None) -> dict[str, Any]:
    if not runs:
        return _empty_report(key, days)
    return reports.report(db.session(), g.shop.id, key, attribution_days=days, since=since)


def _summary(flow: definitions.FlowVersion, found: dict[str, Any], language: str) -> dict[str, Any]:
    built_in = flow.built_in
    enabled_steps = [step for step in flow.steps if step["enabled"]]
    return {"key": flow.key, "name": i18n.translate(language, f"flows.name_{flow.key}"),
            "description": i18n.translate(language, f"flows.describe_{flow.key}"),
            "category": built_in.category, "enabled": flow.is_enabled, "steps": len(enabled_steps),
            "runs": found["runs"], "funnel": _funnel(found, language),
            "revenue": _money(found["attributed"]["revenue"], language),
            "lift": _lift(found, flow, language)}


@blueprint.get(PATH)
@page("flows")
def flows_page():
    language = g.language
    flows = _flows()
    counts = _run_counts()
    days = _attribution_days()
    since = utcnow() - dt.timedelta(days=LIST_PERIOD_DAYS)
    rows = [_summary(flow, _report(key, counts.get(key, 0), days, since), language) for key, flow in flows.items()]
    return render_page("pages/flows.html", title=i18n.translate(language, "flows.title"),
                       subtitle=i18n.translate(language, "flows.subtitle"), flows=rows, attribution_days=days,
                       min_holdout=MIN_HOLDOUT_RUNS)


def _delay(hours: float) -> dict[str, Any]:
    """A delay as the editor shows it: whole days in days, anything else in hours."""
    if hours and hours % HOURS_PER_DAY == 0:
        return {"amount": int(hours // HOURS_PER_DAY), "unit": "days"}
    return {"amount": int(hours) if float(hours).is_integer() else hours, "unit": "hours"}


def _incentive_rule(built_in: definitions.BuiltIn, position: int, count: int) -> str:
    """Whether this step may offer a code: never, optional or required (the API's rule, for the form)."""
    if built_in.incentive == "never" or (built_in.incentive == "last" and position != count - 1):
        return "never"
    return "required" if built_in.incentive == "required" else "optional"


def _steps(flow: definitions.FlowVersion) -> list[dict[str, Any]]:
    built_in = flow.built_in
    shown = []
    for position, step in enumerate(flow.steps):
        incentive = step.get("incentive")
        shown.append({"position": position, "id": step["id"], "enabled": step["enabled"],
                      "template": step["template"], "after": step.get("after", "trigger"),
                      "delay_hours": step["delay_hours"], "delay": _delay(step["delay_hours"]),
                      "subject": step.get("subject") or "", "intro": step.get("intro") or "",
                      "incentive": incentive, "incentive_rule": _incentive_rule(built_in, position, len(flow.steps)),
                      "incentive_text": incentives.describe(incentive) if incentive else ""})
    return shown


def _runs(key: str, before: int | None) -> tuple[list[FlowRun], int | None]:
    """The flow's runs, newest first, one page (keyset on the id: the listing's index)."""
    query = select(FlowRun).where(FlowRun.shop_id == g.shop.id, FlowRun.flow_key == key)
    if before:
        query = query.where(FlowRun.id < before)
    found = list(db.session().execute(query.order_by(FlowRun.id.desc()).limit(RUNS_PER_PAGE + 1)).scalars())
    shown = found[:RUNS_PER_PAGE]
    return shown, (shown[-1].id if len(found) > RUNS_PER_PAGE and shown else None)


@blueprint.get(f"{PATH}/<key>")
@page("flows")
def flow_page(key: str):
    language = g.language
    if key not in definitions.BUILT_INS:
        abort(404, description=i18n.translate(language, "flows.unknown_flow", flow=key))
    raw_before = request.args.get("before", "")
    if raw_before and not raw_before.isdigit():
        abort(400, description=i18n.translate(language, "flows.bad_before"))
    flow = _flows()[key]
    counts = _run_counts()
    days = _attribution_days()
    found = _report(key, counts.get(key, 0), days)
    summary = _summary(flow, found, language)
    runs, next_before = _runs(key, int(raw_before) if raw_before else None)
    built_in = flow.built_in
    limits = {"max_delay_hours": min(built_in.max_delay_hours, definitions.MAX_DELAY_HOURS),
              "max_delay_days": min(built_in.max_delay_hours, definitions.MAX_DELAY_HOURS) // HOURS_PER_DAY,
              "max_subject": render.MAX_SUBJECT, "max_intro": render.MAX_INTRO,
              "max_expires_hours": 90 * HOURS_PER_DAY, "max_percentage": 50}
    strings = {name: i18n.translate(language, f"flows.js_{name}") for name in (
        "preview_loading", "preview_failed", "test_sending", "test_queued", "test_sent", "test_failed",
        "test_waiting")}
    return render_page(
        "pages/flows_detail.html", title=summary["name"], subtitle=summary["description"], flow=summary,
        version=flow.version, changed_at=flow.created_at, changed_by=flow.created_by,
        steps=_steps(flow), limits=limits, incentive_kinds=definitions.INCENTIVE_KINDS,
        report=found, attribution_days=days, runs=runs, next_before=next_before, is_first_page=not raw_before,
        holdout_share=float(flow["holdout_share"]),
        script_data={"key": key, "strings": strings, "hours_per_day": HOURS_PER_DAY})
