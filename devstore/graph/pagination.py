"""Relay cursor pagination over sorted in-memory sequences."""

from __future__ import annotations

import base64
import bisect
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

from graphql import GraphQLError

MAX_PAGE = 250


def id_key(obj: Any) -> tuple:
    """Return the default sort key of nested lists (by id)."""
    return (obj.id,)


@dataclass
class Source:
    """A sorted sequence plus an optional filter and key bounds."""

    items: Sequence[Any]
    keys: Optional[Sequence[tuple]] = None
    predicate: Optional[Callable[[Any], bool]] = None
    low: Optional[tuple] = None
    high: Optional[tuple] = None
    keyfunc: Callable[[Any], tuple] = id_key

    def key_list(self) -> Sequence[tuple]:
        """Return (computing if needed) the sort keys of items."""
        if self.keys is None:
            self.keys = [self.keyfunc(o) for o in self.items]
        return self.keys

    def span(self) -> tuple[int, int]:
        """Return the index range allowed by the key bounds."""
        start, stop = 0, len(self.items)
        if self.low is not None:
            start = bisect.bisect_left(self.key_list(), self.low)
        if self.high is not None:
            stop = bisect.bisect_left(self.key_list(), self.high)
        return start, max(start, stop)

    def all(self) -> Iterator[Any]:
        """Yield every matching item in order (used by bulk operations)."""
        start, stop = self.span()
        predicate = self.predicate
        for index in range(start, stop):
            item = self.items[index]
            if predicate is None or predicate(item):
                yield item


def as_source(value: Any) -> Source:
    """Wrap a plain list (assumed sorted by id) as a Source."""
    return value if isinstance(value, Source) else Source(list(value))


def encode_cursor(key: tuple) -> str:
    """Return an opaque cursor for a sort key."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple:
    """Parse a cursor produced by encode_cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(value, list):
            raise ValueError(cursor)
        return tuple(value)
    except (ValueError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor: {cursor!r}") from exc


def check_first(first: Optional[int]) -> int:
    """Validate the page size the way Shopify does."""
    if first is None:
        raise GraphQLError("you must provide one of first or last",
                           extensions={"code": "BAD_REQUEST"})
    if first < 0:
        raise GraphQLError("first must be non-negative")
    if first > MAX_PAGE:
        raise GraphQLError(f"The connection cannot return more than {MAX_PAGE} items",
                           extensions={"code": "BAD_REQUEST"})
    return first


def paginate(value: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Return one page ({edges, nodes, pageInfo}) of a Source or list."""
    source = as_source(value)
    first = check_first(args.get("first"))
    after = args.get("after")
    reverse = bool(args.get("reverse"))
    keys = source.key_list()
    start, stop = source.span()
    predicate = source.predicate
    picked: list[int] = []
    if reverse:
        index = stop - 1
        if after:
            index = min(index, bisect.bisect_left(keys, decode_cursor(after)) - 1)
        while index >= start and len(picked) <= first:
            if predicate is None or predicate(source.items[index]):
                picked.append(index)
            index -= 1
    else:
        index = start
        if after:
            index = max(index, bisect.bisect_right(keys, decode_cursor(after)))
        while index < stop and len(picked) <= first:
            if predicate is None or predicate(source.items[index]):
                picked.append(index)
            index += 1
    has_next = len(picked) > first
    picked = picked[:first]
    edges = [{"cursor": encode_cursor(keys[i]), "node": source.items[i]} for i in picked]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": bool(after),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
