"""What must still be true before a step sends, read from the mirror just before it does.

Two kinds of answers:

* an **exit** ends the run (later steps never happen): the cart was completed, emptied or is
  gone; an order for that cart's address or customer was placed since the run's reference
  moment; the order was cancelled or refunded; the customer unsubscribed, was suppressed,
  erased or gave no marketing consent;
* a **skip** passes over one step and keeps the run going: the step's own ``conditions``
  (``min_total``, ``unless_clicked``).

The platform re-check of a cart (an order the store holds whose webhook has not arrived) is the
caller's: it needs the store, and it runs between two of these mirror checks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.flows import definitions
from app.messaging import consent, preferences
from app.store.models import Cart, Customer, FlowRun, Message, Order, Refund


def cart_of(session: Session, run: FlowRun) -> Cart | None:
    return session.execute(select(Cart).where(Cart.shop_id == run.shop_id, Cart.external_id == run.subject_id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def order_of(session: Session, run: FlowRun) -> Order | None:
    return session.execute(select(Order).where(Order.shop_id == run.shop_id, Order.external_id == run.subject_id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def orders_since(session: Session, shop_id: int, *, email: str | None, customer_external_id: str | None,
                 since: Any, exclude: str | None = None) -> list[str]:
    """Orders in the mirror placed at or after ``since`` by this address or customer (newest first).

    A cancelled order does not count (on some platforms an unpaid checkout is cancelled, not bought).
    """
    match = []
    if email:
        match.append(func.lower(Order.email) == email.lower())
    if customer_external_id:
        match.append(Order.customer_external_id == customer_external_id)
    if not match:
        return []
    query = (select(Order.number, Order.external_id).where(Order.shop_id == shop_id, Order.source_created_at >= since,
                                                           Order.deleted_at.is_(None), Order.cancelled_at.is_(None),
                                                           or_(*match))
             .order_by(Order.source_created_at.desc()).limit(5))
    return [number or external_id for number, external_id in session.execute(query).all()
            if external_id != exclude]


def recipient(session: Session, run: FlowRun) -> tuple[str | None, str | None]:
    """The address and customer a run's message goes to now: the subject's, else the customer's in the mirror."""
    email = run.email
    customer_id = run.customer_external_id
    if run.subject_kind == "cart":
        cart = cart_of(session, run)
        if cart is not None:
            email = cart.email or email
            customer_id = cart.customer_external_id or customer_id
    if customer_id and not email:
        email = session.execute(select(Customer.email).where(
            Customer.shop_id == run.shop_id, Customer.external_id == customer_id)).scalar_one_or_none()
    return (email.strip().lower() if email else None), customer_id


def exit_reason(session: Session, run: FlowRun, flow: definitions.FlowVersion) -> str | None:
    """Why the run must end now, or None when its next step may go (mirror only)."""
    if run.subject_kind == "cart":
        reason = _cart_reason(session, run)
    elif run.subject_kind == "order":
        reason = _order_reason(session, run)
    elif flow.key == definitions.WIN_BACK:
        email, customer_id = recipient(session, run)
        found = orders_since(session, run.shop_id, email=email, customer_external_id=customer_id,
                             since=run.reference_at)
        reason = f"purchased: order {found[0]} since the customer lapsed" if found else None
    elif flow.key == definitions.POINTS_EXPIRING:
        left = expiring_points_left(session, run)
        reason = "the points were spent or expired since the reminder was due" if left == 0 else None
    else:
        reason = None
    if reason is not None:
        return reason
    email, customer_id = recipient(session, run)
    if not email:
        return "no email address (none given, or erased)"
    verdict = consent.check(session, run.shop_id, email=email, category=flow.built_in.category,
                            customer_external_id=customer_id,
                            transactional=preferences.transactional_email(session, run.shop_id))
    return None if verdict.allowed else verdict.reason


def _cart_reason(session: Session, run: FlowRun) -> str | None:
    cart = cart_of(session, run)
    if cart is None:
        return "the cart is gone"
    if cart.completed_at is not None:
        return "purchased: the cart was completed"
    if not cart.lines:
        return "the cart was emptied"
    if not cart.recovery_url:
        return "the cart has no link to come back to"
    email, customer_id = recipient(session, run)
    found = orders_since(session, run.shop_id, email=email, customer_external_id=customer_id, since=run.reference_at)
    if found:
        return f"purchased: order {found[0]} since the cart was left"
    return None


def _order_reason(session: Session, run: FlowRun) -> str | None:
    order = order_of(session, run)
    if order is None or order.deleted_at is not None:
        return "the order is gone"
    if order.cancelled_at is not None:
        return "the order was cancelled"
    refunded = session.execute(select(Refund.amount).where(Refund.shop_id == run.shop_id,
                                                           Refund.order_external_id == order.external_id)
                               ).scalars().all()
    if refunded and sum(refunded, Decimal("0")) >= order.total_price > 0:
        return "the order was refunded in full"
    return None


def expiring_points_left(session: Session, run: FlowRun) -> int | None:
    """For a points-expiring notice: the points still to expire on its day (None when unknown)."""
    from app.loyalty import expiry

    data = run.data or {}
    member_id, day = data.get("member_id"), data.get("expires_on")
    if not isinstance(member_id, int) or not isinstance(day, str):
        return None
    try:
        return expiry.left_on(session, member_id, dt.date.fromisoformat(day))
    except ValueError:
        return None


def skip_reason(session: Session, run: FlowRun, step: dict[str, Any]) -> str | None:
    """Why this one step is passed over (its own conditions), or None."""
    conditions = step.get("conditions") or {}
    if conditions.get("min_total") is not None:
        total = subject_total(session, run)
        if total is not None and total < Decimal(str(conditions["min_total"])):
            return f"the total {total.quantize(Decimal('0.01'))} is below the step's minimum {conditions['min_total']}"
    if conditions.get("unless_clicked"):
        sent = [entry["message_id"] for entry in run.steps or [] if entry.get("message_id")]
        if sent and session.execute(select(Message.id).where(Message.id.in_(sent),
                                                             Message.clicked_at.is_not(None)).limit(1)).first():
            return "an earlier message of this run was clicked"
    return None


def subject_total(session: Session, run: FlowRun) -> Decimal | None:
    if run.subject_kind == "cart":
        cart = cart_of(session, run)
        return cart.total_price if cart else None
    if run.subject_kind == "order":
        order = order_of(session, run)
        return order.total_price if order else None
    return None
