"""Per-flow figures: what was sent, opened and clicked, what it earned, and its lift over the holdout.

* **Attribution**: an order is attributed to a message of a run when the order used the code
  the message carried, or when it was placed by the same customer (or address) after a click on
  the message and within ``attribution_days`` (default 5) of that click. An order is
  attributed once per flow, to the first message that claims it.
* **Lift** compares every run that reached a step: recipients (a message was written) against
  holdout runs (one would have been). A run *converts* when its customer placed an order within
  ``attribution_days`` after its first step, whether or not anything was clicked, so both
  groups are counted alike. Lift is the difference of the two conversion rates with Newcombe's
  hybrid score interval (95 %), built from the two Wilson score intervals.

Opens are what the pixel saw (images blocked are not counted; a click counts as an open).

A report covers every run of the flow, or (``since``) the runs started since a moment: a run
belongs to the period by ``started_at``. It reads plain rows and SQL aggregates, never ORM objects,
and only the messages that were clicked or carried a code are matched against orders, so a flow
with tens of thousands of runs costs one pass over its runs and one query for their orders.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session

from app.flows import content
from app.store.models import FlowRun, Message, MessageClick, Order

ATTRIBUTION_DAYS = 5
Z_95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 1) with no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z_95) -> tuple[float, float, float] | None:
    """The difference p1 - p2 and its hybrid score interval (Newcombe 1998, method 10); None without data."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, lower, upper


# Ids per ``IN`` list: well below SQLite's limit on bound parameters.
CHUNK = 900


# What the report reads of an order: a row (attribute access), not an ORM object, since a flow's
# customers can have tens of thousands of them.
_Order = Row[tuple[int, str | None, str | None, dt.datetime, list[Any] | None, str, Decimal]]


@dataclasses.dataclass
class _Orders:
    """A shop's orders by customer and by address, for the runs being counted."""

    by_customer: dict[str, list[_Order]]
    by_email: dict[str, list[_Order]]

    def of(self, customer_id: str | None, email: str | None) -> list[_Order]:
        found = {order.id: order for order in (self.by_customer.get(customer_id or "", [])
                                               + self.by_email.get((email or "").lower(), []))}
        return sorted(found.values(), key=lambda order: order.source_created_at)

    def any_between(self, customer_id: str | None, email: str | None, start: dt.datetime, end: dt.datetime) -> bool:
        return any(start <= order.source_created_at <= end
                   for orders in (self.by_customer.get(customer_id or "", ()), self.by_email.get((email or "").lower(), ()))
                   for order in orders)


@dataclasses.dataclass
class _Run:
    """What the report needs of a run: who it is for, its group and when its first step went."""

    customer_external_id: str | None
    email: str | None
    is_holdout: bool
    first_step_at: dt.datetime | None


def _scope(shop_id: int, flow_key: str, since: dt.datetime | None) -> list[Any]:
    scope = [FlowRun.shop_id == shop_id, FlowRun.flow_key == flow_key]
    if since is not None:
        scope.append(FlowRun.started_at >= since)
    return scope


def _orders(session: Session, shop_id: int, scope: list[Any], placed_since: dt.datetime) -> _Orders:
    """The orders placed since ``placed_since`` by the customers and addresses of the runs in scope, in one query."""
    customers = select(FlowRun.customer_external_id).where(*scope, FlowRun.customer_external_id.is_not(None))
    emails = select(FlowRun.email).where(*scope, FlowRun.email.is_not(None))
    by_customer: dict[str, list[_Order]] = defaultdict(list)
    by_email: dict[str, list[_Order]] = defaultdict(list)
    for order in session.execute(select(
            Order.id, Order.customer_external_id, Order.email, Order.source_created_at, Order.discount_codes,
            Order.currency, Order.total_price).where(
            Order.shop_id == shop_id, Order.source_created_at >= placed_since, Order.deleted_at.is_(None),
            Order.cancelled_at.is_(None), Order.is_test.is_(False),
            or_(Order.customer_external_id.in_(customers), func.lower(Order.email).in_(emails)))):
        if order.customer_external_id:
            by_customer[order.customer_external_id].append(order)
        if order.email:
            by_email[order.email.lower()].append(order)
    return _Orders(by_customer, by_email)


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


