"""The merchant's referral API: the referrals with their fraud reasons, and decisions on blocked ones.

The same session-token authentication as the rest of the loyalty API; another shop's referral
is a 404.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, g, jsonify, request
from redis import RedisError
from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger, referrals
from app.store.models import LoyaltyMember, Redemption, Referral
from app.web.admin import require_session_token
from app.web.errors import error_response
from app.web.loyalty_admin import _json_body

log = logging.getLogger(__name__)

blueprint = Blueprint("loyalty_referrals_admin", __name__, url_prefix="/api/admin/loyalty/referrals")
blueprint.before_request(require_session_token)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _serialize(rows: Sequence[Referral]) -> list[dict[str, Any]]:
    """Referrals with their advocate and the friend's code, in a few queries for the page."""
    session = db.session()
    member_ids = sorted({r.advocate_id for r in rows})
    members = {m.id: m for m in session.execute(
        select(LoyaltyMember).where(LoyaltyMember.id.in_(member_ids))).scalars()} if member_ids else {}
    redemption_ids = sorted({r.friend_redemption_id for r in rows if r.friend_redemption_id is not None})
    codes = {c.id: c for c in session.execute(
        select(Redemption).where(Redemption.id.in_(redemption_ids))).scalars()} if redemption_ids else {}
    found = []
    for referral in rows:
        advocate = members.get(referral.advocate_id)
        code = codes.get(referral.friend_redemption_id or 0)
        found.append({
            "id": referral.id, "status": referral.status, "reasons": list(referral.reasons),
            "advocate": {"member_id": referral.advocate_id,
                         "customer_id": advocate.customer_external_id if advocate else None,
                         "email": advocate.email if advocate else None},
            "friend_email": referral.friend_email, "ip": referral.ip,
            "friend_code": None if code is None else {"code": code.code, "status": code.status,
                                                      "expires_at": _iso(code.expires_at)},
            "order": referral.order_external_id, "qualifies_at": _iso(referral.qualifies_at),
            "decided_by": referral.decided_by, "decided_at": _iso(referral.decided_at),
            "created_at": _iso(referral.created_at), "completed_at": _iso(referral.completed_at),
        })
    return found


def _whole(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only ("²" is a digit to isdigit), and small enough for the database
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise ledger.LedgerError(f"{name} must be a whole number", status=400)
    return int(raw)


@blueprint.get("")
def list_referrals():
    """The newest referrals first, optionally of one ``status``; ``before`` (an id) pages on."""
    try:
        limit = _whole("limit", 50) or 0
        rows = referrals.listing(db.session(), g.shop.id, request.args.get("status") or None, limit=limit,
                                 before_id=_whole("before", None))
    except ledger.LedgerError as error:
        return error_response(error.status, str(error))
    return jsonify({"referrals": _serialize(rows), "next_before": rows[-1].id if len(rows) == limit else None})


@blueprint.get("/<int:referral_id>")
def get_referral(referral_id: int):
    try:
        referral = referrals.find(db.session(), g.shop.id, referral_id)
    except ledger.LedgerError as error:
        return error_response(error.status, str(error))
    return jsonify(_serialize([referral])[0])


@blueprint.post("/<int:referral_id>/approve")
def approve_referral(referral_id: int):
    """Let a blocked referral go on; the friend's welcome code is created after the commit."""
    return _decide(referral_id, approve=True)


@blueprint.post("/<int:referral_id>/reject")
def reject_referral(referral_id: int):
    return _decide(referral_id, approve=False)


def _decide(referral_id: int, *, approve: bool):
    body = _json_body()
    if not isinstance(body, dict):
        return error_response(400, 'send an object, e.g. {"reason": "..."}')
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        return error_response(400, "reason must be a string of at most 500 characters")
    session = db.session()
    try:
        referral = referrals.decide(session, g.shop.id, referral_id, approve=approve,
                                    actor=f"admin:{g.shop.domain}", reason=reason)
    except ledger.LedgerError as error:
        session.rollback()
        return error_response(error.status, str(error))
    session.commit()
    if referral.status == "invited" and referral.friend_redemption_id is not None:
        _queue_code(referral)
    return jsonify(_serialize([referral])[0])


def _queue_code(referral: Referral) -> None:
    from jobs.loyalty import request_code

    redemption = db.session().get(Redemption, referral.friend_redemption_id)
    if redemption is None or redemption.status != "pending":
        return
    try:
        request_code(redemption.id)
    except RedisError:
        # Granted all the same: the periodic sweep of pending redemptions queues it.
        log.warning("shop=%s referral=%s code not queued (Redis unavailable)", referral.shop_id, referral.id)
