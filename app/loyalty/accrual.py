"""Turn what the mirror learned (orders, cancellations, refunds) into ledger entries.

The accrual reads the shop's orders and refunds in the order the mirror wrote them, from a
stored cursor, and applies each through the ledger, whose unique cause keys make a second
reading harmless. It knows no platform: it reads the mirror only.
"""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.loyalty import ledger
from app.loyalty import program as programs
from app.store.models import LoyaltyCursor, LoyaltyProgram, Order, Refund

log = logging.getLogger(__name__)

BATCH = 500


@dataclasses.dataclass
class Accrued:
    orders: int = 0
    refunds: int = 0
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
    program = programs.ensure(session, shop_id)
    start = started_at(session, shop_id)
    cursor = session.get(LoyaltyCursor, shop_id)
    if cursor is None:
        cursor = LoyaltyCursor(shop_id=shop_id, order_id=0, refund_id=0)
        session.add(cursor)
        session.flush()
    for _ in range(batches):
        orders = session.execute(_after(select(Order).where(Order.shop_id == shop_id), Order.updated_at,
                                        Order.id, cursor.order_updated_at, cursor.order_id)
                                 .order_by(Order.updated_at, Order.id).limit(BATCH)).scalars().all()
        for order in orders:
            result.points += ledger.accrue_order(session, shop_id, order, program, started_at=start)
            result.points += ledger.accrue_refunds(session, shop_id, order)
        if orders:
            cursor.order_updated_at, cursor.order_id = orders[-1].updated_at, orders[-1].id
        refunds = session.execute(_after(select(Refund).where(Refund.shop_id == shop_id), Refund.created_at,
                                         Refund.id, cursor.refund_created_at, cursor.refund_id)
                                  .order_by(Refund.created_at, Refund.id).limit(BATCH)).scalars().all()
        order_ids = sorted({refund.order_external_id for refund in refunds})
        for order in session.execute(select(Order).where(Order.shop_id == shop_id,
                                                         Order.external_id.in_(order_ids))).scalars():
            result.points += ledger.accrue_refunds(session, shop_id, order)
        if refunds:
            cursor.refund_created_at, cursor.refund_id = refunds[-1].created_at, refunds[-1].id
        result.orders += len(orders)
        result.refunds += len(refunds)
        session.commit()
        if len(orders) < BATCH and len(refunds) < BATCH:
            return result
    result.more = True
    return result


def _after(query, stamp, row_id, seen_stamp, seen_id):
    """Rows after a (time, id) cursor: ties on the time are broken by id, none is skipped."""
    if seen_stamp is None:
        return query
    return query.where(or_(stamp > seen_stamp, and_(stamp == seen_stamp, row_id > seen_id)))
