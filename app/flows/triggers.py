"""What starts and ends runs: the mirror's new carts and orders, the program's events, lapses.

``evaluate`` reads, from the shop's cursor, the carts and orders the mirror wrote since its
last look and the loyalty events after the last it handled, in batches, each batch one
transaction with its cursor:

* a cart left open with an address (or a customer) starts an abandoned-cart run; a completed
  or emptied cart ends its run;
* an order starts a post-purchase run, and ends the cart and win-back runs of the same address
  or customer that began before it; a cancelled order ends its post-purchase run;
* ``points_earned`` (a birthday's points start the birthday flow instead), ``reward_available``,
  ``points_expiring`` and an upgrading ``tier_changed`` start the notices.

``scan_lapsed`` (hourly) starts win-back runs for customers whose last order has just become
``lapsed_days`` old, whose churn probability reached ``churn_risk_percent`` (when set), or who
entered the segment ``trigger.segment`` (when set); a customer gets one win-back at a time. Only what happened since a flow was enabled starts a run, and never a run
whose every step would already be too late.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session

from app.flows import definitions, runs
from app.loyalty import events
from app.store.models import (
    Cart,
    Customer,
    CustomerMetrics,
    FlowCursor,
    FlowRun,
    LoyaltyEvent,
    LoyaltyMember,
    Order,
    SegmentEvent,
    Shop,
)
from app.store.types import utcnow
from app.store.upsert import insert_ignore

BATCH = 500
# A step that could only go more than this long after its moment is not sent at all (a worker
# that was down, a flow enabled over old data): a reminder a day late helps nobody.
TOO_LATE = dt.timedelta(hours=12)


@dataclasses.dataclass
class Evaluation:
    started: list[runs.Scheduled] = dataclasses.field(default_factory=list)
    cancelled: list[str] = dataclasses.field(default_factory=list)  # step jobs of runs that ended
    exited: int = 0
    more: bool = False  # a batch was full: evaluate again


def cursor_for(session: Session, shop_id: int) -> FlowCursor:
    """The shop's cursor row, held for this transaction (two evaluations never interleave)."""
    insert_ignore(session, FlowCursor.__table__,  # type: ignore[arg-type]
                  [{"shop_id": shop_id, "cart_id": 0, "order_id": 0, "loyalty_event_id": 0, "marks": {}}],
                  conflict=("shop_id",), returning=())
    session.execute(update(FlowCursor).where(FlowCursor.shop_id == shop_id).values(cart_id=FlowCursor.cart_id))
    cursor = session.execute(select(FlowCursor).where(FlowCursor.shop_id == shop_id)
                             .execution_options(populate_existing=True)).scalar_one()
    return cursor


def _after(query: Any, stamp: Any, row_id: Any, seen_stamp: dt.datetime | None, seen_id: int) -> Any:
    if seen_stamp is None:
        return query
    return query.where(tuple_(stamp, row_id) > tuple_(literal(seen_stamp, stamp.type), literal(seen_id, row_id.type)))


