"""Segment rules: validated JSON over a customer's figures, compiled into one SQL condition.

A rule set is ``{"all": [...]}`` or ``{"any": [...]}``; each item is a condition
``{"field": ..., "op": ..., "value": ...}`` or another ``all``/``any`` group (at most
``MAX_DEPTH`` deep, ``MAX_CONDITIONS`` conditions in all). ``validate`` returns the rules in a
normal form or raises ``RuleError`` naming the offending place (``all[1].value``) and what is
wrong; ``condition`` turns valid rules into a condition on ``CustomerMetrics``. The fields and
their operators are ``FIELDS``; docs/segments.md lists them with examples.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from app.segments import metrics
from app.store.models import CustomerMetrics, LineItem, Order, Product

MAX_DEPTH = 3
MAX_CONDITIONS = 50
MAX_LIST = 500
COMPARE = ("=", "!=", "<", "<=", ">", ">=")
CHURN_BANDS = ("low", "medium", "high")


class RuleError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclasses.dataclass(frozen=True)
class Field:
    kind: str  # number | date | choice | text | flag | tags | bought
    ops: tuple[str, ...]
    column: Any = None
    choices: tuple[str, ...] = ()
    scale: float = 1.0  # what a value is multiplied by before it is compared with the column
    low: float | None = None
    high: float | None = None


M = CustomerMetrics
FIELDS: dict[str, Field] = {
    "order_count": Field("number", COMPARE, M.order_count, low=0),
    "total_spent": Field("number", COMPARE, M.total_spent, low=0),
    "average_order_value": Field("number", COMPARE, M.average_order_value, low=0),
    "spend_percentile": Field("number", COMPARE, M.spend_rank, scale=0.01, low=0, high=100),
    "predicted_value_12m": Field("number", COMPARE, M.predicted_value_12m, low=0),
    "expected_orders_90d": Field("number", COMPARE, M.expected_orders_90d, low=0),
    "probability_active": Field("number", COMPARE, M.p_alive, low=0, high=1),
    "points_balance": Field("number", COMPARE, M.points_balance),
    "last_order_at": Field("date", ("within_days", "not_within_days", "before", "after", "this_month", "none"),
                           M.last_order_at),
    "first_order_at": Field("date", ("within_days", "not_within_days", "before", "after", "this_month", "none"),
                            M.first_order_at),
    "rfm_segment": Field("choice", ("=", "!=", "in", "not_in"), M.rfm_segment, tuple(metrics.RFM_SEGMENTS)),
    "churn_band": Field("choice", ("=", "!=", "in", "not_in"), M.churn_band, CHURN_BANDS),
    "tier": Field("text", ("=", "!=", "in", "not_in", "is_set", "is_not_set"), M.tier),
    "email_subscribed": Field("flag", ("=",), M.email_subscribed),
    "tags": Field("tags", ("contains", "not_contains"), M.tags_text),
    "products_bought": Field("bought", ("contains_any", "contains_none")),
    "categories_bought": Field("bought", ("contains_any", "contains_none")),
}
_NO_VALUE = ("this_month", "none", "is_set", "is_not_set")


def _number(value: Any, where: str, spec: Field) -> float:
    try:  # an integer beyond a float's range (JSON allows thousands of digits) overflows here
        finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise RuleError(where, "must be a number")
    if spec.low is not None and value < spec.low or spec.high is not None and value > spec.high:
        span = f"from {spec.low:g}" + (f" to {spec.high:g}" if spec.high is not None else "")
        raise RuleError(where, f"must be {span}")
    return value


def _text(value: Any, where: str, limit: int = 255) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(where, "must be a non-empty text")
    if len(value) > limit:
        raise RuleError(where, f"must be at most {limit} characters")
    return value.strip()


def _texts(value: Any, where: str, choices: Sequence[str] = ()) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RuleError(where, "must be a non-empty list")
    if len(value) > MAX_LIST:
        raise RuleError(where, f"must have at most {MAX_LIST} items")
    found = [_text(item, f"{where}[{number}]") for number, item in enumerate(value)]
    for number, item in enumerate(found):
        if choices and item not in choices:
            raise RuleError(f"{where}[{number}]", f"must be one of {', '.join(choices)}")
    return sorted(set(found))


def _value(spec: Field, op: str, value: Any, where: str) -> Any:
    if op in _NO_VALUE:
        if value is not None:
            raise RuleError(where, f"{op} takes no value")
        return None
    if spec.kind == "number":
        return _number(value, where, spec)
    if spec.kind == "date":
        if op in ("within_days", "not_within_days"):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 36500:
                raise RuleError(where, "must be a whole number of days from 1 to 36500")
            return value
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            return _bad_date(where)
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return _bad_date(where)
        # A day is turned into a moment in the shop's time zone, and "after" adds a day to it:
        # the first and last years of the calendar would overflow there.
        if not _FIRST_DAY <= day <= _LAST_DAY:
            raise RuleError(where, f"must be a date from {_FIRST_DAY.isoformat()} to {_LAST_DAY.isoformat()}")
        return day.isoformat()
    if spec.kind == "flag":
        if not isinstance(value, bool):
            raise RuleError(where, "must be true or false")
        return value
    if spec.kind == "choice":
        if op in ("in", "not_in"):
            return _texts(value, where, spec.choices)
        found = _text(value, where)
        if found not in spec.choices:
            raise RuleError(where, f"must be one of {', '.join(spec.choices)}")
        return found
    if spec.kind == "text" and op in ("in", "not_in"):
        return _texts(value, where)
    if spec.kind == "bought":
        return _texts(value, where)
    found = _text(value, where, 64)
    if spec.kind == "tags" and "," in found:
        raise RuleError(where, "a tag cannot contain a comma")
    return found.lower() if spec.kind == "tags" else found


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fromisoformat alone also takes 20240101 and 2024-W01-1
_FIRST_DAY, _LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def _bad_date(where: str) -> Any:
    raise RuleError(where, "must be a date as YYYY-MM-DD")


def validate(rules: Any) -> dict[str, Any]:
    """The rules in normal form (sorted lists, trimmed texts); ``RuleError`` at the first mistake."""
    count = [0]

    def group(node: Any, where: str, depth: int) -> dict[str, Any]:
        if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in ("all", "any"):
            raise RuleError(where or "rules", 'must be {"all": [...]} or {"any": [...]}')
        kind = next(iter(node))
        items = node[kind]
        place = f"{where}.{kind}" if where else kind
        if not isinstance(items, list) or not items:
            raise RuleError(place, "must be a non-empty list of conditions")
        out = []
        for number, item in enumerate(items):
            at = f"{place}[{number}]"
            if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("all", "any"):
                if depth >= MAX_DEPTH:
                    raise RuleError(at, f"groups may be nested at most {MAX_DEPTH} deep")
                out.append(group(item, at, depth + 1))
            else:
                out.append(condition_of(item, at))
        return {kind: out}

    def condition_of(item: Any, where: str) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise RuleError(where, 'must be a condition {"field", "op", "value"} or a group')
        unknown = sorted(set(item) - {"field", "op", "value"})
        if unknown:
            raise RuleError(where, f"unknown key {unknown[0]!r} (a condition has field, op and value)")
        field = item.get("field")
        if not isinstance(field, str) or field not in FIELDS:
            raise RuleError(f"{where}.field", f"must be one of {', '.join(FIELDS)}")
        spec = FIELDS[field]
        op = item.get("op")
        if op not in spec.ops:
            raise RuleError(f"{where}.op", f"for {field} must be one of {', '.join(spec.ops)}")
        count[0] += 1
        if count[0] > MAX_CONDITIONS:
            raise RuleError(where, f"a segment has at most {MAX_CONDITIONS} conditions")
        found = {"field": field, "op": op}
        value = _value(spec, op, item.get("value"), f"{where}.value")
        if value is not None:
            found["value"] = value
        return found

    return group(rules, "", 1)


@dataclasses.dataclass(frozen=True)
class Context:
    """What compiling needs besides the rules: the shop, the moment, its time zone."""

    shop_id: int
    now: dt.datetime
    timezone: ZoneInfo


def _month_start(context: Context) -> dt.datetime:
    local = context.now.astimezone(context.timezone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.timezone.utc)


def _day(value: str, context: Context) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), context.timezone).astimezone(dt.timezone.utc)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "=": lambda c, v: c == v, "!=": lambda c, v: c != v, "<": lambda c, v: c < v,
        "<=": lambda c, v: c <= v, ">": lambda c, v: c > v, ">=": lambda c, v: c >= v}
    return operations[op](column, value)


def _bought(session: Session, context: Context, field: str, values: list[str]) -> ColumnElement[bool]:
    """Whether a customer has a counted order with one of the products (or a product of the categories)."""
    products = values
    if field == "categories_bought":
        wanted = {value.lower() for value in values}
        products = [external_id for external_id, categories, product_type in session.execute(
            select(Product.external_id, Product.categories, Product.product_type)
            .where(Product.shop_id == context.shop_id))
            if wanted & ({str(c).lower() for c in (categories or ())} | ({product_type.lower()} if product_type else set()))]
        if not products:
            return false()
    counted = (Order.shop_id == context.shop_id, Order.cancelled_at.is_(None), Order.deleted_at.is_(None),
               Order.is_test.is_(False))
    by_customer = exists().where(LineItem.order_id == Order.id, LineItem.product_external_id.in_(products),
                                 Order.customer_external_id == M.customer_external_id, *counted)
    by_email = exists().where(LineItem.order_id == Order.id, LineItem.product_external_id.in_(products),
                              func.lower(func.trim(Order.email)) == M.email, *counted)
    return or_(and_(M.customer_external_id.is_not(None), by_customer), and_(M.email.is_not(None), by_email))


def _one(session: Session, context: Context, item: dict[str, Any]) -> ColumnElement[bool]:
    spec = FIELDS[item["field"]]
    op, value, column = item["op"], item.get("value"), spec.column
    if spec.kind == "number":
        return and_(column.is_not(None), _compare(column, op, value * spec.scale))
    if spec.kind == "date":
        if op == "none":
            return column.is_(None)
        if op == "this_month":
            return column >= _month_start(context)
        if op == "within_days":
            return column >= context.now - dt.timedelta(days=value)
        if op == "not_within_days":
            return column < context.now - dt.timedelta(days=value)
        day = _day(value, context)
        return column < day if op == "before" else column >= day + dt.timedelta(days=1)
    if spec.kind == "flag":
        return column.is_(true()) if value else column.is_(false())
    if spec.kind == "tags":
        pattern = "%," + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ",%"
        contains = and_(column.is_not(None), column.like(pattern, escape="\\"))
        return contains if op == "contains" else not_(contains)
    if spec.kind == "bought":
        found = _bought(session, context, item["field"], value)
        return found if op == "contains_any" else not_(found)
    if op == "is_set":
        return column.is_not(None)
    if op == "is_not_set":
        return column.is_(None)
    if op in ("in", "not_in"):
        inside = and_(column.is_not(None), column.in_(value))
        return inside if op == "in" else or_(column.is_(None), not_(column.in_(value)))
    if op == "!=":
        return or_(column.is_(None), column != value)
    return column == value


def condition(session: Session, context: Context, rules: dict[str, Any]) -> ColumnElement[bool]:
    """The SQL condition on ``CustomerMetrics`` of valid rules (``validate`` first)."""
    kind = next(iter(rules))
    parts = [condition(session, context, item) if next(iter(item)) in ("all", "any") else _one(session, context, item)
             for item in rules[kind]]
    return and_(*parts) if kind == "all" else or_(*parts)
