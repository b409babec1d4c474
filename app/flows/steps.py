"""Take one step of one run: re-check, then write its message (or, held out, what it would have sent).

The order of a step, each part safe to repeat:

1. The run still waits for this step and it is due; the flow is still enabled; a later step
   already due overtakes this one (a run found late sends its latest step, not all of them).
2. The mirror re-check (``conditions``): an exit ends the run, a skip passes over the step.
3. Marketing mail that would wait for the contact budget or quiet hours moves the step to the
   moment it may go (``timing``): it is re-checked then, not sent on what is true now.
4. For a cart, the store itself is asked for an order since the cart was left (a webhook that
   has not arrived yet cannot produce a reminder). A store that cannot answer postpones the
   step; after ``MAX_ATTEMPTS`` the step is skipped, never sent unchecked.
5. The incentive's code is made in the store (the same code on a retry).
6. The run is locked and the mirror checked once more; then the message is written through the
   messaging outbox with ``dedupe_key = flow:<run>:<step>`` (a second execution finds it) and
   the run moves on, in one transaction. The caller queues the delivery after the commit.

A holdout run goes through 1 to 4 and 6 alike, but records what it would have sent instead of
writing a message (and makes no code).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.flows import conditions, content, definitions, incentives, runs, timing
from app.messaging import outbox
from app.messaging.delivery import DeliveryConfig
from app.store.models import FlowRun, Shop
from app.store.types import utcnow
from connectors import base

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RETRY_AFTER = dt.timedelta(minutes=10)
# A step that counts from the fulfilment looks again this often until the order is fulfilled, and
# gives up when it is not within the limit of the order's time.
FULFILMENT_RECHECK = dt.timedelta(hours=6)
FULFILMENT_LIMIT = dt.timedelta(days=60)
REAUTHORIZE_WAIT = dt.timedelta(hours=1)

# Asks the store for orders by this address or customer since a moment: their numbers or ids.
OrderLookup = Callable[[str | None, str | None, dt.datetime], Sequence[str]]
# Creates discount codes in the store.
DiscountMaker = Callable[[Sequence[base.DiscountSpec]], Sequence[base.DiscountResult]]


@dataclasses.dataclass(frozen=True)
class Services:
    """What a step needs from outside the database (given by the job; tests give their own)."""

    config: DeliveryConfig
    order_lookup: OrderLookup | None = None  # None: the platform cannot look orders up
    make_discounts: DiscountMaker | None = None


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str  # done | not_due | sent | held_out | skipped | exited | completed | postponed
    detail: str | None = None
    message_id: int | None = None
    scheduled: runs.Scheduled | None = None  # the next job to queue after the commit
    cancelled: tuple[str, ...] = ()


def execute(session: Session, run_id: int, step: int, services: Services,
            now: dt.datetime | None = None) -> Outcome:
    """Take the step if it is still this run's next and due; commits. Safe to call twice or at once."""
    now = now or utcnow()
    session.commit()
    run = _load(session, run_id)
    if run is None or run.state != "active" or run.next_step != step:
        return Outcome("done")
    if run.next_at is not None and run.next_at > now:
        return Outcome("not_due", f"due at {run.next_at.isoformat()}")
    shop = session.get(Shop, run.shop_id)
    if shop is None or shop.status in ("uninstalled", "redacted"):
        return _exit(session, run_id, step, "the store is no longer connected", now)
    if shop.status != "active":
        return _postpone(session, run_id, step, now + REAUTHORIZE_WAIT, "the store must be authorized again", now)
    flow = definitions.version(session, shop.id, run.flow_key, run.flow_version)
    latest = definitions.current(session, shop.id, run.flow_key)
    if flow is None or latest is None or not latest.is_enabled:
        return _exit(session, run_id, step, "the flow was disabled", now)
    definition = flow.steps[step]
    after_fulfilment = definition.get("after") == "fulfilment"
    later = runs.first_step(flow, step)
    # (a step waiting for a fulfilment is not overtaken: its moment was unknown when the later one's was set)
    if later is not None and not after_fulfilment and runs.due_at(run.reference_at, flow, later) <= now:
        return _skip(session, run_id, step, flow, "overtaken: a later step is already due", now)
    reason = conditions.exit_reason(session, run, flow)
    if reason is not None:
        return _exit(session, run_id, step, reason, now)
    skip = conditions.skip_reason(session, run, definition)
    if skip is not None:
        return _skip(session, run_id, step, flow, skip, now)
    if after_fulfilment:
        waits = _fulfilment_wait(session, run, step, flow, now)
        if waits is not None:
            return waits
    email, customer_id = conditions.recipient(session, run)
    assert email is not None  # exit_reason made sure
    if flow.built_in.category == "marketing":
        wait = timing.send_wait(session, shop, email, services.config, now)
        if wait is not None:
            return _postpone(session, run_id, step, wait[0], wait[1], now)
    if run.subject_kind == "cart":
        checked = _store_has_order(session, run, email, customer_id, services, now)
        if checked is not None:
            return checked
    coupon = None
    incentive = definition.get("incentive")
    if incentive and not run.is_holdout:
        made = _make_code(session, shop, run, step, flow, incentive, email, customer_id, services, now)
        if isinstance(made, Outcome):
            return made
        coupon = made
    if incentive and definitions.BUILT_INS[flow.key].incentive == "required" and coupon is None and not run.is_holdout:
        return _skip(session, run_id, step, flow, "its code could not be made", now)
    # 6: locked, checked once more, written once.
    run = _lock(session, run_id, step)
    if run is None:
        session.commit()
        return Outcome("done")
    reason = conditions.exit_reason(session, run, flow)
    if reason is not None:
        session.rollback()
        return _exit(session, run_id, step, reason, now)
    context = content.build(session, shop, run, flow, definition, coupon)
    entry: dict[str, Any] = {"step": step, "id": definition["id"], "template": definition["template"],
                             "at": now.isoformat()}
    message_id = None
    if run.is_holdout:
        entry.update(outcome="held_out", would_offer=incentives.describe(incentive) if incentive else None)
        status = "held_out"
    else:
        try:
            created = outbox.create_message(
                session, shop.id, template=definition["template"], dedupe_key=runs.dedupe_key(run.id, step),
                context=context, email=email, customer_external_id=customer_id,
                category=flow.built_in.category, priority=int(flow["priority"]), now=now)
        except outbox.MessageError as error:
            session.rollback()
            return _skip(session, run_id, step, flow, f"the message could not be written: {error}", now)
        message_id = created.message.id
        entry.update(outcome="sent", message_id=message_id, coupon=coupon["code"] if coupon else None)
        status = "sent"
    runs.record(run, entry)
    scheduled = runs.advance(run, flow, step, now)
    session.commit()
    log.info("shop=%s flow=%s run=%s step=%s %s%s", shop.id, flow.key, run_id, step, status,
             f" message={message_id}" if message_id else "")
    return Outcome(status, message_id=message_id, scheduled=scheduled)


