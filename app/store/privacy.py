"""Compliance: export a customer's data, erase a customer's PII, erase a shop's data.

Erasure keeps the anonymous amounts (orders, refunds, line items without names or addresses)
so that reports and the points ledger stay whole; it removes what identifies a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.store.models import (
    Cart,
    ConsentWriteback,
    CountedOrder,
    Customer,
    CustomerMetrics,
    CustomerTagSync,
    EmailSuppression,
    Flow,
    FlowCursor,
    FlowRun,
    LedgerEntry,
    LineItem,
    LoyaltyCursor,
    LoyaltyEvent,
    LoyaltyMember,
    LoyaltyProgram,
    MemberBadge,
    Message,
    MessageClick,
    Order,
    PrivacyRequest,
    Product,
    ProductPair,
    ProductStat,
    RecommendationCursor,
    Redemption,
    Referral,
    Refund,
    Segment,
    SegmentEvent,
    SegmentMember,
    SegmentModel,
    Shop,
    SyncRun,
    Variant,
    WebhookEvent,
)
from app.store.types import utcnow
from app.store.upsert import upsert
from connectors import base

log = logging.getLogger(__name__)


def _json(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool, list, dict)):
        return value
    return str(value)


def _row(obj: Any, columns: Sequence[str]) -> dict[str, Any]:
    return {column: _json(getattr(obj, column)) for column in columns}


def export_customer_data(session: Session, shop_id: int, request: base.PrivacyRequest, *, event_id: int | None) -> PrivacyRequest:
    """Assemble everything we hold about one customer into a stored export."""
    customer = None
    if request.customer_external_id:
        customer = session.execute(
            select(Customer).where(Customer.shop_id == shop_id, Customer.external_id == request.customer_external_id)
        ).scalar_one_or_none()
    order_filter = [Order.external_id.in_(request.order_external_ids)] if request.order_external_ids else []
    if request.customer_external_id:
        order_filter.append(Order.customer_external_id == request.customer_external_id)
    orders = session.execute(
        select(Order).where(Order.shop_id == shop_id, or_(*order_filter)).order_by(Order.id)
    ).scalars().all() if order_filter else []
    carts = session.execute(
        select(Cart).where(Cart.shop_id == shop_id, Cart.customer_external_id == request.customer_external_id)
    ).scalars().all() if request.customer_external_id else []
    messages = session.execute(
        select(Message).where(Message.shop_id == shop_id, Message.customer_external_id == request.customer_external_id)
        .order_by(Message.id)
    ).scalars().all() if request.customer_external_id else []
    flow_runs = session.execute(
        select(FlowRun).where(FlowRun.shop_id == shop_id, FlowRun.customer_external_id == request.customer_external_id)
        .order_by(FlowRun.id)
    ).scalars().all() if request.customer_external_id else []
    export = {
        "customer": _row(customer, ("external_id", "email", "first_name", "last_name", "phone", "state",
                                    "country_code", "province_code", "email_marketing_state", "consent_updated_at", "order_count",
                                    "total_spent", "source_created_at")) if customer else None,
        "orders": [
            {**_row(order, ("external_id", "number", "email", "currency", "total_price",
                            "financial_status", "source_created_at", "cancelled_at")),
             "line_items": [_row(li, ("title", "quantity", "unit_price", "sku")) for li in order.line_items]}
            for order in orders
        ],
        "carts": [_row(cart, ("external_id", "email", "currency", "total_price", "lines", "source_created_at",
                              "completed_at")) for cart in carts],
        "messages": [_row(message, ("email", "category", "template", "status", "created_at", "sent_at",
                                    "opened_at", "clicked_at")) for message in messages],
        "flow_runs": [_row(run, ("flow_key", "subject_kind", "email", "state", "started_at", "finished_at",
                                 "exit_reason", "is_holdout", "steps")) for run in flow_runs],
    }
    record = PrivacyRequest(
        shop_id=shop_id, webhook_event_id=event_id, kind="data_request",
        customer_external_id=request.customer_external_id, request_id=request.request_id,
        export=export, result={"orders": len(orders), "carts": len(carts), "customer_found": customer is not None},
        created_at=utcnow(), completed_at=utcnow(),
    )
    session.add(record)
    log.info("shop=%s data export assembled: %s orders", shop_id, len(orders))
    return record


def redact_customer(session: Session, shop_id: int, customer_external_id: str | None, *, email: str | None,
                    order_ids: Sequence[str], event_id: int | None, kind: str = "customer_redact") -> PrivacyRequest:
    """Erase a customer's personal data from the mirror, keeping amounts."""
    now = utcnow()
    counts: dict[str, int] = {}
    if customer_external_id:
        # Erase the row, or leave a tombstone if we never saw the customer: whatever arrives
        # for them later (a webhook, a catch-up, a backfill) stays erased.
        platform = session.execute(select(Shop.platform).where(Shop.id == shop_id)).scalar_one()
        written = upsert(
            session, Customer.__table__,
            [{"shop_id": shop_id, "platform": platform, "external_id": customer_external_id, "email": None,
              "first_name": None, "last_name": None, "phone": None, "tags": None, "country_code": None,
              "province_code": None, "redacted_at": now,
              "created_at": now, "updated_at": now}],
            conflict=("shop_id", "external_id"),
            update=("email", "first_name", "last_name", "phone", "tags", "country_code", "province_code",
                    "redacted_at", "updated_at"),
        )
        counts["customers"] = len(written)
    order_match = []
    if customer_external_id:
        order_match.append(Order.customer_external_id == customer_external_id)
    if order_ids:
        order_match.append(Order.external_id.in_(list(order_ids)))
    if email:
        order_match.append(Order.email == email)
    if order_match:
        counts["orders"] = session.execute(
            update(Order).where(Order.shop_id == shop_id, or_(*order_match)).values(email=None, updated_at=now)
        ).rowcount or 0
    cart_match = []
    if customer_external_id:
        cart_match.append(Cart.customer_external_id == customer_external_id)
    if email:
        cart_match.append(Cart.email == email)
    if cart_match:
        counts["carts"] = session.execute(
            update(Cart).where(Cart.shop_id == shop_id, or_(*cart_match))
            .values(email=None, recovery_url=None, updated_at=now)
        ).rowcount or 0
    member_match = []
    if customer_external_id:
        member_match.append(LoyaltyMember.customer_external_id == customer_external_id)
    if email:
        member_match.append(LoyaltyMember.email == email.lower())
    if member_match:
        # The ledger keeps its amounts (the shop's books); only who the member was goes.
        members = select(LoyaltyMember.id).where(LoyaltyMember.shop_id == shop_id, or_(*member_match))
        counts["loyalty_members"] = session.execute(
            update(LoyaltyMember).where(LoyaltyMember.shop_id == shop_id, or_(*member_match))
            .values(email=None, birthday_month=None, birthday_day=None, birthday_set_at=None, display_name=None,
                    leaderboard_opt_in=False)
        ).rowcount or 0
        # A referral of them keeps its outcome; the email that named them and the address go.
        referral_match = [Referral.friend_member_id.in_(members)]
        if email:
            referral_match.append(Referral.friend_email == email.lower())
        for referral_id in session.execute(select(Referral.id).where(Referral.shop_id == shop_id,
                                                                     or_(*referral_match))).scalars().all():
            session.execute(update(Referral).where(Referral.id == referral_id)
                            .values(friend_email=f"redacted-{referral_id}", ip=None))
    counts.update(_erase_messages(session, shop_id, customer_external_id, email))
    counts["flow_runs"] = _erase_flow_runs(session, shop_id, customer_external_id, email)
    counts.update(_erase_segment_data(session, shop_id, customer_external_id, email))
    counts["webhook_payloads"] = _scrub_payloads(session, shop_id, customer_external_id, email)
    # Exports we assembled earlier hold the same data: they go too.
    if customer_external_id:
        session.execute(
            update(PrivacyRequest).where(PrivacyRequest.shop_id == shop_id,
                                         PrivacyRequest.customer_external_id == customer_external_id,
                                         PrivacyRequest.kind == "data_request")
            .values(export=None)
        )
    record = PrivacyRequest(shop_id=shop_id, webhook_event_id=event_id, kind=kind,
                            customer_external_id=customer_external_id, result=counts,
                            created_at=now, completed_at=now)
    session.add(record)
    log.info("shop=%s customer redacted: %s", shop_id, counts)
    return record


