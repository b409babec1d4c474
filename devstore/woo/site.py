"""Store pages outside the REST API: the storefront, the plugin's wp-admin screen, `/wc-auth/v1/authorize`."""

from __future__ import annotations

from html import escape
from typing import Any, Optional

from flask import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from .. import images
from ..models import Customer
from . import session, storefront, wcauth, wpadmin, wpjson
from .context import load_store, registry, store
from .errors import WooError
from .shapes.catalog import image_path
from .state import WooStore

bp = Blueprint("woo_site", __name__, url_prefix="/woo/<handle>")
bp.url_value_preprocessor(load_store)


def _die(message: str, status: int, title: str = "Access denied") -> Response:
    """Render a `wp_die` error page."""
    html = (f'<!DOCTYPE html>\n<html lang="en-US">\n<head><meta charset="UTF-8">'
            f'<title>{escape(title)}</title></head>\n<body id="error-page">'
            f'<div class="wp-die-message">{escape(message)}</div></body>\n</html>\n')
    return Response(html, status, content_type="text/html; charset=UTF-8")


@bp.errorhandler(WooError)
def woo_error(exc: WooError) -> Any:
    """Answer a WordPress-style error."""
    return wpjson.response(exc.body(), exc.status)


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status, content_type="text/html; charset=UTF-8")


def _shopper(woo: WooStore) -> tuple[Optional[Customer], bool]:
    """Return the logged-in shopper and whether `?customer=<id>` just logged them in."""
    key = registry().cookie_key
    wanted = request.args.get("customer", "")
    if wanted.isdigit():
        with woo.lock:
            customer = woo.shop.customers.get(int(wanted))
        if customer is not None:
            return customer, True
    return session.logged_in(key, request, woo), False


def _finish(woo: WooStore, response: BaseResponse, customer: Optional[Customer],
            log_in: bool) -> BaseResponse:
    """Set the login cookie when `?customer=` logged a shopper in."""
    if log_in and customer is not None:
        session.log_in(registry().cookie_key, response, woo, customer, request.is_secure)
    return response


@bp.get("/")
def home() -> Any:
    """Render the storefront; `?customer=<id>` logs a shopper in (a cookie keeps them).

    With the plugin, `?comeback_apply_coupon=<code>` applies a coupon to the session cart
    and redirects to the cart page, where WooCommerce shows its notice.
    """
    woo = store()
    customer, log_in = _shopper(woo)
    key = registry().cookie_key
    if woo.plugin_installed and storefront.APPLY_PARAM in request.args:
        codes, kind, notice = storefront.apply_coupon(
            woo, session.cart_coupons(key, request, woo), request.args[storefront.APPLY_PARAM])
        with woo.lock:
            target = storefront.page_url(woo, "cart/")
        response = redirect(target, 302)
        session.set_cart_coupons(key, response, woo, codes, request.is_secure)
        session.set_notices(key, response, woo,
                            session.notices(key, request, woo) + [(kind, notice)],
                            request.is_secure)
        return _finish(woo, response, customer, log_in)
    response = _html(storefront.page(woo, customer))
    return _finish(woo, response, customer, log_in)


@bp.get("/cart/")
def cart() -> Any:
    """Render the cart page: applied coupons and the notices left for it."""
    woo = store()
    customer, log_in = _shopper(woo)
    key = registry().cookie_key
    notices = session.notices(key, request, woo)
    response = _html(storefront.cart_page(woo, customer, session.cart_coupons(key, request, woo),
                                          notices))
    if notices:  # shown once
        session.set_notices(key, response, woo, [], request.is_secure)
    return _finish(woo, response, customer, log_in)


@bp.get("/my-account/")
def my_account() -> Any:
    """Render My Account (login form for a guest)."""
    woo = store()
    customer, log_in = _shopper(woo)
    return _finish(woo, _html(storefront.account_page(woo, customer)), customer, log_in)


@bp.get("/my-account/customer-logout/")
def logout() -> Any:
    """Log the shopper out and go back to My Account."""
    woo = store()
    with woo.lock:
        target = storefront.page_url(woo, "my-account/")
    response = redirect(target, 302)
    session.log_out(response, woo)
    return response


@bp.get("/wp-content/uploads/<year>/<month>/<name>.png")
def upload(year: str, month: str, name: str) -> Any:
    """Serve a product image (a small PNG), where WordPress keeps its uploads."""
    woo = store()
    image_id = name.rpartition("-")[2]
    with woo.lock:
        found = next((p for p in woo.shop.products if p.image is not None and str(p.image.id) == image_id
                      and image_path(p, p.image) == f"{year}/{month}/{name}.png"), None)
    if found is None:
        return _html("<!DOCTYPE html><title>Page not found</title>", 404)
    return Response(images.png(f"{woo.handle}/{image_id}"), 200, mimetype="image/png",
                    headers={"Cache-Control": "public, max-age=31536000"})


@bp.get("/wp-admin/admin.php")
def wp_admin_page() -> Any:
    """Render `?page=comeback` (WooCommerce → Comeback) with the plugin; other pages are denied."""
    woo = store()
    if request.args.get("page") != "comeback" or not woo.plugin_installed:
        return _die("Sorry, you are not allowed to access this page.", 403)
    return _html(wpadmin.page(woo))


@bp.post("/wp-admin/admin-post.php")
def wp_admin_post() -> Any:
    """Run `?action=comeback_open`: 302 to a freshly signed Comeback admin link (60 s)."""
    woo = store()
    action = request.args.get("action") or request.form.get("action", "")
    if action != wpadmin.OPEN_ACTION or not woo.plugin_installed:
        return _die("", 400, "WordPress")
    try:
        target = wpadmin.open_app(woo, request.form.get("_wpnonce"))
    except wpadmin.Refused as refusal:
        return _die(refusal.message, refusal.status, "Comeback")
    return redirect(target, 302)


@bp.get("/wc-auth/v1/authorize")
def authorize() -> Any:
    """Auto-approve an app: create a key, send it to callback_url, redirect to return_url."""
    args = {k: request.args.get(k, "") for k in wcauth.REQUIRED}
    try:
        target = wcauth.authorize(store(), args, registry().require_https_callback)
    except wcauth.AuthError as exc:
        return _die(f"Error: {exc}.", exc.status)
    return redirect(target, 302)
