"""The flow jobs on real RQ: a step scheduled once under its own id, taken once, swept up when lost."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from rq.registry import ScheduledJobRegistry

from app.extensions import db
from app.store.models import FlowRun, LoyaltyEvent, LoyaltyMember
from app.store.types import utcnow
from jobs import flows as flow_jobs
from jobs.queues import queue
from tests.flows import support
from tests.helpers import run_jobs


@pytest.fixture()
def jobs_store(monkeypatch, fake_store, settings, app, flows_smtp_server):
    """Step jobs ask the fake store; delivery goes to the flows' SMTP server at any hour."""
    configured = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=flows_smtp_server.port,
                                     messaging_quiet_hours="")
    monkeypatch.setitem(app.extensions, "comeback.settings", configured)
    monkeypatch.setattr(flow_jobs, "services_for", lambda session, shop: fake_store.services(configured))
    return fake_store


def _scheduled() -> dict[str, dt.datetime]:
    registry = ScheduledJobRegistry(queue=queue("default"))
    return {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()
            if job_id.startswith("flow-run-")}


def _cart_left_now(session, shop):
    left = utcnow().replace(microsecond=0)
    support.write(session, shop, support.cart(at=left))
    return left


def test_a_run_schedules_its_step_for_its_moment_once_under_its_own_id(session, flow_shop, subscriber, jobs_store):
    left = _cart_left_now(session, flow_shop)
    flow_jobs.request_evaluation(flow_shop.id)
    flow_jobs.evaluate_flows(flow_shop.id)
    run = support.only(db.session(), flow_shop)
    assert _scheduled() == {f"flow-run-{run.id}-step-0": left + support.HOUR}
    # the evaluation again, and the sweep: still the one job
    flow_jobs.request_evaluation(flow_shop.id)
    flow_jobs.evaluate_flows(flow_shop.id)
    flow_jobs.request_step(support.only(db.session(), flow_shop))
    assert list(_scheduled()) == [f"flow-run-{run.id}-step-0"]


def test_the_step_job_run_twice_writes_and_sends_one_message(session, flow_shop, subscriber, jobs_store, mailbox):
    left = _cart_left_now(session, flow_shop)
    flow_jobs.evaluate_flows(flow_shop.id)
    # run_jobs runs scheduled jobs at once: before its moment the step does nothing
    assert run_jobs() == []
    assert support.messages_of(db.session(), flow_shop) == [] and mailbox.received == []
    # an hour later (the run's moment moved back an hour instead of waiting)
    session = db.session()
    session.execute(FlowRun.__table__.update().values(next_at=left - dt.timedelta(seconds=1),
                                                      reference_at=left - support.HOUR))
    session.commit()
    run = support.only(session, flow_shop)
    flow_jobs.request_step(run)
    flow_jobs.request_step(run)  # a duplicate request: the same job id, kept once
    assert queue("default").get_job_ids().count(f"flow-run-{run.id}-step-0") == 1
    assert run_jobs() == []
    assert flow_jobs.run_flow_step(run.id, 0) == "done"  # and the job itself a second time
    (message,) = support.messages_of(db.session(), flow_shop)
    assert (message.dedupe_key, message.status) == (f"flow:{run.id}:0", "sent")
    (received,) = mailbox.received
    assert received.rcpt_tos == ["ana@example.com"]
    assert received.message["Subject"] == "Ana, your cart at Nord is waiting"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the next step waits for its own moment, under its own id
    run = support.only(db.session(), flow_shop)
    assert (run.next_step, run.job_id) == (1, f"flow-run-{run.id}-step-1")
    assert f"flow-run-{run.id}-step-1" not in _scheduled()  # run_jobs ran it early: it did nothing
    assert run.state == "active" and len(support.messages_of(db.session(), flow_shop)) == 1


def test_the_sweep_queues_a_due_step_whose_job_was_lost(session, flow_shop, subscriber, jobs_store, mailbox):
    left = _cart_left_now(session, flow_shop)
    flow_jobs.evaluate_flows(flow_shop.id)
    run = support.only(db.session(), flow_shop)
    from jobs.queues import cancel

    assert cancel([run.job_id]) == 1  # lost (Redis flushed, a worker crashed before it scheduled)
    session = db.session()
    session.execute(FlowRun.__table__.update().values(next_at=left - 5 * dt.timedelta(minutes=1),
                                                      reference_at=left - support.HOUR))
    session.commit()
    assert flow_jobs.sweep_flows() == 1
    assert f"flow-run-{run.id}-step-0" in queue("default").get_job_ids()
    assert run_jobs() == []
    assert [m.status for m in support.messages_of(db.session(), flow_shop)] == ["sent"]
    assert len(mailbox.received) == 1


def test_a_run_not_yet_due_is_left_to_its_job(session, flow_shop, subscriber, jobs_store):
    _cart_left_now(session, flow_shop)
    flow_jobs.evaluate_flows(flow_shop.id)
    assert flow_jobs.sweep_flows() == 0


def test_new_loyalty_events_are_found_by_the_sweep(session, flow_shop, subscriber, jobs_store, mailbox):
    member = LoyaltyMember(shop_id=flow_shop.id, customer_external_id="cust-1", email="ana@example.com")
    session.add(member)
    session.commit()
    session.add(LoyaltyEvent(shop_id=flow_shop.id, member_id=member.id, kind="tier_changed", key="tier:1",
                             payload={"previous": "Bronze", "tier": "Silver", "direction": "upgrade"}))
    session.commit()
    assert flow_jobs.sweep_flows() == 1
    assert run_jobs() == []
    (run,) = support.runs_of(db.session(), flow_shop, "tier_upgrade")
    (message,) = support.messages_of(db.session(), flow_shop)
    assert (run.state, message.template, message.category, message.status, message.context["tier"]) == (
        "completed", "tier_upgrade", "transactional", "sent", "Silver")
    assert mailbox.received[0].message["Subject"] == "You've reached Silver at Nord"
    assert flow_jobs.sweep_flows() == 0  # the cursor moved past it
