"""Storefront API: what the store's own pages (through the companion plugin) send us."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from redis import RedisError
from sqlalchemy import select

from app import platforms
from app.extensions import db
from app.store import inbox
from app.store.models import Shop
from app.web.errors import error_response
from connectors import base, registry

log = logging.getLogger(__name__)

blueprint = Blueprint("storefront", __name__, url_prefix="/proxy")


@blueprint.post("/cart-events")
def cart_event():
    """Store a signed cart event (contents, consented email, completion) and acknowledge it."""
    body = request.get_data(cache=False)
    for platform in registry.platforms():
        connector = platforms.connector(platform)
        if not hasattr(connector, "verify_storefront_event"):
            continue
        shop_id = connector.storefront_shop_id(request.headers)  # type: ignore[attr-defined]
        if shop_id is None:
            continue
        shop = db.session().execute(
            select(Shop).where(Shop.id == shop_id, Shop.platform == platform)).scalar_one_or_none()
        if shop is None or not shop.is_active:
            return error_response(404, f"no connected store {shop_id}")
        try:
            envelope = connector.verify_storefront_event(  # type: ignore[attr-defined]
                request.headers, body, shop_key=shop.domain, secret=shop.storefront_secret)
        except base.InvalidSignatureError as error:
            return error_response(401, f"signature invalid: {error}")
        except base.TerminalError as error:
            return error_response(400, str(error))
        db.session().rollback()  # end the read; intake writes on a connection of its own
        intake = inbox.store_delivery(db.engine, envelope)
        if intake.outcome == "stored":
            from jobs.inbox import request_drain

            try:
                request_drain(shop_id)
            except RedisError as error:
                log.warning("shop=%s drain not queued (%s); left for the sweeper", shop_id, type(error).__name__)
        return jsonify({"status": intake.outcome}), 202
    return error_response(401, "the request names no store or is not signed by one")
