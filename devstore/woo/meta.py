"""Meta data rows `{id, key, value}` as WooCommerce stores them."""

from __future__ import annotations

from typing import Any

from .errors import invalid_params
from .state import WooStore


def upsert(store: WooStore, rows: list[dict[str, Any]], items: Any) -> list[dict[str, Any]]:
    """Apply REST `meta_data` items: update by id or key, append new keys."""
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(
            i.get("key"), str) and i["key"] for i in items):
        raise invalid_params({"meta_data": "meta_data items need a key."})
    for item in items:
        match = next((r for r in rows if "id" in item and r["id"] == item["id"]), None) or \
            next((r for r in rows if r["key"] == item["key"]), None)
        if match is not None:
            match["key"], match["value"] = item["key"], item.get("value")
        else:
            rows.append({"id": store.next("meta"), "key": item["key"],
                         "value": item.get("value")})
    return rows
