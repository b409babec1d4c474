"""App embeds of a shop: activation, and rendering them into storefront pages."""

from __future__ import annotations

import logging
from html import escape
from typing import Any, Optional

from ..core import DevStore
from ..errors import BadRequest, NotFound
from ..models import Customer
from ..shopstate import AppEmbed, ShopState
from . import themes

log = logging.getLogger(__name__)

ROUTES = {"root_url": "/", "account_url": "/account", "account_login_url": "/account/login",
          "account_logout_url": "/account/logout",
          "account_register_url": "/account/register", "cart_url": "/cart",
          "search_url": "/search"}


def embed_json(embed: AppEmbed) -> dict[str, Any]:
    """Return an app embed as JSON."""
    return {"client_id": embed.client_id, "block": embed.block, "enabled": embed.enabled,
            "settings": dict(embed.settings)}


def activate(devstore: DevStore, shop: ShopState, body: dict[str, Any]) -> tuple[AppEmbed, bool]:
    """Switch an app embed on or off with its settings; return it and whether it is new.

    Settings given replace the stored ones; without `settings` they are kept.
    """
    app = devstore.app(body.get("client_id") or "")
    name = body.get("block", "app-embed")
    if not isinstance(name, str):
        raise BadRequest("block must be a string")
    block = themes.find_block(app, name)
    if block is None:
        raise NotFound(f"app {app.client_id} has no block {name!r} in its extensions")
    if block.target not in themes.EMBED_TARGETS:
        raise BadRequest(f"blocks/{name}.liquid is an app block (target {block.target!r}), "
                         f"not an app embed")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("enabled must be a boolean")
    settings = themes.check_settings(block, body["settings"]) if "settings" in body else None
    with shop.lock:
        key = (app.client_id, name)
        embed = shop.app_embeds.get(key)
        created = embed is None
        if embed is None:
            embed = shop.app_embeds[key] = AppEmbed(app.client_id, name, enabled, {})
        embed.enabled = enabled
        if settings is not None:
            embed.settings = settings
        return embed, created


def customer_object(customer: Optional[Customer]) -> Optional[dict[str, Any]]:
    """Return the Liquid `customer` object (nil for a visitor)."""
    if customer is None:
        return None
    name = f"{customer.first_name} {customer.last_name}".strip()
    return {"id": customer.id, "email": customer.email, "first_name": customer.first_name,
            "last_name": customer.last_name, "name": name or customer.email}


def objects(shop: ShopState, customer: Optional[Customer], page_type: str,
            path: str) -> dict[str, Any]:
    """Return the Shopify Liquid objects of a storefront page."""
    return {
        "customer": customer_object(customer),
        "shop": {"name": shop.name, "permanent_domain": shop.domain, "domain": shop.domain,
                 "currency": shop.currency, "email": shop.email},
        "request": {"locale": {"iso_code": shop.locale}, "page_type": page_type,
                    "path": path, "host": shop.domain},
        "cart": {"currency": {"iso_code": shop.currency}, "item_count": 0},
        "routes": dict(ROUTES),
    }


def render_embeds(devstore: DevStore, shop: ShopState, customer: Optional[Customer],
                  page_type: str, path: str) -> dict[str, str]:
    """Render the enabled app embeds of installed apps: `{"head": html, "body": html}`."""
    with shop.lock:
        embeds = [e for e in shop.app_embeds.values() if e.enabled]
    parts = {"head": "", "body": ""}
    page_objects = objects(shop, customer, page_type, path)
    for embed in embeds:
        app = devstore.tokens.app(embed.client_id)
        if app is None or not devstore.tokens.is_installed(shop.domain, app.client_id):
            continue
        try:
            block = themes.find_block(app, embed.block)
        except BadRequest as exc:
            parts["body"] += f'<p class="liquid-error">{escape(str(exc))}</p>\n'
            continue
        if block is None or block.target not in themes.EMBED_TARGETS:
            continue
        html = themes.render(block, page_objects, embed.settings)
        parts["body" if block.target == "body" else "head"] += html
    return parts
