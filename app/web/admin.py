"""The embedded admin: session-token authentication, framing policy, sync progress."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
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
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not low <= int(raw) <= high:
        abort(400, description=f"{name} must be a whole number from {low} to {high}")
    return int(raw)


class AdminAuthError(Exception):
    def __init__(self, message: str, status: int = 401, *, stale: bool = False):
        super().__init__(message)
        self.status = status
        self.stale = stale  # a genuine token out of its time window: a fresh one would do


def _session_platforms() -> list[str]:
    return [name for name in registry.platforms()
            if base.CAP_SESSION_TOKENS in platforms.connector(name).capabilities]


def authenticate(authorization: str | None) -> Shop:
    """Return the shop a session token speaks for, exchanging it for credentials if needed."""
    if not authorization:
        raise AdminAuthError("missing session token (Authorization: Bearer <token>)")
    errors: list[base.InvalidSignatureError] = []
    for platform in _session_platforms():
        connector = platforms.connector(platform)
        try:
            shop_key, _claims = connector.verify_session_token(authorization, request.url)  # type: ignore[attr-defined]
        except base.InvalidSignatureError as error:
            errors.append(error)
            continue
        return _shop_for_token(platform, connector, shop_key, authorization)
    raise AdminAuthError("session token rejected: " + "; ".join(map(str, errors)),
                         stale=bool(errors) and all(isinstance(error, base.StaleTokenError) for error in errors))


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
    except (base.TerminalError, base.AuthRevokedError, base.InvalidSignatureError) as error:
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


def require_session_token():
    """Before every admin API call: the shop the request speaks for (``g.shop``), or its refusal.

    Inside the platform's admin frame that is the session token's shop (``Authorization:
    Bearer``); otherwise the current shop of the browser's first-party session, whose writes
    must carry its CSRF token. Requests with neither are a 401.
    """
    from app.web.pages import access

    authorization = request.headers.get("Authorization")
    if authorization or access.merchant() is None:
        try:
            g.shop = authenticate(authorization)
        except AdminAuthError as error:
            return error_response(error.status, str(error))
        return None
    value = access.merchant()
    shop = access.session_shop(value) if value else None
    if shop is None:
        return error_response(401, "your session has ended: sign in again")
    if not access.check_csrf(value):
        return error_response(403, f"missing or wrong {access.CSRF_HEADER} header (reload the page)")
    wanted = request.headers.get(access.SHOP_HEADER)
    if wanted is not None and wanted != str(shop.id):
        return error_response(409, "you switched shops in another tab: reload this page")
    g.shop = shop
    return None


@blueprint.before_request
def _require_session_token():
    return require_session_token()


def no_store(response: Response) -> Response:
    """Admin answers hold a shop's data: never cached by the browser or a proxy (every admin API)."""
    if request.path.startswith("/api/admin"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


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
