"""The merchant's loyalty API: the program (rewards, tiers), members, adjustments, custom actions.

Every call carries the embedded admin's session token and sees only its own shop: another
shop's member is a 404.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.loyalty import actions, challenges, events, expiry, ledger, tiers
from app.loyalty import program as programs
from app.store.models import Customer, LedgerEntry, LoyaltyMember, Redemption
from app.store.types import utcnow
from app.web.admin import require_session_token
from app.web.errors import error_response

log = logging.getLogger(__name__)

blueprint = Blueprint("loyalty_admin", __name__, url_prefix="/api/admin/loyalty")


blueprint.before_request(require_session_token)


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
    return _change(_json_body())


def _change(changes: Any, only: str | None = None):
    session = db.session()
    try:
        program = programs.update(session, g.shop.id, changes, actor=f"admin:{g.shop.domain}")
        session.commit()
    except programs.ProgramError as error:
        session.rollback()
        return error_response(422, str(error), field=error.field)
    except IntegrityError:  # another change took the same version number first
        session.rollback()
        return error_response(409, "the program was changed at the same moment; load it again and retry")
    if only is not None:
        return jsonify({"version": program.version, only: program[only]})
    return jsonify({"version": program.version, "settings": program.settings})


@blueprint.get("/rewards")
@blueprint.get("/tiers")
def get_part():
    """The rewards catalog or the tiers of the current version."""
    part = request.path.rsplit("/", 1)[-1]
    session = db.session()
    program = programs.ensure(session, g.shop.id)
    session.commit()
    return jsonify({"version": program.version, part: program[part]})


@blueprint.put("/rewards")
@blueprint.put("/tiers")
def put_part():
    """Replace the rewards catalog or the tiers (a JSON list); a new version like any change."""
    part = request.path.rsplit("/", 1)[-1]
    return _change({part: _json_body()}, only=part)


def _member(customer_external_id: str) -> LoyaltyMember:
    """The member of one of this shop's customers (joined on first use), else 404."""
    session = db.session()
    member = session.execute(
        select(LoyaltyMember).where(LoyaltyMember.shop_id == g.shop.id,
                                    LoyaltyMember.customer_external_id == customer_external_id)
    ).scalar_one_or_none()
    if member is not None:
        return member
    email = session.execute(select(Customer.email).where(
        Customer.shop_id == g.shop.id, Customer.external_id == customer_external_id,
        Customer.deleted_at.is_(None))).first()
    if email is None:
        abort(404, description=f"no loyalty member for customer {customer_external_id!r}")
    member = ledger.member_for(session, g.shop.id, customer_external_id=customer_external_id, email=email[0])
    assert member is not None
    return member


def _entry(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "points": entry.points, "cause": entry.cause, "cause_key": entry.cause_key,
            "order": entry.order_external_id, "program_version": entry.program_version,
            "available_at": entry.available_at.isoformat(), "created_at": entry.created_at.isoformat(),
            "actor": entry.actor, "reason": entry.reason}


def _summary(member: LoyaltyMember) -> dict[str, Any]:
    balance = ledger.balance(db.session(), member.id)
    return {"customer_id": member.customer_external_id, "email": member.email, "tier": member.tier,
            "tier_grace_until": member.tier_grace_until.isoformat() if member.tier_grace_until else None,
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
    program = programs.ensure(session, g.shop.id)
    value = tiers.qualifying(session, program, [member.id], utcnow())[member.id]
    entries = list(session.execute(select(LedgerEntry).where(LedgerEntry.member_id == member.id)).scalars())
    session.commit()  # a member joined on first look stays
    return jsonify({**_summary(member),
                    "tier_progress": tiers.progress(program, member.tier, value),
                    "badges": challenges.badges(session, member.id),
                    "expiring": expiry.expiring(entries, utcnow()),
                    "referral_code": member.referral_code,
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


@blueprint.post("/members/<customer_id>/actions")
def member_action(customer_id: str):
    """A custom action the merchant's systems report: ``{"action": id, "key": idempotency key}``."""
    body = _json_body()
    if not isinstance(body, dict) or not isinstance(body.get("action"), str) or not isinstance(body.get("key"), str):
        return error_response(400, "send an object with action (a custom action id) and key (an idempotency key)")
    member = _member(customer_id)
    session = db.session()
    try:
        added = actions.custom(session, g.shop.id, member, body["action"], key=body["key"],
                               actor=f"api:{g.shop.domain}")
    except ledger.LedgerError as error:
        session.rollback()
        return error_response(error.status, str(error))
    session.commit()
    return jsonify({"added": added, **_summary(member)}), 201 if added else 200


@blueprint.get("/events")
def list_events():
    """The program's domain events after ``after`` (an id), oldest first, at most ``limit`` (500)."""
    try:
        after, limit = int(request.args.get("after", 0)), int(request.args.get("limit", 100))
    except ValueError:
        return error_response(400, "after and limit must be whole numbers")
    if after < 0 or not 1 <= limit <= 500:
        return error_response(400, "after must be 0 or more and limit 1 to 500")
    found = events.since(db.session(), g.shop.id, after, limit)
    return jsonify([{"id": e.id, "kind": e.kind, "member_id": e.member_id, "payload": e.payload,
                     "created_at": e.created_at.isoformat()} for e in found])


@blueprint.get("/leaderboard")
def get_leaderboard():
    return jsonify(challenges.leaderboard(db.session(), g.shop.id))


@blueprint.get("/liability")
def get_liability():
    """What the shop owes its members at ``at`` (ISO date or time; default now), in points and money."""
    at = None
    if request.args.get("at"):
        try:
            at = dt.datetime.fromisoformat(request.args["at"])
            if len(request.args["at"]) == 10 and at.tzinfo is None:
                at += dt.timedelta(days=1) - dt.timedelta(microseconds=1)  # a date: its end
        except (ValueError, OverflowError):
            return error_response(400, "at must be an ISO 8601 date or time, e.g. 2026-06-30")
        if not 1970 <= at.year <= 2999:
            return error_response(400, "at must be a date between 1970 and 2999")
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
    owed = ledger.liability(db.session(), g.shop.id, at)
    return jsonify({"points": owed.points, "amount": str(owed.amount), "currency": g.shop.currency,
                    "at": owed.at.isoformat()})
