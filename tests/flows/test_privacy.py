"""Erasure: a customer's runs end and forget them; a shop's erasure takes its flows with it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.flows import definitions, steps, triggers
from app.store import privacy
from app.store.models import Flow, FlowCursor, FlowRun
from tests.flows import support
from tests.flows.support import HOUR


def test_erasing_a_customer_ends_their_runs_and_keeps_only_the_outcomes(session, flow_shop, subscriber, t0, settings,
                                                                        fake_store):
    support.write(session, flow_shop, support.cart(at=t0))
    support.evaluate(session, flow_shop, t0)
    run = support.only(session, flow_shop)
    assert steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR).status == "sent"
    # a win-back run names the customer in its subject and trigger
    support.set_flow(session, flow_shop, definitions.WIN_BACK, trigger={"lapsed_days": 14})
    session.execute(Flow.__table__.update().values(enabled_since=t0 - dt.timedelta(days=60)))
    session.commit()
    support.write(session, flow_shop, support.order("77", at=t0 - dt.timedelta(days=14, hours=1)))
    triggers.scan_lapsed(session, flow_shop.id, t0)
    record = privacy.redact_customer(session, flow_shop.id, "cust-1", email="ana@example.com", order_ids=[],
                                     event_id=None)
    session.commit()
    assert record.kind == "customer_redact"
    runs = support.runs_of(session, flow_shop)
    assert sorted(r.flow_key for r in runs) == ["abandoned_cart", "win_back"]
    assert all((r.state, r.email, r.customer_external_id, r.data) == ("exited", None, None, {}) for r in runs)
    assert all(r.exit_reason == "the customer was erased" for r in runs)
    win_back = support.only(session, flow_shop, definitions.WIN_BACK)
    assert (win_back.subject_id, win_back.trigger_key) == ("erased", f"erased:{win_back.id}")
    cart = support.only(session, flow_shop)
    assert [e["outcome"] for e in cart.steps] == ["sent"]  # what happened stays for the figures


def test_erasing_a_shop_removes_its_flows_runs_and_cursor(session, flow_shop, subscriber, t0):
    support.write(session, flow_shop, support.cart(at=t0))
    support.evaluate(session, flow_shop, t0)
    privacy.redact_shop(session, flow_shop, keep_event_id=None)
    session.commit()
    for model in (Flow, FlowRun, FlowCursor):
        assert session.execute(select(func.count()).select_from(model)).scalar_one() == 0
