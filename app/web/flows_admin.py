"""The merchant's flows API: the built-in flows, their settings, their runs, a step's email preview.

Every call carries the embedded admin's session token and sees only its own shop: another
shop's run is a 404.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import secrets
from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from jinja2 import TemplateError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.flows import content, definitions, incentives, reports, triggers
from app.messaging import consent, outbox, preferences, render
from app.store.models import FlowRun, Message
from app.store.models.flows import RUN_STATES
from app.store.types import utcnow
from app.web.admin import require_session_token, whole_arg
from app.web.errors import error_response
from app.web.messaging_admin import delivery_config, describe_message

log = logging.getLogger(__name__)

blueprint = Blueprint("flows_admin", __name__, url_prefix="/api/admin/flows")


blueprint.before_request(require_session_token)


def _flows() -> dict[str, definitions.FlowVersion]:
    session = db.session()
    flows = definitions.ensure_all(session, g.shop.id, triggers.installed_at(g.shop, utcnow()))
    session.commit()
    return flows


def _flow(key: str) -> definitions.FlowVersion:
    if key not in definitions.BUILT_INS:
        abort(404, description=f"no flow {key!r} (known: {', '.join(definitions.KEYS)})")
    return _flows()[key]


@blueprint.get("")
def list_flows():
    """Every built-in flow with its settings and how many runs it has in each state."""
    flows = _flows()
    counts: dict[str, dict[str, int]] = {key: dict.fromkeys(RUN_STATES, 0) for key in flows}
    for key, state, count in db.session().execute(
            select(FlowRun.flow_key, FlowRun.state, func.count()).where(FlowRun.shop_id == g.shop.id)
            .group_by(FlowRun.flow_key, FlowRun.state)):
        if key in counts and state in counts[key]:
            counts[key][state] = count
    return jsonify([{**definitions.describe(flow), "runs": counts[key]} for key, flow in flows.items()])


@blueprint.get("/<key>")
def get_flow(key: str):
    return jsonify(definitions.describe(_flow(key)))


@blueprint.put("/<key>")
def update_flow(key: str):
    """Change settings (delays, incentive, texts, holdout share, enabled); the answer is the new version."""
    _flow(key)
    changes = request.get_json(silent=True)
    if changes is None:
        return error_response(400, "send a JSON body (Content-Type: application/json)")
    session = db.session()
    try:
        flow = definitions.update(session, g.shop.id, key, changes, actor=f"admin:{g.shop.domain}")
        session.commit()
    except definitions.FlowError as error:
        session.rollback()
        return error_response(422, str(error), field=error.field)
    except IntegrityError:  # another change took the same version number first
        session.rollback()
        return error_response(409, "the flow was changed at the same moment; load it again and retry")
    log.info("shop=%s flow %s changed: version %s", g.shop.id, key, flow.version)
    return jsonify(definitions.describe(flow))


def _run(run: FlowRun) -> dict[str, Any]:
    def moment(value):
        return value.isoformat() if value else None

    return {"id": run.id, "flow": run.flow_key, "flow_version": run.flow_version, "trigger": run.trigger_key,
            "subject": {"kind": run.subject_kind, "id": run.subject_id}, "customer_id": run.customer_external_id,
            "email": run.email, "state": run.state, "is_holdout": run.is_holdout, "next_step": run.next_step,
            "next_at": moment(run.next_at), "reference_at": moment(run.reference_at),
            "started_at": moment(run.started_at), "finished_at": moment(run.finished_at),
            "exit_reason": run.exit_reason, "steps": run.steps or []}



@blueprint.get("/<key>/runs")
def list_runs(key: str):
    """The flow's runs, newest first, ``limit`` (1-200, default 50) at a time; ``before`` pages on."""
    _flow(key)
    limit = whole_arg("limit", 50, 1, 200)
    before = whole_arg("before", None, 1, 2**62)
    state = request.args.get("state")
    if state is not None and state not in RUN_STATES:
        return error_response(400, f"state must be one of {', '.join(RUN_STATES)}")
    holdout = request.args.get("holdout")
    if holdout is not None and holdout not in ("true", "false"):
        return error_response(400, "holdout must be true or false")
    query = select(FlowRun).where(FlowRun.shop_id == g.shop.id, FlowRun.flow_key == key)
    if state:
        query = query.where(FlowRun.state == state)
    if holdout is not None:
        query = query.where(FlowRun.is_holdout.is_(holdout == "true"))
    if before:
        query = query.where(FlowRun.id < before)
    assert limit is not None
    found = db.session().execute(query.order_by(FlowRun.id.desc()).limit(limit + 1)
                                 .execution_options(populate_existing=True)).scalars().all()
    page = list(found[:limit])
    return jsonify({"runs": [_run(run) for run in page],
                    "next_before": page[-1].id if len(found) > limit and page else None})


