"""The merchant's analytics API: cohorts, repeat rate, new and returning revenue, points owed, members, flow lift.

``/home`` gives the admin home page's order figures with the markup that shows them (its
first view on a large shop asks for them after it is drawn). Every call carries the embedded admin's session token and counts only its own shop's mirror.
A bad parameter is a 400 whose message names it. Definitions: docs/analytics.md.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, g, jsonify, request

from app.analytics import cohorts, common, customers, programs
from app.extensions import db
from app.flows import reports
from app.store.types import utcnow
from app.web.admin import require_session_token, whole_arg
from app.web.pages import home, i18n

blueprint = Blueprint("analytics_admin", __name__, url_prefix="/api/admin/analytics")


blueprint.before_request(require_session_token)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _months() -> common.Months:
    """``months`` (1-36, default 12) ending with ``end`` (YYYY-MM, default the shop's current month)."""
    count = whole_arg("months", 12, 1, 36)
    timezone = common.zone(g.shop)
    raw = request.args.get("end")
    if raw:
        match = _MONTH.match(raw)
        if not match or not 1 <= int(match.group(2)) <= 12 or not 1970 <= int(match.group(1)) <= 2999:
            abort(400, description="end must be a month as YYYY-MM between 1970-01 and 2999-12")
        year, month = int(match.group(1)), int(match.group(2))
    else:
        year, month = common.month_of(utcnow(), timezone)
    return common.months_ending(year, month, count, timezone)


@blueprint.get("/cohorts")
def get_cohorts():
    """Monthly acquisition cohorts: size, then per month since the first order who ordered and their net revenue."""
    return jsonify(cohorts.cohorts(db.session(), g.shop, _months()))


@blueprint.get("/revenue-split")
def get_revenue_split():
    """Revenue per month from new customers (first order that month), returning ones, and orders of nobody."""
    return jsonify(cohorts.revenue_split(db.session(), g.shop, _months()))


@blueprint.get("/repeat-rate")
def get_repeat_rate():
    """Customers with two or more orders in the last ``days`` (1-3650, default 365) out of those with one."""
    days = whole_arg("days", 365, 1, 3650)
    return jsonify(customers.repeat_rate(db.session(), g.shop, days, utcnow()))


@blueprint.get("/members")
def get_members():
    """Loyalty members against everyone else over the last ``days``; ``basis`` enrolled (default) or engaged."""
    days = whole_arg("days", 365, 1, 3650)
    basis = request.args.get("basis") or "enrolled"
    if basis not in customers.BASES:
        abort(400, description=f"basis must be one of {', '.join(customers.BASES)}")
    return jsonify(customers.members(db.session(), g.shop, days, utcnow(), basis))


@blueprint.get("/points-liability")
def get_points_liability():
    """The points owed to members now and their value in the shop's currency."""
    return jsonify(programs.points_liability(db.session(), g.shop))


@blueprint.get("/flow-lift")
def get_flow_lift():
    """Every flow's conversion against its holdout (``attribution_days`` 1-60, default 5), as its report measures it."""
    days = whole_arg("attribution_days", reports.ATTRIBUTION_DAYS, 1, 60)
    return jsonify(programs.flow_lift(db.session(), g.shop.id, days))


@blueprint.get("/home")
def get_home_figures():
    """The home page's order figures (kept for minutes), worded in ``locale`` (en, de, fr; default the browser's)."""
    language = i18n.pick(request.args.get("locale"), request.headers.get("Accept-Language"))
    return jsonify(home.figures_payload(db.session(), g.shop, language, utcnow()))
