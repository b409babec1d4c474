"""Webhook subscriptions: validation, creation, updates and the activation ping."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from . import lookup, topics
from .errors import WooError, invalid_params
from .hookshot import Hookshot
from .shapes.admin import webhook as shape
from .state import Webhook, WooStore, advance, now

STATUSES = ("active", "paused", "disabled")


def _apply(webhook: Webhook, body: dict) -> None:
    """Validate and apply name, topic, delivery_url, secret and status."""
    if "topic" in body:
        if not topics.valid_topic(body["topic"]):
            raise WooError("woocommerce_rest_webhook_invalid_topic",
                           "Webhook topic is required and must be valid.", 400)
        webhook.topic = body["topic"]
    if "delivery_url" in body:
        url = body["delivery_url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise WooError("woocommerce_rest_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// "
                           "or https://.", 400)
        webhook.delivery_url = url
    if "status" in body:
        if body["status"] not in STATUSES:
            raise invalid_params({"status": "status is not one of active, paused, and "
                                            "disabled."})
        webhook.status = body["status"]
    if body.get("name"):
        webhook.name = str(body["name"])
    if body.get("secret"):
        webhook.secret = str(body["secret"])


def create(hookshot: Hookshot, store: WooStore, body: dict) -> dict:
    """Create a webhook; an active one is pinged with `webhook_id=<id>`."""
    for name in ("topic", "delivery_url"):
        if not body.get(name):
            _apply(Webhook(0, "", "", "", "", "", 0, 0), {name: None})
    at = now()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%b %d, %Y @ %I:%M %p")
    webhook = Webhook(0, f"Webhook created on {stamp}", "active", "", "",
                      secrets.token_urlsafe(38), at, at)
    _apply(webhook, body)
    with store.lock:
        webhook.id = store.next("webhook")
        store.webhooks[webhook.id] = webhook
        payload = shape(store, webhook)
    if webhook.status == "active":
        hookshot.ping(store, webhook)
    return payload


def update(hookshot: Hookshot, store: WooStore, webhook_id: Any, body: dict) -> dict:
    """Update a webhook; activating it resets failures and pings."""
    with store.lock:
        webhook = lookup.webhook(store, webhook_id)
        was = webhook.status
        _apply(webhook, body)
        activated = webhook.status == "active" and was != "active"
        if activated:
            webhook.failure_count = 0
        webhook.updated_at = advance(webhook.updated_at)
        payload = shape(store, webhook)
    if activated:
        hookshot.ping(store, webhook)
    return payload


def delete(store: WooStore, webhook_id: Any) -> dict:
    """Delete a webhook and return its last shape."""
    with store.lock:
        webhook = lookup.webhook(store, webhook_id)
        del store.webhooks[webhook.id]
        return shape(store, webhook)


def disable(store: WooStore, webhook_id: Any) -> dict:
    """Force a webhook to disabled (control API)."""
    with store.lock:
        webhook = lookup.webhook(store, webhook_id)
        webhook.status = "disabled"
        webhook.updated_at = advance(webhook.updated_at)
        return shape(store, webhook)