def _own_run(key: str, run_id: int) -> FlowRun:
    run = db.session().execute(select(FlowRun).where(FlowRun.id == run_id, FlowRun.shop_id == g.shop.id,
                                                     FlowRun.flow_key == key)).scalar_one_or_none()
    if run is None:
        abort(404, description=f"no run {run_id} of the {key} flow")
    return run


@blueprint.get("/<key>/runs/<int:run_id>")
def get_run(key: str, run_id: int):
    _flow(key)
    return jsonify(_run(_own_run(key, run_id)))


DRAFT_FIELDS = ("subject", "intro", "incentive")


def _draft_step(flow: definitions.FlowVersion, position: int, draft: Any) -> dict[str, Any]:
    """The saved step with an unsaved draft of its texts and incentive laid over it, validated as a save would be.

    A ``definitions.FlowError`` names the field (``steps[0].subject``) as the flow's own update does.
    """
    if not isinstance(draft, dict):
        raise definitions.FlowError("step", f"must be an object with the step's {', '.join(DRAFT_FIELDS)}")
    unknown = sorted(set(draft) - set(DRAFT_FIELDS))
    if unknown:
        raise definitions.FlowError(f"steps[{position}].{unknown[0]}",
                                    f"unknown draft field (send {', '.join(DRAFT_FIELDS)})")
    settings = copy.deepcopy(flow.settings)
    settings["steps"][position].update(copy.deepcopy(draft))
    definitions.validate(flow.key, settings)
    return settings["steps"][position]


