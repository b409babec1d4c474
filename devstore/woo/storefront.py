"""Storefront pages as the companion plugin leaves them: widget config, coupon links, cart.

With the plugin installed and its three settings filled in, every page prints before
`</body>` the widget config (`#comeback-config`, JSON that cannot close the element) and the
loader `<app_url>/widget/comeback.js`. A logged-in shopper's config carries a customer token
(`X-Comeback-Customer`). `?comeback_apply_coupon=<code>` on the home page applies a coupon to
the session cart and redirects to the cart page, as the plugin's `template_redirect` handler.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import time
from html import escape
from typing import Any, Optional

from ..models import Customer
from .models_view import display_products
from .state import Coupon, WooStore

TOKEN_TTL = 900
APPLY_PARAM = "comeback_apply_coupon"
HEX_ESCAPES = {"<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "'": "\\u0027"}


def _b64(data: bytes) -> str:
    """Return URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def customer_token(store_id: str, secret: str, customer_id: int, email: str,
                   expires: Optional[int] = None) -> str:
    """Return `b64url(payload).b64url(HMAC-SHA256(secret, payload))` for a shopper."""
    expires = expires if expires is not None else int(time.time()) + TOKEN_TTL
    payload = f"v1|{store_id}|{customer_id}|{email.lower()}|{expires}".encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def configured(store: WooStore) -> bool:
    """Tell whether the plugin is installed and its three settings are filled in."""
    return store.plugin_installed and all(store.settings.values())


def page_url(store: WooStore, path: str) -> str:
    """Return a permalink under the home URL (`path` like `cart/`), keeping a home query."""
    base, _, query = store.url.partition("?")
    return f"{base.rstrip('/')}/{path}" + (f"?{query}" if query else "")


def apply_coupon_url(store: WooStore) -> str:
    """Return the plugin's apply link with the literal `{code}` placeholder."""
    home = page_url(store, "")
    return f"{home}{'&' if '?' in home else '?'}{APPLY_PARAM}={{code}}"


def _php_string(value: str) -> str:
    """Encode a string as PHP's json_encode with JSON_HEX_* flags and unescaped slashes."""
    inner = json.dumps(value, ensure_ascii=True)[1:-1].replace('\\"', "\\u0022")
    for char, escaped in HEX_ESCAPES.items():
        inner = inner.replace(char, escaped)
    return f'"{inner}"'


