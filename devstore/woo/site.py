"""Store pages outside the REST API: the storefront and `/wc-auth/v1/authorize`."""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Blueprint, Response, redirect, request

from . import storefront, wcauth, wpjson
from .context import load_store, registry, store
from .errors import WooError

bp = Blueprint("woo_site", __name__, url_prefix="/woo/<handle>")
bp.url_value_preprocessor(load_store)


def _die(message: str, status: int) -> Response:
    """Render a `wp_die` error page."""
    html = (f'<!DOCTYPE html>\n<html lang="en-US">\n<head><meta charset="UTF-8">'
            f'<title>Access denied</title></head>\n<body id="error-page">'
            f'<div class="wp-die-message">{escape(message)}</div></body>\n</html>\n')
    return Response(html, status, content_type="text/html; charset=UTF-8")


@bp.errorhandler(WooError)
def woo_error(exc: WooError) -> Any:
    """Answer a WordPress-style error."""
    return wpjson.response(exc.body(), exc.status)


@bp.get("/")
def home() -> Any:
    """Render the storefront; `?customer=<id>` is a logged-in shopper."""
    customer = request.args.get("customer", "")
    html = storefront.page(store(), int(customer) if customer.isdigit() else None)
    return Response(html, content_type="text/html; charset=UTF-8")


@bp.get("/wc-auth/v1/authorize")
def authorize() -> Any:
    """Auto-approve an app: create a key, send it to callback_url, redirect to return_url."""
    args = {k: request.args.get(k, "") for k in wcauth.REQUIRED}
    try:
        target = wcauth.authorize(store(), args, registry().require_https_callback)
    except wcauth.AuthError as exc:
        return _die(f"Error: {exc}.", exc.status)
    return redirect(target, 302)
