"""Control routes for live changes that fire webhooks: orders, drafts, customers, products."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from ...http.common import json_body
from .. import catalog, lookup, orders, people
from ..context import hookshot, registry
from ..shapes import orders as order_shapes
from . import bp


def _store(handle: str) -> Any:
    """Return the addressed store."""
    return registry().get(handle)


@bp.post("/stores/<handle>/orders")
def create_order(handle: str) -> Any:
    """Place an order: `{customer_id? | email?, line_items?, status?}` (order.created)."""
    return jsonify(orders.create(hookshot(), _store(handle), json_body())), 201


@bp.get("/stores/<handle>/orders/<order_id>")
def get_order(handle: str, order_id: str) -> Any:
    """Return one order in REST shape."""
    store = _store(handle)
    with store.lock:
        return jsonify(order_shapes.order(store, lookup.order(store, order_id)))


@bp.patch("/stores/<handle>/orders/<order_id>")
def update_order(handle: str, order_id: str) -> Any:
    """Change `status` and/or `billing_email` (order.updated)."""
    body = json_body(required=True)
    changes: dict[str, Any] = {k: body[k] for k in ("status", "meta_data") if k in body}
    if "billing_email" in body:
        changes["billing"] = {"email": body["billing_email"]}
    return jsonify(orders.update(hookshot(), _store(handle), order_id, changes))


@bp.post("/stores/<handle>/orders/<order_id>/refund")
def refund_order(handle: str, order_id: str) -> Any:
    """Refund `{line_items?, amount?, reason?}`; nothing means in full (order.updated)."""
    return jsonify(orders.refund(hookshot(), _store(handle), order_id, json_body())), 201


@bp.delete("/stores/<handle>/orders/<order_id>")
def delete_order(handle: str, order_id: str) -> Any:
    """Trash an order (order.deleted); `?force=true` deletes it."""
    if request.args.get("force") in ("1", "true"):
        return jsonify(orders.delete(hookshot(), _store(handle), order_id))
    return jsonify(orders.trash(hookshot(), _store(handle), order_id))


@bp.post("/stores/<handle>/orders/<order_id>/restore")
def restore_order(handle: str, order_id: str) -> Any:
    """Restore a trashed order (order.restored)."""
    return jsonify(orders.restore(hookshot(), _store(handle), order_id))


@bp.post("/stores/<handle>/drafts")
def create_draft(handle: str) -> Any:
    """Start a checkout-draft order (order.created)."""
    return jsonify(orders.create_draft(hookshot(), _store(handle), json_body())), 201


@bp.patch("/stores/<handle>/drafts/<order_id>")
def update_draft(handle: str, order_id: str) -> Any:
    """Change a draft's email (order.updated)."""
    return jsonify(orders.update_draft(hookshot(), _store(handle), order_id,
                                       json_body(required=True)))


@bp.post("/stores/<handle>/drafts/<order_id>/complete")
def complete_draft(handle: str, order_id: str) -> Any:
    """Pay a draft: it becomes processing (order.updated)."""
    return jsonify(orders.complete_draft(hookshot(), _store(handle), order_id))


@bp.post("/stores/<handle>/customers")
def create_customer(handle: str) -> Any:
    """Create a customer (customer.created)."""
    return jsonify(people.create(hookshot(), _store(handle), json_body(required=True))), 201


@bp.patch("/stores/<handle>/customers/<customer_id>")
def update_customer(handle: str, customer_id: str) -> Any:
    """Update a customer (customer.updated)."""
    return jsonify(people.update(hookshot(), _store(handle), customer_id,
                                 json_body(required=True)))


@bp.delete("/stores/<handle>/customers/<customer_id>")
def delete_customer(handle: str, customer_id: str) -> Any:
    """Delete a customer (customer.deleted)."""
    return jsonify(people.delete(hookshot(), _store(handle), customer_id))


@bp.post("/stores/<handle>/products")
def create_product(handle: str) -> Any:
    """Create a product (product.created)."""
    return jsonify(catalog.create(hookshot(), _store(handle), json_body(required=True))), 201


@bp.patch("/stores/<handle>/products/<product_id>")
def update_product(handle: str, product_id: str) -> Any:
    """Update a product (product.updated)."""
    return jsonify(catalog.update(hookshot(), _store(handle), product_id,
                                  json_body(required=True)))


@bp.delete("/stores/<handle>/products/<product_id>")
def delete_product(handle: str, product_id: str) -> Any:
    """Delete a product (product.deleted)."""
    return jsonify(catalog.delete(hookshot(), _store(handle), product_id))
