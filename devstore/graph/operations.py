"""Root fields beyond plain connections: node lookups, webhooks and bulk mutations."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional

from graphql import GraphQLSchema

from ..formats import gid, iso_utc, parse_gid
from ..shopstate import Subscription
from . import bulk
from .context import Ctx
from .fields import FIELDS, TOPIC_ENUM

LOOKUPS = {
    "Customer": lambda s, i: s.customers.get(i),
    "Order": lambda s, i: s.orders.get(i),
    "Product": lambda s, i: s.products.get(i),
    "ProductVariant": lambda s, i: s.variants.get(i),
    "AbandonedCheckout": lambda s, i: s.checkouts.get(i),
    "Refund": lambda s, i: s.refunds.get(i),
    "BulkOperation": lambda s, i: s.bulk_ops.get(i),
    "WebhookSubscription": lambda s, i: s.subscriptions.get(i),
    "Shop": lambda s, i: s if s.id == i else None,
}


def lookup(ctx: Ctx, value: str, expected: Optional[str] = None) -> Any:
    """Return the object a GID names, or None."""
    parsed = parse_gid(value)
    if parsed is None or parsed[0] not in LOOKUPS:
        return None
    if expected is not None and parsed[0] != expected:
        return None
    obj = LOOKUPS[parsed[0]](ctx.shop, parsed[1])
    if isinstance(obj, Subscription) and obj.client_id != ctx.client_id:
        return None
    if isinstance(obj, bulk.BulkOperation) and obj.client_id != ctx.client_id:
        return None
    return obj


def _subscriptions(ctx: Ctx, args: dict) -> list[Subscription]:
    """Return the calling app's subscriptions, optionally filtered by topic."""
    topics = {TOPIC_ENUM[t] for t in args.get("topics") or []}
    with ctx.shop.lock:
        return [s for s in ctx.shop.subscriptions.values()
                if s.client_id == ctx.client_id and (not topics or s.topic in topics)]


def _current_bulk(ctx: Ctx, args: dict) -> Optional[bulk.BulkOperation]:
    """Return the app's most recent bulk query operation."""
    if args.get("type", "QUERY") != "QUERY":
        return None
    ops = [op for op in ctx.shop.bulk_ops.values() if op.client_id == ctx.client_id]
    return max(ops, key=lambda op: op.id) if ops else None


def _user_error(field: Optional[list[str]], message: str, code: Optional[str] = None) -> dict:
    """Return a userErrors entry."""
    error: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        error["code"] = code
    return error


def subscription_create(ctx: Ctx, args: dict) -> dict:
    """Create a webhook subscription for the calling app."""
    topic = TOPIC_ENUM[args["topic"]]
    uri = (args.get("webhookSubscription") or {}).get("uri") or ""
    if not uri.startswith(("http://", "https://")):
        return {"webhookSubscription": None, "userErrors": [
            _user_error(["webhookSubscription", "callbackUrl"], "Address is invalid")]}
    shop = ctx.shop
    with shop.lock:
        taken = any(s.client_id == ctx.client_id and s.topic == topic and s.uri == uri
                    for s in shop.subscriptions.values())
        if taken:
            return {"webhookSubscription": None, "userErrors": [
                _user_error(["webhookSubscription", "callbackUrl"],
                            "Address for this topic has already been taken")]}
        sub = Subscription(shop.next_id("WebhookSubscription"), ctx.client_id, topic, uri,
                           ctx.api_version, int(time.time()))
        shop.subscriptions[sub.id] = sub
    return {"webhookSubscription": sub, "userErrors": []}


def subscription_delete(ctx: Ctx, args: dict) -> dict:
    """Delete one of the calling app's webhook subscriptions."""
    sub = lookup(ctx, args["id"], "WebhookSubscription")
    if sub is None:
        return {"deletedWebhookSubscriptionId": None, "userErrors": [
            _user_error(["id"], "Webhook subscription does not exist")]}
    with ctx.shop.lock:
        ctx.shop.subscriptions.pop(sub.id, None)
    return {"deletedWebhookSubscriptionId": gid("WebhookSubscription", sub.id), "userErrors": []}


def bulk_run(ctx: Ctx, args: dict, schema: GraphQLSchema) -> dict:
    """Start a bulk query operation."""
    try:
        op = bulk.start(ctx, ctx.shop, schema, args["query"], ctx.store.bulk_dir,
                        ctx.store.base_url())
    except bulk.PlanError as exc:
        return {"bulkOperation": None,
                "userErrors": [_user_error(["query"], str(exc), "INVALID")]}
    except RuntimeError as exc:
        return {"bulkOperation": None,
                "userErrors": [_user_error(None, str(exc), "OPERATION_IN_PROGRESS")]}
    snapshot = dataclasses.replace(op, status="CREATED")
    return {"bulkOperation": snapshot, "userErrors": []}


def bulk_cancel(ctx: Ctx, args: dict) -> dict:
    """Cancel a running bulk operation."""
    op = lookup(ctx, args["id"], "BulkOperation")
    if op is None:
        return {"bulkOperation": None,
                "userErrors": [_user_error(["id"], "Bulk operation does not exist")]}
    if op.status not in bulk.ACTIVE:
        return {"bulkOperation": op, "userErrors": [_user_error(
            None, f"A bulk operation cannot be canceled when it is {op.status.lower()}")]}
    op.cancel.set()
    op.status = "CANCELED"
    op.completed_at = int(time.time())
    return {"bulkOperation": op, "userErrors": []}


FIELDS["BulkOperation"] = {
    "id": lambda o, a, c: gid("BulkOperation", o.id),
    "status": lambda o, a, c: o.status,
    "errorCode": lambda o, a, c: o.error_code,
    "objectCount": lambda o, a, c: str(o.object_count),
    "rootObjectCount": lambda o, a, c: str(o.root_object_count),
    "fileSize": lambda o, a, c: str(o.file_size) if o.file_size is not None else None,
    "url": lambda o, a, c: o.url,
    "partialDataUrl": lambda o, a, c: None,
    "createdAt": lambda o, a, c: iso_utc(o.created_at),
    "completedAt": lambda o, a, c: iso_utc(o.completed_at),
    "query": lambda o, a, c: o.query,
    "type": lambda o, a, c: "QUERY",
}
FIELDS["QueryRoot"].update({
    "customer": lambda o, a, c: lookup(c, a["id"], "Customer"),
    "order": lambda o, a, c: lookup(c, a["id"], "Order"),
    "product": lambda o, a, c: lookup(c, a["id"], "Product"),
    "node": lambda o, a, c: lookup(c, a["id"]),
    "nodes": lambda o, a, c: [lookup(c, i) for i in a["ids"]],
    "webhookSubscriptions": lambda o, a, c: _subscriptions(c, a),
    "currentBulkOperation": lambda o, a, c: _current_bulk(c, a),
})