def _erase_messages(session: Session, shop_id: int, customer_external_id: str | None,
                    email: str | None) -> dict[str, int]:
    """Anonymise the customer's messages and forget their address's suppression and write-back.

    A message keeps its outcome (sent, opened, clicked: the shop's reports stay whole); who it
    went to, what it said and where it was clicked go, and one not sent yet never will be.
    """
    match = []
    if customer_external_id:
        match.append(Message.customer_external_id == customer_external_id)
    if email:
        match.append(Message.email == email.strip().lower())
    if not match:
        return {}
    rows = session.execute(select(Message.id, Message.email).where(Message.shop_id == shop_id, or_(*match))).all()
    ids = [row.id for row in rows]
    emails = {row.email for row in rows if row.email} | ({email.strip().lower()} if email else set())
    if ids:
        session.execute(delete(MessageClick).where(MessageClick.shop_id == shop_id, MessageClick.message_id.in_(ids)))
        session.execute(update(Message).where(Message.id.in_(ids), Message.status.in_(("queued", "deferred")))
                        .values(status="skipped", reason="the customer was erased"))
        session.execute(update(Message).where(Message.id.in_(ids))
                        .values(email=None, customer_external_id=None, context={}, last_error=None))
    counts = {"messages": len(ids), "email_suppressions": 0, "consent_writebacks": 0}
    if emails:
        counts["email_suppressions"] = session.execute(delete(EmailSuppression).where(
            EmailSuppression.shop_id == shop_id, EmailSuppression.email.in_(sorted(emails)))).rowcount or 0
        counts["consent_writebacks"] = session.execute(delete(ConsentWriteback).where(
            ConsentWriteback.shop_id == shop_id, ConsentWriteback.email.in_(sorted(emails)))).rowcount or 0
    return counts


