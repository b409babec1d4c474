"""The loyalty pages: earning rules, rewards, tiers, referrals and challenges.

Each page is a form over the program's JSON API (``PUT /api/admin/loyalty/program`` or
``/rewards``) beside a live preview of what the storefront widget will show, drawn by
``loyalty.js`` from ``POST /api/admin/loyalty/preview`` (the widget's own data for a draft). A
save that reaches members who are in the program already asks first, with the counts
``POST /api/admin/loyalty/impact`` works out from aggregates.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, request
from sqlalchemy import func, select

from app.extensions import db
from app.loyalty import ledger, referrals, storefront
from app.loyalty import program as programs
from app.store.models import LoyaltyMember, MemberBadge, Referral
from app.web import loyalty_admin
from app.web.loyalty_referrals_admin import _serialize as serialize_referrals
from app.web.pages import blueprint, i18n, link, page, render

PATH = "/admin/loyalty"
TABS = (("earning", PATH), ("rewards", f"{PATH}/rewards"), ("tiers", f"{PATH}/tiers"),
        ("referrals", f"{PATH}/referrals"), ("challenges", f"{PATH}/challenges"))
PAGE_SIZE = 50

# Words the preview draws exactly as the widget does (app/web/static/widget/panel.js, TEXTS), and
# the sentences of the confirmation, handed to loyalty.js in the merchant's language.
PREVIEW_KEYS = ("title", "welcome", "join", "sign_in", "points_one", "points_other", "pending_days_one",
                "pending_days_other", "tiers", "from_points", "from_spent", "multiplier", "rewards", "earn",
                "per_unit", "signup", "birthday", "review", "refer", "friend_gets", "off", "free_shipping",
                "free_product", "variable_off", "min_order")
IMPACT_KINDS = ("tier_removed", "tier_threshold_raised", "tier_multiplier_lowered", "tier_measure_changed",
                "expiry_changed", "point_value_changed", "reward_removed", "reward_dearer")
SCRIPT_KEYS = ("preview_stale", "preview_invalid", "preview_failed", "preview_disabled", "confirm_intro", "confirm_question",
               "expiry_never", "expiry_days", "saved", "error_generic")


def _words() -> dict[str, Any]:
    def say(key: str) -> str:
        return i18n.translate(g.language, f"loyalty.{key}")

    return {"widget": {key: say(f"w_{key}") for key in PREVIEW_KEYS},
            "impact": {kind: {"one": say(f"impact_{kind}_one"), "other": say(f"impact_{kind}_other")}
                       for kind in IMPACT_KINDS},
            "ui": {key: say(f"js_{key}") for key in SCRIPT_KEYS}}


def _program() -> programs.Program:
    session = db.session()
    program = programs.ensure(session, g.shop.id)
    session.commit()
    return program


def _preview() -> dict[str, Any]:
    return storefront.program_view(db.session(), g.shop, storefront.Presentment.parse(g.shop, None, None))


def _members() -> int:
    return int(db.session().execute(select(func.count()).select_from(LoyaltyMember).where(
        LoyaltyMember.shop_id == g.shop.id, LoyaltyMember.customer_external_id.is_not(None))).scalar_one())


def _referral_counts() -> dict[str, int]:
    rows = db.session().execute(select(Referral.status, func.count()).where(Referral.shop_id == g.shop.id)
                                .group_by(Referral.status)).all()
    return {status: int(count) for status, count in rows}


def _render(tab: str, template: str, program: programs.Program, **context: Any):
    tabs = [{"name": name, "href": link(path), "current": name == tab} for name, path in TABS]
    return render(template, title=i18n.translate(g.language, "loyalty.title"),
                  subtitle=i18n.translate(g.language, f"loyalty.subtitle_{tab}"), tab=tab, tabs=tabs,
                  program=program, settings=program.settings, currency=g.shop.currency or "USD",
                  preview=_preview(), words=_words(), **context)


@blueprint.get(PATH)
@page("loyalty")
def loyalty_page():
    program = _program()
    owed = ledger.liability(db.session(), g.shop.id)
    counts = _referral_counts()
    return _render("earning", "pages/loyalty.html", program, members=_members(), owed=owed,
                   blocked=counts.get("blocked", 0), refund_policies=programs.REFUND_POLICIES,
                   positions=("bottom-right", "bottom-left"), social_kinds=programs.SOCIAL_KINDS)


@blueprint.get(f"{PATH}/rewards")
@page("loyalty")
def loyalty_rewards_page():
    program = _program()
    return _render("rewards", "pages/loyalty_rewards.html", program, reward_kinds=programs.REWARD_KINDS)


@blueprint.get(f"{PATH}/tiers")
@page("loyalty")
def loyalty_tiers_page():
    program = _program()
    held = loyalty_admin.tier_counts(db.session(), g.shop.id)
    first = program["tiers"][0]["name"]
    counts = {tier["name"]: held.get(tier["name"], 0) for tier in program["tiers"]}
    counts[first] += held.get(None, 0)
    # members still holding a tier the program no longer has (renamed or removed): regraded at the review
    orphaned = sum(count for name, count in held.items() if name is not None and name not in counts)
    return _render("tiers", "pages/loyalty_tiers.html", program, counts=counts, orphaned=orphaned,
                   bases=programs.TIER_BASES, windows=programs.TIER_WINDOWS)


@blueprint.get(f"{PATH}/referrals")
@page("loyalty")
def loyalty_referrals_page():
    program = _program()
    status = request.args.get("status", "blocked")
    if status not in referrals.STATUSES and status != "all":
        abort(404, description="no such referral status")
    raw_before = request.args.get("before", "")
    if raw_before and not (raw_before.isascii() and raw_before.isdigit() and len(raw_before) <= 15):
        abort(400, description="before must be a referral number")
    before = int(raw_before) if raw_before else None
    rows = referrals.listing(db.session(), g.shop.id, None if status == "all" else status, limit=PAGE_SIZE,
                             before_id=before)
    counts = _referral_counts()
    filters = [{"status": name, "count": sum(counts.values()) if name == "all" else counts.get(name, 0),
                "href": link(f"{PATH}/referrals", status=name), "current": name == status}
               for name in ("blocked", "invited", "qualified", "completed", "rejected", "void", "all")]
    older = link(f"{PATH}/referrals", status=status, before=rows[-1].id) if len(rows) == PAGE_SIZE else None
    first_page = link(f"{PATH}/referrals", status=status) if before is not None else None
    return _render("referrals", "pages/loyalty_referrals.html", program, status=status, filters=filters,
                   referrals=serialize_referrals(rows), older=older, first_page=first_page,
                   friend_kinds=("fixed_amount", "percentage", "free_shipping"))


@blueprint.get(f"{PATH}/challenges")
@page("loyalty")
def loyalty_challenges_page():
    program = _program()
    badges = dict(db.session().execute(
        select(MemberBadge.challenge_id, func.count()).where(MemberBadge.shop_id == g.shop.id)
        .group_by(MemberBadge.challenge_id)).all())
    return _render("challenges", "pages/loyalty_challenges.html", program,
                   badges={key: int(value) for key, value in badges.items()}, kinds=programs.CHALLENGE_KINDS)
