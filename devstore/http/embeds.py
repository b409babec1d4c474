"""Control routes for the theme: switch app embeds on or off per shop."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..storefront.embeds import activate, embed_json
from .common import json_body, store

bp = Blueprint("embeds_control", __name__, url_prefix="/_devstore")


@bp.post("/shops/<domain>/app-embeds")
def set_app_embed(domain: str) -> Any:
    """Activate (201) or update (200) an app embed: `{client_id, block, enabled, settings}`."""
    devstore = store()
    embed, created = activate(devstore, devstore.shop(domain), json_body(required=True))
    return jsonify(embed_json(embed)), 201 if created else 200


@bp.get("/shops/<domain>/app-embeds")
def list_app_embeds(domain: str) -> Any:
    """List the shop's app embeds in activation order."""
    shop = store().shop(domain)
    with shop.lock:
        return jsonify([embed_json(e) for e in shop.app_embeds.values()])