def _erase_segment_data(session: Session, shop_id: int, customer_external_id: str | None,
                        email: str | None) -> dict[str, int]:
    """A customer's computed figures, memberships and segment events go (the nightly run recomputes
    a customer's figures from the orders, which keep their amounts, without the person)."""
    keys = ([f"c:{customer_external_id}"] if customer_external_id else []) + (
        [f"e:{email.strip().lower()}"] if email and email.strip() else [])
    if not keys:
        return {}
    from app.segments import metrics  # the segments import the store: at call time

    metrics.hold(session, shop_id)  # a nightly run under way would re-insert the rows deleted here
    return {
        "customer_metrics": session.execute(delete(CustomerMetrics).where(
            CustomerMetrics.shop_id == shop_id, CustomerMetrics.customer_key.in_(keys))).rowcount or 0,
        "segment_members": session.execute(delete(SegmentMember).where(
            SegmentMember.shop_id == shop_id, SegmentMember.customer_key.in_(keys))).rowcount or 0,
        "segment_events": session.execute(delete(SegmentEvent).where(
            SegmentEvent.shop_id == shop_id, SegmentEvent.customer_key.in_(keys))).rowcount or 0,
    }


def _erase_flow_runs(session: Session, shop_id: int, customer_external_id: str | None, email: str | None) -> int:
    """End the customer's flow runs and forget who they were about; their outcomes stay for the reports.

    A run about the customer themself (a win-back) also loses the customer id its subject and
    trigger named.
    """
    match = []
    if customer_external_id:
        match.append(FlowRun.customer_external_id == customer_external_id)
    if email:
        match.append(FlowRun.email == email.strip().lower())
    if not match:
        return 0
    now = utcnow()
    runs = session.execute(select(FlowRun.id, FlowRun.subject_kind).where(FlowRun.shop_id == shop_id, or_(*match))).all()
    ids = [run.id for run in runs]
    if ids:
        session.execute(update(FlowRun).where(FlowRun.id.in_(ids), FlowRun.state == "active")
                        .values(state="exited", exit_reason="the customer was erased", finished_at=now,
                                next_at=None, job_id=None))
        session.execute(update(FlowRun).where(FlowRun.id.in_(ids))
                        .values(email=None, customer_external_id=None, data={}, updated_at=now))
        for run in runs:
            if run.subject_kind == "customer":
                session.execute(update(FlowRun).where(FlowRun.id == run.id)
                                .values(subject_id="erased", trigger_key=f"erased:{run.id}"))
    return len(ids)


