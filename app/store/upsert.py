"""Multi-row INSERT … ON CONFLICT for PostgreSQL and SQLite, with a "newer wins" guard."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from app.store.bulk_upsert import copy_upsert
from app.store.conflict import on_conflict

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
    rows = _without_nul(rows)
    if session.get_bind().dialect.name == "postgresql" and len(rows) >= _COPY_MIN_ROWS:
        return copy_upsert(session, table, rows, conflict=conflict, update=update, newer_than=newer_than,
                           extra_where=extra_where, returning=returning)
    statement = _statement(session, table, conflict, update, newer_than, extra_where)
    written: list[Any] = []
    # One compiled statement over many parameter sets: SQLAlchemy batches RETURNING inserts
    # into multi-row VALUES itself ("insertmanyvalues"), without recompiling per batch.
    for part in chunks(rows, len(rows[0])):
        if returning:
            written.extend(session.execute(statement.returning(*(table.c[c] for c in returning)),
                                           list(part)).all())
        else:
            session.execute(statement, list(part))
    return written


def _without_nul(rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """Drop NUL characters from text: PostgreSQL refuses them, and both databases must agree."""
    if not any(isinstance(v, str) and "\x00" in v for row in rows for v in row.values()):
        return rows
    return [{k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in row.items()} for row in rows]


def _statement(session: Session, table: Table, conflict: Sequence[str], update: Sequence[str],
               newer_than: str | None, extra_where: ColumnElement[bool] | None) -> Any:
    return on_conflict(_insert(session, table), table, conflict=conflict, update=update,
                       newer_than=newer_than, extra_where=extra_where)


# From this many rows on, PostgreSQL gets them through COPY (see ``bulk_upsert``).
_COPY_MIN_ROWS = 50


def among(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``, as ``= ANY(array)`` on PostgreSQL.

    One array parameter keeps the query text short and the same for any number of values
    (psycopg parses long query texts anew each time), where ``IN`` spells out one placeholder
    per value.
    """
    if session.get_bind().dialect.name == "postgresql":
        element_type = column.type if not isinstance(column.type, TypeDecorator) else column.type.impl
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(element_type)))
    return column.in_(list(values))


def insert_ignore(session: Session, table: Table, rows: Sequence[dict[str, Any]], *,
                  conflict: Sequence[str], returning: Sequence[str] = ("id", "external_id")) -> list[Any]:
    """Insert ``rows``, skipping those that already exist; return the ones inserted."""
    return upsert(session, table, rows, conflict=conflict, update=(), returning=returning)
