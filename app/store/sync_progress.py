"""Report a shop's backfill: counts, percent and ETA per resource."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import SyncRun
from app.store.types import utcnow


def progress(session: Session, shop_id: int) -> dict[str, Any]:
    """Return the newest backfill run of each resource, with percent and ETA."""
    runs = session.execute(
        select(SyncRun).where(SyncRun.shop_id == shop_id, SyncRun.kind == "backfill").order_by(SyncRun.id)
    ).scalars().all()
    latest: dict[str, SyncRun] = {}
    for run in runs:
        latest[run.resource] = run
    items = [_item(run) for run in latest.values()]
    statuses = {item["status"] for item in items}
    if not items:
        overall = "idle"
    elif statuses <= {"completed"}:
        overall = "completed"
    elif "failed" in statuses and statuses <= {"completed", "failed", "cancelled"}:
        overall = "failed"
    elif statuses <= {"completed", "cancelled"}:
        overall = "cancelled"
    else:
        overall = "running"
    processed = sum(item["processed"] for item in items)
    total = sum(item["total"] or 0 for item in items)
    return {"status": overall, "processed": processed, "total": total, "resources": items}


def _item(run: SyncRun) -> dict[str, Any]:
    percent = None
    eta = None
    if run.status == "completed":
        percent = 100.0
        eta = 0.0
    elif run.total_count:
        percent = round(min(100.0, 100.0 * run.processed_count / run.total_count), 1)
        if run.import_started_at and run.processed_count:
            elapsed = (utcnow() - run.import_started_at).total_seconds()
            rate = run.processed_count / max(elapsed, 1e-6)
            eta = round(max(0.0, (run.total_count - run.processed_count) / rate), 1)
    return {
        "resource": run.resource, "status": run.status, "processed": run.processed_count,
        "total": run.total_count, "percent": percent, "eta_seconds": eta,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.last_error,
    }
