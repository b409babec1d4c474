"""The customers pages: search and list, and one customer's profile with their timeline.

The reads are those of the customers API (``app.web.customers_admin``); this module only words
and formats them in the merchant's language: money in the shop's currency, moments in the
shop's time zone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

from flask import abort, g, request

from app.extensions import db
from app.messaging import render as formats
from app.segments import metrics
from app.store.models import Customer
from app.web import customers_admin as customers
from app.web.pages import blueprint, i18n, link, page, render

PATH = "/admin/customers"

# Causes and templates with words of their own; others are shown by their key.
CAUSES = ("order", "refund", "cancellation", "redemption", "redemption_refund", "adjustment", "claim", "expiry",
          "referral", "challenge", "tier_entry", "signup", "birthday", "segment", "review", "social", "custom")
TEMPLATES = ("birthday", "cart_reminder", "cross_sell", "points_earned", "points_expiring", "review_request",
             "reward_available", "thank_you", "tier_upgrade", "win_back")
MESSAGE_STATES = ("queued", "deferred", "sending", "sent", "skipped", "suppressed", "failed", "bounced")
MARKETING_STATES = ("subscribed", "unsubscribed", "not_subscribed", "pending")
REFERRAL_STATES = ("invited", "blocked", "qualified", "completed", "rejected", "void")


def _t(key: str, **values: Any) -> str:
    return i18n.translate(g.language, f"customers.{key}", **values)


def _when(moment: dt.datetime | None) -> str:
    """``5 December 2026, 14:05`` in the shop's zone and the merchant's language."""
    if moment is None:
        return ""
    local = moment.astimezone(formats.zone(g.shop.timezone))
    return _t("moment", day=formats.format_date(moment, g.shop.timezone, g.language), time=local.strftime("%H:%M"))


def _day(moment: dt.datetime | None) -> str:
    return formats.format_date(moment, g.shop.timezone, g.language) if moment else ""


def _money(amount: Any, currency: str | None) -> str:
    return formats.format_money(amount, currency or g.shop.currency, g.language)


def _number(value: int) -> str:
    return formats.format_number(value, g.language)


def _signed_points(points: int) -> str:
    return _t("points_signed", points=("+" if points > 0 else "\u2212") + _number(abs(points)))


def _cause(cause: str) -> str:
    return _t(f"cause_{cause}") if cause in CAUSES else cause


def describe(event: customers.Event) -> str:
    """The plain sentence a timeline line says."""
    facts = event.facts
    if event.kind == "order":
        text = _t("event_order", number=facts["number"], total=_money(facts["total"], facts["currency"]))
        if facts["cancelled"]:
            text += " · " + _t("event_order_cancelled")
        elif facts["financial_status"] in ("refunded", "partially_refunded"):
            text += " · " + _t(f"event_order_{facts['financial_status']}")
        return text + (" · " + _t("event_order_test") if facts["test"] else "")
    if event.kind == "points":
        text = f"{_signed_points(facts['points'])} · {_cause(facts['cause'])}"
        if facts["order_number"]:
            text += " · " + _t("event_points_order", order=facts["order_number"])
        if facts["reason"]:
            text += " · " + _t("event_points_reason", reason=facts["reason"])
        return text + (" · " + _t("event_points_pending") if facts["pending"] else "")
    if event.kind == "message":
        name = _t(f"template_{facts['template']}") if facts["template"] in TEMPLATES else facts["template"]
        status = facts["status"]
        state = _t(f"message_{status}") if status in MESSAGE_STATES else status
        if facts["clicked"]:
            state = _t("message_clicked")
        elif facts["opened"]:
            state = _t("message_opened")
        return _t("event_message", name=name, state=state)
    if event.kind == "segment":
        return _t("event_segment_entered" if facts["kind"] == "entered" else "event_segment_left",
                  segment=facts["segment"])
    status = _t(f"referral_{facts['status']}") if facts["status"] in REFERRAL_STATES else facts["status"]
    return _t("event_referral_advocate" if facts["role"] == "advocate" else "event_referral_friend", status=status)


@blueprint.get(PATH)
@page("customers")
def customers_page():
    query = (request.args.get("q") or "").strip()
    if len(query) > customers.MAX_QUERY:
        abort(400, description=_t("query_too_long", limit=customers.MAX_QUERY))
    before, after = _cursor("before"), _cursor("after")
    found = customers.search(db.session(), g.shop.id, query, before=before, after=after)
    bought = customers.purchases_of(db.session(), g.shop.id, found.customers, g.shop.currency)
    rows = [{"id": customer.id, "name": customers.name_of(customer), "email": customer.email,
             "orders": _number(bought[customer.id].orders),
             "spent": _money(bought[customer.id].spent, bought[customer.id].currency),
             "since": _day(customer.source_created_at or customer.created_at),
             "erased": customer.redacted_at is not None,
             "href": link(f"{PATH}/{customer.id}")} for customer in found.customers]
    return render("pages/customers.html", title=_t("title"), subtitle=_t("subtitle"), query=query, rows=rows,
                  newer=link(PATH, q=_quoted(query), after=found.newer) if found.newer else None,
                  older=link(PATH, q=_quoted(query), before=found.older) if found.older else None,
                  first=link(PATH, q=_quoted(query)) if (before or after) else None,
                  search_action=link(PATH))


def _quoted(text: str) -> str | None:
    """A query value for ``link`` (which joins values as they are)."""
    return quote(text, safe="") if text else None


def _cursor(name: str) -> int | None:
    raw = request.args.get(name)
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400, description=_t("bad_cursor"))
    return int(raw)


@blueprint.get(f"{PATH}/<int:customer_id>")
@page("customers")
def customer_page(customer_id: int):
    session = db.session()
    customer: Customer = customers.customer_of_shop(session, g.shop.id, customer_id)
    member = customers.member_of(session, customer)
    bought = customers.purchases(session, customer, g.shop.currency)
    balance = customers.balance_json(session, member)
    figures = customers.metrics_of(session, customer)
    before = customers.parse_cursor(request.args.get("before"))
    events, older = customers.timeline(session, customer, member, before=before)
    name = customers.name_of(customer)
    title = name or customer.email or (_t("erased_title") if customer.redacted_at else
                                        _t("untitled", id=customer.external_id))
    rfm = None
    if figures is not None:
        rfm = {"segment": _t(f"rfm_{figures.rfm_segment}") if figures.rfm_segment in metrics.RFM_SEGMENTS else "",
               "scores": _t("rfm_scores", r=figures.r_score, f=figures.f_score, m=figures.m_score)
               if figures.r_score else "",
               "churn": _t(f"churn_{figures.churn_band}") if figures.churn_band in ("low", "medium", "high") else "",
               "active": _t("probability_active", percent=round(figures.p_alive * 100))
               if figures.p_alive is not None else "",
               "computed": _when(figures.computed_at)}
    timeline = [{"iso": event.at.isoformat(), "when": _when(event.at), "kind": event.kind,
                 "label": _t(f"kind_{event.kind}"), "text": describe(event)} for event in events]
    path = f"{PATH}/{customer.id}"
    return render(
        "pages/customer.html", title=title,
        subtitle=_t("subtitle_customer", since=_day(customer.source_created_at or customer.created_at)),
        customer=customer, name=name, marketing=_t(f"marketing_{customer.email_marketing_state}")
        if customer.email_marketing_state in MARKETING_STATES else _t("marketing_unknown"),
        orders=_number(bought.orders), spent=_money(bought.spent, bought.currency),
        balance={key: _number(value) for key, value in balance.items()}, raw_balance=balance,
        tier=member.tier if member else None, is_member=member is not None,
        segments=customers.segments_of(session, customer), rfm=rfm,
        timeline=timeline, older=link(path, before=quote(older.isoformat(), safe="")) if older else None,
        newest=link(path) if before else None,
        erased=customer.redacted_at is not None, erased_on=_day(customer.redacted_at),
        adjustment_key=uuid.uuid4().hex, back=link(PATH),
        api=f"/api/admin/customers/{customer.id}",
    )
