"""The Shopify storefront on `<shop>.myshopify.com`: pages, sign-in, discount links, app proxy.

Routes answer only on a shop's host (the Host header, port ignored), like the Admin API;
on any other host they are 404. The signed-in shopper is a first-party cookie signed with
the server's key; the applied discount is the `discount_code` cookie, as on Shopify.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

from flask import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from .. import cookies, payloads
from ..errors import BadRequest, NotFound
from ..events import parse_id
from ..models import Customer
from ..shopstate import ShopState
from ..storefront import pages, proxy
from ..storefront.embeds import render_embeds
from ..tokens import App
from .common import host_shop, store

log = logging.getLogger(__name__)
bp = Blueprint("storefront", __name__)

CUSTOMER_COOKIE = "_devstore_customer"
DISCOUNT_COOKIE = "discount_code"
PROXY_METHODS = ["GET", "POST", "PUT", "DELETE"]


class Unavailable(Exception):
    """The host names no shop (or no app proxy answers the path): an HTML 404."""


@bp.errorhandler(Unavailable)
def _unavailable(exc: Unavailable) -> Any:
    return Response(pages.unavailable(str(exc)), 404, content_type="text/html; charset=utf-8")


def _shop() -> ShopState:
    """Return the shop the Host header names."""
    domain = host_shop()
    if domain is None:
        raise Unavailable("Not Found")
    try:
        return store().shop(domain)
    except NotFound as exc:
        raise Unavailable("Sorry, this shop is currently unavailable.") from exc


def _customer(shop: ShopState) -> Optional[Customer]:
    """Return the signed-in shopper of this shop (a forged or foreign cookie is a visitor)."""
    value = cookies.unsign(store().cookie_key, CUSTOMER_COOKIE,
                           request.cookies.get(CUSTOMER_COOKIE))
    domain, _, customer_id = (value or "").partition("|")
    if domain != shop.domain or not customer_id.isdigit():
        return None
    with shop.lock:
        return shop.customers.get(int(customer_id))


def _find_customer(shop: ShopState, value: str) -> Optional[Customer]:
    """Find a customer by id, GID or e-mail (what the sign-in form accepts)."""
    value = value.strip()
    with shop.lock:
        if "@" in value:
            wanted = value.lower()
            return next((c for c in shop.customers if (c.email or "").lower() == wanted), None)
        try:
            return shop.customers.get(parse_id(value, "Customer"))
        except BadRequest:
            return None


def safe_path(value: Optional[str]) -> str:
    """Return a same-site path to redirect to: one starting with a single `/`, else `/`."""
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)):
        return "/"
    return value


def _page(shop: ShopState, customer: Optional[Customer], title: str, main: str,
          page_type: str, status: int = 200) -> Response:
    """Render a page in the theme with the shop's app embeds."""
    embeds = render_embeds(store(), shop, customer, page_type, request.path)
    html = pages.layout(shop, title, main, customer, embeds, page_type)
    return Response(html, status, content_type="text/html; charset=utf-8")