def _scrub_payloads(session: Session, shop_id: int, customer_external_id: str | None, email: str | None) -> int:
    """Empty the raw payloads still kept (events not applied) that mention the customer.

    Applied events keep no payload; failed ones are kept for inspection and may name them.
    """
    # Whole numbers and whole addresses only: customer 12 is not customer 123.
    needles = [re.compile(rb"(?<![0-9A-Za-z])" + re.escape(n.encode()) + rb"(?![0-9A-Za-z])")
               for n in (customer_external_id, email) if n]
    if not needles:
        return 0
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.body)
        .where(WebhookEvent.shop_id == shop_id, WebhookEvent.status == "failed", WebhookEvent.body != b"")
    ).all()
    ids = [event_id for event_id, body in rows if body and any(needle.search(body) for needle in needles)]
    if ids:
        session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(ids)).values(body=b""))
    return len(ids)


def redact_shop(session: Session, shop: Shop, *, keep_event_id: int | None) -> PrivacyRequest:
    """Erase everything we hold for a shop; keep the shop row (status ``redacted``) and a record."""
    from app.segments import metrics  # the segments import the store: at call time

    # Waits for a segments run under way: it would otherwise commit the rows it wrote after these deletes.
    metrics.hold(session, shop.id)
    counts: dict[str, int] = {}
    for model in (LineItem, Variant):
        counts[model.__tablename__] = session.execute(delete(model).where(model.shop_id == shop.id)).rowcount or 0
    for model in (CountedOrder, ProductPair, ProductStat, RecommendationCursor):
        counts[model.__tablename__] = session.execute(delete(model).where(model.shop_id == shop.id)).rowcount or 0
    for model in (SegmentEvent, SegmentMember, Segment, CustomerMetrics, SegmentModel, CustomerTagSync):
        counts[model.__tablename__] = session.execute(delete(model).where(model.shop_id == shop.id)).rowcount or 0
    for model in (FlowRun, FlowCursor, Flow):
        counts[model.__tablename__] = session.execute(delete(model).where(model.shop_id == shop.id)).rowcount or 0
    for model in (MessageClick, Message, EmailSuppression, ConsentWriteback):
        counts[model.__tablename__] = session.execute(delete(model).where(model.shop_id == shop.id)).rowcount or 0
    for model in (LoyaltyEvent, MemberBadge, Referral, Redemption, LedgerEntry, LoyaltyMember, LoyaltyCursor,
                  LoyaltyProgram):
        counts[model.__tablename__] = session.execute(delete(model).where(model.shop_id == shop.id)).rowcount or 0
    for model in (Refund, Order, Product, Cart, Customer, SyncRun):
        counts[model.__tablename__] = session.execute(delete(model).where(model.shop_id == shop.id)).rowcount or 0
    counts["webhook_events"] = session.execute(
        delete(WebhookEvent).where(WebhookEvent.shop_id == shop.id, WebhookEvent.id != keep_event_id)
    ).rowcount or 0
    if keep_event_id is not None:
        session.execute(update(WebhookEvent).where(WebhookEvent.id == keep_event_id).values(body=b"{}"))
    session.execute(delete(PrivacyRequest).where(PrivacyRequest.shop_id == shop.id))
    shop.status = "redacted"
    from app.store.inbox import forget_shop

    forget_shop(shop.platform, shop.domain)
    shop.access_token = shop.refresh_token = None
    shop.access_token_expires_at = shop.refresh_token_expires_at = None
    shop.name = None
    record = PrivacyRequest(shop_id=shop.id, webhook_event_id=keep_event_id, kind="shop_redact",
                            result=counts, created_at=utcnow(), completed_at=utcnow())
    session.add(record)
    log.info("shop=%s shop data erased: %s", shop.id, counts)
    return record
