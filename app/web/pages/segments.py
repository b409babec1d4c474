"""The segments pages: every segment with its size, the rule builder, a segment's members and exports.

The pages read the segments and their members with a few indexed queries (sizes are the
``member_count`` the membership update keeps; members come 50 a page); everything that changes
anything goes through ``/api/admin/segments`` from ``segments.js``, so the rules and their 422
messages live in one place (``app.segments.rules``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from flask import abort, g, request
from sqlalchemy import select

from app.analytics import common
from app.extensions import db
from app.segments import membership, metrics, rules
from app.store.models import Customer, CustomerMetrics, Segment, SegmentMember
from app.web.pages import blueprint, i18n, page, render

PATH = "/admin/segments"
PER_PAGE = 50
MONEY_FIELDS = ("total_spent", "average_order_value", "predicted_value_12m")
# Operators as the catalogue names them (keys cannot hold "<" or "!").
OP_NAMES = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
BUILT_IN_NAMES = {item.key: item.name for item in membership.BUILT_INS}
# The operators ``rules.validate`` takes no value for: their rows show no value input.
NO_VALUE_OPS = ("this_month", "none", "is_set", "is_not_set")


def _t(name: str, /, **values: Any) -> str:
    return i18n.translate(g.language, f"segments.{name}", **values)


def op_name(op: str) -> str:
    return OP_NAMES.get(op, op)


def field_label(field: str) -> str:
    """A field's name as it reads at the start of a sentence."""
    text = _t(f"field_{field}")
    return text[:1].upper() + text[1:]


def choice_label(field: str, value: str) -> str:
    if field == "rfm_segment":
        return _t(f"rfm_{value}")
    if field == "churn_band":
        return _t(f"churn_{value}")
    return value


def _number(field: str, value: Any) -> str:
    language = g.language
    if field in MONEY_FIELDS:
        currency = g.shop.currency
        return format_currency(value, currency, locale=language) if currency else format_decimal(value, locale=language)
    if field == "spend_percentile":
        return format_percent(value / 100, locale=language)
    if field == "probability_active":
        return format_percent(value, locale=language)
    return format_decimal(value, locale=language)


def _value_text(field: str, op: str, value: Any) -> str:
    spec = rules.FIELDS[field]
    if isinstance(value, list):
        return ", ".join((choice_label(field, item).lower() if field == "churn_band" else choice_label(field, item))
                         if spec.kind == "choice" else f"“{item}”" for item in value)
    if spec.kind == "number":
        return _number(field, value)
    if spec.kind == "date":
        if op in ("within_days", "not_within_days"):
            return format_decimal(value, locale=g.language)
        return format_date(dt.date.fromisoformat(value), format="medium", locale=g.language)
    if spec.kind == "choice":  # a band reads as a word in the sentence ("churn risk is high")
        label = choice_label(field, value)
        return label.lower() if field == "churn_band" else label
    return f"“{value}”"


def describe_condition(item: dict[str, Any]) -> str:
    field, op, value = item["field"], item["op"], item.get("value")
    if field == "email_subscribed":
        return _t("say_subscribed" if value else "say_not_subscribed")
    label = _t(f"field_{field}")
    if value is None:
        return _t(f"say_{op_name(op)}", field=label)
    return _t(f"say_{op_name(op)}", field=label, value=_value_text(field, op, value))


def describe(node: dict[str, Any], nested: bool = False) -> str:
    """Rules in plain words: "total spent is more than $500 and last order within the last 90 days"."""
    kind = next(iter(node))
    parts = [describe(item, True) if next(iter(item)) in ("all", "any") else describe_condition(item)
             for item in node[kind]]
    text = _t(f"joiner_{kind}").join(parts)
    if nested and len(parts) > 1:
        return f"({text})"
    return text[:1].upper() + text[1:] if not nested else text


def segment_name(segment: Segment) -> str:
    """A built-in keeps its translated name until the merchant renames it."""
    if segment.built_in and BUILT_IN_NAMES.get(segment.key) == segment.name:
        return _t(f"builtin_{segment.key}")
    return segment.name