def _step_context(key: str, position: int) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A step's template context: from a run (``?run=<id>`` or ``"run"`` in the body), else a sample.

    A POST body may carry ``"step"``: an unsaved draft of the step's subject, intro and incentive,
    rendered instead of the saved ones (the editor's live preview and its test send).
    """
    flow = _flow(key)
    if position >= len(flow.steps):
        abort(404, description=f"the {key} flow has {len(flow.steps)} steps (0 to {len(flow.steps) - 1})")
    step = flow.steps[position]
    draft = request.get_json(silent=True) if request.method == "POST" else None
    if isinstance(draft, dict) and "step" in draft:
        step = _draft_step(flow, position, draft["step"])
    run_id = whole_arg("run", None, 1, 2**62)
    body = request.get_json(silent=True) if request.method == "POST" else None
    if isinstance(body, dict) and body.get("run") is not None:
        if isinstance(body["run"], bool) or not isinstance(body["run"], int) or body["run"] < 1:
            abort(400, description="run must be the id of one of the flow's runs")
        run_id = body["run"]
    incentive = step.get("incentive")
    coupon = None
    if incentive:
        coupon = {"code": "CB-PREVIEW00", "description": incentives.describe(incentive),
                  "expires_at": utcnow().isoformat()}
    if run_id is not None:
        run = _own_run(key, run_id)
        return step, content.build(db.session(), g.shop, run, flow, step, coupon), "run"
    context = {**content.SAMPLE[step["template"]], **({"coupon": coupon} if coupon else {})}
    for name in ("subject", "intro"):
        if step.get(name):
            context["subject_override" if name == "subject" else "intro"] = step[name]
    return step, context, "sample"


@blueprint.get("/<key>/steps/<int:position>/preview")
def preview_step(key: str, position: int):
    """The step's email as a shopper would see it: from a run (``?run=<id>``), else from a sample."""
    return _preview(key, position)


@blueprint.post("/<key>/steps/<int:position>/preview")
def preview_draft_step(key: str, position: int):
    """The step's email with an unsaved draft (``{"step": {"subject", "intro", "incentive"}, "run": optional}``).

    Nothing is stored: the editor shows what a save would send. A draft a save would refuse is a
    422 naming the field, as the save's own answer would.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("step"), dict):
        return error_response(400, 'send a JSON object: {"step": {"subject": ..., "intro": ..., "incentive": ...}}')
    unknown = sorted(set(body) - {"step", "run"})
    if unknown:
        return error_response(422, f"{unknown[0]}: unknown field (send step, and run if you like)", field=unknown[0])
    return _preview(key, position)


def _preview(key: str, position: int):
    try:
        step, context, source = _step_context(key, position)
    except definitions.FlowError as error:
        return error_response(422, str(error), field=error.field)
    language = preferences.load(db.session(), g.shop.id, delivery_config()).language
    try:
        rendered = render.preview(g.shop, step["template"], context, session=db.session(), language=language)
    except render.ContextError as error:
        return error_response(422, f"this run cannot show the step any more: {error}", field=error.field)
    except (ValueError, TemplateError) as error:
        return error_response(422, f"the step cannot be shown: {error}")
    return jsonify({"template": step["template"], "source": source, "context": context,
                    "subject": rendered.subject, "html": rendered.html, "text": rendered.text})


TEST_SENDS_PER_HOUR = 20


@blueprint.post("/<key>/steps/<int:position>/test")
def test_send(key: str, position: int):
    """Send the step's email to an address the merchant gives (``{"email": ..., "run": optional}``), now.

    ``"step"`` (optional) is an unsaved draft of the step's texts and incentive, sent instead of
    the saved ones, as the draft preview shows it.

    It goes through the same delivery as every message, marked ``[Test]``, without consent, the
    contact budget or quiet hours, and never counts in a report. An ``Idempotency-Key`` header
    makes a retried request send once. At most ``TEST_SENDS_PER_HOUR`` an hour per shop.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, 'send a JSON object: {"email": "you@example.com"}')
    try:
        email = consent.normalise_email(body.get("email"))  # type: ignore[arg-type]
    except ValueError as error:
        return error_response(422, f"email: {error}", field="email")
    unknown = sorted(set(body) - {"email", "run", "step"})
    if unknown:
        return error_response(422, f"{unknown[0]}: unknown field (send email, and run or step if you like)",
                              field=unknown[0])
    try:
        step, context, source = _step_context(key, position)
    except definitions.FlowError as error:
        return error_response(422, str(error), field=error.field)
    session = db.session()
    suppressed = consent.suppression_of(session, g.shop.id, email)
    if suppressed is not None:
        return error_response(422, f"{email} gets no email from this shop ({suppressed.reason}); "
                                   "send the test to another address", field="email")
    idempotency = request.headers.get("Idempotency-Key", "").strip()
    if idempotency and (len(idempotency) > 100 or not idempotency.isprintable()):
        return error_response(400, "Idempotency-Key must be at most 100 printable characters")
    since = utcnow() - dt.timedelta(hours=1)
    recent = session.execute(select(func.count()).select_from(Message).where(
        Message.shop_id == g.shop.id, Message.category == "test", Message.created_at >= since)).scalar_one()
    dedupe_key = f"test:{idempotency}" if idempotency else f"test:{secrets.token_urlsafe(12)}"
    if recent >= TEST_SENDS_PER_HOUR and outbox.existing(session, g.shop.id, dedupe_key) is None:
        response = error_response(429, f"at most {TEST_SENDS_PER_HOUR} test emails an hour; try again later")
        response.headers["Retry-After"] = "600"
        return response
    from jobs.messaging import enqueue_message

    try:
        message = enqueue_message(session, g.shop.id, template=step["template"], dedupe_key=dedupe_key,
                                  context=context, email=email, category="test", priority=100)
    except outbox.MessageError as error:
        session.rollback()
        return error_response(422, f"the step cannot be sent: {error}")
    log.info("shop=%s flow %s step %s test send queued: message %s", g.shop.id, key, position, message.id)
    response = jsonify({"message": describe_message(message), "source": source,
                        "status_url": f"/api/admin/messaging/messages/{message.id}"})
    response.status_code = 202
    return response


@blueprint.get("/<key>/report")
def get_report(key: str):
    """Sent, opened, clicked, attributed orders and revenue, and lift against the holdout (with its 95 % interval)."""
    _flow(key)
    default = preferences.load(db.session(), g.shop.id, delivery_config()).attribution_days
    days = whole_arg("attribution_days", default, 1, 60)
    assert days is not None
    return jsonify(reports.report(db.session(), g.shop.id, key, attribution_days=days))
