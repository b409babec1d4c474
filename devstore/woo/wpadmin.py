"""The companion plugin's wp-admin screen (WooCommerce → Comeback) and its "Open Comeback" action.

devstore acts as if the site administrator (user 1, the store's admin e-mail) were logged in to
wp-admin. The screen shows the connection and, once the three settings are filled in, a form that
posts to `admin-post.php?action=comeback_open` with a nonce; the action answers with a 302 to
`<app_url>/admin/enter?store&email&expires&signature&locale`, a link minted at that moment that
lives 60 seconds, signed with the shared secret as the plugin's README describes (format 5).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from html import escape
from typing import Optional
from urllib.parse import quote, urlencode

from .state import WooStore, now
from .storefront import configured

OPEN_ACTION = "comeback_open"
ADMIN_USER_ID = 1
LINK_SECONDS = 60
PHP_TRIM = " \t\n\r\0\x0b"


class Refused(Exception):
    """The action stops with a `wp_die` page: a message and a status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


def admin_email(store: WooStore) -> str:
    """Return the logged-in administrator's e-mail address (the lock held)."""
    return store.shop.email


def nonce(store: WooStore) -> str:
    """Return the administrator's `comeback_open` nonce: ten hex digits, as `wp_create_nonce`."""
    message = f"{OPEN_ACTION}|{ADMIN_USER_ID}".encode()
    return hmac.new(store.salt.encode(), message, hashlib.sha256).hexdigest()[-12:-2]


def nonce_matches(store: WooStore, given: Optional[str]) -> bool:
    """Tell whether a submitted `_wpnonce` is the administrator's `comeback_open` nonce."""
    return bool(given) and hmac.compare_digest(nonce(store).encode(), str(given).encode())


def connect_url(store: WooStore) -> str:
    """Return the app's install flow for this store, as the plugin's "Connect" button links it."""
    app_url = store.settings["comeback_app_url"].rstrip("/")
    return f"{app_url}/auth/woocommerce/install?store={quote(store.url, safe='')}"


def admin_link(app_url: str, store_id: str, secret: str, email: str, locale: str, issued_at: int) -> str:
    """Return the signed link into the Comeback admin for a store user, valid 60 s from `issued_at`.

    `signature = b64url(HMAC-SHA256(secret, "admin|<store_id>|<email>|<expires>"))` over the
    address trimmed and lower-cased; values are encoded like PHP's `rawurlencode`.
    """
    address = email.strip(PHP_TRIM).lower()
    if not address or "@" not in address or "|" in address:
        raise Refused("Your WordPress account has no usable e-mail address. Set one under Users → "
                      "Profile, then open Comeback again.", 400)
    if "?" in app_url or "#" in app_url:
        raise Refused('The Comeback app URL must not contain "?" or "#". Correct it on this screen, '
                      "then open Comeback again.", 400)
    expires = str(issued_at + LINK_SECONDS)
    mac = hmac.new(secret.encode(), f"admin|{store_id}|{address}|{expires}".encode(), hashlib.sha256).digest()
    params = {"store": store_id, "email": address, "expires": expires,
              "signature": base64.urlsafe_b64encode(mac).rstrip(b"=").decode()}
    if locale:
        params["locale"] = locale
    return f"{app_url.rstrip('/')}/admin/enter?{urlencode(params, quote_via=quote)}"


def open_app(store: WooStore, given_nonce: Optional[str]) -> str:
    """Return where "Open Comeback" redirects the administrator, or raise `Refused`."""
    with store.lock:
        if not nonce_matches(store, given_nonce):
            raise Refused("The link you followed has expired.", 403)
        if not configured(store):
            raise Refused('This store is not connected to Comeback yet: save the app URL and click '
                          '"Connect to Comeback" first.', 409)
        settings = store.settings
        return admin_link(settings["comeback_app_url"], settings["comeback_store_id"],
                          settings["comeback_shared_secret"], admin_email(store), store.locale, now())


def _connection(store: WooStore) -> str:
    """Return the screen's "Open Comeback" form and its connection section (the lock held)."""
    settings = store.settings
    if not settings["comeback_app_url"]:
        return ('<h2>Connection</h2>\n<p class="comeback-status" data-connected="false">Save the '
                'Comeback app URL first.</p>\n')
    if not configured(store):
        return ('<h2>Connection</h2>\n<p class="comeback-status" data-connected="false">Not connected '
                f'yet.</p>\n<p><a class="button button-primary" href="{escape(connect_url(store))}">'
                'Connect to Comeback</a></p>\n')
    action = f"/woo/{store.handle}/wp-admin/admin-post.php?action={OPEN_ACTION}"
    return (f'<form id="comeback-open" method="post" action="{escape(action)}">\n'
            f'<input type="hidden" id="_wpnonce" name="_wpnonce" value="{nonce(store)}">\n'
            f'<input type="hidden" name="_wp_http_referer" value="/woo/{escape(store.handle)}'
            '/wp-admin/admin.php?page=comeback">\n'
            '<p>Your store is connected. Loyalty, reminder e-mails, segments and reports are managed '
            'in the Comeback admin.</p>\n'
            '<p><button type="submit" class="button button-primary">Open Comeback</button></p>\n'
            '</form>\n<h2>Connection</h2>\n<p class="comeback-status" data-connected="true">'
            f'Connected.</p>\n<p><a class="button" href="{escape(connect_url(store))}">Reconnect to '
            'Comeback</a></p>\n')


def _settings_rows(store: WooStore) -> str:
    """Return the settings as read-only rows; the secret is never printed (the lock held)."""
    settings = store.settings
    secret = "Saved" if settings["comeback_shared_secret"] else "Not set"
    rows = (("comeback_app_url", "Comeback app URL", settings["comeback_app_url"]),
            ("comeback_store_id", "Store id", settings["comeback_store_id"]),
            ("comeback_shared_secret", "Shared secret", secret))
    return "".join(f'<tr><th scope="row">{label}</th><td id="{key}">{escape(value)}</td></tr>\n'
                   for key, label, value in rows)


def page(store: WooStore) -> str:
    """Render WooCommerce → Comeback as the plugin prints it inside wp-admin."""
    with store.lock:
        name = escape(store.shop.name)
        return (f'<!DOCTYPE html>\n<html lang="{escape(store.locale.replace("_", "-"))}">\n<head>\n'
                f'<meta charset="UTF-8">\n<title>Comeback ‹ {name} — WordPress</title>\n'
                '<link rel="icon" href="data:,">\n</head>\n'
                '<body class="wp-admin woocommerce_page_comeback">\n'
                f'<div id="wpadminbar"><span class="site-name">{name}</span> '
                f'<span class="display-name">{escape(admin_email(store))}</span></div>\n'
                '<div class="wrap"><h1>Comeback</h1>\n'
                f'{_connection(store)}'
                f'<table class="form-table" role="presentation">\n{_settings_rows(store)}</table>\n'
                '</div>\n</body>\n</html>\n')