def _sign_in(shop: ShopState, customer: Customer, target: str) -> BaseResponse:
    """Set the signed shopper cookie and redirect."""
    response = redirect(safe_path(target), 302)
    response.set_cookie(CUSTOMER_COOKIE,
                        cookies.sign(store().cookie_key, CUSTOMER_COOKIE,
                                     f"{shop.domain}|{customer.id}"),
                        path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    log.info("shopper signed in on %s", shop.domain)
    return response


@bp.get("/")
def home() -> Any:
    """Render the home page."""
    shop = _shop()
    return _page(shop, _customer(shop), shop.name, pages.home(shop), "index")


@bp.get("/products/<handle>")
def product(handle: str) -> Any:
    """Render a product's page (its `onlineStoreUrl`); 404 unless it is active and published."""
    shop = _shop()
    with shop.lock:
        found = next((p for p in shop.products if p.handle == handle), None)
        visible = found is not None and payloads.online_store_url(shop, found) is not None
    if found is None or not visible:
        raise Unavailable("Not Found")
    return _page(shop, _customer(shop), found.title, pages.product(shop, found), "product")


@bp.get("/account")
def account() -> Any:
    """Render the account page, or send a visitor to sign in."""
    shop = _shop()
    customer = _customer(shop)
    if customer is None:
        return redirect("/account/login", 302)
    return _page(shop, customer, "Account", pages.account(customer), "customers/account")


@bp.get("/account/login")
def login_form() -> Any:
    """Render the sign-in form; `?customer=<id>` signs in at once (a test shortcut)."""
    shop = _shop()
    return_to = safe_path(request.args.get("return_to"))
    if "customer" in request.args:
        customer = _find_customer(shop, request.args["customer"])
        if customer is not None:
            return _sign_in(shop, customer, return_to)
        return _page(shop, None, "Sign in", pages.login("Incorrect email or password.",
                                                        return_to), "customers/login", 401)
    return _page(shop, _customer(shop), "Sign in", pages.login(None, return_to),
                 "customers/login")


@bp.post("/account/login")
def login() -> Any:
    """Sign a shopper in from the form's `customer_id` (an id or an e-mail)."""
    shop = _shop()
    return_to = safe_path(request.form.get("return_to"))
    customer = _find_customer(shop, request.form.get("customer_id", ""))
    if customer is None:
        return _page(shop, None, "Sign in", pages.login("Incorrect email or password.",
                                                        return_to), "customers/login", 401)
    return _sign_in(shop, customer, return_to)


@bp.get("/account/logout")
def logout() -> Any:
    """Sign the shopper out."""
    _shop()
    response = redirect("/", 302)
    response.delete_cookie(CUSTOMER_COOKIE, path="/", httponly=True, samesite="Lax")
    return response


@bp.get("/account/register")
def register() -> Any:
    """Render the registration page."""
    shop = _shop()
    return _page(shop, _customer(shop), "Create account", pages.register(),
                 "customers/register")


@bp.get("/cart")
def cart() -> Any:
    """Render the cart with the applied discount code and whether the shop has that code."""
    shop = _shop()
    code = request.cookies.get(DISCOUNT_COOKIE) or None
    with shop.lock:
        valid = code is not None and code.strip().lower() in shop.discount_codes
    return _page(shop, _customer(shop), "Your cart", pages.cart(code, valid), "cart")


@bp.get("/discount/<path:code>")
def apply_discount(code: str) -> Any:
    """Remember a discount code for the checkout (`discount_code` cookie) and redirect."""
    _shop()
    code = code.strip()
    if not code or len(code) > 255:
        raise Unavailable("Not Found")
    response = redirect(safe_path(request.args.get("redirect")), 302)
    response.set_cookie(DISCOUNT_COOKIE, code, path="/", samesite="Lax",
                        secure=request.is_secure)
    return response


def _proxy_app(shop: ShopState, prefix: str, subpath: str) -> App:
    """Return the installed app whose app proxy is `/<prefix>/<subpath>`."""
    devstore = store()
    with devstore.tokens.lock:
        apps = list(devstore.tokens.apps.values())
    for app in apps:
        if (app.app_proxy is not None and app.app_proxy.prefix == prefix
                and app.app_proxy.subpath == subpath
                and devstore.tokens.is_installed(shop.domain, app.client_id)):
            return app
    raise Unavailable("Not Found")


def app_proxy(prefix: str, subpath: str, rest: str = "") -> Any:
    """Forward a storefront request to the app, signed as Shopify signs it."""
    shop = _shop()
    app = _proxy_app(shop, prefix, subpath)
    assert app.app_proxy is not None
    path_prefix = f"/{prefix}/{subpath}"
    remainder = request.path[len(path_prefix):]
    customer = _customer(shop)
    params = proxy.signed_params(request.args.items(multi=True), shop.domain,
                                 customer.id if customer else None, path_prefix,
                                 app.client_secret, int(time.time()))
    url = proxy.target_url(app.app_proxy, remainder, params)
    try:
        answer = proxy.forward(request.method, url, dict(request.headers.items()),
                               request.get_data(),
                               store().proxy_timeout)
    except proxy.ProxyError as exc:
        log.warning("app proxy %s on %s: %s", app.client_id, shop.domain, exc)
        return Response(pages.unavailable(str(exc)), exc.status,
                        content_type="text/html; charset=utf-8")
    response = Response(answer.body, answer.status)
    response.headers.remove("Content-Type")
    for name, value in answer.headers:
        response.headers.add(name, value)
    return response


for _prefix in proxy.PREFIXES:
    bp.add_url_rule(f"/{_prefix}/<subpath>", f"proxy_{_prefix}", app_proxy,
                    methods=PROXY_METHODS, defaults={"prefix": _prefix, "rest": ""},
                    strict_slashes=False)
    bp.add_url_rule(f"/{_prefix}/<subpath>/<path:rest>", f"proxy_{_prefix}_rest", app_proxy,
                    methods=PROXY_METHODS, defaults={"prefix": _prefix})
