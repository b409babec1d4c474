"""Webhook intake: verify, store, acknowledge; the inbox is drained by jobs."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request
from redis import RedisError

from app import platforms
from app.extensions import db
from app.store import inbox
from app.web.errors import error_response
from connectors import base

log = logging.getLogger(__name__)

blueprint = Blueprint("webhooks", __name__)


@blueprint.post("/webhooks/<platform>")
def receive(platform: str):
    try:
        connector = platforms.connector(platform)
    except KeyError:
        abort(404, description=f"unknown platform {platform!r}")
    body = request.get_data(cache=False)
    try:
        envelope = connector.verify_webhook(request.headers, body)
    except base.InvalidSignatureError as error:
        return error_response(401, f"webhook signature invalid: {error}")
    return _store(envelope)


@blueprint.post("/webhooks/<platform>/<int:shop_id>")
def receive_for_shop(platform: str, shop_id: int):
    """Intake for platforms where each shop signs with a secret of its own (WooCommerce)."""
    try:
        connector = platforms.connector(platform)
    except KeyError:
        abort(404, description=f"unknown platform {platform!r}")
    if base.CAP_SHOP_WEBHOOK_SECRET not in connector.capabilities:
        abort(404, description=f"{platform} webhooks are not addressed per shop")
    body = request.get_data(cache=False)
    shop = inbox.shop_secret(db.engine, platform, shop_id)
    if shop is None:
        return error_response(404, f"no {platform} store {shop_id}")
    try:
        envelope = connector.verify_webhook(request.headers, body, shop_key=shop.domain, secret=shop.secret)
    except base.InvalidSignatureError as error:
        return error_response(401, f"webhook signature invalid: {error}")
    if envelope.kind == base.PING:
        return jsonify({"status": "ping"}), 200
    return _store(envelope)


def _store(envelope: base.WebhookEnvelope):
    # Committed before we answer; a shop we do not (or no longer) serve is accepted and dropped.
    intake = inbox.store_delivery(db.engine, envelope)
    if intake.outcome == "stored" and envelope.kind != base.IGNORED:
        from jobs.inbox import request_drain

        try:
            request_drain(intake.shop_id)
        except RedisError as error:
            # Stored is enough: the sweeper queues it once Redis is back.
            log.warning("shop=%s drain not queued (%s); left for the sweeper", intake.shop_id,
                        type(error).__name__)
    return jsonify({"status": intake.outcome}), 200