def report(session: Session, shop_id: int, flow_key: str, *, attribution_days: int = ATTRIBUTION_DAYS,
           since: dt.datetime | None = None) -> dict[str, Any]:
    """The flow's figures over its runs, or over the runs started at or after ``since``.

    A run belongs to a period by ``started_at``, the moment the run was created (not
    ``reference_at``, the cart's last change or the order's time the step delays count from).
    Messages are counted by SQL aggregates; the runs' step logs (JSON) and the claimed orders are
    read as plain rows, never as ORM objects, so a flow with tens of thousands of runs stays fast.
    """
    window = dt.timedelta(days=attribution_days)
    scope = _scope(shop_id, flow_key, since)
    runs: list[_Run] = []
    message_run: dict[int, _Run] = {}
    coupons: dict[str, int] = {}  # coupon code -> message id
    for customer_id, email, is_holdout, entries in session.execute(select(
            FlowRun.customer_external_id, FlowRun.email, FlowRun.is_holdout, FlowRun.steps).where(*scope)):
        run = _Run(customer_id, email, bool(is_holdout), None)
        for entry in entries or []:
            if run.first_step_at is None and entry.get("outcome") in ("sent", "held_out") and entry.get("at"):
                run.first_step_at = dt.datetime.fromisoformat(entry["at"])
            if entry.get("message_id"):
                message_run[entry["message_id"]] = run
                if entry.get("coupon"):
                    coupons[entry["coupon"]] = entry["message_id"]
        runs.append(run)
    reached = [run for run in runs if run.first_step_at is not None]
    by_status: dict[str, list[int]] = {}  # status -> [messages, opened, clicked]
    clicks: dict[int, list[dt.datetime]] = defaultdict(list)
    claiming: set[int] = set()  # messages that can claim an order: clicked or carrying a code
    coupon_messages = set(coupons.values())
    for chunk in _chunks(sorted(message_run)):
        for status, count, opened, clicked in session.execute(
                select(Message.status, func.count(), func.count(Message.opened_at), func.count(Message.clicked_at))
                .where(Message.id.in_(chunk)).group_by(Message.status)):
            totals = by_status.setdefault(status, [0, 0, 0])
            totals[0] += count
            totals[1] += opened
            totals[2] += clicked
        for message_id, clicked_at in session.execute(
                select(MessageClick.message_id, MessageClick.clicked_at)
                .join(Message, Message.id == MessageClick.message_id).where(MessageClick.message_id.in_(chunk))):
            clicks[message_id].append(clicked_at)
            claiming.add(message_id)
        with_code = [message_id for message_id in chunk if message_id in coupon_messages]
        if with_code:
            claiming.update(session.execute(select(Message.id).where(Message.id.in_(with_code))).scalars())
    earliest = min((run.first_step_at for run in reached if run.first_step_at), default=None)
    orders = _orders(session, shop_id, scope, earliest) if earliest else _Orders({}, {})
    attributed: dict[int, _Order] = {}  # order id -> order, claimed by the first message that claims it
    for message_id in sorted(claiming):
        run = message_run[message_id]
        for order in orders.of(run.customer_external_id, run.email):
            used = {str(code).upper() for code in order.discount_codes or []}
            by_coupon = any(coupons.get(code) == message_id for code in used)
            by_click = any(clicked <= order.source_created_at <= clicked + window for clicked in clicks[message_id])
            if (by_coupon or by_click) and order.id not in attributed:
                attributed[order.id] = order
    revenue: dict[str, Decimal] = defaultdict(lambda: Decimal("0"))
    for order in attributed.values():
        revenue[order.currency] += order.total_price
    groups = {"recipients": [0, 0], "holdout": [0, 0]}  # [runs, converted]
    for run in reached:
        assert run.first_step_at is not None
        group = groups["holdout" if run.is_holdout else "recipients"]
        group[0] += 1
        if orders.any_between(run.customer_external_id, run.email, run.first_step_at, run.first_step_at + window):
            group[1] += 1
    (n1, x1), (n2, x2) = groups["recipients"], groups["holdout"]
    lift = newcombe(x1, n1, x2, n2)
    sent = by_status.get("sent", [0, 0, 0])
    return {
        "flow": flow_key, "attribution_days": attribution_days, "runs": len(runs),
        "messages": {"written": sum(totals[0] for totals in by_status.values()), "sent": sent[0],
                     "opened": sent[1], "clicked": sent[2],
                     "by_status": {status: totals[0] for status, totals in sorted(by_status.items())}},
        "attributed": {"orders": len(attributed),
                       "revenue": {currency: content.amount(value) for currency, value in sorted(revenue.items())}},
        "conversion": {
            "recipients": {"runs": n1, "converted": x1, "rate": x1 / n1 if n1 else None},
            "holdout": {"runs": n2, "converted": x2, "rate": x2 / n2 if n2 else None},
        },
        "lift": None if lift is None else {"difference": lift[0], "ci95": [lift[1], lift[2]],
                                           "method": "Newcombe hybrid score (Wilson)"},
    }
