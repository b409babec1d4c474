"""The abandoned-cart flow on the engine: runs start once, steps send once, stale reminders never go."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.flows import definitions, runs, steps
from app.messaging import consent
from app.messaging.budget import QuietHours
from app.store.models import Flow, FlowRun, Message
from connectors import base
from tests.flows import support
from tests.flows.support import HOUR

CART = definitions.ABANDONED_CART


def _left(session, shop, t0, **cart):
    """A cart left at ``t0`` and the evaluation a minute later: the run it started."""
    support.write(session, shop, support.cart(at=t0, **cart))
    result = support.evaluate(session, shop, t0 + dt.timedelta(minutes=1))
    return result, support.only(session, shop)


def test_a_left_cart_starts_one_run_whose_first_step_is_due_an_hour_later(session, flow_shop, subscriber, t0):
    result, run = _left(session, flow_shop, t0)
    assert [(s.run_id, s.step, s.at, s.job_id) for s in result.started] == [
        (run.id, 0, t0 + HOUR, f"flow-run-{run.id}-step-0")]
    assert (run.state, run.next_step, run.next_at, run.reference_at, run.subject_kind, run.subject_id,
            run.email, run.customer_external_id, run.is_holdout, run.job_id) == (
        "active", 0, t0 + HOUR, t0, "cart", "c-1", "ana@example.com", "cust-1", False, f"flow-run-{run.id}-step-0")
    # the same trigger again (the cart written again, a second evaluation): no second run
    support.write(session, flow_shop, support.cart(at=t0))
    again = support.evaluate(session, flow_shop, t0 + dt.timedelta(minutes=2))
    assert again.started == [] and len(support.runs_of(session, flow_shop)) == 1
    assert runs.start(session, flow_shop.id, definitions.current(session, flow_shop.id, CART),
                      [runs.Candidate("cart:c-1", "cart", "c-1", t0)]) == []


def test_each_step_sends_once_at_its_moment_and_the_run_completes(session, flow_shop, subscriber, t0, settings,
                                                                  fake_store):
    _, run = _left(session, flow_shop, t0)
    services = fake_store.services(settings)
    # too early: nothing happens
    assert steps.execute(session, run.id, 0, services, now=t0 + 59 * dt.timedelta(minutes=1)).status == "not_due"
    assert support.messages_of(session, flow_shop) == []
    # at 1 h: one message, written through the outbox under the step's key
    first = steps.execute(session, run.id, 0, services, now=t0 + HOUR)
    assert (first.status, first.scheduled.step, first.scheduled.at) == ("sent", 1, t0 + 24 * HOUR)
    (message,) = support.messages_of(session, flow_shop)
    assert (message.id, message.dedupe_key, message.template, message.category, message.email, message.priority,
            message.status) == (first.message_id, f"flow:{run.id}:0", "cart_reminder", "marketing",
                                "ana@example.com", 30, "queued")
    assert message.context["items"] == [{"name": "Mug 0", "quantity": 1, "price": "20.00"}]
    assert (message.context["recovery_url"], message.context["total"], message.context["first_name"]) == (
        "https://shop.example/cart/recover?c=1", "40.00", "Ana")
    # the same step again (a retried job, a duplicate): nothing more
    assert steps.execute(session, run.id, 0, services, now=t0 + HOUR).status == "done"
    assert len(support.messages_of(session, flow_shop)) == 1
    # the store was asked about an order since the cart was left, once per send
    assert fake_store.lookups == [("ana@example.com", "cust-1", t0)]
    # at 24 h and 72 h the next two (the contact budget is 16 h: a day apart is fine)
    sent_at = t0 + HOUR
    session.execute(Message.__table__.update().values(status="sent", sent_at=sent_at))
    session.commit()
    assert steps.execute(session, run.id, 1, services, now=t0 + 24 * HOUR).status == "sent"
    session.execute(Message.__table__.update().values(status="sent", sent_at=t0 + 24 * HOUR))
    session.commit()
    last = steps.execute(session, run.id, 2, services, now=t0 + 72 * HOUR)
    assert (last.status, last.scheduled) == ("sent", None)
    run = support.only(session, flow_shop)
    assert (run.state, run.next_at, run.job_id, run.finished_at) == ("completed", None, None, t0 + 72 * HOUR)
    assert [(e["step"], e["outcome"]) for e in run.steps] == [(0, "sent"), (1, "sent"), (2, "sent")]
    assert [m.dedupe_key for m in support.messages_of(session, flow_shop)] == [
        f"flow:{run.id}:{n}" for n in range(3)]
    assert fake_store.codes == []  # no incentive by default


def test_an_order_arriving_before_the_send_ends_the_run_and_cancels_its_job(session, flow_shop, subscriber, t0,
                                                                            settings, fake_store):
    _, run = _left(session, flow_shop, t0)
    # when the order webhook is applied half an hour later and the triggers are evaluated
    support.write(session, flow_shop, support.order(at=t0 + 30 * dt.timedelta(minutes=1)))
    result = support.evaluate(session, flow_shop, t0 + 31 * dt.timedelta(minutes=1))
    # then the run is over, its scheduled step is handed back to cancel, and the step sends nothing
    assert (result.exited, result.cancelled) == (1, [f"flow-run-{run.id}-step-0"])
    run = support.only(session, flow_shop)
    assert (run.state, run.exit_reason, run.next_at) == ("exited", "purchased: order #1001", None)
    assert steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR).status == "done"
    assert support.messages_of(session, flow_shop) == [] and fake_store.lookups == []


def test_an_order_in_the_mirror_not_yet_evaluated_stops_the_step_itself(session, flow_shop, subscriber, t0, settings,
                                                                        fake_store):
    _, run = _left(session, flow_shop, t0)
    # a guest order with the same address (no customer id) arrived; no evaluation ran since
    support.write(session, flow_shop, support.order(at=t0 + 10 * dt.timedelta(minutes=1), customer=None,
                                                    email="ANA@example.com"))
    outcome = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR)
    assert (outcome.status, outcome.detail) == ("exited", "purchased: order #1001 since the cart was left")
    assert support.messages_of(session, flow_shop) == [] and fake_store.lookups == []
    # an order from before the cart was left does not count
    support.write(session, flow_shop, support.cart("c-2", at=t0 + 2 * HOUR))
    support.evaluate(session, flow_shop, t0 + 2 * HOUR)
    second = support.runs_of(session, flow_shop, CART)[-1]
    assert steps.execute(session, second.id, 0, fake_store.services(settings), now=t0 + 3 * HOUR).status == "sent"


def test_the_store_holding_an_order_whose_webhook_has_not_arrived_stops_the_reminder(session, flow_shop, subscriber,
                                                                                     t0, settings, fake_store):
    _, run = _left(session, flow_shop, t0)
    fake_store.orders = ["5550001"]  # placed in the store; the mirror has not heard of it
    outcome = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR)
    assert outcome.status == "exited"
    run = support.only(session, flow_shop)
    assert run.exit_reason == ("purchased: order 5550001 in the store since the cart was left "
                               "(not yet in the mirror)")
    assert support.messages_of(session, flow_shop) == []


def test_a_store_that_cannot_answer_postpones_the_step_and_never_sends_unchecked(session, flow_shop, subscriber, t0,
                                                                                settings, fake_store):
    _, run = _left(session, flow_shop, t0)
    fake_store.failing = base.RetryableError("503 from the store")
    moment = t0 + HOUR
    for _ in range(1, steps.MAX_ATTEMPTS):
        outcome = steps.execute(session, run.id, 0, fake_store.services(settings), now=moment)
        assert (outcome.status, outcome.scheduled.at) == ("postponed", moment + steps.RETRY_AFTER)
        assert outcome.scheduled.job_id == f"flow-run-{run.id}-step-0-at-{int((moment + steps.RETRY_AFTER).timestamp())}"
        moment += steps.RETRY_AFTER
    last = steps.execute(session, run.id, 0, fake_store.services(settings), now=moment)
    assert (last.status, last.scheduled.step) == ("skipped", 1)
    run = support.only(session, flow_shop)
    assert run.steps[0]["outcome"] == "skipped"
    assert run.steps[0]["reason"] == f"the store could not be asked: 503 from the store ({steps.MAX_ATTEMPTS} tries)"
    assert support.messages_of(session, flow_shop) == []


def test_an_unsubscribe_meanwhile_ends_the_run(session, flow_shop, subscriber, t0, settings, fake_store):
    _, run = _left(session, flow_shop, t0)
    consent.unsubscribe(session, consent.UnsubscribeRequest(flow_shop.id, "ana@example.com", None))
    session.commit()
    outcome = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR)
    assert (outcome.status, outcome.detail) == ("exited", "address suppressed: unsubscribed")
    assert support.messages_of(session, flow_shop) == [] and fake_store.lookups == []


def test_without_marketing_consent_nothing_is_sent(session, flow_shop, t0, settings, fake_store):
    support.write(session, flow_shop, support.customer(state="not_subscribed", at=t0 - HOUR))
    _, run = _left(session, flow_shop, t0)
    outcome = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR)
    assert (outcome.status, outcome.detail) == ("exited", "no marketing consent (state: not_subscribed)")
    assert support.messages_of(session, flow_shop) == []


def test_an_emptied_or_completed_cart_ends_the_run(session, flow_shop, subscriber, t0):
    _, run = _left(session, flow_shop, t0)
    support.write(session, flow_shop, support.cart(at=t0 + 5 * dt.timedelta(minutes=1), lines=0),
                  support.cart("c-2", at=t0))
    result = support.evaluate(session, flow_shop, t0 + 6 * dt.timedelta(minutes=1))
    assert result.exited == 1
    assert support.runs_of(session, flow_shop)[0].exit_reason == "the cart was emptied"
    support.write(session, flow_shop, base.CartCompletion("c-2", t0 + 7 * dt.timedelta(minutes=1)))
    support.evaluate(session, flow_shop, t0 + 8 * dt.timedelta(minutes=1))
    assert [(r.subject_id, r.state, r.exit_reason) for r in support.runs_of(session, flow_shop)] == [
        ("c-1", "exited", "the cart was emptied"), ("c-2", "exited", "purchased: the cart was completed")]


def test_a_spent_budget_moves_the_step_to_when_it_frees_and_it_is_checked_again_then(
        session, flow_shop, subscriber, t0, settings, fake_store):
    _, run = _left(session, flow_shop, t0)
    # another flow's marketing email went to the same address half an hour before the step
    other = Message(shop_id=flow_shop.id, customer_external_id="cust-1", email="ana@example.com",
                    category="marketing", template="win_back", context={"coupon": {"code": "X"}}, dedupe_key="other",
                    status="sent", sent_at=t0 + 30 * dt.timedelta(minutes=1), token="tok-other")
    session.add(other)
    session.commit()
    outcome = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR)
    free = t0 + 30 * dt.timedelta(minutes=1) + 16 * HOUR
    assert (outcome.status, outcome.scheduled.at) == ("postponed", free)
    assert outcome.detail == "contact budget: one marketing email per 16 h"
    assert [m.dedupe_key for m in support.messages_of(session, flow_shop)] == ["other"]  # nothing written yet
    # the shopper buys while it waits: at that moment the step finds it out and sends nothing
    support.write(session, flow_shop, support.order(at=t0 + 5 * HOUR))
    assert steps.execute(session, run.id, 0, fake_store.services(settings), now=free).status == "exited"
    assert [m.dedupe_key for m in support.messages_of(session, flow_shop)] == ["other"]


def test_a_message_the_messaging_room_defers_is_not_written_twice_and_is_skipped_if_the_run_ends(
        session, flow_shop, subscriber, t0, settings, fake_store, channel, mailbox):
    from app.messaging import delivery

    _, run = _left(session, flow_shop, t0)
    sent = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR)
    # another marketing email went out between the step and its delivery: the room defers ours
    session.add(Message(shop_id=flow_shop.id, email="ana@example.com", category="marketing", template="win_back",
                        context={"coupon": {"code": "X"}}, dedupe_key="other", status="sent",
                        sent_at=t0 + HOUR, token="tok-other"))
    session.commit()
    config = support.config(settings)
    outcome = delivery.deliver(session, sent.message_id, channel, config, now=t0 + HOUR)
    assert (outcome.status, outcome.not_before) == ("deferred", t0 + 17 * HOUR)
    # the step job running again writes nothing new
    assert steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + 2 * HOUR).status == "done"
    assert len([m for m in support.messages_of(session, flow_shop) if m.dedupe_key.startswith("flow:")]) == 1
    # the shopper buys meanwhile: the evaluation ends the run and the deferred message is skipped
    support.write(session, flow_shop, support.order(at=t0 + 3 * HOUR))
    support.evaluate(session, flow_shop, t0 + 3 * HOUR)
    later = delivery.deliver(session, sent.message_id, channel, config, now=t0 + 17 * HOUR)
    assert (later.status, later.reason) == ("skipped", "flow run ended: purchased: order #1001")
    assert mailbox.received == []


def test_quiet_hours_move_the_step_to_the_morning_where_it_is_checked_again(session, flow_shop, subscriber, settings,
                                                                            fake_store):
    paris = ZoneInfo("Europe/Paris")
    flow_shop.timezone = "Europe/Paris"
    session.commit()
    left = dt.datetime(2026, 12, 2, 21, 30, tzinfo=paris).astimezone(dt.timezone.utc)
    flow_shop.installed_at = left - dt.timedelta(days=1)
    session.execute(Flow.__table__.update().values(enabled_since=left - dt.timedelta(days=1)))
    session.commit()
    support.write(session, flow_shop, support.cart(at=left))
    support.evaluate(session, flow_shop, left)
    run = support.only(session, flow_shop)
    services = fake_store.services(settings, quiet=QuietHours())
    outcome = steps.execute(session, run.id, 0, services, now=left + HOUR)  # 22:30 in Paris
    morning = dt.datetime(2026, 12, 3, 8, 0, tzinfo=paris).astimezone(dt.timezone.utc)
    assert (outcome.status, outcome.scheduled.at, outcome.detail) == (
        "postponed", morning, "quiet hours 21:00-08:00 (Europe/Paris)")
    assert support.messages_of(session, flow_shop) == [] and fake_store.lookups == []
    # at 08:00 it goes, after the same checks
    assert steps.execute(session, run.id, 0, services, now=morning).status == "sent"
    assert fake_store.lookups == [("ana@example.com", "cust-1", left)]


def test_a_run_found_late_sends_its_latest_due_step_not_all_of_them(session, flow_shop, subscriber, t0, settings,
                                                                    fake_store):
    _, run = _left(session, flow_shop, t0)
    # the worker was down: at 30 h the first step is overtaken by the second, which goes
    first = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + 30 * HOUR)
    assert (first.status, first.detail, first.scheduled.step, first.scheduled.at) == (
        "skipped", "overtaken: a later step is already due", 1, t0 + 24 * HOUR)
    assert steps.execute(session, run.id, 1, fake_store.services(settings), now=t0 + 30 * HOUR).status == "sent"
    assert [m.dedupe_key for m in support.messages_of(session, flow_shop)] == [f"flow:{run.id}:1"]


def test_carts_found_too_late_for_every_step_or_from_before_the_flow_start_no_run(session, flow_shop, subscriber, t0):
    # a cart first seen when even its last step (72 h) is more than 12 h past
    support.write(session, flow_shop, support.cart(at=t0))
    assert support.evaluate(session, flow_shop, t0 + 84 * HOUR + dt.timedelta(minutes=1)).started == []
    # and a cart from before the flow was enabled
    support.write(session, flow_shop, support.cart("c-old", at=flow_shop.installed_at - HOUR))
    assert support.evaluate(session, flow_shop, flow_shop.installed_at + HOUR).started == []
    assert support.runs_of(session, flow_shop) == []


def test_a_cart_changed_before_its_first_reminder_counts_from_the_change(session, flow_shop, subscriber, t0):
    _, run = _left(session, flow_shop, t0)
    support.write(session, flow_shop, support.cart(at=t0 + 40 * dt.timedelta(minutes=1), lines=2))
    result = support.evaluate(session, flow_shop, t0 + 41 * dt.timedelta(minutes=1))
    moved = t0 + 40 * dt.timedelta(minutes=1) + HOUR
    assert [(s.run_id, s.step, s.at) for s in result.started] == [(run.id, 0, moved)]
    run = support.only(session, flow_shop)
    assert (run.reference_at, run.next_at) == (t0 + 40 * dt.timedelta(minutes=1), moved)


def test_the_last_step_offers_one_code_made_for_the_shopper(session, flow_shop, subscriber, t0, settings, fake_store):
    support.set_flow(session, flow_shop, CART, steps={"2": {"incentive": {
        "kind": "percentage", "value": "10", "expires_hours": 48, "minimum_subtotal": "20"}}})
    _, run = _left(session, flow_shop, t0)
    session.execute(FlowRun.__table__.update().values(next_step=2, next_at=t0 + 72 * HOUR))
    session.commit()
    outcome = steps.execute(session, run.id, 2, fake_store.services(settings), now=t0 + 72 * HOUR)
    assert outcome.status == "sent"
    (code,) = fake_store.codes
    assert (code.kind, code.value, code.usage_limit, code.customer_external_id, code.customer_email,
            code.expires_at, code.minimum_subtotal, code.combinable) == (
        "percentage", 10, 1, "cust-1", "ana@example.com", t0 + 120 * HOUR, 20, False)
    assert code.code.startswith("CB-") and len(code.code) == 13
    message = session.get(Message, outcome.message_id)
    assert message.context["coupon"] == {"code": code.code, "description": "10% off",
                                         "expires_at": (t0 + 120 * HOUR).isoformat()}
    assert support.only(session, flow_shop).steps[-1]["coupon"] == code.code
    # the same step of the same run always asks for the same code (a retry finds it in the store)
    from app.flows import incentives

    assert incentives.code_for(settings.secret_key, flow_shop.id, run.id, 2) == code.code
    assert incentives.code_for(settings.secret_key, flow_shop.id, run.id + 1, 2) != code.code


def test_a_disabled_flow_starts_nothing_and_ends_its_runs(session, flow_shop, subscriber, t0, settings, fake_store):
    _, run = _left(session, flow_shop, t0)
    support.set_flow(session, flow_shop, CART, enabled=False)
    assert steps.execute(session, run.id, 0, fake_store.services(settings), now=t0 + HOUR).status == "exited"
    assert support.only(session, flow_shop).exit_reason == "the flow was disabled"
    support.write(session, flow_shop, support.cart("c-9", at=t0 + 2 * HOUR))
    assert support.evaluate(session, flow_shop, t0 + 2 * HOUR).started == []
    assert session.execute(select(FlowRun.id)).scalars().all() == [run.id]


def test_a_cart_without_an_address_reaches_its_customer_and_one_without_either_starts_nothing(
        session, flow_shop, subscriber, t0):
    support.write(session, flow_shop, support.cart(at=t0, email=None),
                  support.cart("c-anon", at=t0, email=None, customer=None))
    support.evaluate(session, flow_shop, t0)
    run = support.only(session, flow_shop)
    assert (run.subject_id, run.email, run.customer_external_id) == ("c-1", "ana@example.com", "cust-1")


def test_a_steps_own_conditions_pass_over_it_and_the_run_goes_on(session, flow_shop, subscriber, t0, settings,
                                                                 fake_store):
    support.set_flow(session, flow_shop, CART, steps={"1": {"conditions": {"unless_clicked": True}},
                                                     "2": {"conditions": {"min_total": "50"}}})
    _, run = _left(session, flow_shop, t0)
    services = fake_store.services(settings)
    first = steps.execute(session, run.id, 0, services, now=t0 + HOUR)
    session.execute(Message.__table__.update().values(status="sent", sent_at=t0 + HOUR,
                                                      clicked_at=t0 + 2 * HOUR))
    session.commit()
    second = steps.execute(session, run.id, 1, services, now=t0 + 24 * HOUR)
    assert (second.status, second.detail) == ("skipped", "an earlier message of this run was clicked")
    third = steps.execute(session, run.id, 2, services, now=t0 + 72 * HOUR)
    assert (third.status, third.detail) == ("completed", "the total 40.00 is below the step's minimum 50")
    assert [m.id for m in support.messages_of(session, flow_shop)] == [first.message_id]
    assert [e["outcome"] for e in support.only(session, flow_shop).steps] == ["sent", "skipped", "skipped"]
