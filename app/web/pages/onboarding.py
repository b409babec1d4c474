"""The onboarding page: the import's progress, the program explained, the widget, the first flows.

Everything is rendered from the database, so a reload shows where the merchant is; the page's
script then follows a running import (``/api/admin/sync``) and sends the steps' buttons to the
onboarding and flows APIs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import g
from markupsafe import Markup, escape

from app import onboarding
from app.extensions import db
from app.flows import definitions, triggers
from app.loyalty import program as programs
from app.messaging.render import format_date, format_money, format_number
from app.store.sync_progress import progress
from app.store.types import utcnow
from app.web.pages import blueprint, i18n, page, render

PATH = "/admin/onboarding"
# The flows a first run offers: the ones that email shoppers to bring them back.
FIRST_FLOWS = (definitions.ABANDONED_CART, definitions.POST_PURCHASE, definitions.WIN_BACK, definitions.BIRTHDAY)
RESOURCE_ORDER = ("customers", "products", "orders", "carts")
RUN_STATUSES = ("pending", "exporting", "importing", "completed", "failed", "cancelled")
JS_KEYS = ("count", "count_unknown", "eta_done", "eta_minute", "eta_minutes", "eta_hours", "eta_unknown",
           "status_pending", "status_exporting", "status_importing", "status_completed", "status_failed",
           "status_cancelled", "resource_customers", "resource_products", "resource_orders", "resource_carts",
           "sync_completed_live", "sync_failed_live", "flow_on", "flow_off", "check_waiting", "check_missing",
           "check_error", "done")


def _t(key: str, **values: Any) -> Markup:
    return i18n.translator(g.language)(f"onboarding.{key}", **values)


def number(value: Any) -> str:
    return format_number(value, g.language)


def eta_words(seconds: float | None, status: str) -> Markup:
    """The time an import has left, in plain words."""
    if status == "completed":
        return _t("eta_done")
    if seconds is None:
        return _t("eta_unknown")
    if seconds < 90:
        return _t("eta_minute")
    if seconds < 90 * 60:
        return _t("eta_minutes", minutes=number(int(seconds / 60 + 0.5)))
    return _t("eta_hours", hours=number(int(seconds / 3600 + 0.5)))


def _resources(sync: dict[str, Any]) -> list[dict[str, Any]]:
    rank = {name: position for position, name in enumerate(RESOURCE_ORDER)}
    items = sorted(sync["resources"], key=lambda item: rank.get(item["resource"], len(rank)))
    shown = []
    for item in items:
        resource = _t(f"resource_{item['resource']}") if item["resource"] in rank else escape(item["resource"])
        if item["total"] is not None:
            count = _t("count", processed=number(item["processed"]), total=number(item["total"]), resource=resource)
        else:
            count = _t("count_unknown", processed=number(item["processed"]), resource=resource)
        status = _t(f"status_{item['status']}") if item["status"] in RUN_STATUSES else escape(item["status"])
        shown.append({**item, "label": resource, "count": count, "status_label": status,
                      "eta": eta_words(item["eta_seconds"], item["status"])})
    return shown


def _listed(items: list[str]) -> str:
    """``30, 14 and 7`` in the merchant's language."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {_t('and')} {items[-1]}"


def _factor(value: Any) -> str:
    """``1.25`` as the merchant's language writes it, without trailing zeros (``1.5``, ``2``)."""
    amount = Decimal(str(value)).normalize()
    exponent = amount.as_tuple().exponent
    return format_number(amount, g.language, max(0, -exponent) if isinstance(exponent, int) else 0)


def _money(value: Any) -> str:
    return format_money(value, g.shop.currency, g.language) if g.shop.currency else format_number(value, g.language, 2)


def _reward_gives(reward: dict[str, Any], settings: dict[str, Any]) -> Markup:
    kind = reward["kind"]
    if kind == "fixed_amount":
        gives = _t("gives_fixed", amount=_money(reward["value"]))
    elif kind == "percentage":
        gives = _t("gives_percentage", percent=number(reward["value"]))
    elif kind == "free_shipping":
        gives = _t("gives_free_shipping")
    elif kind == "free_product":
        gives = _t("gives_free_product")
    else:
        gives = _t("gives_variable", amount=_money(1), points=number(settings["points_per_unit_off"]))
    if reward.get("minimum_subtotal"):
        gives = Markup("{} {}").format(gives, _t("gives_minimum", amount=_money(reward["minimum_subtotal"])))
    return gives


