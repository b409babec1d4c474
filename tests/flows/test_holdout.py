"""Holdouts: deterministic per shop, flow and customer, and the share they promise."""

from __future__ import annotations

import datetime as dt

from app.flows import definitions, holdout, steps
from app.store.models import Message
from tests.flows import support
from tests.flows.support import HOUR


def test_the_same_customer_is_always_in_the_same_group_of_a_flow():
    first = [holdout.is_held_out(7, "abandoned_cart", f"customer:{n}", 0.1) for n in range(2000)]
    again = [holdout.is_held_out(7, "abandoned_cart", f"customer:{n}", 0.1) for n in range(2000)]
    assert first == again
    # another flow, or another shop, draws its own group
    assert first != [holdout.is_held_out(7, "win_back", f"customer:{n}", 0.1) for n in range(2000)]
    assert first != [holdout.is_held_out(8, "abandoned_cart", f"customer:{n}", 0.1) for n in range(2000)]


def test_ten_thousand_customers_give_ten_percent_give_or_take_one():
    held = sum(holdout.is_held_out(3, "abandoned_cart", f"customer:{n}", 0.10) for n in range(10_000))
    assert 900 <= held <= 1100
    held = sum(holdout.is_held_out(3, "abandoned_cart", f"email:shopper{n}@example.com", 0.25) for n in range(10_000))
    assert 2400 <= held <= 2600


def test_no_share_holds_nobody_out_and_a_larger_share_only_adds_people():
    people = [f"customer:{n}" for n in range(5000)]
    assert not any(holdout.is_held_out(1, "birthday", who, 0) for who in people)
    small = {who for who in people if holdout.is_held_out(1, "birthday", who, 0.05)}
    large = {who for who in people if holdout.is_held_out(1, "birthday", who, 0.2)}
    assert small < large
    assert holdout.is_held_out(1, "birthday", None, 0.5) is False


def test_the_identity_is_the_customer_else_the_address():
    assert holdout.identity("42", "Ana@Example.com") == "customer:42"
    assert holdout.identity(None, " Ana@Example.com ") == "email:ana@example.com"
    assert holdout.identity(None, None) is None


def test_a_held_out_run_is_checked_like_the_others_and_records_what_it_would_have_sent(
        session, flow_shop, subscriber, t0, settings, fake_store):
    support.set_flow(session, flow_shop, definitions.ABANDONED_CART, holdout_share=0.5, steps={"2": {"incentive": {
        "kind": "percentage", "value": "10", "expires_hours": 48}}})
    # given a shopper the hash puts in the holdout
    customer = next(f"c{n}" for n in range(100)
                    if holdout.is_held_out(flow_shop.id, "abandoned_cart", f"customer:c{n}", 0.5))
    support.write(session, flow_shop, support.customer(customer, email="held@example.com", at=t0 - HOUR),
                  support.cart(at=t0, customer=customer, email="held@example.com"))
    support.evaluate(session, flow_shop, t0)
    run = support.only(session, flow_shop)
    assert run.is_holdout
    services = fake_store.services(settings)
    for step, moment in ((0, t0 + HOUR), (1, t0 + 24 * HOUR), (2, t0 + 72 * HOUR)):
        assert steps.execute(session, run.id, step, services, now=moment).status == "held_out"
    run = support.only(session, flow_shop)
    assert [(e["step"], e["outcome"], e["would_offer"]) for e in run.steps] == [
        (0, "held_out", None), (1, "held_out", None), (2, "held_out", "10% off")]
    assert run.state == "completed"
    # nothing was written, no code was made, but the store was asked before each step as for anyone
    assert session.query(Message).count() == 0 and fake_store.codes == []
    assert len(fake_store.lookups) == 3


def test_a_held_out_run_exits_on_a_purchase_like_any_other(session, flow_shop, subscriber, t0, settings, fake_store):
    support.set_flow(session, flow_shop, definitions.ABANDONED_CART, holdout_share=0.5)
    customer = next(f"c{n}" for n in range(100)
                    if holdout.is_held_out(flow_shop.id, "abandoned_cart", f"customer:c{n}", 0.5))
    support.write(session, flow_shop, support.customer(customer, email="held@example.com", at=t0 - HOUR),
                  support.cart(at=t0, customer=customer, email="held@example.com"))
    support.evaluate(session, flow_shop, t0)
    support.write(session, flow_shop, support.order(at=t0 + dt.timedelta(minutes=20), customer=customer,
                                                    email="held@example.com"))
    support.evaluate(session, flow_shop, t0 + dt.timedelta(minutes=21))
    run = support.only(session, flow_shop)
    assert (run.is_holdout, run.state, run.exit_reason, run.steps) == (True, "exited", "purchased: order #1001", [])