def starts(flow: definitions.FlowVersion, moment: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether something that happened at ``moment`` may start a run of ``flow`` now."""
    if not flow.is_enabled or flow.enabled_since is None or moment is None:
        return False
    # Platforms give whole seconds: what happened in the second the flow was enabled counts.
    if moment < flow.enabled_since.replace(microsecond=0):
        return False
    last = runs.first_step(flow)
    enabled = [n for n in range(len(flow.steps)) if flow.steps[n]["enabled"]]
    if last is None or not enabled:
        return False
    return runs.due_at(moment, flow, enabled[-1]) + TOO_LATE >= now


def evaluate(session: Session, shop_id: int, now: dt.datetime | None = None, *, batches: int = 10) -> Evaluation:
    """Start and end runs for what is new since the last look; commits each batch."""
    now = now or utcnow()
    result = Evaluation()
    shop = session.get(Shop, shop_id)
    if shop is None:
        return result
    for _ in range(batches):
        cursor = cursor_for(session, shop_id)
        flows = definitions.ensure_all(session, shop_id, installed_at(shop, now))
        carts = session.execute(_after(select(Cart).where(Cart.shop_id == shop_id), Cart.updated_at, Cart.id,
                                       cursor.cart_updated_at, cursor.cart_id)
                                .order_by(Cart.updated_at, Cart.id).limit(BATCH)
                                .execution_options(populate_existing=True)).scalars().all()
        _carts(session, shop_id, flows[definitions.ABANDONED_CART], list(carts), now, result)
        if carts:
            cursor.cart_updated_at, cursor.cart_id = carts[-1].updated_at, carts[-1].id
        orders = session.execute(_after(select(Order).where(Order.shop_id == shop_id), Order.updated_at, Order.id,
                                        cursor.order_updated_at, cursor.order_id)
                                 .order_by(Order.updated_at, Order.id).limit(BATCH)
                                 .execution_options(populate_existing=True)).scalars().all()
        _orders(session, shop_id, flows, list(orders), now, result)
        if orders:
            cursor.order_updated_at, cursor.order_id = orders[-1].updated_at, orders[-1].id
        found = events.since(session, shop_id, cursor.loyalty_event_id, BATCH)
        _loyalty(session, shop_id, flows, list(found), now, result)
        if found:
            cursor.loyalty_event_id = found[-1].id
        session.commit()
        if len(carts) < BATCH and len(orders) < BATCH and len(found) < BATCH:
            return result
    result.more = True
    return result


def installed_at(shop: Shop, now: dt.datetime) -> dt.datetime:
    """When the shop's built-in flows count from: its install (the flows come with it)."""
    return min(shop.installed_at, now) if shop.installed_at else now


def _email_of(session: Session, shop_id: int, customer_ids: Sequence[str]) -> dict[str, str]:
    if not customer_ids:
        return {}
    return {external_id: str(email) for external_id, email in session.execute(
        select(Customer.external_id, Customer.email).where(
            Customer.shop_id == shop_id, Customer.external_id.in_(sorted(set(customer_ids))),
            Customer.email.is_not(None)))}


def _carts(session: Session, shop_id: int, flow: definitions.FlowVersion, carts: list[Cart], now: dt.datetime,
           result: Evaluation) -> None:
    if not carts:
        return
    ended = {cart.external_id: ("purchased: the cart was completed" if cart.completed_at else "the cart was emptied")
             for cart in carts if cart.completed_at is not None or not cart.lines}
    if ended:
        for run in runs.active_runs(session, shop_id, [definitions.ABANDONED_CART], subject_ids=list(ended)):
            if run.subject_kind == "cart":
                result.cancelled += runs.end(session, [run], ended[run.subject_id], now=now)
                result.exited += 1
    open_carts = [cart for cart in carts if cart.external_id not in ended
                  and (cart.email or cart.customer_external_id)]
    emails = _email_of(session, shop_id, [c.customer_external_id for c in open_carts
                                          if c.customer_external_id and not c.email])
    candidates = []
    for cart in open_carts:
        moment = cart.source_updated_at
        email = cart.email or emails.get(cart.customer_external_id or "")
        if email and starts(flow, moment, now):
            candidates.append(runs.Candidate(f"cart:{cart.external_id}", "cart", cart.external_id, moment,
                                             cart.customer_external_id, email))
    result.started += runs.start(session, shop_id, flow, candidates, now)
    result.started += _retime(session, shop_id, flow, open_carts, now)


def _retime(session: Session, shop_id: int, flow: definitions.FlowVersion, carts: list[Cart],
            now: dt.datetime) -> list[runs.Scheduled]:
    """A cart changed again before its first reminder: the reminders count from the new change."""
    changed = {cart.external_id: cart.source_updated_at for cart in carts}
    moved = []
    for run in runs.active_runs(session, shop_id, [definitions.ABANDONED_CART], subject_ids=list(changed)):
        moment = changed.get(run.subject_id)
        if run.steps or moment is None or moment <= run.reference_at:
            continue
        version = definitions.version(session, shop_id, run.flow_key, run.flow_version) or flow
        run.reference_at = moment
        moved.append(runs.postpone(run, runs.due_at(moment, version, run.next_step)))
    return moved


_ENDED_BY_ORDERS = (definitions.ABANDONED_CART, definitions.WIN_BACK)


def _orders(session: Session, shop_id: int, flows: dict[str, definitions.FlowVersion], orders: list[Order],
            now: dt.datetime, result: Evaluation) -> None:
    orders = [order for order in orders if not order.is_test]
    if not orders:
        return
    placed = [order for order in orders if order.deleted_at is None]
    emails = sorted({order.email.lower() for order in placed if order.email})
    customers = sorted({order.customer_external_id for order in placed if order.customer_external_id})
    for run in runs.active_runs(session, shop_id, _ENDED_BY_ORDERS, emails=emails, customer_ids=customers):
        for order in placed:
            same = ((run.email and order.email and order.email.lower() == run.email)
                    or (run.customer_external_id and order.customer_external_id == run.customer_external_id))
            if same and order.source_created_at >= run.reference_at:
                result.cancelled += runs.end(session, [run], f"purchased: order {order.number}", now=now)
                result.exited += 1
                break
    gone = {order.external_id: "the order was cancelled" if order.cancelled_at else "the order is gone"
            for order in orders if order.cancelled_at is not None or order.deleted_at is not None}
    if gone:
        for run in runs.active_runs(session, shop_id, [definitions.POST_PURCHASE], subject_ids=list(gone)):
            if run.subject_kind == "order":
                result.cancelled += runs.end(session, [run], gone[run.subject_id], now=now)
                result.exited += 1
    flow = flows[definitions.POST_PURCHASE]
    addresses = _email_of(session, shop_id, [o.customer_external_id for o in placed
                                             if o.customer_external_id and not o.email])
    candidates = []
    for order in placed:
        if order.external_id in gone:
            continue
        moment = order.processed_at or order.source_created_at
        email = order.email or addresses.get(order.customer_external_id or "")
        if email and starts(flow, moment, now):
            candidates.append(runs.Candidate(f"order:{order.external_id}", "order", order.external_id, moment,
                                             order.customer_external_id, email))
    result.started += runs.start(session, shop_id, flow, candidates, now)


# Loyalty event kind -> the notice flow it starts (points earned for a birthday: the birthday flow).
_NOTICES = {events.REWARD_AVAILABLE: definitions.REWARD_AVAILABLE, events.POINTS_EXPIRING: definitions.POINTS_EXPIRING,
            events.TIER_CHANGED: definitions.TIER_UPGRADE}


def _flow_of(event: LoyaltyEvent) -> str | None:
    payload = event.payload or {}
    if event.kind == events.POINTS_EARNED:
        return definitions.BIRTHDAY if payload.get("cause") == "birthday" else definitions.POINTS_EARNED
    if event.kind == events.TIER_CHANGED and payload.get("direction") != "upgrade":
        return None
    return _NOTICES.get(event.kind)


def _loyalty(session: Session, shop_id: int, flows: dict[str, definitions.FlowVersion],
             found: list[LoyaltyEvent], now: dt.datetime, result: Evaluation) -> None:
    wanted: list[tuple[LoyaltyEvent, str]] = []
    for event in found:
        key = _flow_of(event)
        if event.member_id is not None and key is not None:
            wanted.append((event, key))
    if not wanted:
        return
    members = {member.id: member for member in session.execute(select(LoyaltyMember).where(
        LoyaltyMember.id.in_(sorted({event.member_id for event, _ in wanted if event.member_id})))
        .execution_options(populate_existing=True)).scalars()}
    addresses = _email_of(session, shop_id, [m.customer_external_id for m in members.values()
                                             if m.customer_external_id])
    grouped: dict[str, list[runs.Candidate]] = {}
    for event, key in wanted:
        member = members.get(event.member_id or 0)
        if member is None:
            continue
        email = addresses.get(member.customer_external_id or "") or member.email
        if not email or not starts(flows[key], event.created_at, now):
            continue
        data = {**(event.payload or {}), "member_id": member.id, "event": event.kind}
        grouped.setdefault(key, []).append(runs.Candidate(
            f"event:{event.id}", "loyalty_event", str(event.id), event.created_at, member.customer_external_id,
            email, data))
    for key, candidates in grouped.items():
        result.started += runs.start(session, shop_id, flows[key], candidates, now)


def scan_lapsed(session: Session, shop_id: int, now: dt.datetime | None = None) -> list[runs.Scheduled]:
    """Start win-back runs for customers whose last order became ``lapsed_days`` old since the last scan."""
    now = now or utcnow()
    shop = session.get(Shop, shop_id)
    if shop is None:
        return []
    cursor = cursor_for(session, shop_id)
    flow = definitions.ensure_all(session, shop_id, installed_at(shop, now))[definitions.WIN_BACK]
    through = (cursor.marks or {}).get("lapsed_through")
    low = dt.datetime.fromisoformat(through) if through else flow.enabled_since
    started: list[runs.Scheduled] = []
    if flow.is_enabled and low is not None and low < now:
        lapse = dt.timedelta(days=int(flow["trigger"]["lapsed_days"]))
        last = func.max(Order.source_created_at)
        rows = session.execute(
            select(Order.customer_external_id, last).where(
                Order.shop_id == shop_id, Order.customer_external_id.is_not(None), Order.deleted_at.is_(None),
                Order.is_test.is_(False))
            .group_by(Order.customer_external_id)
            .having(last >= low - lapse, last < now - lapse)
        ).all()
        addresses = _email_of(session, shop_id, [str(customer) for customer, _ in rows])
        candidates = []
        for customer_id, last_order in rows:
            last_order = last_order if last_order.tzinfo else last_order.replace(tzinfo=dt.timezone.utc)
            moment = last_order + lapse
            if customer_id in addresses and starts(flow, moment, now):
                candidates.append(runs.Candidate(f"lapse:{customer_id}:{last_order.isoformat()}", "customer",
                                                 customer_id, moment, customer_id, addresses[customer_id]))
        candidates += _likely_churned(session, shop_id, flow, low, now, lapse)
        candidates += _entered_segment(session, shop_id, flow, cursor, now, lapse)
        unique = {candidate.trigger_key: candidate for candidate in candidates}
        started = runs.start(session, shop_id, flow, list(unique.values()), now)
    marks = {**(cursor.marks or {}), "lapsed_through": now.isoformat()}
    last_event = session.execute(select(func.max(SegmentEvent.id)).where(SegmentEvent.shop_id == shop_id)).scalar()
    marks["segment_event_id"] = max(int(marks.get("segment_event_id") or 0), int(last_event or 0))
    cursor.marks = marks
    session.commit()
    return started


def _recently_won_back(session: Session, shop_id: int, customer_ids: Sequence[str], now: dt.datetime,
                       lapse: dt.timedelta) -> set[str]:
    """Customers with a win-back run that is active or began within the lapse: one at a time is enough."""
    if not customer_ids:
        return set()
    return set(str(customer_id) for customer_id in session.execute(select(FlowRun.customer_external_id).where(
        FlowRun.shop_id == shop_id, FlowRun.flow_key == definitions.WIN_BACK,
        FlowRun.customer_external_id.in_(sorted(set(customer_ids))),
        or_(FlowRun.state == "active", FlowRun.started_at >= now - lapse))).scalars())


def _likely_churned(session: Session, shop_id: int, flow: definitions.FlowVersion, low: dt.datetime,
                    now: dt.datetime, lapse: dt.timedelta) -> list[runs.Candidate]:
    """Win-back for repeat buyers whose churn probability (1 - P(alive)) reached ``churn_risk_percent``.

    Read from the customers' figures computed since the last scan (the daily run recomputes all);
    the moment is when the figure was computed. 0 (the default) leaves it to ``lapsed_days``.
    """
    percent = int(flow["trigger"].get("churn_risk_percent") or 0)
    if not percent:
        return []
    rows = session.execute(select(CustomerMetrics.customer_external_id, CustomerMetrics.last_order_at,
                                  CustomerMetrics.computed_at).where(
        CustomerMetrics.shop_id == shop_id, CustomerMetrics.customer_external_id.is_not(None),
        CustomerMetrics.p_alive.is_not(None), CustomerMetrics.p_alive <= 1 - percent / 100,
        CustomerMetrics.computed_at >= low)).all()
    ids = [str(customer_id) for customer_id, _, _ in rows]
    busy = _recently_won_back(session, shop_id, ids, now, lapse)
    addresses = _email_of(session, shop_id, ids)
    return [runs.Candidate(f"churn:{customer_id}:{last_order.isoformat() if last_order else ''}", "customer",
                           customer_id, computed,
                           customer_id, addresses[customer_id])
            for customer_id, last_order, computed in rows
            if customer_id in addresses and customer_id not in busy and starts(flow, computed, now)]


def _entered_segment(session: Session, shop_id: int, flow: definitions.FlowVersion, cursor: FlowCursor,
                     now: dt.datetime, lapse: dt.timedelta) -> list[runs.Candidate]:
    """Win-back for customers who entered the segment named by ``trigger.segment`` (e.g. at_risk)."""
    segment = flow["trigger"].get("segment")
    after = int((cursor.marks or {}).get("segment_event_id") or 0)
    if not segment:
        return []
    events = session.execute(select(SegmentEvent.id, SegmentEvent.customer_external_id, SegmentEvent.created_at)
                             .where(SegmentEvent.shop_id == shop_id, SegmentEvent.id > after,
                                    SegmentEvent.segment_key == segment, SegmentEvent.kind == "entered",
                                    SegmentEvent.customer_external_id.is_not(None))
                             .order_by(SegmentEvent.id)).all()
    ids = [str(customer_id) for _, customer_id, _ in events]
    busy = _recently_won_back(session, shop_id, ids, now, lapse)
    addresses = _email_of(session, shop_id, ids)
    return [runs.Candidate(f"segment:{segment}:{event_id}", "customer", customer_id, at, customer_id,
                           addresses[customer_id])
            for event_id, customer_id, at in events
            if customer_id in addresses and customer_id not in busy and starts(flow, at, now)]
