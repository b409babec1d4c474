"""The onboarding JSON API of the admin (session token or first-party session, see ``admin.require_session_token``).

Every call answers with the shop's onboarding status (``app.onboarding.status``) and changes
only the calling shop's own row. Marking, skipping and resuming are idempotent.
"""

from __future__ import annotations

import logging

from flask import Blueprint, g, jsonify
from redis import RedisError

from app import onboarding
from app.extensions import db
from app.web.admin import require_session_token
from app.web.errors import error_response

log = logging.getLogger(__name__)

blueprint = Blueprint("onboarding_admin", __name__, url_prefix="/api/admin/onboarding")
blueprint.before_request(require_session_token)


@blueprint.get("")
def get_status():
    """Each step with ``done``, the next step, whether the merchant skipped, whether all is done."""
    session = db.session()
    answer = onboarding.status(session, g.shop)
    session.commit()
    return jsonify(answer)


@blueprint.post("/steps/<name>")
def mark_step(name: str):
    """Mark ``program``, ``widget`` or ``flows`` done; 404 for no such step, 422 when it is not ready."""
    session = db.session()
    try:
        answer = onboarding.mark(session, g.shop, name)
    except onboarding.UnknownStepError as error:
        session.rollback()
        return error_response(404, str(error), field="step")
    except onboarding.StepNotReadyError as error:
        session.rollback()
        return error_response(422, str(error), field="step", step=error.step)
    session.commit()
    log.info("shop=%s onboarding step %s marked", g.shop.id, name)
    return jsonify(answer)


@blueprint.post("/skip")
def skip():
    session = db.session()
    answer = onboarding.skip(session, g.shop)
    session.commit()
    log.info("shop=%s onboarding skipped", g.shop.id)
    return jsonify(answer)


@blueprint.post("/resume")
def resume():
    session = db.session()
    answer = onboarding.resume(session, g.shop)
    session.commit()
    return jsonify(answer)


@blueprint.post("/widget/check")
def check_widget():
    """Look for the store's companion plugin again: queue its configuration; 202 while it runs.

    The answer's ``checking`` says a check was queued; read ``GET`` again for its outcome. Where
    the widget is not a plugin, or the plugin is already detected, nothing is queued.
    """
    session = db.session()
    shop = g.shop
    needs_check = onboarding.widget_mode(shop) == onboarding.WIDGET_PLUGIN and shop.storefront_configured_at is None
    answer = onboarding.status(session, shop)
    session.commit()
    if not needs_check:
        return jsonify({**answer, "checking": False})
    from jobs.queues import enqueue
    from jobs.shops import repair_webhooks

    try:
        enqueue(repair_webhooks, shop.id, queue_name="default", job_id=f"repair-webhooks-{shop.id}")
    except RedisError as error:
        log.warning("shop=%s plugin check not queued (%s)", shop.id, type(error).__name__)
        return error_response(503, "the check could not be started; try again in a minute")
    log.info("shop=%s companion plugin check queued", shop.id)
    response = jsonify({**answer, "checking": True})
    response.status_code = 202
    return response
