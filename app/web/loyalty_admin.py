"""The merchant's loyalty API: the program, members' balances and history, manual adjustments.

Every call carries the embedded admin's session token and sees only its own shop: another
shop's member is a 404.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import or_, select

from app.extensions import db
from app.loyalty import ledger
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyMember, Redemption
from app.web.admin import AdminAuthError, authenticate
from app.web.errors import error_response

log = logging.getLogger(__name__)

blueprint = Blueprint("loyalty_admin", __name__, url_prefix="/api/admin/loyalty")


@blueprint.before_request
def _require_session_token():
    try:
        g.shop = authenticate(request.headers.get("Authorization"))
    except AdminAuthError as error:
        return error_response(error.status, str(error))
    return None


def _json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        abort(400, description="send a JSON body (Content-Type: application/json)")
    return body


@blueprint.get("/program")
def get_program():
    session = db.session()
    program = programs.ensure(session, g.shop.id)
    session.commit()
    return jsonify({"version": program.version, "settings": program.settings})


@blueprint.put("/program")
def update_program():
    """Change settings; the answer is the new version (points already earned keep theirs)."""
    session = db.session()
    try:
        program = programs.update(session, g.shop.id, _json_body(), actor=f"admin:{g.shop.domain}")
    except programs.ProgramError as error:
        session.rollback()
        return error_response(422, str(error), field=error.field)
    session.commit()
    return jsonify({"version": program.version, "settings": program.settings})


def _member(customer_external_id: str) -> LoyaltyMember:
    member = db.session().execute(
        select(LoyaltyMember).where(LoyaltyMember.shop_id == g.shop.id,
                                    LoyaltyMember.customer_external_id == customer_external_id)
    ).scalar_one_or_none()
    if member is None:
        abort(404, description=f"no loyalty member for customer {customer_external_id!r}")
    return member


def _entry(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "points": entry.points, "cause": entry.cause, "cause_key": entry.cause_key,
            "order": entry.order_external_id, "program_version": entry.program_version,
            "available_at": entry.available_at.isoformat(), "created_at": entry.created_at.isoformat(),
            "actor": entry.actor, "reason": entry.reason}


def _summary(member: LoyaltyMember) -> dict[str, Any]:
    balance = ledger.balance(db.session(), member.id)
    return {"customer_id": member.customer_external_id, "email": member.email,
            "balance": {"available": balance.available, "pending": balance.pending,
                        "spendable": balance.spendable, "debt": balance.debt}}


@blueprint.get("/members")
def search_members():
    """Members whose customer id or email starts with ``q`` (at most 50)."""
    query = (request.args.get("q") or "").strip().lower()
    if len(query) > 320:
        return error_response(400, "q is at most 320 characters")
    statement = select(LoyaltyMember).where(LoyaltyMember.shop_id == g.shop.id,
                                            LoyaltyMember.customer_external_id.is_not(None))
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(or_(LoyaltyMember.email.like(f"{escaped}%", escape="\\"),
                                        LoyaltyMember.customer_external_id.like(f"{escaped}%", escape="\\")))
    members = db.session().execute(statement.order_by(LoyaltyMember.id).limit(50)).scalars().all()
    return jsonify([_summary(member) for member in members])


@blueprint.get("/members/<customer_id>")
def get_member(customer_id: str):
    member = _member(customer_id)
    session = db.session()
    redemptions = session.execute(
        select(Redemption).where(Redemption.member_id == member.id).order_by(Redemption.id.desc()).limit(50)
    ).scalars().all()
    return jsonify({**_summary(member),
                    "history": [_entry(entry) for entry in ledger.history(session, member.id)],
                    "redemptions": [{"id": r.id, "reward": r.reward_id, "points": r.points, "code": r.code,
                                     "status": r.status, "error": r.error,
                                     "expires_at": r.expires_at.isoformat()} for r in redemptions]})


@blueprint.post("/members/<customer_id>/adjustments")
def adjust_member(customer_id: str):
    """Add or take points by hand, with a reason; ``key`` makes a retried request harmless."""
    member = _member(customer_id)
    body = _json_body()
    if not isinstance(body, dict):
        return error_response(400, "send an object with points, reason and key")
    key, reason, points = body.get("key"), body.get("reason"), body.get("points")
    if not isinstance(key, str) or not 1 <= len(key) <= 120:
        return error_response(400, "key must be a string of 1 to 120 characters")
    if not isinstance(reason, str) or len(reason) > 500:
        return error_response(400, "reason must be a string of at most 500 characters")
    session = db.session()
    program = programs.ensure(session, g.shop.id)
    try:
        added = ledger.adjust(session, g.shop.id, member.id, points, key=key, actor=f"admin:{g.shop.domain}",
                              reason=reason, program=program)
    except ledger.LedgerError as error:
        session.rollback()
        return error_response(error.status, str(error))
    session.commit()
    return jsonify({"added": added, **_summary(member)}), 201 if added else 200


@blueprint.get("/liability")
def get_liability():
    """What the shop owes its members now, in points and in its currency."""
    owed = ledger.liability(db.session(), g.shop.id)
    return jsonify({"points": owed.points, "amount": str(owed.amount), "currency": g.shop.currency,
                    "at": owed.at.isoformat()})
