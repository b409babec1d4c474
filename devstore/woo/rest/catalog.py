"""`/wc/v3/products` and their variations (read-only)."""

from __future__ import annotations

from typing import Any

from flask import request

from .. import lookup, wpjson
from ..context import store
from ..errors import not_found
from ..shapes import catalog as shapes
from . import bp
from .listing import DateFilter, Window, including, paged
from .params import Params

STATUSES = ("any", "future", "trash", "draft", "pending", "private", "publish")
TYPES = ("simple", "grouped", "external", "variable")
ORDERBY = ("date", "modified", "id", "include", "title", "slug", "price", "popularity",
           "rating", "menu_order")


@bp.get("/wc/v3/products")
def list_products() -> Any:
    """List products with status, type, sku, id and date filters."""
    woo = store()
    params = Params(request.args)
    window = Window(params)
    dates = DateFilter(params, woo.shop.timezone)
    status = params.enum("status", STATUSES, "any")
    kind = request.args.get("type")
    if kind is not None and kind not in TYPES:
        params.errors["type"] = f"type is not one of {', '.join(TYPES)}."
    orderby = params.enum("orderby", ORDERBY, "date")
    include, exclude = params.ids("include"), params.ids("exclude")
    skus = set(params.strings("sku") or ())
    params.check()
    keys = {"modified": lambda p: (p.updated_at, p.id), "id": lambda p: p.id,
            "title": lambda p: (p.title.lower(), p.id), "slug": lambda p: (p.handle, p.id),
            "price": lambda p: (min((v.price for v in p.variants), default=0), p.id)}
    with woo.lock:
        rows = []
        for p in woo.shop.products:
            shaped_status = shapes.STATUS.get(p.status, "publish")
            variable = len(p.variants) > 1
            if (status == "any" or shaped_status == status) and including(include, exclude, p.id) \
                    and dates.accepts(p.created_at, p.updated_at) \
                    and (kind is None or kind == ("variable" if variable else "simple")) \
                    and (not skus or any(v.sku in skus for v in p.variants)):
                rows.append(p)
        return paged(rows, window, lambda p: shapes.product(woo, p),
                     keys.get(orderby, lambda p: (p.created_at, p.id)))


@bp.get("/wc/v3/products/<id>")
def get_product(id: str) -> Any:
    """Return one product."""
    woo = store()
    with woo.lock:
        return wpjson.response(shapes.product(woo, lookup.product(woo, id)))


def _variations(id: str) -> list:
    """Return the variations of a variable product (none for simple products)."""
    product = lookup.product(store(), id)
    return list(product.variants) if len(product.variants) > 1 else []


@bp.get("/wc/v3/products/<id>/variations")
def list_variations(id: str) -> Any:
    """List the variations of a product in menu order."""
    woo = store()
    params = Params(request.args)
    window = Window(params)
    window.order = params.enum("order", ("asc", "desc"), "asc")
    params.check()
    with woo.lock:
        rows = _variations(id)
        order = {v.id: n for n, v in enumerate(rows)}
        return paged(rows, window, lambda v: shapes.variation(woo, v), lambda v: order[v.id])


@bp.get("/wc/v3/products/<id>/variations/<variation_id>")
def get_variation(id: str, variation_id: str) -> Any:
    """Return one variation."""
    woo = store()
    with woo.lock:
        wanted = lookup.to_id(variation_id)
        found = next((v for v in _variations(id) if v.id == wanted), None)
        if found is None:
            raise not_found("woocommerce_rest_product_variation_invalid_id")
        return wpjson.response(shapes.variation(woo, found))