def script_json(value: Any) -> str:
    """Encode like `wp_json_encode(..., JSON_HEX_TAG|AMP|APOS|QUOT|UNESCAPED_SLASHES)`.

    `<`, `>`, `&`, `'` and `"` inside strings become `\\u003C` ...: nothing can end the element.
    """
    if isinstance(value, str):
        return _php_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_php_string(str(k))}:{script_json(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(script_json(v) for v in value) + "]"
    return json.dumps(value)


def widget_config(store: WooStore, customer: Optional[Customer]) -> dict[str, Any]:
    """Return the config the plugin prints (the store lock held)."""
    settings = store.settings
    app_url = settings["comeback_app_url"].rstrip("/")
    headers = {"X-Comeback-Store": settings["comeback_store_id"]}
    if customer is not None and customer.email and "|" not in customer.email:
        headers["X-Comeback-Customer"] = customer_token(
            settings["comeback_store_id"], settings["comeback_shared_secret"], customer.id,
            customer.email)
    account = page_url(store, "my-account/")
    return {"api": f"{app_url}/proxy", "headers": headers, "signedIn": customer is not None,
            "locale": store.locale.replace("_", "-"), "currency": store.shop.currency,
            "rate": None,
            "links": {"join": account, "signIn": account, "cart": page_url(store, "cart/"),
                      "applyCode": apply_coupon_url(store)}}


def _widget(store: WooStore, customer: Optional[Customer]) -> str:
    """Return the config and loader scripts the plugin prints before `</body>`."""
    config = script_json(widget_config(store, customer))
    app_url = store.settings["comeback_app_url"].rstrip("/")
    return (f'<script id="comeback-config" type="application/json">{config}</script>\n'
            f'<script src="{escape(app_url)}/widget/comeback.js" async></script>\n')


def format_code(value: str) -> str:
    """Normalise a coupon code as `wc_format_coupon_code` + `wc_strtolower` do."""
    return html.unescape(value).strip().lower()


def find_coupon(store: WooStore, code: str) -> Optional[Coupon]:
    """Return the store's coupon with this (formatted) code, unless it is in the trash."""
    return next((c for c in store.coupons.values() if c.code == code and c.status != "trash"),
                None)


def apply_coupon(store: WooStore, applied: list[str], raw: str) -> tuple[list[str], str, str]:
    """Apply a code to the cart's coupons as `WC_Cart::apply_coupon`: (codes, kind, notice)."""
    code = format_code(raw)
    with store.lock:
        if not code:
            return applied, "error", "Please enter a coupon code."
        if find_coupon(store, code) is None:
            return applied, "error", f'Coupon "{code}" does not exist!'
    if code in applied:
        return applied, "error", "Coupon code already applied!"
    return applied + [code], "success", "Coupon code applied successfully."


def _notices(items: list[tuple[str, str]]) -> str:
    """Render WooCommerce notices."""
    out = ""
    for kind, message in items:
        if kind == "error":
            out += f'<ul class="woocommerce-error" role="alert"><li>{escape(message)}</li></ul>\n'
        else:
            out += f'<div class="woocommerce-message" role="alert">{escape(message)}</div>\n'
    return out


def _layout(store: WooStore, title: str, body_class: str, main: str,
            customer: Optional[Customer], notices: list[tuple[str, str]]) -> str:
    """Wrap page content like a WooCommerce theme (the store lock held)."""
    name = escape(store.shop.name)
    account = escape(page_url(store, "my-account/"))
    cart = escape(page_url(store, "cart/"))
    who = (f'<span class="customer-name">{escape(customer.first_name)}</span> '
           if customer is not None else "")
    widget = _widget(store, customer) if configured(store) else ""
    return (f'<!DOCTYPE html>\n<html lang="{escape(store.locale.replace("_", "-"))}">\n'
            '<head>\n<meta charset="UTF-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{escape(title)}</title>\n'
            '<link rel="icon" href="data:,">\n</head>\n'
            f'<body class="{body_class}">\n'
            f'<header><h1 class="site-title"><a href="{escape(page_url(store, ""))}">{name}'
            f'</a></h1>\n<nav>{who}<a class="my-account" href="{account}">My account</a> '
            f'<a class="cart-contents" href="{cart}">Cart</a></nav></header>\n'
            f'<main>{_notices(notices)}{main}</main>\n{widget}</body>\n</html>\n')


def page(store: WooStore, customer: Optional[Customer],
         notices: Optional[list[tuple[str, str]]] = None) -> str:
    """Render the home page."""
    with store.lock:
        items = "".join(f'<li class="product"><a href="{escape(url)}">{escape(title)}</a>'
                        f' <span class="price">{escape(price)}</span></li>'
                        for title, url, price in display_products(store))
        return _layout(store, store.shop.name, "home woocommerce-page",
                       f'<ul class="products">{items}</ul>\n', customer, notices or [])


def cart_page(store: WooStore, customer: Optional[Customer], codes: list[str],
              notices: list[tuple[str, str]]) -> str:
    """Render the (empty) cart with its applied coupons, each still valid or not."""
    with store.lock:
        lines = "".join(
            f'<p class="cart-discount" data-code="{escape(code)}" data-valid='
            f'"{"true" if find_coupon(store, code) else "false"}">Coupon: {escape(code)}</p>\n'
            for code in codes)
        main = ('<h2>Cart</h2>\n<p class="cart-empty woocommerce-info">Your cart is currently '
                f'empty.</p>\n{lines}')
        return _layout(store, f"Cart – {store.shop.name}", "woocommerce-cart woocommerce-page",
                       main, customer, notices)


def account_page(store: WooStore, customer: Optional[Customer]) -> str:
    """Render My Account: the dashboard of a logged-in shopper, else a login form."""
    with store.lock:
        if customer is not None:
            logout = escape(page_url(store, "my-account/customer-logout/"))
            main = (f'<h2>My account</h2>\n<p class="woocommerce-MyAccount-content">Hello '
                    f'<strong>{escape(customer.first_name)}</strong> (not '
                    f'{escape(customer.first_name)}? <a class="logout" href="{logout}">Log out'
                    f'</a>)</p>\n')
        else:
            home = escape(page_url(store, ""))
            main = ('<h2>Login</h2>\n<form class="woocommerce-form-login" method="get" '
                    f'action="{home}">\n<label>User id <input name="customer" '
                    'autocomplete="off"></label>\n<button type="submit">Log in</button>\n'
                    '</form>\n<h2>Register</h2>\n<p class="register-note">devstore does not '
                    'register shoppers: create customers through the control API.</p>\n')
        return _layout(store, f"My account – {store.shop.name}",
                       "woocommerce-account woocommerce-page", main, customer, [])
