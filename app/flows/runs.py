"""Flow runs: start one per trigger (once), move it step by step, end it (and what it left queued).

A run is a row: its flow version, its subject, ``next_step`` and ``next_at``, and the id of the
job that will take the step (``job_id``). Starting is ``INSERT … ON CONFLICT DO NOTHING`` on
``(shop, flow, trigger_key)``: the same trigger twice (a replayed webhook, two evaluations at
once) starts one run. Ending it marks its still-unsent messages ``skipped``, so a message the
messaging room deferred (quiet hours, the budget) never goes out after the run's reason to
exist is gone, and hands back the scheduled job to cancel.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.flows import definitions, holdout
from app.store.models import FlowRun, Message
from app.store.models.messaging import OPEN_STATUSES
from app.store.types import utcnow
from app.store.upsert import insert_ignore


def step_job_id(run_id: int, step: int, at: dt.datetime | None = None) -> str:
    """The job that takes a step: one per (run, step); a step moved to a later moment gets that moment too."""
    return f"flow-run-{run_id}-step-{step}" + (f"-at-{int(at.timestamp())}" if at is not None else "")


def dedupe_key(run_id: int, step: int) -> str:
    """The message a step writes: the same step run twice writes one message."""
    return f"flow:{run_id}:{step}"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """Something that may start a run of a flow."""

    trigger_key: str
    subject_kind: str
    subject_id: str
    reference_at: dt.datetime
    customer_external_id: str | None = None
    email: str | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Scheduled:
    """A step job to queue after the commit."""

    run_id: int
    step: int
    at: dt.datetime
    job_id: str


def first_step(flow: definitions.FlowVersion, after: int = -1) -> int | None:
    """The first enabled step after position ``after``, or None when there is none."""
    for position in range(after + 1, len(flow.steps)):
        if flow.steps[position]["enabled"]:
            return position
    return None


def due_at(run_reference: dt.datetime, flow: definitions.FlowVersion, step: int) -> dt.datetime:
    return run_reference + dt.timedelta(hours=float(flow.steps[step]["delay_hours"]))


def start(session: Session, shop_id: int, flow: definitions.FlowVersion, candidates: Sequence[Candidate],
          now: dt.datetime | None = None) -> list[Scheduled]:
    """Start a run for each candidate not seen before; return the first step of each new run to queue."""
    now = now or utcnow()
    step = first_step(flow)
    if not candidates or step is None:
        return []
    share = float(flow["holdout_share"])
    rows = []
    for candidate in {c.trigger_key: c for c in candidates}.values():
        email = candidate.email.strip().lower() if candidate.email else None
        who = holdout.identity(candidate.customer_external_id, email)
        rows.append({
            "shop_id": shop_id, "flow_key": flow.key, "flow_version": flow.version,
            "trigger_key": candidate.trigger_key[:191], "subject_kind": candidate.subject_kind,
            "subject_id": candidate.subject_id[:64], "customer_external_id": candidate.customer_external_id,
            "email": email, "state": "active", "next_step": step,
            "next_at": due_at(candidate.reference_at, flow, step), "reference_at": candidate.reference_at,
            "started_at": now, "finished_at": None, "exit_reason": None,
            "is_holdout": holdout.is_held_out(shop_id, flow.key, who, share), "data": candidate.data,
            "steps": [], "job_id": None, "attempts": 0, "updated_at": now,
        })
    inserted = insert_ignore(session, FlowRun.__table__, rows,  # type: ignore[arg-type]
                             conflict=("shop_id", "flow_key", "trigger_key"), returning=("id", "next_at"))
    scheduled = []
    for run_id, next_at in inserted:
        job_id = step_job_id(run_id, step)
        session.execute(update(FlowRun).where(FlowRun.id == run_id).values(job_id=job_id))
        scheduled.append(Scheduled(run_id, step, next_at, job_id))
    return scheduled


def end(session: Session, runs: Sequence[FlowRun], reason: str, *, state: str = "exited",
        now: dt.datetime | None = None) -> list[str]:
    """End active runs with a reason; skip their unsent messages; return the step jobs to cancel."""
    now = now or utcnow()
    cancelled: list[str] = []
    for run in runs:
        job_id = run.job_id  # read first: the update below changes the loaded row too
        done = _rowcount(session.execute(
            update(FlowRun).where(FlowRun.id == run.id, FlowRun.state == "active")
            .values(state=state, exit_reason=reason[:1000], finished_at=now, next_at=None, job_id=None, updated_at=now)
        ))
        if not done:
            continue
        if job_id:
            cancelled.append(job_id)
        skip_open_messages(session, run, f"flow run ended: {reason}")
    return cancelled


def skip_open_messages(session: Session, run: FlowRun, reason: str) -> int:
    """Messages of the run still waiting (queued, deferred) will not be sent.

    The same guarded status change the delivery makes (``WHERE status IN ('queued',
    'deferred')``): a message a worker already claimed is left to finish.
    """
    ids = [entry["message_id"] for entry in (run.steps or []) if entry.get("message_id")]
    if not ids:
        return 0
    return _rowcount(session.execute(
        update(Message).where(Message.shop_id == run.shop_id, Message.id.in_(ids), Message.status.in_(OPEN_STATUSES))
        .values(status="skipped", reason=reason[:1000])
    ))


def _rowcount(result: Any) -> int:
    """Rows an UPDATE changed (a ``CursorResult``'s count)."""
    return int(getattr(result, "rowcount", 0) or 0)


def active_runs(session: Session, shop_id: int, flow_keys: Sequence[str], *, subject_ids: Sequence[str] = (),
                emails: Sequence[str] = (), customer_ids: Sequence[str] = ()) -> list[FlowRun]:
    """Active runs of these flows about any of these subjects, addresses or customers."""
    from sqlalchemy import or_

    match = []
    if subject_ids:
        match.append(FlowRun.subject_id.in_(list(subject_ids)))
    if emails:
        match.append(FlowRun.email.in_([e.lower() for e in emails]))
    if customer_ids:
        match.append(FlowRun.customer_external_id.in_(list(customer_ids)))
    if not match:
        return []
    return list(session.execute(
        select(FlowRun).where(FlowRun.shop_id == shop_id, FlowRun.flow_key.in_(list(flow_keys)),
                              FlowRun.state == "active", or_(*match))
        .execution_options(populate_existing=True)).scalars().all())


def record(run: FlowRun, entry: dict[str, Any]) -> None:
    """Add a step's outcome to the run's log (a new list: the JSON column is rewritten)."""
    run.steps = [*(run.steps or []), entry]


def advance(run: FlowRun, flow: definitions.FlowVersion, after: int, now: dt.datetime) -> Scheduled | None:
    """Move the run past step ``after``: to its next enabled step, or completed."""
    step = first_step(flow, after)
    run.attempts = 0
    if step is None:
        run.state, run.finished_at, run.next_at, run.job_id = "completed", now, None, None
        run.next_step = len(flow.steps)
        return None
    run.next_step = step
    run.next_at = due_at(run.reference_at, flow, step)
    run.job_id = step_job_id(run.id, step)
    return Scheduled(run.id, step, run.next_at, run.job_id)


def postpone(run: FlowRun, at: dt.datetime) -> Scheduled:
    """Take the same step again at ``at`` (quiet hours, the budget, the store unreachable)."""
    run.next_at = at
    run.job_id = step_job_id(run.id, run.next_step, at)
    return Scheduled(run.id, run.next_step, at, run.job_id)