def moment(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return format_datetime(value, format="medium", tzinfo=common.zone(g.shop), locale=g.language)


def is_flat(node: dict[str, Any]) -> bool:
    return all(next(iter(item)) not in ("all", "any") for item in next(iter(node.values())))


def field_specs() -> list[dict[str, Any]]:
    """The builder's fields (from ``rules.FIELDS``) with their operators and choices, in the merchant's words."""
    specs = []
    for name, spec in rules.FIELDS.items():
        specs.append({
            "name": name, "kind": spec.kind, "label": field_label(name),
            "ops": [{"op": op, "label": _t(f"op_{op_name(op)}")} for op in spec.ops],
            "choices": [{"value": choice, "label": choice_label(name, choice)} for choice in spec.choices],
            "low": spec.low, "high": spec.high, "money": name in MONEY_FIELDS,
            "help": _t(f"help_{name}")})
    return specs


def builder_context(segment_rules: dict[str, Any] | None) -> dict[str, Any]:
    """What the builder template and ``segments.js`` need: the fields, the rows, the words."""
    current = segment_rules or {"all": [{"field": "total_spent", "op": ">", "value": 500}]}
    kind = next(iter(current))
    flat = is_flat(current)
    specs = field_specs()
    return {
        "fields": specs, "field_index": {spec["name"]: spec for spec in specs}, "kind": kind, "flat": flat,
        "rows": current[kind] if flat else [], "no_value": NO_VALUE_OPS, "rules_json": current,
        "builder_words": {
            "field": _t("row_field"), "op": _t("row_op"), "value": _t("row_value"), "remove": _t("row_remove"),
            "days": _t("row_days"), "yes": _t("value_yes"), "no": _t("value_no"), "list_help": _t("row_list_help"),
            "preview": _t("preview_count"), "preview_one": _t("preview_one"), "preview_none": _t("preview_none"),
            "preview_error": _t("preview_error"), "preview_busy": _t("preview_busy"),
            "no_rows": _t("no_rows"), "bad_json": _t("bad_json"),
            "confirm_rules": _t("confirm_rules"), "confirm_delete": _t("confirm_delete"),
            "saved": _t("saved"), "created": _t("created"), "deleted": _t("deleted")},
    }


def _live_segment(key: str) -> Segment:
    """The shop's segment ``key`` (built-ins made first); another shop's is a 404."""
    session = db.session()
    query = select(Segment).where(Segment.shop_id == g.shop.id, Segment.key == key, Segment.deleted_at.is_(None))
    found = session.execute(query).scalar_one_or_none()
    if found is None and key in membership.BUILT_IN_KEYS:
        membership.ensure_built_ins(session, g.shop.id)
        session.commit()
        found = session.execute(query).scalar_one_or_none()
    if found is None:
        abort(404, description=_t("not_found", segment=key))
    return found


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 1_000_000 else 1


def _members(segment: Segment, number: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of members in key order, with their customer record when the store has one.

    The page is cut from the members' primary key alone (an index-only scan, however deep the
    page), then joined to the figures and the customer for those 51 rows.
    """
    M, S, C = CustomerMetrics, SegmentMember, Customer
    keys = (select(S.customer_key).where(S.segment_id == segment.id)
            .order_by(S.customer_key).offset((number - 1) * PER_PAGE).limit(PER_PAGE + 1).subquery())
    found = db.session().execute(
        select(M.customer_key, M.email, M.total_spent, M.order_count, M.rfm_segment,
               M.churn_band, C.id, C.first_name, C.last_name, C.email)
        .join(keys, keys.c.customer_key == M.customer_key)
        .outerjoin(C, (C.shop_id == M.shop_id) & (C.external_id == M.customer_external_id))
        .where(M.shop_id == g.shop.id)
        .order_by(M.customer_key)).all()
    people = []
    for (key, email, spent, orders, rfm, churn, customer_id, first, last,
         customer_email) in found[:PER_PAGE]:
        name = " ".join(part for part in (first, last) if part)
        people.append({
            "key": key, "customer_id": customer_id, "name": name, "email": customer_email or email,
            "is_guest": customer_id is None, "spent": _number("total_spent", spent or 0),
            "orders": format_decimal(orders or 0, locale=g.language),
            "rfm": choice_label("rfm_segment", rfm) if rfm in metrics.RFM_SEGMENTS else None,
            "churn": churn})
    return people, len(found) > PER_PAGE


@blueprint.get(PATH)
@page("segments")
def segments_page():
    session = db.session()
    membership.ensure_built_ins(session, g.shop.id)
    session.commit()
    listed = [{"key": segment.key, "name": segment_name(segment), "built_in": segment.built_in,
               "members": format_decimal(segment.member_count or 0, locale=g.language),
               "computed_at": moment(segment.computed_at), "description": describe(segment.rules),
               "tag": segment.tag} for segment in membership.live(session, g.shop.id)]
    return render("pages/segments.html", title=_t("title"), subtitle=_t("subtitle"), segments=listed,
                  limit=membership.MAX_SEGMENTS, at_limit=len(listed) >= membership.MAX_SEGMENTS)


@blueprint.get(f"{PATH}/new")
@page("segments")
def new_segment_page():
    return render("pages/segments_edit.html", title=_t("new_title"), subtitle=_t("new_subtitle"), segment=None,
                  **builder_context(None))


@blueprint.get(f"{PATH}/<key>")
@page("segments")
def segment_page(key: str):
    segment = _live_segment(key)
    number = _page_number()
    people, more = _members(segment, number)
    total = segment.member_count or 0
    pages = max(1, -(-total // PER_PAGE))
    first_shown = (number - 1) * PER_PAGE + 1 if people else 0
    return render("pages/segments_edit.html", title=segment_name(segment), subtitle=describe(segment.rules),
                  segment=segment, members=people, page_number=number, pages=max(pages, number),
                  has_next=more, first_shown=first_shown, last_shown=first_shown + len(people) - 1 if people else 0,
                  total=format_decimal(total, locale=g.language), total_count=total,
                  computed_at=moment(segment.computed_at), **builder_context(segment.rules))
