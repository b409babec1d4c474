"""The WordPress REST API of a store: `/woo/<handle>/wp-json/...`."""

from __future__ import annotations

from typing import Any, Optional

from flask import Blueprint, g, request

from .. import faults, wpjson
from ..auth import authenticate
from ..context import load_store, store
from ..errors import WooError

bp = Blueprint("woo_rest", __name__, url_prefix="/woo/<handle>/wp-json")
bp.url_value_preprocessor(load_store)
READ = ("GET", "HEAD", "OPTIONS")
DENIED = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete",
               "Sorry, you are not allowed to delete this resource."),
    "batch": ("woocommerce_rest_cannot_batch",
              "Sorry, you are not allowed to batch manipulate this resource."),
}


def _action() -> str:
    """Name what the request tries to do, for the permission error."""
    item = "id" in (request.view_args or {})
    if request.path.endswith("/batch"):
        return "batch"
    if request.method in READ:
        return "view" if item else "list"
    if request.method == "DELETE":
        return "delete"
    return "edit" if item else "create"


@bp.before_request
def guard() -> Optional[Any]:
    """Apply injected faults, authenticate and check the key's permissions."""
    woo = store()
    with woo.lock:
        fault = woo.take_fault(request.path)
    if fault is not None:
        return faults.answer(fault)
    if "/wp-json/wc/" not in request.path or request.path.rstrip("/").endswith("/wc/v3"):
        return None
    key = authenticate(woo, request)
    g.woo_key = key
    if request.endpoint == "woo_rest.no_route":
        return None
    write = request.method not in READ
    if key is None:
        raise WooError(*DENIED[_action()], 401)
    if not key.can(write):
        kind = "write" if write else "read"
        raise WooError("woocommerce_rest_authentication_error",
                       f"The API key provided does not have {kind} permissions.", 401)
    return None


@bp.errorhandler(WooError)
def woo_error(exc: WooError) -> Any:
    """Answer a WordPress REST error."""
    return wpjson.response(exc.body(), exc.status)


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def no_route(anything: str) -> Any:
    """Answer rest_no_route for anything unknown."""
    raise WooError("rest_no_route", "No route was found matching the URL and request method.",
                   404)


from . import (  # noqa: E402,F401 - registers the routes on bp
    catalog,
    coupons,
    customers,
    index,
    orders,
    settings,
    webhooks,
)
