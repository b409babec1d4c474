"""Per-flow figures: attribution by click window or coupon, and lift against the holdout with its interval."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.flows import definitions, reports, steps
from app.messaging import tracking
from app.store.models import FlowRun, Message, MessageClick, Order
from tests.flows import support
from tests.flows.support import HOUR

DAY = 24 * HOUR


@pytest.mark.parametrize(("x", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998), "Two-sided confidence intervals for the single proportion"
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
])
def test_wilson_intervals_match_the_published_values(x, n, low, high):
    assert reports.wilson(x, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "low", "high"), [
    (56, 70, 48, 80, 0.0524, 0.3339),  # Newcombe (1998), "Interval estimation for the difference...", method 10
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
])
def test_the_difference_interval_matches_newcombes_examples(x1, n1, x2, n2, low, high):
    difference, lower, upper = reports.newcombe(x1, n1, x2, n2)
    assert difference == pytest.approx(x1 / n1 - x2 / n2)
    assert (lower, upper) == pytest.approx((low, high), abs=5e-5)
    assert reports.newcombe(1, 0, 1, 5) is None


def _sent_run(session, shop, t0, settings, fake_store, n, *, holdout=False):
    """A cart run of customer ``c<n>`` whose first step went (or was held out) at t0 + 1 h."""
    support.write(session, shop, support.customer(f"c{n}", email=f"c{n}@example.com", at=t0 - DAY),
                  support.cart(f"cart-{n}", at=t0, customer=f"c{n}", email=f"c{n}@example.com"))
    support.evaluate(session, shop, t0)
    run = [r for r in support.runs_of(session, shop) if r.subject_id == f"cart-{n}"][0]
    session.execute(update(FlowRun).where(FlowRun.id == run.id).values(is_holdout=holdout))
    session.commit()
    outcome = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR)
    assert outcome.status == ("held_out" if holdout else "sent")
    if outcome.message_id:
        session.execute(update(Message).where(Message.id == outcome.message_id)
                        .values(status="sent", sent_at=t0 + HOUR))
        session.commit()
    return run, outcome.message_id


def test_orders_after_a_click_or_with_the_code_are_attributed_and_lift_compares_with_the_holdout(
        session, flow_shop, t0, settings, fake_store):
    support.set_flow(session, flow_shop, definitions.ABANDONED_CART, steps=[
        {"id": "only", "delay_hours": 1, "template": "cart_reminder",
         "incentive": {"kind": "percentage", "value": "10", "expires_hours": 48}}])
    clicked_run, clicked = _sent_run(session, flow_shop, t0, settings, fake_store, 1)
    coupon_run, coupon_message = _sent_run(session, flow_shop, t0, settings, fake_store, 2)
    _quiet, quiet_message = _sent_run(session, flow_shop, t0, settings, fake_store, 3)
    _held, _ = _sent_run(session, flow_shop, t0, settings, fake_store, 4, holdout=True)
    _sent_run(session, flow_shop, t0, settings, fake_store, 5, holdout=True)
    # c1 clicks at 2 h and orders at 3 h; c2 orders on day 3 with the code, no click; c3 opens only and
    # orders on day 9 (outside the window); c4 (held out) orders at 5 h
    token = session.get(Message, clicked).token
    tracking.record_click(session, token, "https://shop.example/cart", now=t0 + 2 * HOUR)
    tracking.record_open(session, session.get(Message, quiet_message).token, now=t0 + 2 * HOUR)
    session.commit()
    code = session.get(Message, coupon_message).context["coupon"]["code"]
    support.write(session, flow_shop,
                  support.order("2001", at=t0 + 3 * HOUR, customer="c1", email="c1@example.com", total="30.00"),
                  support.order("2002", at=t0 + 3 * DAY, customer="c2", email="c2@example.com", total="50.00",
                                codes=(code,)),
                  support.order("2003", at=t0 + 9 * DAY, customer="c3", email="c3@example.com", total="70.00"),
                  support.order("2004", at=t0 + 5 * HOUR, customer="c4", email="c4@example.com", total="10.00"))
    report = reports.report(session, flow_shop.id, definitions.ABANDONED_CART)
    assert report["messages"] == {"written": 3, "sent": 3, "opened": 2, "clicked": 1, "by_status": {"sent": 3}}
    assert report["attributed"] == {"orders": 2, "revenue": {"EUR": "80.00"}}
    assert report["conversion"] == {"recipients": {"runs": 3, "converted": 2, "rate": 2 / 3},
                                    "holdout": {"runs": 2, "converted": 1, "rate": 0.5}}
    difference, low, high = reports.newcombe(2, 3, 1, 2)
    assert report["lift"] == {"difference": difference, "ci95": [low, high],
                              "method": "Newcombe hybrid score (Wilson)"}
    # a wider window takes in c3's order as a conversion, still not as attributed (no click, no code)
    wider = reports.report(session, flow_shop.id, definitions.ABANDONED_CART, attribution_days=10)
    assert (wider["attributed"]["orders"], wider["conversion"]["recipients"]["converted"]) == (2, 3)
    assert clicked_run.id != coupon_run.id


def _coupon_flow(session, shop):
    support.set_flow(session, shop, definitions.ABANDONED_CART, steps=[
        {"id": "only", "delay_hours": 1, "template": "cart_reminder",
         "incentive": {"kind": "percentage", "value": "10", "expires_hours": 48}}])


def _started(session, run, at):
    session.execute(update(FlowRun).where(FlowRun.id == run.id).values(started_at=at))
    session.commit()


def test_since_leaves_out_the_runs_started_before_it(session, flow_shop, t0, settings, fake_store):
    # given two runs that clicked and ordered and a held-out one; the first run started 40 days ago
    _coupon_flow(session, flow_shop)
    old_run, old_message = _sent_run(session, flow_shop, t0, settings, fake_store, 1)
    _new_run, new_message = _sent_run(session, flow_shop, t0, settings, fake_store, 2)
    _sent_run(session, flow_shop, t0, settings, fake_store, 3, holdout=True)
    for message_id in (old_message, new_message):
        tracking.record_click(session, session.get(Message, message_id).token, "https://shop.example/cart",
                              now=t0 + 2 * HOUR)
    session.commit()
    support.write(session, flow_shop,
                  support.order("3001", at=t0 + 3 * HOUR, customer="c1", email="c1@example.com", total="30.00"),
                  support.order("3002", at=t0 + 3 * HOUR, customer="c2", email="c2@example.com", total="45.50"))
    _started(session, old_run, t0 - 40 * DAY)
    # when the report is asked for the last 30 days, and for all runs
    recent = reports.report(session, flow_shop.id, definitions.ABANDONED_CART, since=t0 - 30 * DAY)
    lifetime = reports.report(session, flow_shop.id, definitions.ABANDONED_CART)
    # then the old run, its message and its order are only in the lifetime figures
    assert recent["runs"] == 2
    assert recent["messages"] == {"written": 1, "sent": 1, "opened": 1, "clicked": 1, "by_status": {"sent": 1}}
    assert recent["attributed"] == {"orders": 1, "revenue": {"EUR": "45.50"}}
    assert recent["conversion"] == {"recipients": {"runs": 1, "converted": 1, "rate": 1.0},
                                    "holdout": {"runs": 1, "converted": 0, "rate": 0.0}}
    assert lifetime["runs"] == 3
    assert lifetime["attributed"] == {"orders": 2, "revenue": {"EUR": "75.50"}}
    assert lifetime["conversion"]["recipients"] == {"runs": 2, "converted": 2, "rate": 1.0}
    # a run started exactly at ``since`` counts
    assert reports.report(session, flow_shop.id, definitions.ABANDONED_CART, since=t0 - 40 * DAY)["runs"] == 3


def _brute_force(session, shop_id, flow_key, attribution_days, since=None):
    """The report computed the slow, obvious way: every run, message, click and order looked at one by one."""
    window = dt.timedelta(days=attribution_days)
    runs = [run for run in session.execute(select(FlowRun).where(FlowRun.shop_id == shop_id,
                                                                  FlowRun.flow_key == flow_key)).scalars()
            if since is None or run.started_at >= since]

    def first_step(run):
        return next((dt.datetime.fromisoformat(entry["at"]) for entry in run.steps
                     if entry.get("outcome") in ("sent", "held_out") and entry.get("at")), None)

    reached = [(run, first_step(run)) for run in runs if first_step(run) is not None]
    earliest = min((at for _, at in reached), default=None)
    orders = [order for order in session.execute(select(Order).where(Order.shop_id == shop_id)).scalars()
              if order.cancelled_at is None and order.deleted_at is None and not order.is_test
              and earliest is not None and order.source_created_at >= earliest]

    def orders_of(run):
        return [order for order in orders
                if (run.customer_external_id and order.customer_external_id == run.customer_external_id)
                or (run.email and (order.email or "").lower() == run.email)]

    written = [(run, session.get(Message, entry["message_id"]), entry.get("coupon"))
               for run in runs for entry in run.steps if entry.get("message_id")]
    written = [(run, message, coupon) for run, message, coupon in written if message is not None]
    attributed = {}
    for run, message, coupon in written:
        clicks = session.execute(select(MessageClick.clicked_at)
                                 .where(MessageClick.message_id == message.id)).scalars().all()
        for order in orders_of(run):
            codes = {str(code).upper() for code in order.discount_codes or []}
            if (coupon and coupon in codes) or any(c <= order.source_created_at <= c + window for c in clicks):
                attributed[order.id] = order
    revenue = {}
    for order in attributed.values():
        revenue[order.currency] = revenue.get(order.currency, Decimal("0")) + order.total_price
    groups = {}
    for holdout in (False, True):
        members = [(run, at) for run, at in reached if run.is_holdout is holdout]
        converted = sum(1 for run, at in members
                        if any(at <= order.source_created_at <= at + window for order in orders_of(run)))
        groups[holdout] = (len(members), converted)
    (n1, x1), (n2, x2) = groups[False], groups[True]
    lift = reports.newcombe(x1, n1, x2, n2)
    messages = [message for _, message, _ in written]
    sent = [message for message in messages if message.status == "sent"]
    statuses = sorted({message.status for message in messages})
    return {
        "flow": flow_key, "attribution_days": attribution_days, "runs": len(runs),
        "messages": {"written": len(messages), "sent": len(sent),
                     "opened": len([m for m in sent if m.opened_at]), "clicked": len([m for m in sent if m.clicked_at]),
                     "by_status": {status: len([m for m in messages if m.status == status]) for status in statuses}},
        "attributed": {"orders": len(attributed),
                       "revenue": {currency: f"{value:.2f}" for currency, value in sorted(revenue.items())}},
        "conversion": {"recipients": {"runs": n1, "converted": x1, "rate": x1 / n1 if n1 else None},
                       "holdout": {"runs": n2, "converted": x2, "rate": x2 / n2 if n2 else None}},
        "lift": None if lift is None else {"difference": lift[0], "ci95": [lift[1], lift[2]],
                                           "method": "Newcombe hybrid score (Wilson)"},
    }


def test_the_report_matches_a_brute_force_count_over_runs_of_every_kind(session, flow_shop, t0, settings, fake_store):
    # given runs of every kind: held out (ordering or not), sent and ignored, opened, clicked then ordering
    # inside or outside the window, ordering with the code, ordering as a guest by address only,
    # a cancelled order, a bounced message, and runs started long ago
    _coupon_flow(session, flow_shop)
    kinds = ["holdout_orders", "holdout_quiet", "ignored", "opened", "clicked_orders", "clicked_late",
             "coupon", "guest_clicked", "cancelled", "bounced", "old_clicked", "old_holdout",
             "clicked_twice", "holdout_orders", "coupon", "clicked_orders"]
    records = []
    for n, kind in enumerate(kinds, start=1):
        run, message_id = _sent_run(session, flow_shop, t0, settings, fake_store, n, holdout="holdout" in kind)
        customer, email = f"c{n}", f"c{n}@example.com"
        token = session.get(Message, message_id).token if message_id else None
        if kind == "opened":
            tracking.record_open(session, token, now=t0 + 2 * HOUR)
        if kind in ("clicked_orders", "clicked_late", "guest_clicked", "cancelled", "old_clicked", "clicked_twice"):
            tracking.record_click(session, token, "https://shop.example/cart", now=t0 + 2 * HOUR)
        if kind == "clicked_twice":
            tracking.record_click(session, token, "https://shop.example/cart", now=t0 + 8 * DAY)
        if kind == "bounced":
            session.execute(update(Message).where(Message.id == message_id).values(status="bounced"))
        session.commit()
        at = {"clicked_late": t0 + 9 * DAY, "coupon": t0 + 4 * DAY, "clicked_twice": t0 + 10 * DAY,
              "holdout_orders": t0 + 6 * HOUR}.get(kind, t0 + 3 * HOUR)
        codes = (session.get(Message, message_id).context["coupon"]["code"],) if kind == "coupon" else ()
        if kind not in ("holdout_quiet", "ignored", "opened", "bounced"):
            records.append(support.order(f"40{n:02d}", at=at, customer=None if kind == "guest_clicked" else customer,
                                         email=email.upper() if kind == "guest_clicked" else email,
                                         total=f"{10 + n}.25", codes=codes,
                                         cancelled=at if kind == "cancelled" else None))
        if kind.startswith("old_"):
            _started(session, run, t0 - 45 * DAY)
    support.write(session, flow_shop, *records)
    # when the report is computed over all runs and over the last 30 days, with two windows
    for since in (None, t0 - 30 * DAY):
        for days in (5, 12):
            found = reports.report(session, flow_shop.id, definitions.ABANDONED_CART, attribution_days=days,
                                   since=since)
            # then it says exactly what the brute-force count says
            assert found == _brute_force(session, flow_shop.id, definitions.ABANDONED_CART, days, since)
    lifetime = reports.report(session, flow_shop.id, definitions.ABANDONED_CART)
    assert lifetime["runs"] == len(kinds)
    assert lifetime["attributed"]["orders"] == 7  # 2 clicked_orders, 2 coupon, guest, old_clicked, clicked_twice
