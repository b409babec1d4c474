"""The storefront page with the companion plugin's widget config and customer token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from html import escape
from typing import Optional

from . import wpjson
from .models_view import display_products
from .state import WooStore

TOKEN_TTL = 900


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


def _widget(store: WooStore, customer_id: Optional[int]) -> str:
    """Return the config and loader scripts the plugin prints before `</body>`."""
    settings = store.settings
    app_url = settings["comeback_app_url"].rstrip("/")
    token = None
    customer = store.shop.customers.get(customer_id) if customer_id else None
    if customer is not None:
        token = customer_token(settings["comeback_store_id"],
                               settings["comeback_shared_secret"], customer.id,
                               customer.email or "")
    config = wpjson.encode({"appUrl": app_url, "storeId": settings["comeback_store_id"],
                            "locale": "en_US", "currency": store.shop.currency,
                            "customerToken": token}).decode()
    return (f'<script id="comeback-config" type="application/json">{config}</script>\n'
            f'<script src="{escape(app_url)}/widget/comeback.js" async></script>\n')


def page(store: WooStore, customer_id: Optional[int]) -> str:
    """Render the home page like a WooCommerce theme."""
    with store.lock:
        name = escape(store.shop.name)
        items = "".join(f'<li class="product"><a href="{escape(url)}">{escape(title)}</a>'
                        f' <span class="price">{escape(price)}</span></li>'
                        for title, url, price in display_products(store))
        widget = _widget(store, customer_id) if configured(store) else ""
    return (f'<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8">\n'
            f'<title>{name}</title>\n</head>\n<body class="home woocommerce-page">\n'
            f'<header><h1 class="site-title">{name}</h1></header>\n'
            f'<main><ul class="products">{items}</ul></main>\n{widget}</body>\n</html>\n')
