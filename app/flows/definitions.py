"""The built-in flows: defaults, validated changes, one version per change (like the loyalty program).

A flow's settings are ``enabled``, ``priority`` (which of two marketing emails goes first within
the contact budget), ``holdout_share`` (0 to 0.5 of eligible customers get nothing, to measure
lift), ``trigger`` (the flow's own parameters) and ``steps``. A step waits ``delay_hours`` after
the run's reference moment (the cart's last change, the order, the lapse, the event), sends one
``template``, may carry an ``incentive`` (a single-use, expiring code made for the shopper), may
be skipped by its ``conditions``, and may carry ``subject`` / ``intro`` texts that replace the
template's own.

Runs keep the version they started with; a change never re-times a run already going.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.messaging import render
from app.store.models import Flow
from app.store.types import utcnow
from app.store.upsert import insert_ignore

ABANDONED_CART = "abandoned_cart"
POST_PURCHASE = "post_purchase"
WIN_BACK = "win_back"
BIRTHDAY = "birthday"
POINTS_EARNED = "points_earned"
REWARD_AVAILABLE = "reward_available"
POINTS_EXPIRING = "points_expiring"
TIER_UPGRADE = "tier_upgrade"

INCENTIVE_KINDS = ("percentage", "fixed_amount", "free_shipping")


def _step(step_id: str, delay_hours: float, template: str, *, incentive: dict[str, Any] | None = None,
          enabled: bool = True, after: str = "trigger") -> dict[str, Any]:
    return {"id": step_id, "enabled": enabled, "delay_hours": delay_hours, "after": after, "template": template,
            "incentive": incentive, "conditions": {"min_total": None, "unless_clicked": False},
            "subject": None, "intro": None}


@dataclasses.dataclass(frozen=True)
class BuiltIn:
    """What a built-in flow is: what starts it, the templates its steps may send, its defaults."""

    key: str
    name: str
    trigger: str  # what starts a run, in words (the admin shows it)
    subject_kind: str  # cart | order | customer | loyalty_event
    category: str  # marketing | transactional
    templates: tuple[str, ...]
    defaults: dict[str, Any]
    max_steps: int = 5
    # Incentives: never, only in the last step, in any step, required on every step.
    incentive: str = "never"
    trigger_fields: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # name: (min, max)
    max_delay_hours: int = 365 * 24


def _defaults(priority: int, holdout: float, steps: list[dict[str, Any]], **trigger: Any) -> dict[str, Any]:
    return {"enabled": True, "priority": priority, "holdout_share": holdout, "trigger": trigger, "steps": steps}


CART_LINK_HOURS = 7 * 24
_TEN_PERCENT_TWO_DAYS = {"kind": "percentage", "value": "10", "expires_hours": 48, "minimum_subtotal": None}

BUILT_INS: dict[str, BuiltIn] = {flow.key: flow for flow in (
    BuiltIn(ABANDONED_CART, "Abandoned cart", "a cart or checkout with an address is left without an order",
            "cart", "marketing", ("cart_reminder",),
            # The last step may offer a code; off by default (discounts teach shoppers to wait).
            _defaults(30, 0.10, [_step("reminder-1", 1, "cart_reminder"), _step("reminder-2", 24, "cart_reminder"),
                                 _step("reminder-3", 72, "cart_reminder")]),
            # A week at most: the restore links stores sign for a cart live 7 days, and a
            # reminder of a cart left longer ago is no longer about that cart.
            incentive="last", max_delay_hours=CART_LINK_HOURS),
    BuiltIn(POST_PURCHASE, "After a purchase", "an order is placed",
            "order", "marketing", ("thank_you", "review_request", "cross_sell"),
            # The review request counts its days from the fulfilment: nobody reviews what has not arrived.
            _defaults(20, 0.10, [_step("thank-you", 1, "thank_you"),
                                 _step("review-request", 14 * 24, "review_request", after="fulfilment"),
                                 _step("cross-sell", 30 * 24, "cross_sell", enabled=False)],
                      review_url=None),
            incentive="any"),
    # Also, when set: churn probability reaching churn_risk_percent (0: off), or entering a segment.
    BuiltIn(WIN_BACK, "Win-back", "a customer has not ordered for lapsed_days",
            "customer", "marketing", ("win_back",),
            _defaults(10, 0.10, [_step("we-miss-you", 0, "win_back", incentive={
                "kind": "percentage", "value": "15", "expires_hours": 14 * 24, "minimum_subtotal": None})],
                lapsed_days=90, churn_risk_percent=0, segment=None),
            max_steps=3, incentive="required", trigger_fields={"lapsed_days": (14, 730), "churn_risk_percent": (0, 99)}),
    BuiltIn(BIRTHDAY, "Birthday", "the loyalty program pays a member's birthday points",
            "loyalty_event", "marketing", ("birthday",),
            _defaults(15, 0.10, [_step("happy-birthday", 0, "birthday")]), max_steps=1, incentive="any"),
    # Loyalty notices are transactional (the shop's own program speaking): no holdout by default.
    BuiltIn(POINTS_EARNED, "Points earned", "a member earns points (orders, actions; birthdays have their own)",
            "loyalty_event", "transactional", ("points_earned",),
            _defaults(0, 0.0, [_step("notice", 0, "points_earned")]), max_steps=1),
    BuiltIn(REWARD_AVAILABLE, "Reward available", "a member's points reach a reward",
            "loyalty_event", "transactional", ("reward_available",),
            _defaults(0, 0.0, [_step("notice", 0, "reward_available")]), max_steps=1),
    BuiltIn(POINTS_EXPIRING, "Points expiring", "points will expire (the program's reminder days, 30 and 7)",
            "loyalty_event", "transactional", ("points_expiring",),
            _defaults(0, 0.0, [_step("notice", 0, "points_expiring")]), max_steps=1),
    BuiltIn(TIER_UPGRADE, "Tier upgrade", "a member moves up a tier",
            "loyalty_event", "transactional", ("tier_upgrade",),
            _defaults(0, 0.0, [_step("notice", 0, "tier_upgrade")]), max_steps=1),
)}

KEYS = tuple(BUILT_INS)
_SETTINGS = ("enabled", "priority", "holdout_share", "trigger", "steps")
_STEP_FIELDS = ("id", "enabled", "delay_hours", "after", "template", "incentive", "conditions", "subject", "intro")
# What a step's delay counts from: the run's moment (the cart left, the order, the lapse), or, for
# an order, its first fulfilment (the step waits until there is one).
ANCHORS = ("trigger", "fulfilment")
_INCENTIVE_FIELDS = ("kind", "value", "expires_hours", "minimum_subtotal")
_CONDITION_FIELDS = ("min_total", "unless_clicked")
MAX_DELAY_HOURS = 365 * 24


class FlowError(ValueError):
    """A flow change was refused; ``field`` names what is wrong (``steps[2].delay_hours``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclasses.dataclass(frozen=True)
class FlowVersion:
    key: str
    version: int
    settings: dict[str, Any]
    enabled_since: dt.datetime | None
    created_at: dt.datetime
    created_by: str | None

    @property
    def built_in(self) -> BuiltIn:
        return BUILT_INS[self.key]

    @property
    def is_enabled(self) -> bool:
        return bool(self.settings["enabled"])

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.settings["steps"]

    def __getitem__(self, name: str) -> Any:
        return self.settings[name]


def _version(row: Flow) -> FlowVersion:
    return FlowVersion(row.key, row.version, with_defaults(row.key, row.settings), row.enabled_since,
                       row.created_at, row.created_by)


def with_defaults(key: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A stored version with settings added since it was written at their defaults (never fails)."""
    defaults = BUILT_INS[key].defaults
    merged = {**copy.deepcopy(defaults), **copy.deepcopy(settings)}
    if isinstance(merged.get("trigger"), dict):
        merged["trigger"] = {**copy.deepcopy(defaults["trigger"]), **merged["trigger"]}
    for step in merged.get("steps") or []:
        if isinstance(step, dict):
            for name, value in _step("", 0, "").items():
                step.setdefault(name, copy.deepcopy(value))
            if isinstance(step.get("conditions"), dict):
                step["conditions"] = {"min_total": None, "unless_clicked": False, **step["conditions"]}
    return merged


def current(session: Session, shop_id: int, key: str) -> FlowVersion | None:
    """The flow's newest version, or None before the shop has it."""
    row = session.execute(select(Flow).where(Flow.shop_id == shop_id, Flow.key == key)
                          .order_by(Flow.version.desc()).limit(1)).scalar_one_or_none()
    return None if row is None else _version(row)


def version(session: Session, shop_id: int, key: str, number: int) -> FlowVersion | None:
    row = session.execute(select(Flow).where(Flow.shop_id == shop_id, Flow.key == key, Flow.version == number)
                          ).scalar_one_or_none()
    return None if row is None else _version(row)


def ensure_all(session: Session, shop_id: int, now: dt.datetime | None = None) -> dict[str, FlowVersion]:
    """Give the shop every built-in flow it lacks (version 1, enabled from now); the caller commits.

    Two callers at once insert once: the first version is written with ``ON CONFLICT DO NOTHING``.
    """
    now = now or utcnow()
    newest = _newest_rows(session, shop_id)
    missing = [key for key in KEYS if key not in newest]
    if missing:
        rows = []
        for key in missing:
            settings = with_defaults(key, BUILT_INS[key].defaults)
            rows.append({"shop_id": shop_id, "key": key, "version": 1, "settings": settings,
                         "enabled_since": now if settings["enabled"] else None, "created_by": "install",
                         "created_at": now})
        insert_ignore(session, Flow.__table__, rows, conflict=("shop_id", "key", "version"),  # type: ignore[arg-type]
                      returning=("id",))
        newest = _newest_rows(session, shop_id)
    return {key: _version(newest[key]) for key in KEYS}


def _newest_rows(session: Session, shop_id: int) -> dict[str, Flow]:
    latest = (select(Flow.key, func.max(Flow.version).label("version")).where(Flow.shop_id == shop_id)
              .group_by(Flow.key).subquery())
    rows = session.execute(select(Flow).join(latest, (Flow.key == latest.c.key) & (Flow.version == latest.c.version))
                           .where(Flow.shop_id == shop_id)).scalars().all()
    return {row.key: row for row in rows if row.key in BUILT_INS}


def update(session: Session, shop_id: int, key: str, changes: Any, actor: str,
           now: dt.datetime | None = None) -> FlowVersion:
    """Validate ``changes`` against the current version and store the result as a new version.

    ``steps`` may be given whole (a list) or by position (``{"2": {"incentive": {...}}}``), so a
    merchant can change one delay without restating the rest.
    """
    if key not in BUILT_INS:
        raise FlowError("key", f"unknown flow (known: {', '.join(KEYS)})")
    now = now or utcnow()
    base = ensure_all(session, shop_id, now)[key]
    if not isinstance(changes, dict) or not changes:
        raise FlowError("flow", "send a JSON object with the settings to change")
    unknown = sorted(set(changes) - set(_SETTINGS))
    if unknown:
        raise FlowError(unknown[0], f"unknown setting (known: {', '.join(_SETTINGS)})")
    settings = copy.deepcopy(base.settings)
    for name, value in copy.deepcopy(changes).items():
        if name == "trigger" and isinstance(value, dict):
            settings["trigger"] = {**settings["trigger"], **value}
        elif name == "steps" and isinstance(value, dict):
            settings["steps"] = _steps_by_position(settings["steps"], value)
        else:
            settings[name] = value
    settings = with_defaults(key, settings) if isinstance(settings.get("steps"), list) else settings
    validate(key, settings)
    if settings == base.settings:
        return base
    number = (session.execute(select(func.max(Flow.version)).where(Flow.shop_id == shop_id, Flow.key == key))
              .scalar_one() or 0) + 1
    enabled_since = (base.enabled_since or now) if settings["enabled"] else None
    row = Flow(shop_id=shop_id, key=key, version=number, settings=settings, enabled_since=enabled_since,
               created_by=actor, created_at=now)
    session.add(row)
    session.flush()
    return _version(row)


def _steps_by_position(steps: list[dict[str, Any]], changes: dict[str, Any]) -> list[dict[str, Any]]:
    steps = copy.deepcopy(steps)
    for position, change in changes.items():
        if not str(position).isdigit() or int(position) >= len(steps):
            raise FlowError(f"steps.{position}", f"no such step (the flow has {len(steps)}; send a list to "
                            "add or remove steps)")
        if not isinstance(change, dict):
            raise FlowError(f"steps.{position}", "must be an object with the step's settings to change")
        step = steps[int(position)]
        for name, value in change.items():
            if name == "conditions" and isinstance(value, dict) and isinstance(step.get("conditions"), dict):
                step["conditions"] = {**step["conditions"], **value}
            else:
                step[name] = value
    return steps


# --- validation -------------------------------------------------------------------------------


def _number(value: Any, field: str, minimum: float, maximum: float, *, whole: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        raise FlowError(field, f"must be {'a whole number' if whole else 'a number'} from {minimum:g} to {maximum:g}")
    if not minimum <= value <= maximum:
        raise FlowError(field, f"must be from {minimum:g} to {maximum:g}")


def _amount(value: Any, field: str, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    try:
        amount = Decimal(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > Decimal("1000000"):
        raise FlowError(field, 'must be an amount as text, e.g. "10" or "12.50"')


def _text(value: Any, field: str, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\x00" in value:
        raise FlowError(field, f"must be null or a text of 1 to {limit} characters")


def validate(key: str, settings: dict[str, Any]) -> None:
    """Refuse a flow a merchant could not have meant, naming the setting."""
    flow = BUILT_INS[key]
    if not isinstance(settings.get("enabled"), bool):
        raise FlowError("enabled", "must be true or false")
    _number(settings.get("priority"), "priority", -1000, 1000, whole=True)
    _number(settings.get("holdout_share"), "holdout_share", 0, 0.5)
    trigger = settings.get("trigger")
    if not isinstance(trigger, dict) or set(trigger) - set(flow.defaults["trigger"]):
        raise FlowError("trigger", f"must be an object with {', '.join(flow.defaults['trigger']) or 'no settings'}")
    for name, (low, high) in flow.trigger_fields.items():
        _number(trigger.get(name), f"trigger.{name}", low, high, whole=True)
    if "segment" in trigger and trigger["segment"] is not None and (
            not isinstance(trigger["segment"], str) or not 1 <= len(trigger["segment"]) <= 64):
        raise FlowError("trigger.segment", "must be null or the key of a segment (e.g. at_risk)")
    if "review_url" in trigger and trigger["review_url"] is not None:
        from app.messaging.tracking import is_web_url

        if not isinstance(trigger["review_url"], str) or not is_web_url(trigger["review_url"]):
            raise FlowError("trigger.review_url", "must be null (the shop's address) or an http(s) address")
    steps = settings.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= flow.max_steps:
        raise FlowError("steps", f"must be a list of 1 to {flow.max_steps} steps")
    seen: set[str] = set()
    previous = -1.0
    for n, step in enumerate(steps):
        where = f"steps[{n}]"
        if not isinstance(step, dict):
            raise FlowError(where, "must be an object")
        extra = sorted(set(step) - set(_STEP_FIELDS))
        if extra:
            raise FlowError(f"{where}.{extra[0]}", f"unknown step setting (known: {', '.join(_STEP_FIELDS)})")
        if not isinstance(step.get("id"), str) or not 1 <= len(step["id"]) <= 40 or step["id"] in seen:
            raise FlowError(f"{where}.id", "must be a text of 1 to 40 characters, different for each step")
        seen.add(step["id"])
        if not isinstance(step.get("enabled"), bool):
            raise FlowError(f"{where}.enabled", "must be true or false")
        _number(step.get("delay_hours"), f"{where}.delay_hours", 0, MAX_DELAY_HOURS)
        if step["delay_hours"] > flow.max_delay_hours:
            raise FlowError(f"{where}.delay_hours", f"must be at most {flow.max_delay_hours} for this flow: a cart's "
                                                    "restore link lives 7 days, and so does what the shopper remembers")
        if step["delay_hours"] < previous:
            raise FlowError(f"{where}.delay_hours", "must not be less than the step before's (delays count from "
                            "the same moment)")
        previous = step["delay_hours"]
        if step.get("after", "trigger") not in ANCHORS:
            raise FlowError(f"{where}.after", f"must be one of {', '.join(ANCHORS)}")
        if step.get("after") == "fulfilment" and flow.subject_kind != "order":
            raise FlowError(f"{where}.after", "only steps about an order can wait for its fulfilment")
        if step.get("template") not in flow.templates:
            raise FlowError(f"{where}.template", f"must be one of {', '.join(flow.templates)}")
        for name, limit in (("subject", render.MAX_SUBJECT), ("intro", render.MAX_INTRO)):
            _text(step.get(name), f"{where}.{name}", limit)
            if name == "subject" and step.get("subject") and ("\n" in step["subject"] or "\r" in step["subject"]):
                raise FlowError(f"{where}.subject", "must be one line")
            try:
                render.check_placeholders(step.get(name) or "")
            except ValueError as error:
                raise FlowError(f"{where}.{name}", str(error)) from None
        _conditions(step.get("conditions"), f"{where}.conditions")
        _incentive(flow, step.get("incentive"), f"{where}.incentive", is_last=n == len(steps) - 1)
    if not any(step["enabled"] for step in steps):
        raise FlowError("steps", "at least one step must be enabled (disable the flow instead)")


def _conditions(conditions: Any, where: str) -> None:
    if not isinstance(conditions, dict) or set(conditions) - set(_CONDITION_FIELDS):
        raise FlowError(where, f"must be an object with {', '.join(_CONDITION_FIELDS)}")
    _amount(conditions.get("min_total"), f"{where}.min_total")
    if not isinstance(conditions.get("unless_clicked"), bool):
        raise FlowError(f"{where}.unless_clicked", "must be true or false")


def _incentive(flow: BuiltIn, incentive: Any, where: str, *, is_last: bool) -> None:
    if incentive is None:
        if flow.incentive == "required":
            raise FlowError(where, "is required: this flow's message shows a code")
        return
    if flow.incentive == "never":
        raise FlowError(where, "this flow offers no incentive")
    if flow.incentive == "last" and not is_last:
        raise FlowError(where, "only the last step may offer a code (earlier ones would teach shoppers to wait)")
    if not isinstance(incentive, dict) or set(incentive) - set(_INCENTIVE_FIELDS) or "kind" not in incentive:
        raise FlowError(where, f"must be null or an object with {', '.join(_INCENTIVE_FIELDS)}")
    if incentive["kind"] not in INCENTIVE_KINDS:
        raise FlowError(f"{where}.kind", f"must be one of {', '.join(INCENTIVE_KINDS)}")
    if incentive["kind"] != "free_shipping":
        _amount(incentive.get("value"), f"{where}.value", allow_none=False)
        value = Decimal(str(incentive["value"]))
        if value <= 0 or (incentive["kind"] == "percentage" and value > 50):
            raise FlowError(f"{where}.value", "must be more than 0 (and a percentage at most 50)")
    _number(incentive.get("expires_hours"), f"{where}.expires_hours", 1, 90 * 24, whole=True)
    _amount(incentive.get("minimum_subtotal"), f"{where}.minimum_subtotal")


def describe(flow: FlowVersion) -> dict[str, Any]:
    """The flow as the admin API shows it."""
    built_in = flow.built_in
    return {"key": flow.key, "name": built_in.name, "trigger_description": built_in.trigger,
            "category": built_in.category, "templates": list(built_in.templates), "version": flow.version,
            "enabled_since": flow.enabled_since.isoformat() if flow.enabled_since else None,
            "changed_at": flow.created_at.isoformat(), "changed_by": flow.created_by, "settings": flow.settings}
