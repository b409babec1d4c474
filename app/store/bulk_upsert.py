"""Large upserts on PostgreSQL: COPY the rows into a staging table, then one INSERT … SELECT.

A backfill writes hundreds of thousands of rows. Sent as executemany, every row is a statement
the server parses and plans; sent as one multi-row VALUES, psycopg re-parses a huge query text
on every batch. COPY streams the rows with no per-row statement, and the single
``INSERT … SELECT … ON CONFLICT`` that follows keeps the newer-wins rule and returns what it
wrote, exactly as the row-by-row path does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Column, ColumnElement, MetaData, Table, exc, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from app.store.conflict import on_conflict

_STAGING_PREFIX = "staging_"


def _staging_name(table: Table, columns: Sequence[str]) -> str:
    digest = hashlib.sha1(",".join(columns).encode()).hexdigest()[:10]
    return f"{_STAGING_PREFIX}{table.name}_{digest}"


def _staging_table(table: Table, columns: Sequence[str]) -> Table:
    return Table(_staging_name(table, columns), MetaData(),
                 *(Column(name, table.c[name].type) for name in columns))


def _prepare_staging(session: Session, table: Table, columns: Sequence[str]) -> str:
    """Make sure this connection's staging table for these columns exists, and empty it.

    It holds just the columns written, with no constraints and no defaults (so no sequence is
    drawn from). Created with IF NOT EXISTS on every use rather than remembered: a rollback
    takes back a table created in the same transaction.
    """
    connection = session.connection()
    name = _staging_name(table, columns)
    column_list = ", ".join(f'"{column}"' for column in columns)
    connection.execute(text(
        f'CREATE TEMPORARY TABLE IF NOT EXISTS "{name}" ON COMMIT DELETE ROWS AS '
        f'SELECT {column_list} FROM "{table.name}" WITH NO DATA'))
    connection.execute(text(f'TRUNCATE "{name}"'))
    return name


def _dump(column: Column, value: Any, dialect: Any) -> Any:
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        value = column_type.process_bind_param(value, dialect)
        column_type = column_type.impl
    if isinstance(column_type, JSON):
        return Jsonb(value)  # None too: the row path stores JSON null, not SQL NULL
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


def copy_upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], *, conflict: Sequence[str],
                update: Sequence[str], newer_than: str | None, extra_where: ColumnElement[bool] | None,
                returning: Sequence[str]) -> list[Any]:
    """Upsert ``rows`` through a staging table; return the ``returning`` columns of rows written."""
    columns = list(rows[0])
    # ON CONFLICT may touch a row once per statement. Of rows with the same key keep the one
    # applying them in order would leave: the last for an update, the first for insert-only.
    # With ``newer_than``, the newest of them (the last on a tie), as the guard would leave it.
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[name] for name in conflict)
        kept = unique.get(key)
        if kept is None:
            unique[key] = row
        elif update and (newer_than is None or kept[newer_than] is None
                         or (row[newer_than] is not None and row[newer_than] >= kept[newer_than])):
            unique[key] = row
    rows = list(unique.values())
    name = _prepare_staging(session, table, columns)
    dialect = session.get_bind().dialect
    raw = session.connection().connection.driver_connection
    table_columns = [table.c[name] for name in columns]
    column_list = ", ".join(f'"{name}"' for name in columns)
    try:
        with raw.cursor() as cursor:
            with cursor.copy(f'COPY "{name}" ({column_list}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([_dump(column, row[column.name], dialect) for column in table_columns])
    except psycopg.OperationalError as error:
        raise exc.OperationalError(f"COPY {name}", None, error) from error
    except psycopg.Error as error:
        raise exc.DBAPIError(f"COPY {name}", None, error) from error

    staging = _staging_table(table, columns)
    statement = postgresql.insert(table).from_select(columns, select(*(staging.c[name] for name in columns)))
    statement = on_conflict(statement, table, conflict=conflict, update=update, newer_than=newer_than,
                            extra_where=extra_where)
    if returning:
        return list(session.execute(statement.returning(*(table.c[name] for name in returning))).all())
    session.execute(statement)
    return []
