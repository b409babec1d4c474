"""Per-flow figures: attribution by click window or coupon, and lift against the holdout with its interval."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.flows import definitions, reports, steps
from app.messaging import tracking
from app.store.models import FlowRun, Message
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
