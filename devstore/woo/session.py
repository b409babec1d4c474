"""The storefront session of a WooCommerce store: logged-in user, cart coupons, notices.

WordPress keeps the login in a `wordpress_logged_in_*` cookie and WooCommerce keeps the cart
and its notices in a session row keyed by a cookie; devstore keeps all three in first-party
cookies signed with the registry's key (path `/woo/<handle>/`), so none can be forged.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from flask import Request
from werkzeug.wrappers import Response

from .. import cookies
from ..models import Customer
from .state import WooStore

LOGIN_COOKIE = "wordpress_logged_in_devstore"
CART_COOKIE = "wp_woocommerce_session_devstore"
NOTICES_COOKIE = "devstore_wc_notices"
MAX_COUPONS = 20


def _path(store: WooStore) -> str:
    return f"/woo/{store.handle}/"


def _read(key: bytes, request: Request, name: str, store: WooStore) -> Optional[Any]:
    """Return a signed cookie's JSON value for this store, or None."""
    value = cookies.unsign(key, name, request.cookies.get(name))
    if value is None:
        return None
    try:
        body = json.loads(value)
    except ValueError:
        return None
    return body.get("v") if isinstance(body, dict) and body.get("store") == store.handle else None


def _write(key: bytes, response: Response, name: str, store: WooStore, value: Any,
           secure: bool) -> None:
    """Set a signed cookie holding a JSON value for this store."""
    text = json.dumps({"store": store.handle, "v": value}, separators=(",", ":"))
    response.set_cookie(name, cookies.sign(key, name, text), path=_path(store), httponly=True,
                        samesite="Lax", secure=secure)


def logged_in(key: bytes, request: Request, store: WooStore) -> Optional[Customer]:
    """Return the logged-in shopper of the store, if any (a deleted user is a guest)."""
    customer_id = _read(key, request, LOGIN_COOKIE, store)
    if not isinstance(customer_id, int) or isinstance(customer_id, bool):
        return None
    with store.lock:
        return store.shop.customers.get(customer_id)


def log_in(key: bytes, response: Response, store: WooStore, customer: Customer,
           secure: bool) -> None:
    """Remember the logged-in shopper."""
    _write(key, response, LOGIN_COOKIE, store, customer.id, secure)


def log_out(response: Response, store: WooStore) -> None:
    """Forget the logged-in shopper."""
    response.delete_cookie(LOGIN_COOKIE, path=_path(store), httponly=True, samesite="Lax")


def cart_coupons(key: bytes, request: Request, store: WooStore) -> list[str]:
    """Return the coupon codes applied to the session cart, in the order applied."""
    codes = _read(key, request, CART_COOKIE, store)
    return [c for c in codes if isinstance(c, str)] if isinstance(codes, list) else []


def set_cart_coupons(key: bytes, response: Response, store: WooStore, codes: list[str],
                     secure: bool) -> None:
    """Store the session cart's coupon codes."""
    _write(key, response, CART_COOKIE, store, codes[-MAX_COUPONS:], secure)


def notices(key: bytes, request: Request, store: WooStore) -> list[tuple[str, str]]:
    """Return the pending notices `(kind, message)`; kind is `success` or `error`."""
    items = _read(key, request, NOTICES_COOKIE, store)
    if not isinstance(items, list):
        return []
    return [(str(i[0]), str(i[1])) for i in items if isinstance(i, list) and len(i) == 2]


def set_notices(key: bytes, response: Response, store: WooStore,
                items: list[tuple[str, str]], secure: bool) -> None:
    """Queue notices for the next page (an empty list clears them)."""
    if items:
        _write(key, response, NOTICES_COOKIE, store, [list(i) for i in items], secure)
    else:
        response.delete_cookie(NOTICES_COOKIE, path=_path(store), httponly=True,
                               samesite="Lax")
