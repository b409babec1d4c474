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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
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


@dataclasses.dataclass
class _Orders:
    """A shop's orders by customer and by address, for the runs being counted."""

    by_customer: dict[str, list[Order]]
    by_email: dict[str, list[Order]]

    def of(self, customer_id: str | None, email: str | None) -> list[Order]:
        found = {order.id: order for order in (self.by_customer.get(customer_id or "", [])
                                               + self.by_email.get((email or "").lower(), []))}
        return sorted(found.values(), key=lambda order: order.source_created_at)


def _orders(session: Session, shop_id: int, runs: list[FlowRun], since: dt.datetime) -> _Orders:
    customers = sorted({run.customer_external_id for run in runs if run.customer_external_id})
    emails = sorted({run.email for run in runs if run.email})
    by_customer: dict[str, list[Order]] = defaultdict(list)
    by_email: dict[str, list[Order]] = defaultdict(list)
    for start in range(0, max(len(customers), len(emails)), 500):
        match = []
        if customers[start:start + 500]:
            match.append(Order.customer_external_id.in_(customers[start:start + 500]))
        if emails[start:start + 500]:
            match.append(func.lower(Order.email).in_(emails[start:start + 500]))
        for order in session.execute(select(Order).where(
                Order.shop_id == shop_id, Order.source_created_at >= since, Order.deleted_at.is_(None),
                Order.cancelled_at.is_(None), Order.is_test.is_(False), or_(*match))).scalars():
            if order.customer_external_id:
                by_customer[order.customer_external_id].append(order)
            if order.email:
                by_email[order.email.lower()].append(order)
    return _Orders(by_customer, by_email)


def _first_step_at(run: FlowRun) -> dt.datetime | None:
    for entry in run.steps or []:
        if entry.get("outcome") in ("sent", "held_out") and entry.get("at"):
            return dt.datetime.fromisoformat(entry["at"])
    return None


def report(session: Session, shop_id: int, flow_key: str, *, attribution_days: int = ATTRIBUTION_DAYS) -> dict[str, Any]:
    """The flow's figures over all its runs."""
    window = dt.timedelta(days=attribution_days)
    runs = list(session.execute(select(FlowRun).where(FlowRun.shop_id == shop_id, FlowRun.flow_key == flow_key)
                                .execution_options(populate_existing=True)).scalars())
    reached = [(run, at) for run in runs if (at := _first_step_at(run)) is not None]
    message_run = {entry["message_id"]: run for run in runs for entry in run.steps or [] if entry.get("message_id")}
    messages = list(session.execute(select(Message).where(Message.id.in_(list(message_run)))
                                    .execution_options(populate_existing=True)).scalars()) if message_run else []
    clicks: dict[int, list[dt.datetime]] = defaultdict(list)
    if message_run:
        for message_id, clicked_at in session.execute(select(MessageClick.message_id, MessageClick.clicked_at)
                                                      .where(MessageClick.message_id.in_(list(message_run)))):
            clicks[message_id].append(clicked_at)
    earliest = min((at for _, at in reached), default=None)
    orders = _orders(session, shop_id, [run for run, _ in reached], earliest) if earliest else _Orders({}, {})
    attributed: dict[int, tuple[Order, int]] = {}  # order id -> (order, message id)
    coupons = {entry["coupon"]: entry["message_id"] for run in runs for entry in run.steps or []
               if entry.get("coupon") and entry.get("message_id")}
    for message in sorted(messages, key=lambda m: m.id):
        run = message_run[message.id]
        for order in orders.of(run.customer_external_id, run.email):
            used = {str(code).upper() for code in order.discount_codes or []}
            by_coupon = any(coupons.get(code) == message.id for code in used)
            by_click = any(clicked <= order.source_created_at <= clicked + window for clicked in clicks[message.id])
            if (by_coupon or by_click) and order.id not in attributed:
                attributed[order.id] = (order, message.id)
    revenue: dict[str, Decimal] = defaultdict(lambda: Decimal("0"))
    for order, _ in attributed.values():
        revenue[order.currency] += order.total_price
    groups = {"recipients": [0, 0], "holdout": [0, 0]}  # [runs, converted]
    for run, at in reached:
        group = groups["holdout" if run.is_holdout else "recipients"]
        group[0] += 1
        if any(at <= order.source_created_at <= at + window for order in orders.of(run.customer_external_id, run.email)):
            group[1] += 1
    (n1, x1), (n2, x2) = groups["recipients"], groups["holdout"]
    lift = newcombe(x1, n1, x2, n2)
    sent = [m for m in messages if m.status == "sent"]
    return {
        "flow": flow_key, "attribution_days": attribution_days, "runs": len(runs),
        "messages": {"written": len(messages), "sent": len(sent),
                     "opened": sum(1 for m in sent if m.opened_at), "clicked": sum(1 for m in sent if m.clicked_at),
                     "by_status": _count(m.status for m in messages)},
        "attributed": {"orders": len(attributed),
                       "revenue": {currency: content.amount(value) for currency, value in sorted(revenue.items())}},
        "conversion": {
            "recipients": {"runs": n1, "converted": x1, "rate": x1 / n1 if n1 else None},
            "holdout": {"runs": n2, "converted": x2, "rate": x2 / n2 if n2 else None},
        },
        "lift": None if lift is None else {"difference": lift[0], "ci95": [lift[1], lift[2]],
                                           "method": "Newcombe hybrid score (Wilson)"},
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return dict(sorted(counts.items()))
