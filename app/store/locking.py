"""SQLite's stand-in for ``SELECT … FOR UPDATE``: its one write lock, taken before anything is read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, update
from sqlalchemy.orm import Session


def sqlite_write_lock(session: Session, table: Any) -> None:
    """Take SQLite's write lock now (``BEGIN IMMEDIATE``), so every read that follows sees the last commit.

    The driver begins a transaction only at the first write, and a transaction that read before
    it waited for the lock could decide on what it read then. Inside a transaction that already
    began, a write that changes nothing (on ``table``) takes the lock, or finds it held already.
    """
    raw = session.connection().connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")
    else:
        key = next(iter(table.primary_key.columns))
        session.execute(update(table).where(false()).values({key.name: key}))
