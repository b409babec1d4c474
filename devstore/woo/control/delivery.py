"""Control routes for webhook delivery: coalescing window, drain and the delivery log."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from ...http.common import json_body, number
from ..context import hookshot
from . import bp


@bp.post("/delivery")
def configure() -> Any:
    """Set `coalesce_seconds` and/or the delivery `timeout`."""
    body = json_body(required=True)
    return jsonify(hookshot().configure(number(body, "coalesce_seconds", None, float, 0),
                                        number(body, "timeout", None, float, 0.01)))


@bp.post("/delivery/drain")
def drain() -> Any:
    """Wait until nothing is queued or in flight (504 on timeout)."""
    body = json_body()
    drained = hookshot().drain(number(body, "timeout", 10.0, float, minimum=0))
    return jsonify({"drained": drained}), 200 if drained else 504


@bp.get("/deliveries")
def deliveries() -> Any:
    """Return the delivery log, filtered by ?store= and ?topic=."""
    return jsonify(hookshot().entries(request.args.get("store"), request.args.get("topic")))


@bp.delete("/deliveries")
def clear() -> Any:
    """Forget the delivery log."""
    hookshot().clear()
    return jsonify({"cleared": True})
