"""Multi-row INSERT … ON CONFLICT for PostgreSQL and SQLite, with a "newer wins" guard."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Stay well under SQLite's and PostgreSQL's limits on bound parameters per statement.
_MAX_PARAMETERS = 30_000


def _insert(session: Session, table: Table) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts are not implemented for {name}")


def chunks(rows: Sequence[dict[str, Any]], width: int) -> Iterable[Sequence[dict[str, Any]]]:
    """Split rows into statements that stay under the bound-parameter limit."""
    size = max(1, _MAX_PARAMETERS // max(1, width))
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    newer_than: str | None = None,
    extra_where: ColumnElement[bool] | None = None,
    returning: Sequence[str] = ("id", "external_id"),
) -> list[Any]:
    """Insert ``rows``; on a conflict update ``update`` columns, only where the row is newer.

    With ``newer_than`` set, an existing row is overwritten only when it has no value in that
    column yet or the incoming value is at least as new. Returns the ``returning`` columns of
    every row written (inserted or updated); rows that lost to a newer one are not returned.
    """
    if not rows:
        return []
    written: list[Any] = []
    # One compiled statement run over many parameter sets ("insertmanyvalues"): SQLAlchemy
    # batches the rows into multi-row VALUES itself, without recompiling for each batch size.
    for part in chunks(rows, len(rows[0])):
        statement = _insert(session, table)
        conditions: list[ColumnElement[bool]] = []
        if newer_than is not None:
            current = table.c[newer_than]
            conditions.append(or_(current.is_(None), statement.excluded[newer_than] >= current))
        if extra_where is not None:
            conditions.append(extra_where)
        where = None
        if conditions:
            where = conditions[0]
            for condition in conditions[1:]:
                where = where & condition
        if update:
            statement = statement.on_conflict_do_update(
                index_elements=list(conflict),
                set_={column: statement.excluded[column] for column in update},
                where=where,
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
        if returning:
            statement = statement.returning(*(table.c[c] for c in returning))
            written.extend(session.execute(statement, list(part)).all())
        else:
            session.execute(statement, list(part))
    return written


def insert_ignore(session: Session, table: Table, rows: Sequence[dict[str, Any]], *,
                  conflict: Sequence[str], returning: Sequence[str] = ("id", "external_id")) -> list[Any]:
    """Insert ``rows``, skipping those that already exist; return the ones inserted."""
    return upsert(session, table, rows, conflict=conflict, update=(), returning=returning)
