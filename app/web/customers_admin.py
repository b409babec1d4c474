"""The customers JSON API of the admin (session token or first-party session, see ``admin.require_session_token``).

A customer is named by our ``Customer.id`` and looked up with the shop's id: another shop's
customer is a 404 on every route. The reads here (search, profile, timeline) are shared with the
customers pages, so the page and the API always agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.loyalty import ledger
from app.loyalty import program as programs
from app.store import privacy
from app.store.models import (
    Customer,
    CustomerMetrics,
    LedgerEntry,
    LoyaltyMember,
    Message,
    Order,
    PrivacyRequest,
    Redemption,
    Referral,
    Segment,
    SegmentEvent,
    SegmentMember,
)
from app.web.admin import require_session_token
from app.web.errors import error_response
from connectors import base

log = logging.getLogger(__name__)

blueprint = Blueprint("customers_admin", __name__, url_prefix="/api/admin/customers")
blueprint.before_request(require_session_token)

PAGE_SIZE = 50
TIMELINE_SIZE = 25
MAX_QUERY = 320
MAX_REASON = 500
MAX_POINTS = ledger.MAX_ADJUSTMENT


# --- search ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SearchPage:
    """One page of customers, newest first, with the keyset cursors of its neighbours."""

    customers: list[Customer]
    newer: int | None  # ``after`` of the previous page
    older: int | None  # ``before`` of the next page


def _prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _order_matches(session: Session, shop_id: int, query: str) -> list[str]:
    """Customer ids of the order whose external id or number is ``query`` (``1001`` finds ``#1001``)."""
    bare = query.lstrip("#")
    if not bare or len(bare) > 60 or any(ch.isspace() for ch in bare):
        return []
    # (shop_id, external_id) is unique, hence indexed; numbers are matched exactly and the shop's
    # rows only, with a small limit.
    rows = session.execute(
        select(Order.customer_external_id).where(
            Order.shop_id == shop_id, Order.deleted_at.is_(None), Order.customer_external_id.is_not(None),
            or_(Order.external_id == bare, Order.number.in_((bare, f"#{bare}"))))
        .limit(5)).scalars().all()
    return list(dict.fromkeys(row for row in rows if row))


def search(session: Session, shop_id: int, query: str, *, before: int | None = None,
           after: int | None = None) -> SearchPage:
    """Find a shop's customers by name, e-mail or order number, 50 a page, newest first.

    The choice, for a shop of 100,000 customers: every condition is a prefix (``LIKE 'ana%'`` on
    ``lower(...)``), never a leading wildcard, and every query is bounded by the shop's id and a
    ``LIMIT`` of one page plus one, walked by keyset on the primary key (``id < before``) rather
    than by ``OFFSET``. PostgreSQL reads the shop's customers from the primary key's end and
    stops at the 51st match: a page of a common prefix costs a few hundred rows, a prefix that
    matches nobody at worst one pass over that shop's rows, never another shop's nor a sort.
    An exact e-mail is answered from ``ix_customers_shop_id_email`` and an order number or
    external id from the orders' unique ``(shop_id, external_id)``, both before the prefix scan.
    An expression index ``(shop_id, lower(email) text_pattern_ops)`` would turn the prefix scan
    into an index range too; the query is written so that such an index serves it unchanged.
    """
    text = " ".join(query.strip().lower().split())
    statement = select(Customer).where(Customer.shop_id == shop_id, Customer.deleted_at.is_(None))
    pinned: list[Customer] = []
    if text:
        words = text.split(" ")
        conditions: list[ColumnElement[bool]] = [func.lower(Customer.email).like(_prefix(text), escape="\\"),
                      func.lower(Customer.first_name).like(_prefix(text), escape="\\"),
                      func.lower(Customer.last_name).like(_prefix(text), escape="\\")]
        if len(words) >= 2:
            conditions.append(and_(func.lower(Customer.first_name).like(_prefix(words[0]), escape="\\"),
                                   func.lower(Customer.last_name).like(_prefix(" ".join(words[1:])), escape="\\")))
        statement = statement.where(or_(*conditions))
        if before is None and after is None:
            pinned = _pinned(session, shop_id, text)
    if after is not None:
        rows = list(session.execute(statement.where(Customer.id > after).order_by(Customer.id.asc())
                                    .limit(PAGE_SIZE + 1)).scalars())
        more_newer = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        return SearchPage(rows, rows[0].id if more_newer and rows else None, rows[-1].id if rows else None)
    if before is not None:
        statement = statement.where(Customer.id < before)
    rows = list(session.execute(statement.order_by(Customer.id.desc()).limit(PAGE_SIZE + 1)).scalars())
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    if pinned:
        seen = {customer.id for customer in pinned}
        rows = pinned + [customer for customer in rows if customer.id not in seen]
    newer = rows[0].id if before is not None and rows else None
    return SearchPage(rows, newer, older)


def _pinned(session: Session, shop_id: int, text: str) -> list[Customer]:
    """Exact matches shown first: the customer of an order number, the owner of an exact address."""
    external_ids = _order_matches(session, shop_id, text)
    match: list[ColumnElement[bool]] = [Customer.external_id.in_(external_ids)] if external_ids else []
    if "@" in text:
        match.append(Customer.email == text)
    if not match:
        return []
    return list(session.execute(select(Customer).where(Customer.shop_id == shop_id, Customer.deleted_at.is_(None),
                                                       or_(*match)).order_by(Customer.id.desc()).limit(10)).scalars())


def name_of(customer: Customer) -> str:
    """First and last name, or an empty string when the store has none (or it was erased)."""
    return " ".join(part for part in (customer.first_name, customer.last_name) if part)


def search_row(customer: Customer) -> dict[str, Any]:
    return {"id": customer.id, "external_id": customer.external_id, "name": name_of(customer),
            "email": customer.email, "orders": customer.order_count,
            "total_spent": str(customer.total_spent) if customer.total_spent is not None else None,
            "currency": customer.total_spent_currency,
            "since": _moment(customer.source_created_at or customer.created_at),
            "erased": customer.redacted_at is not None}


# --- one customer ------------------------------------------------------------------------------


def customer_of_shop(session: Session, shop_id: int, customer_id: int) -> Customer:
    """The shop's customer with our id ``customer_id``; a 404 for any other shop's."""
    customer = session.execute(select(Customer).where(Customer.id == customer_id, Customer.shop_id == shop_id)
                               ).scalar_one_or_none()
    if customer is None:
        abort(404, description="no such customer")
    return customer


def member_of(session: Session, customer: Customer) -> LoyaltyMember | None:
    """The customer's loyalty member, if they have one (looking never creates one)."""
    return session.execute(select(LoyaltyMember).where(
        LoyaltyMember.shop_id == customer.shop_id, LoyaltyMember.customer_external_id == customer.external_id)
    ).scalar_one_or_none()


@dataclasses.dataclass(frozen=True)
class Purchases:
    orders: int
    spent: Decimal
    currency: str | None


def purchases(session: Session, customer: Customer, shop_currency: str | None) -> Purchases:
    """Orders and spend: the store's own figures when it keeps them, else the mirror's orders."""
    return purchases_of(session, customer.shop_id, [customer], shop_currency)[customer.id]


def purchases_of(session: Session, shop_id: int, customers: Sequence[Customer],
                 shop_currency: str | None) -> dict[int, Purchases]:
    """``purchases`` for a page of customers in one grouped query (the orders' customer index)."""
    found = {customer.id: Purchases(customer.order_count, customer.total_spent,
                                    customer.total_spent_currency or shop_currency)
             for customer in customers if customer.order_count is not None and customer.total_spent is not None}
    missing = {customer.external_id: customer.id for customer in customers if customer.id not in found}
    counted: dict[str, tuple[int, Decimal]] = {}
    if missing:
        for external_id, count, spent in session.execute(
            select(Order.customer_external_id, func.count(), func.sum(Order.total_price).filter(
                Order.cancelled_at.is_(None), Order.currency == (shop_currency or Order.currency)))
            .where(Order.shop_id == shop_id, Order.customer_external_id.in_(list(missing)),
                   Order.deleted_at.is_(None), Order.is_test.is_not(True))
            .group_by(Order.customer_external_id)):
            counted[str(external_id)] = (int(count), Decimal(spent) if spent is not None else Decimal("0"))
    for external_id, customer_id in missing.items():
        count, spent = counted.get(external_id, (0, Decimal("0")))
        found[customer_id] = Purchases(count, spent, shop_currency)
    return found


def segments_of(session: Session, customer: Customer) -> list[Segment]:
    return list(session.execute(
        select(Segment).join(SegmentMember, SegmentMember.segment_id == Segment.id)
        .where(SegmentMember.shop_id == customer.shop_id, SegmentMember.customer_key == f"c:{customer.external_id}",
               Segment.shop_id == customer.shop_id, Segment.deleted_at.is_(None))
        .order_by(Segment.name)).scalars())


def metrics_of(session: Session, customer: Customer) -> CustomerMetrics | None:
    return session.execute(select(CustomerMetrics).where(
        CustomerMetrics.shop_id == customer.shop_id, CustomerMetrics.customer_key == f"c:{customer.external_id}")
    ).scalar_one_or_none()


# --- the timeline ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Event:
    """One line of a customer's timeline: what happened, when, and the facts to word it with."""

    at: dt.datetime
    kind: str  # order | points | message | segment | referral
    facts: dict[str, Any]
    order: int  # breaks ties between events of the same moment (newest id first)


def timeline(session: Session, customer: Customer, member: LoyaltyMember | None, *,
             before: dt.datetime | None = None, limit: int = TIMELINE_SIZE) -> tuple[list[Event], dt.datetime | None]:
    """The customer's newest events before ``before``, every source merged; and the next cursor.

    Each source is read through an index on the customer (or member), at most ``limit + 1`` rows
    each, so a page costs five small queries whatever the customer's history.
    """
    shop_id, external_id = customer.shop_id, customer.external_id
    take = limit + 1
    events: list[Event] = []

    orders = select(Order).where(Order.shop_id == shop_id, Order.customer_external_id == external_id,
                                 Order.deleted_at.is_(None))
    if before is not None:
        orders = orders.where(Order.source_created_at < before)
    for order in session.execute(orders.order_by(Order.source_created_at.desc(), Order.id.desc()).limit(take)).scalars():
        events.append(Event(order.source_created_at, "order", {
            "number": order.number, "total": order.total_price, "currency": order.currency,
            "financial_status": order.financial_status, "cancelled": order.cancelled_at is not None,
            "test": order.is_test}, order.id))

    if member is not None:
        entries = select(LedgerEntry).where(LedgerEntry.member_id == member.id)
        if before is not None:
            entries = entries.where(LedgerEntry.created_at < before)
        for entry in session.execute(entries.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
                                     .limit(take)).scalars():
            events.append(Event(entry.created_at, "points", {
                "points": entry.points, "cause": entry.cause, "reason": entry.reason,
                "order_number": entry.order_external_id, "actor": entry.actor,
                "pending": entry.available_at > entry.created_at}, entry.id))

    message_at = func.coalesce(Message.sent_at, Message.created_at)
    messages = select(Message).where(Message.shop_id == shop_id, Message.customer_external_id == external_id)
    if before is not None:
        messages = messages.where(message_at < before)
    for message in session.execute(messages.order_by(message_at.desc(), Message.id.desc()).limit(take)).scalars():
        events.append(Event(message.sent_at or message.created_at, "message", {
            "template": message.template, "status": message.status, "category": message.category,
            "opened": message.opened_at is not None, "clicked": message.clicked_at is not None,
            "reason": message.reason}, message.id))

    changes = select(SegmentEvent, Segment.name).outerjoin(Segment, Segment.id == SegmentEvent.segment_id).where(
        SegmentEvent.shop_id == shop_id, SegmentEvent.customer_key == f"c:{external_id}")
    if before is not None:
        changes = changes.where(SegmentEvent.created_at < before)
    for change, name in session.execute(changes.order_by(SegmentEvent.created_at.desc(), SegmentEvent.id.desc())
                                        .limit(take)).all():
        events.append(Event(change.created_at, "segment", {"kind": change.kind,
                                                           "segment": name or change.segment_key}, change.id))

    if member is not None:
        sides = [Referral.advocate_id == member.id]
        if member.email:
            sides.append(Referral.friend_email == member.email)  # (shop_id, friend_email) is unique
        referrals = select(Referral).where(Referral.shop_id == shop_id, or_(*sides))
        if before is not None:
            referrals = referrals.where(Referral.created_at < before)
        for referral in session.execute(referrals.order_by(Referral.created_at.desc(), Referral.id.desc())
                                        .limit(take)).scalars():
            events.append(Event(referral.created_at, "referral", {
                "role": "advocate" if referral.advocate_id == member.id else "friend",
                "status": referral.status}, referral.id))

    events.sort(key=lambda event: (event.at, event.order), reverse=True)
    shown = events[:limit]
    return shown, (shown[-1].at if len(events) > limit and shown else None)


def _moment(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event_json(event: Event) -> dict[str, Any]:
    facts = {key: (str(value) if isinstance(value, Decimal) else value) for key, value in event.facts.items()}
    return {"at": event.at.isoformat(), "kind": event.kind, **facts}


def parse_cursor(raw: str | None) -> dt.datetime | None:
    """A ``before`` cursor (ISO 8601 with its zone); a 400 for anything else."""
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        abort(400, description="before must be an ISO 8601 moment, as the previous page gave it")
    if moment.tzinfo is None:
        abort(400, description="before must carry its time zone")
    return moment


def balance_json(session: Session, member: LoyaltyMember | None) -> dict[str, int]:
    balance = ledger.balance(session, member.id) if member is not None else ledger.Balance(0, 0)
    return {"available": balance.available, "pending": balance.pending, "spendable": balance.spendable,
            "debt": balance.debt}


# --- routes --------------------------------------------------------------------------------------


def _whole(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400, description=f"{name} must be a customer id from the previous page")
    return int(raw)


@blueprint.get("")
def search_customers():
    """Customers whose name or e-mail starts with ``q``, or whose order number is ``q``; 50 a page."""
    query = request.args.get("q") or ""
    if len(query) > MAX_QUERY:
        return error_response(422, f"q is at most {MAX_QUERY} characters", field="q")
    session = db.session()
    found = search(session, g.shop.id, query, before=_whole("before"), after=_whole("after"))
    bought = purchases_of(session, g.shop.id, found.customers, g.shop.currency)
    return jsonify({"customers": [{**search_row(customer), "orders": bought[customer.id].orders,
                                   "total_spent": str(bought[customer.id].spent),
                                   "currency": bought[customer.id].currency} for customer in found.customers],
                    "newer": found.newer, "older": found.older})


@blueprint.get("/<int:customer_id>")
def get_customer(customer_id: int):
    """One customer's profile: figures, points, segments and the newest page of their timeline."""
    session = db.session()
    customer = customer_of_shop(session, g.shop.id, customer_id)
    member = member_of(session, customer)
    bought = purchases(session, customer, g.shop.currency)
    figures = metrics_of(session, customer)
    events, older = timeline(session, customer, member, before=parse_cursor(request.args.get("before")))
    return jsonify({
        **search_row(customer), "orders": bought.orders,
        "total_spent": str(bought.spent), "currency": bought.currency,
        "erased_at": _moment(customer.redacted_at),
        "loyalty": {"tier": member.tier if member else None, "balance": balance_json(session, member)},
        "segments": [{"key": segment.key, "name": segment.name} for segment in segments_of(session, customer)],
        "rfm": {"segment": figures.rfm_segment, "r": figures.r_score, "f": figures.f_score, "m": figures.m_score,
                "churn_band": figures.churn_band, "probability_active": figures.p_alive,
                "computed_at": _moment(figures.computed_at)} if figures else None,
        "timeline": [_event_json(event) for event in events],
        "older": _moment(older),
    })


@blueprint.post("/<int:customer_id>/adjustments")
def adjust_points(customer_id: int):
    """Add or take points by hand with a reason; ``key`` (one per form) makes a retry harmless.

    The same rules as the loyalty API's adjustment (``ledger.adjust``), with each refusal a 422
    naming the form's field: ``points`` (not a whole number, 0, or more than the customer has),
    ``reason`` (missing or too long). ``ledger.adjust`` checks a deduction against the available
    balance with the member's row locked, so two deductions at once cannot both pass.
    """
    session = db.session()
    customer = customer_of_shop(session, g.shop.id, customer_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "send a JSON object with points, reason and key")
    key, reason, points = body.get("key"), body.get("reason"), body.get("points")
    if not isinstance(key, str) or not 1 <= len(key) <= 120:
        return error_response(400, "key must be a string of 1 to 120 characters (one per form)")
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        return error_response(422, "Enter a whole number of points other than 0 (negative to deduct).",
                              field="points")
    if abs(points) > MAX_POINTS:
        return error_response(422, f"Enter at most {MAX_POINTS:,} points either way.", field="points")
    if not isinstance(reason, str) or not reason.strip():
        return error_response(422, "Enter a reason: it is kept with the entry in the points history.",
                              field="reason")
    if len(reason) > MAX_REASON:
        return error_response(422, f"Keep the reason to {MAX_REASON} characters.", field="reason")
    if customer.redacted_at is not None:
        return error_response(409, "This customer's data was erased; their points can no longer be changed.")
    member = member_of(session, customer)
    if member is None:
        member = ledger.member_for(session, g.shop.id, customer_external_id=customer.external_id,
                                   email=customer.email)
        assert member is not None
        session.flush()
    program = programs.ensure(session, g.shop.id)
    try:
        added = ledger.adjust(session, g.shop.id, member.id, points, key=key, actor=f"admin:{g.shop.domain}",
                              reason=reason, program=program)
    except ledger.ShortBalanceError as error:
        session.rollback()
        return error_response(
            422, f"This would take the balance below zero: the customer has {error.available:,} points "
                 "available. Enter a smaller deduction.", field="points", available=error.available)
    except ledger.LedgerError as error:
        session.rollback()
        return error_response(422 if error.status == 400 else error.status, str(error), field="points")
    balance = balance_json(session, member)
    session.commit()
    log.info("shop=%s points adjusted by hand for customer id=%s: %s", g.shop.id, customer.id, points)
    return jsonify({"added": added, "points": points, "balance": balance}), 201 if added else 200


def export_of(session: Session, customer: Customer) -> PrivacyRequest:
    """Assemble the platform's data-request export for the customer, plus their points and segments.

    The platform's export (``privacy.export_customer_data``) covers the store's data (customer,
    orders, carts, messages, flow runs); the loyalty member, every ledger entry with its cause,
    redemptions, referrals, figures and segment history are ours too, so they are added.
    """
    record = privacy.export_customer_data(
        session, customer.shop_id,
        base.PrivacyRequest(customer_external_id=customer.external_id, email=customer.email,
                            request_id="merchant-export"),
        event_id=None)
    member = member_of(session, customer)
    loyalty: dict[str, Any] | None = None
    if member is not None:
        entries = session.execute(select(LedgerEntry).where(LedgerEntry.member_id == member.id)
                                  .order_by(LedgerEntry.id)).scalars().all()
        redemptions = session.execute(select(Redemption).where(Redemption.member_id == member.id)
                                      .order_by(Redemption.id)).scalars().all()
        referrals = session.execute(select(Referral).where(Referral.shop_id == customer.shop_id,
                                                           Referral.advocate_id == member.id)
                                    .order_by(Referral.id)).scalars().all()
        loyalty = {
            "email": member.email, "tier": member.tier, "tier_since": _moment(member.tier_since),
            "referral_code": member.referral_code, "joined_at": _moment(member.created_at),
            "birthday": ({"month": member.birthday_month, "day": member.birthday_day}
                         if member.birthday_month else None),
            "display_name": member.display_name, "leaderboard_opt_in": member.leaderboard_opt_in,
            "balance": balance_json(session, member),
            "ledger": [{"points": entry.points, "cause": entry.cause, "reason": entry.reason,
                        "order": entry.order_external_id, "created_at": _moment(entry.created_at),
                        "available_at": _moment(entry.available_at), "expires_at": _moment(entry.expires_at)}
                       for entry in entries],
            "redemptions": [{"reward": r.reward_id, "points": r.points, "code": r.code, "status": r.status,
                             "created_at": _moment(r.created_at)} for r in redemptions],
            "referrals": [{"friend_email": r.friend_email, "status": r.status, "created_at": _moment(r.created_at)}
                          for r in referrals],
        }
    figures = metrics_of(session, customer)
    key = f"c:{customer.external_id}"
    changes = session.execute(select(SegmentEvent).where(SegmentEvent.shop_id == customer.shop_id,
                                                         SegmentEvent.customer_key == key)
                              .order_by(SegmentEvent.id)).scalars().all()
    record.export = {
        **(record.export or {}),
        "loyalty": loyalty,
        "figures": {"order_count": figures.order_count, "total_spent": figures.total_spent,
                    "rfm_segment": figures.rfm_segment, "churn_band": figures.churn_band,
                    "computed_at": _moment(figures.computed_at)} if figures else None,
        "segments": [segment.key for segment in segments_of(session, customer)],
        "segment_events": [{"segment": change.segment_key, "kind": change.kind,
                            "created_at": _moment(change.created_at)} for change in changes],
    }
    record.result = {**(record.result or {}), "ledger_entries": len(loyalty["ledger"]) if loyalty else 0,
                     "initiated_by": "merchant"}
    return record


@blueprint.post("/<int:customer_id>/export")
def export_customer(customer_id: int):
    """Everything we hold on the customer as JSON, recorded as a data request (a download)."""
    session = db.session()
    customer = customer_of_shop(session, g.shop.id, customer_id)
    record = export_of(session, customer)
    session.commit()
    log.info("shop=%s data export by the merchant: privacy request %s", g.shop.id, record.id)
    response = jsonify({"privacy_request_id": record.id, "created_at": record.created_at.isoformat(),
                        **(record.export or {})})
    response.headers["Content-Disposition"] = f'attachment; filename="customer-{customer.id}-data.json"'
    return response


@blueprint.post("/<int:customer_id>/erase")
def erase_customer(customer_id: int):
    """Erase the customer's personal data exactly as the platform's redact webhook does.

    Idempotent: erasing again runs the same erasure (anything that arrived since goes too) and
    records it again; the answer says whether the customer had been erased before.
    """
    session = db.session()
    customer = customer_of_shop(session, g.shop.id, customer_id)
    already = customer.redacted_at is not None
    record = privacy.redact_customer(session, g.shop.id, customer.external_id, email=customer.email,
                                     order_ids=(), event_id=None)
    record.request_id = "merchant-erasure"
    session.commit()
    log.info("shop=%s customer id=%s erased by the merchant: privacy request %s", g.shop.id, customer.id, record.id)
    return jsonify({"erased": True, "already_erased": already, "privacy_request_id": record.id,
                    "result": record.result})
