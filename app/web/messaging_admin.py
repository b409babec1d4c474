"""The merchant's messaging API: the shop's settings, the message log, suppressed addresses.

Every call carries the embedded admin's session token and sees only its own shop: another
shop's message is a 404.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, request
from sqlalchemy import delete, select

from app.extensions import db
from app.messaging import consent, preferences
from app.messaging.delivery import DeliveryConfig
from app.store.models import EmailSuppression, Message
from app.store.models.messaging import MESSAGE_STATUSES
from app.web.admin import require_session_token, whole_arg
from app.web.errors import error_response

log = logging.getLogger(__name__)

blueprint = Blueprint("messaging_admin", __name__, url_prefix="/api/admin/messaging")
blueprint.before_request(require_session_token)


def delivery_config() -> DeliveryConfig:
    return DeliveryConfig.from_settings(current_app.extensions["comeback.settings"])


@blueprint.get("/settings")
def get_settings():
    return jsonify(preferences.load(db.session(), g.shop.id, delivery_config()).describe())


@blueprint.put("/settings")
def update_settings():
    """Change one or more settings; the answer is all of them as they now are."""
    changes = request.get_json(silent=True)
    if changes is None:
        return error_response(400, "send a JSON body (Content-Type: application/json)")
    session = db.session()
    try:
        changed = preferences.update(session, g.shop.id, changes, delivery_config(), actor=f"admin:{g.shop.domain}")
    except preferences.SettingsError as error:
        session.rollback()
        return error_response(422, str(error), field=error.field)
    session.commit()
    log.info("shop=%s messaging settings changed: %s", g.shop.id, ", ".join(sorted(changes)))
    return jsonify(changed.describe())


def describe_message(message: Message) -> dict[str, Any]:
    def moment(value):
        return value.isoformat() if value else None

    flow_run = None
    if message.dedupe_key.startswith("flow:"):
        run, _, step = message.dedupe_key[5:].partition(":")
        if run.isdigit() and step.isdigit():
            flow_run = {"run_id": int(run), "step": int(step)}
    return {"id": message.id, "template": message.template, "category": message.category,
            "email": message.email, "customer_id": message.customer_external_id, "status": message.status,
            "reason": message.reason, "attempts": message.attempts, "flow_run": flow_run,
            "created_at": moment(message.created_at), "not_before": moment(message.not_before),
            "sent_at": moment(message.sent_at), "opened_at": moment(message.opened_at),
            "clicked_at": moment(message.clicked_at)}



@blueprint.get("/messages")
def list_messages():
    """The shop's messages, newest first: ``email``, ``customer``, ``status``, ``template`` filter; ``before`` pages on."""
    limit = whole_arg("limit", 50, 1, 200)
    before = whole_arg("before", None, 1, 2**62)
    assert limit is not None
    query = select(Message).where(Message.shop_id == g.shop.id)
    status = request.args.get("status")
    if status:
        if status not in MESSAGE_STATUSES:
            return error_response(400, f"status must be one of {', '.join(MESSAGE_STATUSES)}")
        query = query.where(Message.status == status)
    if request.args.get("email"):
        try:
            query = query.where(Message.email == consent.normalise_email(request.args["email"]))
        except ValueError as error:
            return error_response(400, str(error))
    if request.args.get("customer"):
        query = query.where(Message.customer_external_id == request.args["customer"][:64])
    if request.args.get("template"):
        query = query.where(Message.template == request.args["template"][:40])
    if before:
        query = query.where(Message.id < before)
    found = db.session().execute(query.order_by(Message.id.desc()).limit(limit + 1)).scalars().all()
    page = list(found[:limit])
    return jsonify({"messages": [describe_message(m) for m in page],
                    "next_before": page[-1].id if len(found) > limit and page else None})


@blueprint.get("/messages/<int:message_id>")
def get_message(message_id: int):
    message = db.session().execute(select(Message).where(Message.id == message_id, Message.shop_id == g.shop.id)
                                   ).scalar_one_or_none()
    if message is None:
        abort(404, description=f"no message {message_id}")
    return jsonify(describe_message(message))


@blueprint.get("/suppressions")
def list_suppressions():
    """Addresses that get no email (bounced, complained, unsubscribed), newest first, 500 at most."""
    rows = db.session().execute(select(EmailSuppression).where(EmailSuppression.shop_id == g.shop.id)
                                .order_by(EmailSuppression.id.desc()).limit(500)).scalars().all()
    return jsonify([{"email": row.email, "reason": row.reason, "detail": row.detail,
                     "created_at": row.created_at.isoformat()} for row in rows])


@blueprint.delete("/suppressions/<path:email>")
def remove_suppression(email: str):
    """Mail an address again (after a bounce was fixed). An unsubscribe stays: only the shopper can undo it."""
    try:
        address = consent.normalise_email(email)
    except ValueError as error:
        return error_response(400, str(error))
    session = db.session()
    row = consent.suppression_of(session, g.shop.id, address)
    if row is None:
        abort(404, description=f"{address} is not suppressed")
    if row.reason == "unsubscribed":
        return error_response(409, f"{address} unsubscribed: only the shopper can subscribe again")
    session.execute(delete(EmailSuppression).where(EmailSuppression.id == row.id))
    session.commit()
    log.info("shop=%s suppression of an address removed (was %s)", g.shop.id, row.reason)
    return "", 204
