"""`/wc/v3/coupons`."""

from __future__ import annotations

from typing import Any

from flask import request

from .. import coupons, lookup, wpjson
from ..context import hookshot, store
from ..shapes.admin import coupon as shape
from . import bp
from .common import batch, body, force
from .listing import DateFilter, Window, including, paged
from .params import Params

ORDERBY = ("date", "modified", "id", "include", "title", "slug")


@bp.get("/wc/v3/coupons")
def list_coupons() -> Any:
    """List published coupons, optionally by code."""
    woo = store()
    params = Params(request.args)
    window = Window(params)
    dates = DateFilter(params, woo.shop.timezone)
    orderby = params.enum("orderby", ORDERBY, "date")
    include, exclude = params.ids("include"), params.ids("exclude")
    code = (request.args.get("code") or "").strip().lower()
    params.check()
    keys = {"modified": lambda c: (c.updated_at, c.id), "id": lambda c: c.id,
            "title": lambda c: (c.code, c.id), "slug": lambda c: (c.code, c.id)}
    with woo.lock:
        rows = [c for c in woo.coupons.values()
                if c.status != "trash" and (not code or c.code == code)
                and including(include, exclude, c.id)
                and dates.accepts(c.created_at, c.updated_at)]
        return paged(rows, window, lambda c: shape(woo, c),
                     keys.get(orderby, lambda c: (c.created_at, c.id)))


@bp.post("/wc/v3/coupons")
def create_coupon() -> Any:
    """Create a coupon."""
    return wpjson.response(coupons.create(hookshot(), store(), body()), 201)


@bp.get("/wc/v3/coupons/<id>")
def get_coupon(id: str) -> Any:
    """Return one coupon."""
    woo = store()
    with woo.lock:
        return wpjson.response(shape(woo, lookup.coupon(woo, id)))


@bp.route("/wc/v3/coupons/<id>", methods=["PUT", "POST", "PATCH"])
def update_coupon(id: str) -> Any:
    """Update a coupon."""
    return wpjson.response(coupons.update(hookshot(), store(), id, body()))


@bp.delete("/wc/v3/coupons/<id>")
def delete_coupon(id: str) -> Any:
    """Trash a coupon, or delete it with force=true."""
    return wpjson.response(coupons.delete(hookshot(), store(), id, force()))


@bp.post("/wc/v3/coupons/batch")
def batch_coupons() -> Any:
    """Create, update and delete up to 100 coupons (batch deletes are forced)."""
    woo, sender = store(), hookshot()
    return wpjson.response(batch(lambda item: coupons.create(sender, woo, item),
                                 lambda cid, item: coupons.update(sender, woo, cid, item),
                                 lambda cid: coupons.delete(sender, woo, cid, True)))