def _reward_costs(reward: dict[str, Any]) -> Markup:
    if reward["kind"] == "variable":
        step = reward.get("increment") or reward["points"]
        if reward.get("max_points"):
            return _t("cost_variable_max", step=number(step), points=number(reward["points"]),
                      max=number(reward["max_points"]))
        return _t("cost_variable", step=number(step), points=number(reward["points"]))
    return _t("cost_points", points=number(reward["points"]))


def explain(settings: dict[str, Any]) -> dict[str, Any]:
    """The program in plain sentences: what a shopper earns, what rewards cost, when points expire."""
    earn = []
    if settings["points_per_unit"]:
        key = "earn_orders_one" if settings["points_per_unit"] == 1 else "earn_orders"
        earn.append(_t(key, points=number(settings["points_per_unit"]), amount=_money(1)))
        excluded = [_t(f"exclude_{name}") for name in ("shipping", "taxes", "discounts", "gift_cards")
                    if settings[f"exclude_{name}"]]
        if excluded:
            earn.append(_t("earn_excluded", items=Markup(", ").join(excluded)))
        earn.append(_t("earn_pending", days=number(settings["pending_days"])) if settings["pending_days"]
                    else _t("earn_pending_none"))
    else:
        earn.append(_t("earn_orders_none"))
    extras = []
    for name in ("signup", "birthday", "review", "referral_advocate"):
        points = settings[f"{name}_points"]
        if points:
            extras.append(_t(f"extra_{name}", points=number(points)))
    for action in settings.get("social_actions") or []:
        if action.get("points"):
            extras.append(_t("extra_action", name=action["name"], points=number(action["points"])))
    if settings["expiry_days"]:
        reminders = settings.get("expiry_reminder_days") or []
        expiry = _t("expiry_days", days=number(settings["expiry_days"]))
        if reminders:
            key = "expiry_reminder" if len(reminders) == 1 else "expiry_reminders"
            expiry = Markup("{} {}").format(expiry, _t(key, days=_listed([number(day) for day in reminders])))
    else:
        expiry = _t("expiry_never")
    tiers = []
    for tier in settings.get("tiers") or []:
        threshold = (_t("tier_points", points=number(tier["threshold"])) if settings["tier_basis"] == "points_earned"
                     else _t("tier_spent", amount=_money(tier["threshold"])))
        tiers.append({"name": tier["name"], "threshold": threshold, "multiplier": _factor(tier["multiplier"])})
    rewards = [{"name": reward["name"], "gives": _reward_gives(reward, settings), "costs": _reward_costs(reward)}
               for reward in settings.get("rewards") or []]
    return {"earn": earn, "extras": extras, "expiry": expiry, "tiers": tiers, "rewards": rewards,
            "tier_window": _t(f"tier_window_{settings['tier_window']}")}


@blueprint.get(PATH)
@page("onboarding")
def onboarding_page():
    session = db.session()
    shop = g.shop
    state = onboarding.status(session, shop)
    sync = progress(session, shop.id)
    program = programs.ensure(session, shop.id)
    flows = definitions.ensure_all(session, shop.id, triggers.installed_at(shop, utcnow()))
    session.commit()
    steps = {step["name"]: step for step in state["steps"]}
    first_flows = [{"key": key, "name": _t(f"flow_name_{key}"), "enabled": flows[key].is_enabled,
                    "about": _t(f"flow_about_{key}", days=number(flows[key]["trigger"].get("lapsed_days", 0)))} for key in FIRST_FLOWS]
    strings = {key: str(_t(key)) for key in JS_KEYS}
    skipped_on = format_date(state["skipped_at"], shop.timezone, g.language) if state["skipped_at"] else None
    return render("pages/onboarding.html", title=str(_t("title")), subtitle=str(_t("subtitle")),
                  state=state, steps=steps, sync=sync, resources=_resources(sync),
                  program=explain(program.settings), first_flows=first_flows, skipped_on=skipped_on,
                  next_text=_t(f"next_{state['next_step']}") if state["next_step"] else "",
                  client={"sync_status": sync["status"], "strings": strings, "language": g.language,
                          "resources": sorted(item["resource"] for item in sync["resources"])})
