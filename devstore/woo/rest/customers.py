"""`/wc/v3/customers` (no date filters, as in WooCommerce)."""

from __future__ import annotations

from typing import Any

from flask import request

from .. import lookup, people, wpjson
from ..context import hookshot, store
from ..errors import WooError
from ..shapes.people import customer as shape
from ..shapes.people import username
from . import bp
from .common import batch, force
from .common import body as request_body
from .listing import Window, including, paged
from .params import Params

ROLES = ("all", "administrator", "editor", "author", "contributor", "subscriber", "customer",
         "shop_manager")
ORDERBY = ("id", "include", "name", "registered_date")


@bp.get("/wc/v3/customers")
def list_customers() -> Any:
    """List customers (role filter defaults to customer; sorted by name ascending)."""
    woo = store()
    params = Params(request.args)
    window = Window(params)
    window.order = params.enum("order", ("asc", "desc"), "asc")
    orderby = params.enum("orderby", ORDERBY, "name")
    role = params.enum("role", ROLES, "customer")
    include, exclude = params.ids("include"), params.ids("exclude")
    email = (request.args.get("email") or "").lower()
    params.check()
    keys = {"id": lambda c: c.id, "name": lambda c: (username(c), c.id),
            "registered_date": lambda c: (c.created_at, c.id), "include": lambda c: c.id}
    with woo.lock:
        rows = [c for c in woo.shop.customers
                if (role == "all" or woo.customer_roles.get(c.id, "customer") == role)
                and including(include, exclude, c.id)
                and (not email or (c.email or "").lower() == email)]
        return paged(rows, window, lambda c: shape(woo, c), keys[orderby])


@bp.get("/wc/v3/customers/<id>")
def get_customer(id: str) -> Any:
    """Return one customer."""
    woo = store()
    with woo.lock:
        return wpjson.response(shape(woo, lookup.customer(woo, id)))


@bp.route("/wc/v3/customers/<id>", methods=["PUT", "POST", "PATCH"])
def update_customer(id: str) -> Any:
    """Update a customer (meta_data upserts by key)."""
    return wpjson.response(people.update(hookshot(), store(), id, request_body()))


@bp.delete("/wc/v3/customers/<id>")
def delete_customer(id: str) -> Any:
    """Delete a customer (force=true is required: customers have no trash)."""
    if not force():
        raise WooError("woocommerce_rest_trash_not_supported",
                       "Customers do not support trashing.", 501)
    return wpjson.response(people.delete(hookshot(), store(), id))


@bp.post("/wc/v3/customers")
def create_customer() -> Any:
    """Create a customer."""
    return wpjson.response(people.create(hookshot(), store(), request_body()), 201)


@bp.post("/wc/v3/customers/batch")
def batch_customers() -> Any:
    """Create, update and delete up to 100 customers."""
    woo, sender = store(), hookshot()
    return wpjson.response(batch(lambda item: people.create(sender, woo, item),
                                 lambda cid, item: people.update(sender, woo, cid, item),
                                 lambda cid: people.delete(sender, woo, cid)))
