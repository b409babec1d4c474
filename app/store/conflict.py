"""The ON CONFLICT clause every mirror write uses: update only where the incoming row is newer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_


def on_conflict(statement: Any, table: Table, *, conflict: Sequence[str], update: Sequence[str],
                newer_than: str | None, extra_where: ColumnElement[bool] | None) -> Any:
    """Add ``ON CONFLICT`` to an insert: do nothing, or update ``update`` where newer.

    With ``newer_than`` an existing row is overwritten only when it has no value in that column
    yet or the incoming value is at least as new; ``extra_where`` can protect rows further.
    """
    if not update:
        return statement.on_conflict_do_nothing(index_elements=list(conflict))
    conditions: list[ColumnElement[bool]] = []
    if newer_than is not None:
        current = table.c[newer_than]
        conditions.append(or_(current.is_(None), statement.excluded[newer_than] >= current))
    if extra_where is not None:
        conditions.append(extra_where)
    return statement.on_conflict_do_update(
        index_elements=list(conflict),
        set_={column: statement.excluded[column] for column in update},
        where=and_(*conditions) if conditions else None,
    )
