"""Helpers for REST views: request bodies, force flags and batch endpoints."""

from __future__ import annotations

from typing import Any, Callable, Optional

from flask import request

from ..errors import WooError

BATCH_LIMIT = 100


def body() -> dict[str, Any]:
    """Return the JSON (or form) body merged over the query parameters, as WordPress does."""
    data: dict[str, Any] = {}
    if request.data:
        parsed = request.get_json(silent=True)
        if not isinstance(parsed, dict):
            raise WooError("rest_invalid_json", "Invalid JSON body passed.", 400)
        data = parsed
    elif request.form:
        data = request.form.to_dict()
    return data


def force() -> bool:
    """Return the `force` flag of a DELETE."""
    return str(request.args.get("force", body().get("force", ""))).lower() in ("1", "true")


def _failure(item_id: Any, exc: WooError) -> dict[str, Any]:
    """Return the per-item error of a batch answer."""
    return {"id": item_id, "error": exc.body()}


def batch(create: Optional[Callable[[dict], dict]], update: Callable[[Any, dict], dict],
          delete: Callable[[Any], dict]) -> dict[str, list[Any]]:
    """Run a `{create, update, delete}` batch of at most 100 items."""
    data = body()
    groups = {k: data.get(k) for k in ("create", "update", "delete") if k in data}
    if not all(isinstance(v, list) for v in groups.values()):
        raise WooError("rest_invalid_param", "Invalid parameter(s): create, update, delete",
                       400)
    if sum(len(v) for v in groups.values()) > BATCH_LIMIT:
        raise WooError("woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {BATCH_LIMIT} items for this request.", 413)
    out: dict[str, list[Any]] = {}
    for name, items in groups.items():
        rows = out.setdefault(name, [])
        for item in items:
            try:
                if name == "create":
                    if create is None or not isinstance(item, dict):
                        raise WooError("rest_invalid_param", "Invalid item.", 400)
                    rows.append(create(item))
                elif name == "update":
                    if not isinstance(item, dict) or "id" not in item:
                        raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.",
                                       400)
                    rows.append(update(item["id"], {k: v for k, v in item.items()
                                                    if k != "id"}))
                else:
                    rows.append(delete(item))
            except WooError as exc:
                item_id = item.get("id", 0) if isinstance(item, dict) else item
                rows.append(_failure(item_id, exc))
    return out
