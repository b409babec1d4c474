"""Jobs of the flow engine: evaluate triggers, take steps at their moment, sweep what was lost.

* ``request_evaluation`` is called after every inbox drain that applied events: a queued
  evaluation sees everything committed before it runs; one requested while it runs makes it go
  round once more (the inbox's own pattern).
* ``run_flow_step`` takes one step of one run; it is scheduled with RQ's scheduler
  (``enqueue_in`` through ``jobs.queues.enqueue``) for the step's moment, with the id
  ``flow-run-<run>-step-<n>`` (a step moved to a later moment adds ``-at-<time>``), so a trigger
  seen twice, a retry or a restart never queues it twice, and the step itself writes one
  message per (run, step) whatever runs it.
* ``sweep_flows`` (every minute) queues the step of every due run whose job was lost, and the
  evaluation of shops with loyalty events not looked at yet; ``flow_upkeep_all_shops`` (hourly)
  looks for customers who just lapsed (win-back).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from redis import RedisError
from rq import get_current_job
from sqlalchemy import func, select

from app import installs, platforms
from app.extensions import db
from app.flows import runs, steps, triggers
from app.messaging.delivery import DeliveryConfig
from app.store.models import FlowCursor, FlowRun, LoyaltyEvent, Shop
from app.store.types import utcnow
from connectors import base
from jobs.context import app_settings, with_app
from jobs.queues import cancel, clear_flag, enqueue, enqueue_once_more, flag_set

log = logging.getLogger(__name__)

QUEUE = "default"
_MAX_ROUNDS = 10
SWEEP_LIMIT = 1000
# A due run is looked at by the sweep only once its own job had this long to start.
LOST_AFTER = dt.timedelta(minutes=2)


def evaluate_job_id(shop_id: int) -> str:
    return f"flows-evaluate-{shop_id}"


def _dirty_key(shop_id: int) -> str:
    return f"cb:flows:dirty:{shop_id}"


def request_evaluation(shop_id: int) -> None:
    """Queue the evaluation of the shop's triggers (after the transaction that wrote them committed)."""
    enqueue_once_more(evaluate_flows, shop_id, queue_name=QUEUE, job_id=evaluate_job_id(shop_id),
                      flag=_dirty_key(shop_id))


@with_app
def evaluate_flows(shop_id: int) -> dict[str, int]:
    """Start and end runs for what the mirror and the program learned since the last look."""
    session = db.session()
    totals = {"started": 0, "exited": 0}
    for _ in range(_MAX_ROUNDS):
        clear_flag(_dirty_key(shop_id))
        shop = session.get(Shop, shop_id)
        if shop is None or shop.status != "active":
            return totals
        result = triggers.evaluate(session, shop_id)
        totals["started"] += len(result.started)
        totals["exited"] += result.exited
        _schedule(result.started)
        cancel(result.cancelled)
        if not result.more and not flag_set(_dirty_key(shop_id)):
            break
        session.rollback()
    if totals["started"] or totals["exited"]:
        log.info("shop=%s flows evaluated: %s", shop_id, totals)
    return totals


def _schedule(scheduled: Iterable[runs.Scheduled]) -> None:
    """Queue step jobs for their moments (after the commit that made them due)."""
    now = utcnow()
    for item in scheduled:
        delay = item.at - now
        enqueue(run_flow_step, item.run_id, item.step, queue_name=QUEUE, job_id=item.job_id,
                delay=delay if delay > dt.timedelta(0) else None, retries=2)


def request_step(run: FlowRun) -> None:
    """Queue a run's next step again (the sweep; a test that moved the clock)."""
    if run.state == "active" and run.next_at is not None:
        _schedule([runs.Scheduled(run.id, run.next_step, run.next_at,
                                  run.job_id or runs.step_job_id(run.id, run.next_step))])


def services_for(session, shop: Shop) -> steps.Services:
    """What a step needs from the store: the order lookup (where the platform has one) and discount codes."""
    connector = platforms.connector(shop.platform)
    lookup = None
    if base.CAP_ORDER_LOOKUP in connector.capabilities:
        def lookup(email, customer_external_id, since):
            return installs.call_with_credentials(session, shop, lambda credentials: connector.orders_since(  # type: ignore[attr-defined]
                credentials, email=email, customer_external_id=customer_external_id, since=since))

    def make_discounts(specs):
        return installs.call_with_credentials(session, shop,
                                              lambda credentials: connector.create_discounts(credentials, specs))

    return steps.Services(config=DeliveryConfig.from_settings(app_settings()), order_lookup=lookup,
                          make_discounts=make_discounts)


@with_app
def run_flow_step(run_id: int, step: int) -> str:
    """Take one step of one run if it is still due (re-checked just before); never twice."""
    from jobs.messaging import request_delivery

    session = db.session()
    run = session.get(FlowRun, run_id)
    if run is None:
        return "done"
    shop = session.get(Shop, run.shop_id)
    if shop is None:
        return "done"
    outcome = steps.execute(session, run_id, step, services_for(session, shop))
    if outcome.message_id is not None:
        try:
            request_delivery(outcome.message_id)
        except RedisError as error:  # the message stays queued: the messaging sweep sends it
            log.warning("shop=%s message=%s delivery not queued (%s)", shop.id, outcome.message_id,
                        type(error).__name__)
    if outcome.scheduled is not None:
        _schedule([outcome.scheduled])
    current = get_current_job()
    cancel([job_id for job_id in outcome.cancelled if current is None or job_id != current.id])
    return outcome.status


@with_app
def sweep_flows() -> int:
    """Queue the steps of due runs whose job was lost, and evaluations of shops with new loyalty events."""
    session = db.session()
    due = session.execute(select(FlowRun).where(FlowRun.state == "active",
                                                FlowRun.next_at <= utcnow() - LOST_AFTER)
                          .order_by(FlowRun.next_at).limit(SWEEP_LIMIT)
                          .execution_options(populate_existing=True)).scalars().all()
    for run in due:
        request_step(run)  # a job still waiting keeps its place
    newest = (select(LoyaltyEvent.shop_id, func.max(LoyaltyEvent.id).label("newest"))
              .group_by(LoyaltyEvent.shop_id).subquery())
    behind = session.execute(
        select(Shop.id).join(newest, newest.c.shop_id == Shop.id)
        .outerjoin(FlowCursor, FlowCursor.shop_id == Shop.id)
        .where(Shop.status == "active", newest.c.newest > func.coalesce(FlowCursor.loyalty_event_id, 0))
    ).scalars().all()
    session.commit()
    for shop_id in behind:
        request_evaluation(shop_id)
    return len(due) + len(behind)


def upkeep_job_id(shop_id: int) -> str:
    return f"flows-upkeep-{shop_id}"


@with_app
def flow_upkeep(shop_id: int) -> int:
    """What time alone starts: customers whose last order just became ``lapsed_days`` old (win-back)."""
    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        return 0
    started = triggers.scan_lapsed(session, shop_id)
    _schedule(started)
    if started:
        log.info("shop=%s win-back started %s runs", shop_id, len(started))
    return len(started)


@with_app
def flow_upkeep_all_shops() -> int:
    """Queue the upkeep of every active shop (periodic)."""
    session = db.session()
    shop_ids = session.execute(select(Shop.id).where(Shop.status == "active")).scalars().all()
    for shop_id in shop_ids:
        enqueue(flow_upkeep, shop_id, queue_name=QUEUE, job_id=upkeep_job_id(shop_id))
    return len(shop_ids)
