"""The embedded admin: session-token authentication, framing policy, sync progress."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, render_template_string, request
from redis import RedisError
from sqlalchemy import select

from app import installs, platforms
from app.extensions import db
from app.store.models import PrivacyRequest, Shop, SyncRun
from app.store.sync_progress import progress
from app.web.errors import error_response
from connectors import base, registry

log = logging.getLogger(__name__)

blueprint = Blueprint("admin", __name__)


def whole_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """A whole-number query argument from ``low`` to ``high`` (the default when absent); 400 otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        abort(400, description=f"{name} must be a whole number from {low} to {high}")
    return int(raw)


class AdminAuthError(Exception):
    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def _session_platforms() -> list[str]:
    return [name for name in registry.platforms()
            if base.CAP_SESSION_TOKENS in platforms.connector(name).capabilities]


def authenticate(authorization: str | None) -> Shop:
    """Return the shop a session token speaks for, exchanging it for credentials if needed."""
    if not authorization:
        raise AdminAuthError("missing session token (Authorization: Bearer <token>)")
    errors = []
    for platform in _session_platforms():
        connector = platforms.connector(platform)
        try:
            shop_key, _claims = connector.verify_session_token(authorization, request.url)  # type: ignore[attr-defined]
        except base.InvalidSignatureError as error:
            errors.append(str(error))
            continue
        return _shop_for_token(platform, connector, shop_key, authorization)
    raise AdminAuthError("session token rejected: " + "; ".join(errors))


def _shop_for_token(platform: str, connector: Any, shop_key: str, authorization: str) -> Shop:
    session = db.session()
    shop = session.execute(
        select(Shop).where(Shop.platform == platform, Shop.domain == shop_key)
    ).scalar_one_or_none()
    if shop is not None and shop.is_active and shop.access_token:
        if shop.webhooks_registered_at is None:
            _queue_set_up(shop)  # a set-up that never ran (Redis was down at install)
        return shop
    # A shop we do not hold a token for (new, uninstalled or refused): token exchange.
    token = authorization.split(" ", 1)[1] if " " in authorization else authorization
    try:
        credentials = connector.exchange_session_token(token, shop_key)
    except (base.TerminalError, base.AuthRevokedError) as error:
        raise AdminAuthError(f"token exchange refused: {error}") from error
    except base.RetryableError as error:
        raise AdminAuthError(f"store unreachable for token exchange: {error}", status=502) from error
    shop = installs.store_credentials(session, platform, shop_key, credentials)
    session.commit()
    _queue_set_up(shop)
    return shop


def _queue_set_up(shop: Shop) -> None:
    from jobs.shops import after_install

    try:
        after_install(shop.id)
    except RedisError:
        log.warning("shop=%s set-up not queued (Redis unavailable); the next request retries", shop.id)


def _frame_policy(response: Response, shop_key: str, platform: str) -> Response:
    ancestors = " ".join(platforms.connector(platform).frame_ancestors(shop_key))  # type: ignore[attr-defined]
    response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors};"
    return response


def require_session_token():
    """Before every admin API call: the shop of the embedded admin's session token, or its refusal."""
    try:
        g.shop = authenticate(request.headers.get("Authorization"))
    except AdminAuthError as error:
        return error_response(error.status, str(error))
    return None


@blueprint.before_request
def _require_session_token():
    if request.endpoint in ("admin.home",):
        return None
    return require_session_token()


_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Comeback</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Comeback</h1>
<p>Installed on <strong>{{ shop.domain }}</strong>.</p>
{% if report %}<section aria-label="Sync"><h2>Sync</h2><ul>
{% for item in report.resources %}<li>{{ item.resource }}: {{ item.processed }} / {{ item.total or '?' }}
 &mdash; {{ item.status }}</li>{% else %}<li>No sync yet.</li>{% endfor %}
</ul></section>{% else %}<p>Open Comeback from your store's admin to see its data.</p>{% endif %}
</main></body></html>"""


@blueprint.get("/admin")
def home():
    """Serve the admin page, framed only by the shop's own admin; data only with a session token.

    The platform opens the page with ``shop`` and a session token (``id_token``); a shop seen
    for the first time is installed right here through token exchange.
    """
    raw_shop = request.args.get("shop")
    id_token = request.args.get("id_token")
    session = db.session()
    for platform in _session_platforms():
        connector = platforms.connector(platform)
        try:
            shop_key = connector.normalize_shop_key(raw_shop or "")
        except base.InvalidShopError:
            continue
        report = None
        if id_token:
            try:
                shop = authenticate(f"Bearer {id_token}")
            except AdminAuthError as error:
                return error_response(error.status, str(error))
            if shop.domain != shop_key:
                return error_response(401, "the session token is for another shop")
            report = progress(session, shop.id)
        else:
            shop = session.execute(
                select(Shop).where(Shop.platform == platform, Shop.domain == shop_key)
            ).scalar_one_or_none()
            if shop is None or shop.status in ("uninstalled", "redacted"):
                return error_response(404, f"{shop_key} has not installed Comeback")
        html = render_template_string(_HOME, shop=shop, report=report)
        return _frame_policy(Response(html, mimetype="text/html"), shop_key, platform)
    return error_response(400, "a valid 'shop' parameter is required")


@blueprint.get("/api/admin/shop")
def shop_details():
    shop: Shop = g.shop
    return jsonify({"domain": shop.domain, "platform": shop.platform, "name": shop.name,
                    "currency": shop.currency, "status": shop.status, "scopes": shop.scopes})


@blueprint.get("/api/admin/sync")
def sync_status():
    return jsonify(progress(db.session(), g.shop.id))


@blueprint.get("/api/admin/sync/runs/<int:run_id>")
def sync_run(run_id: int):
    run = db.session().execute(
        select(SyncRun).where(SyncRun.id == run_id, SyncRun.shop_id == g.shop.id)
    ).scalar_one_or_none()
    if run is None:
        abort(404, description="no such sync run")
    return jsonify({"id": run.id, "kind": run.kind, "resource": run.resource, "status": run.status,
                    "processed": run.processed_count, "total": run.total_count, "error": run.last_error})


@blueprint.get("/api/admin/privacy-requests")
def privacy_requests():
    """List the shop's compliance requests (exports, erasures) and their outcome."""
    rows = db.session().execute(
        select(PrivacyRequest).where(PrivacyRequest.shop_id == g.shop.id).order_by(PrivacyRequest.id.desc())
        .limit(200)
    ).scalars().all()
    return jsonify([_privacy_summary(row) for row in rows])


@blueprint.get("/api/admin/privacy-requests/<int:request_id>")
def privacy_request(request_id: int):
    """Return one compliance request; a data request includes the export to hand to the customer."""
    row = db.session().execute(
        select(PrivacyRequest).where(PrivacyRequest.id == request_id, PrivacyRequest.shop_id == g.shop.id)
    ).scalar_one_or_none()
    if row is None:
        abort(404, description="no such privacy request")
    return jsonify({**_privacy_summary(row), "export": row.export})


def _privacy_summary(row: PrivacyRequest) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "customer_external_id": row.customer_external_id,
            "request_id": row.request_id, "result": row.result,
            "created_at": row.created_at.isoformat(),
            "completed_at": row.completed_at.isoformat() if row.completed_at else None}
