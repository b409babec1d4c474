"""Collection answers: sorting, date windows and WordPress pagination headers."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence
from urllib.parse import urlencode

from flask import Response, request

from .. import wpjson
from .params import Params

ORDER = ("asc", "desc")


class Window:
    """Page arguments shared by every collection."""

    def __init__(self, params: Params) -> None:
        self.page = params.integer("page", 1, minimum=1) or 1
        self.per_page = params.integer("per_page", 10, 1, 100) or 10
        self.offset = params.integer("offset", None, minimum=0)
        self.order = params.enum("order", ORDER, "desc")


class DateFilter:
    """after/before (created) and modified_after/modified_before windows."""

    def __init__(self, params: Params, timezone: str) -> None:
        is_gmt = params.boolean("dates_are_gmt")
        self.bounds = {name: params.date(name, timezone, is_gmt) for name in (
            "after", "before", "modified_after", "modified_before")}

    def accepts(self, created: int, modified: int) -> bool:
        """Tell whether an object falls inside the windows (bounds exclusive)."""
        after, before = self.bounds["after"], self.bounds["before"]
        m_after, m_before = self.bounds["modified_after"], self.bounds["modified_before"]
        return ((after is None or created > after) and (before is None or created < before)
                and (m_after is None or modified > m_after)
                and (m_before is None or modified < m_before))


def _link(page: int, rel: str) -> str:
    """Return one Link header entry for a page of the current request."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    args.append(("page", str(page)))
    return f'<{request.base_url}?{urlencode(args)}>; rel="{rel}"'


def paged(items: Sequence[Any], window: Window, render: Callable[[Any], Any],
          sort_key: Optional[Callable[[Any], Any]] = None) -> Response:
    """Sort, slice and render a collection with X-WP-Total, X-WP-TotalPages and Link."""
    rows = sorted(items, key=sort_key, reverse=window.order == "desc") if sort_key else \
        list(items)
    total = len(rows)
    pages = math.ceil(total / window.per_page)
    start = window.offset if window.offset is not None else (window.page - 1) * window.per_page
    body = [render(item) for item in rows[start:start + window.per_page]]
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    if window.page > 1:
        links.append(_link(min(window.page - 1, max(pages, 1)), "prev"))
    if window.page < pages:
        links.append(_link(window.page + 1, "next"))
    if links:
        headers["Link"] = ", ".join(links)
    return wpjson.response(body, headers=headers)


def including(ids: Optional[set[int]], excluded: Optional[set[int]],
              object_id: int) -> bool:
    """Apply include/exclude id filters."""
    return (ids is None or object_id in ids) and (excluded is None or object_id not in excluded)
