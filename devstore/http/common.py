"""Helpers shared by the blueprints: store access, request bodies, error answers."""

from __future__ import annotations

from typing import Any, Optional

from flask import current_app, jsonify, request

from ..core import DevStore, normalize_domain
from ..errors import BadRequest, DevstoreError


def store() -> DevStore:
    """Return the DevStore of the running Flask app."""
    return current_app.extensions["devstore"]


def host_shop() -> Optional[str]:
    """Return the shop domain named by the Host header, if it is a myshopify domain.

    ``<shop>.myshopify.com.localhost`` names the same shop: browsers resolve every
    ``*.localhost`` name to the loopback address, so a person can open a shop's storefront
    on devstore without editing their hosts file.
    """
    host = (request.host or "").split(":", 1)[0].lower().removesuffix(".localhost")
    if not host.endswith(".myshopify.com"):
        return None
    try:
        return normalize_domain(host)
    except BadRequest:
        return None


def json_body(required: bool = False) -> dict[str, Any]:
    """Return the JSON object body (empty when absent, unless required)."""
    if not request.data:
        if required:
            raise BadRequest("a JSON body is required")
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def number(body: dict, key: str, default: Any = None, kind: type = int,
           minimum: Optional[float] = None, maximum: Optional[float] = None) -> Any:
    """Read a numeric field, checking its type and range."""
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and not float(value).is_integer()):
        raise BadRequest(f"{key} must be a{'n integer' if kind is int else ' number'}")
    value = kind(value)
    if minimum is not None and value < minimum:
        raise BadRequest(f"{key} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise BadRequest(f"{key} must be <= {maximum}")
    return value


def error_response(exc: DevstoreError) -> Any:
    """Render a devstore error as JSON."""
    return jsonify({"error": str(exc)}), exc.status


def generate_spec(body: dict[str, Any], existing_products: int) -> Any:
    """Read a ``generate`` body into a GenerateSpec (both dialects take the same spec)."""
    from ..formats import parse_time
    from ..generator import GenerateSpec

    try:
        spec = GenerateSpec(
            seed=number(body, "seed", 1), customers=number(body, "customers", 100, minimum=0),
            products=number(body, "products", 20, minimum=0),
            orders=number(body, "orders", 300, minimum=0),
            refund_rate=number(body, "refund_rate", 0.08, float, 0, 1),
            cancel_rate=number(body, "cancel_rate", 0.02, float, 0, 1),
            checkouts=number(body, "checkouts", 0, minimum=0),
            gift_card_rate=number(body, "gift_card_rate", 0.0, float, 0, 1),
            start=parse_time(body["start"]) if body.get("start") else None,
            end=parse_time(body["end"]) if body.get("end") else None)
        spec.window()
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if spec.orders and not spec.products and not existing_products:
        raise BadRequest("orders need products")
    return spec