def _load(session: Session, run_id: int) -> FlowRun | None:
    return session.execute(select(FlowRun).where(FlowRun.id == run_id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def _lock(session: Session, run_id: int, step: int) -> FlowRun | None:
    """Hold the run (a row lock on PostgreSQL, the write lock on SQLite); None if it moved on meanwhile."""
    session.commit()
    session.execute(update(FlowRun).where(FlowRun.id == run_id).values(attempts=FlowRun.attempts))
    run = _load(session, run_id)
    if run is None or run.state != "active" or run.next_step != step:
        return None
    return run


def _fulfilment_wait(session: Session, run: FlowRun, step: int, flow: definitions.FlowVersion,
                     now: dt.datetime) -> Outcome | None:
    """Postpone a step that counts from the order's fulfilment until its moment; None when it has come."""
    order = conditions.order_of(session, run)
    if order is None:
        return None  # the exit check already ended a run whose order is gone
    delay = dt.timedelta(hours=float(flow.steps[step]["delay_hours"]))
    if order.fulfilled_at is None:
        if now - run.reference_at >= FULFILMENT_LIMIT:
            return _skip(session, run.id, step, flow,
                         f"the order was not fulfilled within {FULFILMENT_LIMIT.days} days", now)
        return _postpone(session, run.id, step, now + FULFILMENT_RECHECK, "waits for the order's fulfilment", now)
    moment = order.fulfilled_at + delay
    if moment > now:
        return _postpone(session, run.id, step, moment, f"{flow.steps[step]['delay_hours']:g} h after the fulfilment",
                         now)
    return None


def _store_has_order(session: Session, run: FlowRun, email: str, customer_id: str | None, services: Services,
                     now: dt.datetime) -> Outcome | None:
    """Ask the store for an order since the cart was left: an exit, a postponement, or None to go on."""
    if services.order_lookup is None:
        return None
    try:
        found = services.order_lookup(email, customer_id, run.reference_at)
    except (base.RetryableError, base.AuthRevokedError) as error:
        session.rollback()
        return _unreachable(session, run.id, run.next_step, f"the store could not be asked: {error}", now)
    except base.TerminalError as error:
        session.rollback()
        return _unreachable(session, run.id, run.next_step, f"the store refused the order lookup: {error}", now)
    if found:
        return _exit(session, run.id, run.next_step,
                     f"purchased: order {found[0]} in the store since the cart was left (not yet in the mirror)", now)
    return None


def _make_code(session: Session, shop: Shop, run: FlowRun, step: int, flow: definitions.FlowVersion,
               incentive: dict[str, Any], email: str, customer_id: str | None, services: Services,
               now: dt.datetime) -> dict[str, Any] | Outcome | None:
    """The step's coupon (made in the store), an outcome when it must wait, or None when refused."""
    if services.make_discounts is None:
        return None
    discount = incentives.spec(incentive, code=incentives.code_for(services.config.secret_key, shop.id, run.id, step),
                               title=f"Comeback: {flow.built_in.name}", now=now, customer_external_id=customer_id,
                               email=email)
    try:
        (result,) = services.make_discounts([discount])
    except (base.RetryableError, base.AuthRevokedError) as error:
        session.rollback()
        return _unreachable(session, run.id, step, f"the code could not be made yet: {error}", now)
    except base.TerminalError as error:
        log.warning("shop=%s run=%s step=%s code refused: %s", shop.id, run.id, step, error)
        return None
    if result.error:
        log.warning("shop=%s run=%s step=%s code refused: %s", shop.id, run.id, step, result.error)
        return None
    return incentives.coupon(discount, incentive)


def _unreachable(session: Session, run_id: int, step: int, reason: str, now: dt.datetime) -> Outcome:
    """Try again in a while; after ``MAX_ATTEMPTS`` pass over the step rather than send it unchecked."""
    run = _lock(session, run_id, step)
    if run is None:
        session.commit()
        return Outcome("done")
    run.attempts += 1
    if run.attempts >= MAX_ATTEMPTS:
        flow = definitions.version(session, run.shop_id, run.flow_key, run.flow_version)
        assert flow is not None
        session.commit()
        return _skip(session, run_id, step, flow, f"{reason} ({MAX_ATTEMPTS} tries)", now)
    scheduled = runs.postpone(run, now + RETRY_AFTER)
    session.commit()
    return Outcome("postponed", reason, scheduled=scheduled)


def _postpone(session: Session, run_id: int, step: int, at: dt.datetime, reason: str, now: dt.datetime) -> Outcome:
    run = _lock(session, run_id, step)
    if run is None:
        session.commit()
        return Outcome("done")
    scheduled = runs.postpone(run, at)
    session.commit()
    log.info("shop=%s run=%s step=%s waits until %s: %s", run.shop_id, run_id, step, at.isoformat(), reason)
    return Outcome("postponed", reason, scheduled=scheduled)


def _skip(session: Session, run_id: int, step: int, flow: definitions.FlowVersion, reason: str,
          now: dt.datetime) -> Outcome:
    run = _lock(session, run_id, step)
    if run is None:
        session.commit()
        return Outcome("done")
    runs.record(run, {"step": step, "id": flow.steps[step]["id"], "template": flow.steps[step]["template"],
                      "at": now.isoformat(), "outcome": "skipped", "reason": reason})
    scheduled = runs.advance(run, flow, step, now)
    session.commit()
    return Outcome("skipped" if scheduled else "completed", reason, scheduled=scheduled)


def _exit(session: Session, run_id: int, step: int, reason: str, now: dt.datetime) -> Outcome:
    run = _lock(session, run_id, step)
    if run is None:
        session.commit()
        return Outcome("done")
    cancelled = runs.end(session, [run], reason, now=now)
    session.commit()
    log.info("shop=%s run=%s exited at step %s: %s", run.shop_id, run_id, step, reason)
    return Outcome("exited", reason, cancelled=tuple(cancelled))
