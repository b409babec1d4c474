"""Turn what the mirror learned (orders, cancellations, refunds) into ledger entries.

The accrual reads the shop's orders and refunds in the order the mirror wrote them, from a
stored cursor, and applies each through the ledger, whose unique cause keys make a second
reading harmless. It knows no platform: it reads the mirror only.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

from sqlalchemy import literal, select, tuple_
from sqlalchemy.orm import Session

from app.loyalty import actions, challenges, events, expiry, ledger, referrals, tiers
from app.loyalty import program as programs
from app.store.models import Customer, LoyaltyMember, LoyaltyProgram, Order, Refund

log = logging.getLogger(__name__)

BATCH = 500


@dataclasses.dataclass
class Accrued:
    orders: int = 0
    refunds: int = 0
    customers: int = 0
    points: int = 0
    more: bool = False


def started_at(session: Session, shop_id: int):
    """When the shop's program began: orders placed before it earn nothing."""
    return session.execute(
        select(LoyaltyProgram.created_at).where(LoyaltyProgram.shop_id == shop_id, LoyaltyProgram.version == 1)
    ).scalar_one()


def accrue(session: Session, shop_id: int, *, batches: int = 20) -> Accrued:
    """Apply up to ``batches`` batches of new mirror rows; commits each batch with its cursor."""
    result = Accrued()
    ledger.lock_shop(session, shop_id)
    program = programs.ensure(session, shop_id)
    start = started_at(session, shop_id)
    cursor = expiry.cursor_for(session, shop_id)
    for _ in range(batches):
        customers = session.execute(_after(select(Customer).where(Customer.shop_id == shop_id),
                                           Customer.updated_at, Customer.id, cursor.customer_updated_at,
                                           cursor.customer_id)
                                    .order_by(Customer.updated_at, Customer.id).limit(BATCH)).scalars().all()
        result.points += actions.signups(session, shop_id, list(customers), start, program)
        if customers:
            cursor.customer_updated_at, cursor.customer_id = customers[-1].updated_at, customers[-1].id
        orders = session.execute(_after(select(Order).where(Order.shop_id == shop_id), Order.updated_at,
                                        Order.id, cursor.order_updated_at, cursor.order_id)
                                 .order_by(Order.updated_at, Order.id).limit(BATCH)).scalars().all()
        result.points += _apply(session, shop_id, list(orders), program, start)
        if orders:
            cursor.order_updated_at, cursor.order_id = orders[-1].updated_at, orders[-1].id
        refunds = session.execute(_after(select(Refund).where(Refund.shop_id == shop_id), Refund.created_at,
                                         Refund.id, cursor.refund_created_at, cursor.refund_id)
                                  .order_by(Refund.created_at, Refund.id).limit(BATCH)).scalars().all()
        order_ids = sorted({refund.order_external_id for refund in refunds})
        refunded = session.execute(select(Order).where(Order.shop_id == shop_id,
                                                       Order.external_id.in_(order_ids))).scalars().all()
        result.points += _apply(session, shop_id, list(refunded), program, start)
        if refunds:
            cursor.refund_created_at, cursor.refund_id = refunds[-1].created_at, refunds[-1].id
        result.orders += len(orders)
        result.refunds += len(refunds)
        result.customers += len(customers)
        session.commit()
        if len(orders) < BATCH and len(refunds) < BATCH and len(customers) < BATCH:
            return result
        ledger.lock_shop(session, shop_id)  # the next batch is a new transaction
    result.more = True
    return result


def _apply(session: Session, shop_id: int, orders: list[Order], program: programs.Program, start) -> int:
    """Plan and write what a batch of orders owes the ledger, with a few queries for the batch."""
    if not orders:
        return 0
    ids = [order.external_id for order in orders]
    entries = ledger.order_entries(session, shop_id, ids)
    refunds = ledger.order_refunds(session, shop_id, ids)
    needing = [o for o in orders if not entries[o.external_id] and ledger.earns(o, start)]
    guests = {o.external_id for o in needing if o.customer_external_id is None}
    members = ledger.members_for_orders(session, shop_id, needing)
    tier_of = _tiers(session, sorted(set(members.values())))
    rows = []
    for order in orders:
        member_id = members.get(order.customer_external_id or "")
        if member_id is None and order.external_id in guests:
            guest = ledger.member_for(session, shop_id, customer_external_id=None, email=order.email)
            # A guest already claimed by a customer: the new points go straight to them.
            member_id = (guest.claimed_by_id or guest.id) if guest else None
        multiplier = programs.multiplier(program, tier_of.get(member_id)) if member_id is not None else 1
        rows += ledger.plan_order(order, program, entries[order.external_id], member_id, started_at=start,
                                  multiplier=Decimal(multiplier))
        rows += ledger.plan_refunds(order, entries[order.external_id], refunds[order.external_id])
    ledger.insert_entries(session, rows)
    events.emit(session, [
        events.event(shop_id, events.POINTS_EARNED, row["cause_key"], row["member_id"], points=row["points"],
                     cause="order", order=row["order_external_id"], available_at=row["available_at"].isoformat())
        for row in rows if row["cause"] == "order"])
    moved = _claims(session, shop_id, orders)
    touched = sorted({row["member_id"] for row in rows} | set(members.values()))
    if touched:  # challenges first: their bonus counts toward the tier
        challenges.evaluate(session, shop_id, touched, program=program)
        tiers.evaluate(session, shop_id, touched, program=program)
    referrals.on_orders(session, shop_id, orders)  # a referred friend's first order
    return sum(row["points"] for row in rows) + moved


def _tiers(session: Session, member_ids: list[int]) -> dict[int, str | None]:
    if not member_ids:
        return {}
    rows = session.execute(select(LoyaltyMember.id, LoyaltyMember.tier).where(LoyaltyMember.id.in_(member_ids)))
    return {member_id: tier for member_id, tier in rows}


def _claims(session: Session, shop_id: int, orders: list[Order]) -> int:
    """A customer ordering with an email seen before only on guest orders claims those points."""
    by_email = {o.email.lower(): o.customer_external_id for o in orders if o.email and o.customer_external_id}
    guests = ledger.guests_by_email(session, shop_id, sorted(by_email))
    if not guests:
        return 0
    members = ledger.members_for_orders(session, shop_id, [o for o in orders if o.email
                                                          and o.email.lower() in guests and o.customer_external_id])
    moved = 0
    for email, guest in guests.items():
        member_id = members.get(by_email[email] or "")
        member = session.get(LoyaltyMember, member_id) if member_id is not None else None
        if member is not None:
            moved += ledger.claim_guest(session, shop_id, guest, member)
    return moved


def _after(query, stamp, row_id, seen_stamp, seen_id):
    """Rows after a (time, id) cursor: ties on the time are broken by id, none is skipped.

    A row-value comparison, which an index on (shop, time, id) serves.
    """
    if seen_stamp is None:
        return query
    return query.where(tuple_(stamp, row_id) > tuple_(literal(seen_stamp, stamp.type), literal(seen_id, row_id.type)))
