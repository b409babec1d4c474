"""Queues by urgency and the one helper every enqueue goes through."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from app.extensions import redis_holder

log = logging.getLogger(__name__)

# Drained in this order by every worker: a backfill never delays a webhook.
QUEUE_NAMES = ("events", "default", "bulk")

_TIMEOUTS = {"events": 300, "default": 600, "bulk": 3600}


def queue(name: str) -> Queue:
    """Return the named queue on the app's Redis."""
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_holder.get())


def enqueue(func: Callable[..., Any], *args: Any, queue_name: str = "default", job_id: str | None = None,
            delay: dt.timedelta | None = None, retries: int = 3, unique: bool = True) -> Job | None:
    """Enqueue ``func(*args)`` once: a job with the same id already waiting is kept, not doubled.

    Call after the transaction that made the work visible has committed. Returns ``None`` when
    the same job is already queued.
    """
    q = queue(queue_name)
    options: dict[str, Any] = {
        "job_id": job_id, "job_timeout": _TIMEOUTS[queue_name], "result_ttl": 0,
        "failure_ttl": 7 * 24 * 3600, "ttl": 24 * 3600,
        "retry": Retry(max=retries, interval=[5, 30, 120][:retries]) if retries else None,
        "unique": unique and job_id is not None,
    }
    for _ in range(2):
        try:
            if delay is not None:
                return q.enqueue_in(delay, func, *args, **options)
            return q.enqueue(func, *args, **options)
        except DuplicateJobError:
            # A job that already ended (failed, stopped) keeps its id until its TTL: replace it.
            if not _clear_if_ended(q.connection, job_id):
                return None
    return None


def _clear_if_ended(connection: redis.Redis, job_id: str | None) -> bool:
    try:
        job = Job.fetch(job_id or "", connection=connection)
    except NoSuchJobError:
        return True
    if job.get_status(refresh=True) in ("failed", "finished", "stopped", "canceled"):
        job.delete()
        return True
    return False


def cancel(job_ids: list[str]) -> int:
    """Cancel and delete the given jobs wherever they wait; return how many existed."""
    connection = redis_holder.get()
    cancelled = 0
    for job_id in job_ids:
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            continue
        try:
            job.cancel()
        except Exception:  # noqa: BLE001 - a job that already finished cannot be cancelled
            pass
        job.delete()
        cancelled += 1
    return cancelled


def cancel_prefixed(prefix: str) -> int:
    """Cancel every waiting or scheduled job whose id starts with ``prefix``."""
    ids: list[str] = []
    for name in QUEUE_NAMES:
        q = queue(name)
        ids += [job_id for job_id in q.get_job_ids() if job_id.startswith(prefix)]
        ids += [job_id for job_id in ScheduledJobRegistry(queue=q).get_job_ids() if job_id.startswith(prefix)]
    return cancel(ids)


def redis_available() -> bool:
    """Tell whether Redis answers right now."""
    try:
        return bool(redis_holder.get().ping())
    except redis.RedisError:
        return False


# A job that works through "everything new since its cursor" for a shop needs to run once more
# when new work arrives while it is queued or running: these three keep that flag in Redis.
_AGAIN_SECONDS = 600


def enqueue_once_more(func: Callable[..., Any], *args: Any, queue_name: str, job_id: str, flag: str) -> None:
    """Queue ``func(*args)``; if it is queued or running already, have it go round once more.

    The flag makes a running job take another round before it ends (``clear_flag`` at the top
    of each round, ``flag_set`` at the end); one more job waits behind it (``<job_id>-next``)
    in case it is past that point already.
    """
    if enqueue(func, *args, queue_name=queue_name, job_id=job_id) is not None:
        return
    try:
        redis_holder.get().set(flag, 1, ex=_AGAIN_SECONDS)
    except redis.RedisError:
        pass
    enqueue(func, *args, queue_name=queue_name, job_id=f"{job_id}-next")


def clear_flag(flag: str) -> None:
    try:
        redis_holder.get().delete(flag)
    except redis.RedisError:
        pass


def flag_set(flag: str) -> bool:
    try:
        return bool(redis_holder.get().get(flag))
    except redis.RedisError:
        return False
