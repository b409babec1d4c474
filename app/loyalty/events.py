"""Domain events of the loyalty program, for the flows that send notices.

An event is written in the transaction that caused it, once per ``key`` (the key names what
happened, so a replayed webhook or a retried job finds it already there). Readers take them in
id order from their own cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from app.store.models import LoyaltyEvent
from app.store.types import utcnow
from app.store.upsert import insert_ignore

POINTS_EARNED = "points_earned"
REWARD_AVAILABLE = "reward_available"
POINTS_EXPIRING = "points_expiring"
POINTS_EXPIRED = "points_expired"
TIER_CHANGED = "tier_changed"
REFERRAL_COMPLETED = "referral_completed"
BADGE_EARNED = "badge_earned"

KINDS = (POINTS_EARNED, REWARD_AVAILABLE, POINTS_EXPIRING, POINTS_EXPIRED, TIER_CHANGED, REFERRAL_COMPLETED,
         BADGE_EARNED)

_TABLE: Table = LoyaltyEvent.__table__  # type: ignore[assignment]


def event(shop_id: int, kind: str, key: str, member_id: int | None, **payload: Any) -> dict[str, Any]:
    """One event row to write with ``emit``."""
    if kind not in KINDS:
        raise ValueError(f"unknown loyalty event {kind!r}")
    return {"shop_id": shop_id, "kind": kind, "key": f"{kind}:{key}"[:191], "member_id": member_id,
            "payload": payload, "created_at": utcnow()}


def emit(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Write events; those already written (same key) are skipped. Returns how many are new."""
    if not rows:
        return 0
    return len(insert_ignore(session, _TABLE, rows, conflict=("shop_id", "key"), returning=("id",)))


def since(session: Session, shop_id: int, after_id: int = 0, limit: int = 500) -> Sequence[LoyaltyEvent]:
    """Events of a shop after an id, oldest first (a reader's cursor is the last id it handled)."""
    return session.execute(
        select(LoyaltyEvent).where(LoyaltyEvent.shop_id == shop_id, LoyaltyEvent.id > after_id)
        .order_by(LoyaltyEvent.id).limit(limit)
    ).scalars().all()
