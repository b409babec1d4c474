"""Install: send the merchant to the platform's consent screen, take the callback."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, render_template_string, request, url_for
from redis import RedisError
from sqlalchemy import select

from app import installs, platforms
from app.extensions import db
from app.store.models import OAuthState, Shop
from app.web.errors import error_response
from connectors import base

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)


def _known_platform(platform: str) -> None:
    try:
        platforms.connector(platform)
    except KeyError:
        abort(404, description=f"unknown platform {platform!r}")


@blueprint.get("/auth/<platform>/install")
def install(platform: str):
    _known_platform(platform)
    session = db.session()
    try:
        # Shopify names a shop by its domain (``shop``), WooCommerce by its site URL (``store``).
        authorization = installs.begin_install(session, platform,
                                               request.args.get("shop") or request.args.get("store"))
    except installs.InstallError as error:
        return error_response(error.status, str(error))
    session.commit()
    return redirect(authorization.url, code=302)


@blueprint.get("/auth/<platform>/callback")
def callback(platform: str):
    _known_platform(platform)
    session = db.session()
    try:
        shop = installs.complete_install(session, platform, request.args.to_dict(flat=True))
    except installs.InstallError as error:
        session.rollback()
        return error_response(error.status, str(error))
    session.commit()
    _queue_set_up(shop)
    # the first screen after install: onboarding, inside the platform's admin
    return redirect(url_for("pages.onboarding_page", shop=shop.domain), code=302)


def _queue_set_up(shop: Shop) -> None:
    from jobs.shops import after_install

    try:
        after_install(shop.id)
    except RedisError:
        # Installed all the same; the periodic check queues the set-up once Redis is back.
        log.warning("shop=%s set-up not queued (Redis unavailable)", shop.id)


def _key_platform(platform: str) -> None:
    _known_platform(platform)
    if base.CAP_KEY_CALLBACK not in platforms.connector(platform).capabilities:
        abort(404, description=f"{platform} does not connect with API keys")


@blueprint.post("/auth/<platform>/callback")
def key_callback(platform: str):
    """Take the keys a store posts server-to-server; only an answer of exactly 200 keeps them."""
    _key_platform(platform)
    session = db.session()
    try:
        shop = installs.complete_key_install(session, platform, request.get_data(cache=False))
    except installs.InstallError as error:
        session.rollback()
        log.info("%s key callback refused: %s", platform, error)
        return error_response(error.status, str(error))
    session.commit()
    _queue_set_up(shop)
    return {"status": "connected", "store_id": shop.id}, 200


_RETURN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Comeback</title></head>
<body><main><h1>{{ title }}</h1><p>{{ message }}</p>
{% if store %}<p><a href="{{ store }}/wp-admin/admin.php?page=comeback">Back to your store's admin</a>
{% if connected %} — open Comeback there (WooCommerce → Comeback → Open Comeback) to follow the first sync and
set up your program.{% endif %}</p>{% endif %}</main></body></html>"""


@blueprint.get("/auth/<platform>/return")
def key_return(platform: str):
    """Where the merchant's browser lands after approving (or refusing) the keys."""
    _key_platform(platform)
    state = request.args.get("user_id") or ""
    session = db.session()
    row = session.get(OAuthState, state) if state else None
    if row is None or row.platform != platform:
        return render_template_string(_RETURN_PAGE, title="Connection not found", store=None,
                                      message="This link is unknown or expired; start the connection again."), 404
    shop = session.execute(
        select(Shop).where(Shop.platform == platform, Shop.domain == row.shop_domain)
    ).scalar_one_or_none()
    if request.args.get("success") != "1" or row.used_at is None or shop is None or not shop.is_active:
        keys_page = url_for("auth.keys_form", platform=platform, _external=False)
        return render_template_string(
            _RETURN_PAGE, title="Not connected", store=row.shop_domain,
            message="The store did not hand Comeback its API keys, or they did not work. "
                    f"Try again, or enter the keys by hand at {keys_page}."), 400
    return render_template_string(
        _RETURN_PAGE, title="Connected", store=shop.domain,
        message="Comeback is connected to your store and is reading its customers, orders and "
                "products now.", connected=True), 200


_KEYS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Connect with API keys</title></head>
<body><main><h1>Connect your store with API keys</h1>
<p>Create a key with Read/Write permissions under WooCommerce → Settings → Advanced → REST API.</p>
<form method="post"><label>Store URL <input name="store" type="url" required></label>
<label>Consumer key <input name="consumer_key" required autocomplete="off"></label>
<label>Consumer secret <input name="consumer_secret" type="password" required autocomplete="off"></label>
<button type="submit">Connect</button></form></main></body></html>"""


@blueprint.get("/auth/<platform>/keys")
def keys_form(platform: str):
    """The manual fallback for stores whose server strips the Authorization header."""
    _key_platform(platform)
    return render_template_string(_KEYS_PAGE)


@blueprint.post("/auth/<platform>/keys")
def keys_connect(platform: str):
    """Connect a store with keys entered by hand (JSON or a form post)."""
    _key_platform(platform)
    payload = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(payload, dict) and not hasattr(payload, "get"):
        return error_response(400, "send store, consumer_key and consumer_secret as JSON or a form")
    missing = [name for name in ("store", "consumer_key", "consumer_secret") if not (payload or {}).get(name)]
    if missing:
        return error_response(400, f"missing {', '.join(missing)}")
    session = db.session()
    try:
        shop = installs.connect_with_keys(session, platform, str(payload["store"]),
                                          str(payload["consumer_key"]).strip(),
                                          str(payload["consumer_secret"]).strip())
    except installs.InstallError as error:
        session.rollback()
        return error_response(error.status, str(error))
    session.commit()
    _queue_set_up(shop)
    return {"status": "connected", "store_id": shop.id, "store": shop.domain,
            "auth": shop.auth_hint or "default"}, 201
