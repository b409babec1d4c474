"""`/wc/v3/orders` and their refunds."""

from __future__ import annotations

from typing import Any

from flask import request

from .. import lookup, wpjson
from .. import orders as changes
from ..context import hookshot, store
from ..errors import WooError, not_found
from ..shapes import orders as shapes
from . import bp
from .common import body, force
from .listing import DateFilter, Window, including, paged
from .params import Params

STATUS_FILTER = ("any", "trash") + changes.STATUSES
HIDDEN_FROM_ANY = ("trash", "checkout-draft")
ORDERBY = ("date", "id", "include", "title", "slug", "modified")


def _statuses(params: Params) -> set[str]:
    """Read the status filter (comma list or array, default any)."""
    wanted = params.strings("status") or ["any"]
    bad = [s for s in wanted if s not in STATUS_FILTER]
    if bad:
        params.errors["status"] = f"status[0] is not one of {', '.join(STATUS_FILTER)}."
    if "any" in wanted:
        return set(changes.STATUSES) - set(HIDDEN_FROM_ANY) | (set(wanted) - {"any"})
    return set(wanted)


@bp.get("/wc/v3/orders")
def list_orders() -> Any:
    """List orders with WooCommerce filters and pagination."""
    woo = store()
    params = Params(request.args)
    window = Window(params)
    dates = DateFilter(params, woo.shop.timezone)
    statuses = _statuses(params)
    orderby = params.enum("orderby", ORDERBY, "date")
    include, exclude = params.ids("include"), params.ids("exclude")
    customer = params.integer("customer", None, minimum=0)
    product = params.integer("product", None, minimum=1)
    search = (request.args.get("search") or "").strip().lower()
    params.check()
    keys = {"date": lambda o: (o.created_at, o.id), "modified": lambda o: (o.updated_at, o.id),
            "id": lambda o: o.id, "title": lambda o: o.id, "slug": lambda o: o.id}
    if orderby == "include" and include:
        position = {i: n for n, i in enumerate(request.args.get("include", "").split(","))}
        keys["include"] = lambda o: position.get(str(o.id), 0)
        window.order = "asc"
    with woo.lock:
        # Paging through a large store asks the same listing once per page: the filtered and
        # sorted rows are kept until the orders change.
        signature = (tuple(sorted((k, v) for k, v in request.args.items(multi=True) if k not in _NOT_FILTERS
                                  and not k.startswith("oauth_"))),
                     woo.shop.orders.members_version, woo.shop.orders.touch_version, id(woo))
        cached = _listing_cache.get("orders")
        if cached is not None and cached[0] == signature:
            rows = cached[1]
        else:
            rows = sorted((o for o in woo.shop.orders
                           if woo.status_of(o.id) in statuses and including(include, exclude, o.id)
                           and dates.accepts(o.created_at, o.updated_at)
                           and (customer is None or (o.customer.id if o.customer else 0) == customer)
                           and (product is None or any(li.variant.product.id == product
                                                       for li in o.line_items))
                           and (not search or _matches(woo, o, search))),
                          key=keys.get(orderby, keys["date"]), reverse=window.order == "desc")
            _listing_cache["orders"] = (signature, rows)
        return paged(rows, window, lambda o: shapes.order(woo, o))


def _matches(woo: Any, order: Any, search: str) -> bool:
    """`search`, as WooCommerce's order search: a part of the billing email or name, or the number."""
    address = shapes.billing(woo, order)
    haystack = " ".join(str(address.get(field) or "") for field in ("email", "first_name", "last_name"))
    return search in haystack.lower() or search == str(order.id)


_NOT_FILTERS = frozenset({"page", "offset", "per_page", "consumer_key", "consumer_secret"})
_listing_cache: dict[str, tuple[tuple, list]] = {}


@bp.get("/wc/v3/refunds")
def list_all_refunds() -> Any:
    """List refunds across orders (WooCommerce 9.0+); ``include`` picks refund ids.

    As in WooCommerce, a ``parent`` filter is ignored: the endpoint drops it.
    """
    woo = store()
    if not woo.refunds_endpoint:
        raise WooError("rest_no_route", "No route was found matching the URL and request method.", 404)
    params = Params(request.args)
    window = Window(params)
    include, exclude = params.ids("include"), params.ids("exclude")
    params.check()
    with woo.lock:
        every = _all_refunds(woo)
        if include is not None:
            rows = [every[i] for i in sorted(include) if i in every and including(None, exclude, i)]
        else:
            rows = [r for r in every.values() if including(None, exclude, r.id)]
        return paged(rows, window, lambda r: dict(shapes.refund(woo, r), parent_id=r.order.id),
                     lambda r: (r.created_at, r.id))


def _all_refunds(woo: Any) -> dict[int, Any]:
    """Every refund of the store by id, kept until the orders change."""
    signature = (woo.shop.orders.members_version, woo.shop.orders.touch_version, id(woo))
    cached = _listing_cache.get("refunds")
    if cached is None or cached[0] != signature:
        cached = (signature, {r.id: r for o in woo.shop.orders for r in (o.refunds or [])})
        _listing_cache["refunds"] = cached  # type: ignore[assignment]
    return cached[1]  # type: ignore[return-value]


@bp.get("/wc/v3/orders/<id>")
def get_order(id: str) -> Any:
    """Return one order."""
    woo = store()
    with woo.lock:
        return wpjson.response(shapes.order(woo, lookup.order(woo, id)))


@bp.route("/wc/v3/orders/<id>", methods=["PUT", "POST", "PATCH"])
def update_order(id: str) -> Any:
    """Update status, billing, shipping or meta_data of an order."""
    data = body()
    return wpjson.response(changes.update(hookshot(), store(), id, {
        k: data[k] for k in ("status", "billing", "shipping", "meta_data") if k in data}))


@bp.delete("/wc/v3/orders/<id>")
def delete_order(id: str) -> Any:
    """Trash an order, or delete it with force=true."""
    if force():
        return wpjson.response(changes.delete(hookshot(), store(), id))
    return wpjson.response(changes.trash(hookshot(), store(), id))


def _order_refunds(id: str) -> list:
    """Return an order's refunds, newest first."""
    order = lookup.order(store(), id)
    return list(reversed(order.refunds or []))


@bp.get("/wc/v3/orders/<id>/refunds")
def list_refunds(id: str) -> Any:
    """List the refunds of an order."""
    woo = store()
    params = Params(request.args)
    window = Window(params)
    params.check()
    with woo.lock:
        return paged(_order_refunds(id), window, lambda r: shapes.refund(woo, r),
                     lambda r: (r.created_at, r.id))


@bp.get("/wc/v3/orders/<id>/refunds/<refund_id>")
def get_refund(id: str, refund_id: str) -> Any:
    """Return one refund of an order."""
    woo = store()
    with woo.lock:
        wanted = lookup.to_id(refund_id)
        found = next((r for r in _order_refunds(id) if r.id == wanted), None)
        if found is None:
            raise not_found("woocommerce_rest_invalid_id")
        return wpjson.response(shapes.refund(woo, found))
