"""The merchant's loyalty API: the program (rewards, tiers), members, adjustments, custom actions.

Every call carries the embedded admin's session token and sees only its own shop: another
shop's member is a 404.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.loyalty import actions, challenges, events, expiry, ledger, storefront, tiers
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
    member = _member(customer_id)  # another shop's customer is a 404 whatever the body
    body = _json_body()
    if not isinstance(body, dict) or not isinstance(body.get("action"), str) or not isinstance(body.get("key"), str):
        return error_response(400, "send an object with action (a custom action id) and key (an idempotency key)")
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


# --- drafts: what a change would show and whom it would affect, without saving ---------------


def _in_draft(changes: Any, read: Callable[[Session, programs.Program, programs.Program], Any]) -> Any:
    """Run ``read(session, base, draft)`` with ``changes`` applied in a savepoint that is rolled back.

    The draft goes through ``programs.update`` itself, so it is validated (and normalised) exactly
    as a saved change would be, and whatever reads the program sees the draft; nothing is kept.
    """
    session = db.session()
    base = programs.ensure(session, g.shop.id)
    session.commit()
    savepoint = session.begin_nested()
    try:
        draft = programs.update(session, g.shop.id, changes, actor="preview")
        return read(session, base, draft)
    finally:
        savepoint.rollback()
        session.rollback()


@blueprint.post("/preview")
def preview_program():
    """What the storefront widget would show with these changes (nothing is saved)."""
    changes = _json_body()
    try:
        view = _in_draft(changes, lambda session, base, draft: storefront.program_view(
            session, g.shop, storefront.Presentment.parse(g.shop, None, None)))
    except programs.ProgramError as error:
        return error_response(422, str(error), field=error.field)
    return jsonify(view)


@blueprint.post("/impact")
def program_impact():
    """Which existing members these changes affect, and how many (nothing is saved)."""
    changes = _json_body()
    try:
        found = _in_draft(changes, lambda session, base, draft: impact(session, g.shop.id, base, draft))
    except programs.ProgramError as error:
        return error_response(422, str(error), field=error.field)
    return jsonify({"impacts": found})


def tier_counts(session: Session, shop_id: int) -> dict[str | None, int]:
    """Customers by the tier they hold (None: never graded, which is the first tier), one GROUP BY."""
    rows = session.execute(
        select(LoyaltyMember.tier, func.count()).where(LoyaltyMember.shop_id == shop_id,
                                                       LoyaltyMember.customer_external_id.is_not(None))
        .group_by(LoyaltyMember.tier)).all()
    return {tier: int(count) for tier, count in rows}


def holders(session: Session, shop_id: int) -> int:
    """Members holding points (their entries add up to more than nothing)."""
    held = (select(LedgerEntry.member_id).where(LedgerEntry.shop_id == shop_id)
            .group_by(LedgerEntry.member_id).having(func.sum(LedgerEntry.points) > 0)).subquery()
    return int(session.execute(select(func.count()).select_from(held)).scalar_one())


def affording(session: Session, shop_id: int, prices: list[int], now: dt.datetime | None = None) -> dict[int, int]:
    """How many members can spend at least each of ``prices`` points now, in one aggregate query."""
    prices = sorted(set(prices))
    if not prices:
        return {}
    now = now or utcnow()
    spendable = (select(func.sum(LedgerEntry.points).label("points"))
                 .where(LedgerEntry.shop_id == shop_id, LedgerEntry.available_at <= now,
                        LedgerEntry.created_at <= now)
                 .group_by(LedgerEntry.member_id)).subquery()
    counts = session.execute(select(*[func.coalesce(func.sum(case((spendable.c.points >= price, 1), else_=0)), 0)
                                      for price in prices])).one()
    return {price: int(count) for price, count in zip(prices, counts, strict=True)}


def impact(session: Session, shop_id: int, base: programs.Program, draft: programs.Program) -> list[dict[str, Any]]:
    """The changes from ``base`` to ``draft`` that reach members who are in the program already.

    Each names what changed (``kind``), how many members it reaches (``count``, from aggregates
    over the shop's members and ledger) and the details a sentence needs; only changes that
    reach at least one member are listed.
    """
    found: list[dict[str, Any]] = []
    held = tier_counts(session, shop_id)
    new_tiers = {t["name"]: t for t in draft["tiers"]}
    first = base["tiers"][0]["name"]
    for position, tier in enumerate(base["tiers"]):
        count = held.get(tier["name"], 0) + (held.get(None, 0) if position == 0 else 0)
        if not count:
            continue
        after = new_tiers.get(tier["name"])
        if after is None:
            # members who were never graded stay in whatever the first tier is now
            gone = held.get(tier["name"], 0)
            if gone:
                found.append({"kind": "tier_removed", "count": gone, "tier": tier["name"]})
            continue
        if after["threshold"] > tier["threshold"]:
            found.append({"kind": "tier_threshold_raised", "count": count, "tier": tier["name"],
                          "before": tier["threshold"], "after": after["threshold"],
                          "grace_days": draft["tier_grace_days"]})
        if Decimal(after["multiplier"]) < Decimal(tier["multiplier"]):
            found.append({"kind": "tier_multiplier_lowered", "count": count, "tier": tier["name"],
                          "before": tier["multiplier"], "after": after["multiplier"]})
    if (base["tier_basis"], base["tier_window"]) != (draft["tier_basis"], draft["tier_window"]):
        above = sum(count for name, count in held.items() if name not in (None, first))
        if above:
            found.append({"kind": "tier_measure_changed", "count": above, "tier": first})
    if base["expiry_days"] != draft["expiry_days"] or base["points_per_unit_off"] != draft["points_per_unit_off"]:
        holding = holders(session, shop_id)
        if holding and base["expiry_days"] != draft["expiry_days"]:
            found.append({"kind": "expiry_changed", "count": holding, "before": base["expiry_days"],
                          "after": draft["expiry_days"]})
        if holding and base["points_per_unit_off"] != draft["points_per_unit_off"]:
            found.append({"kind": "point_value_changed", "count": holding, "before": base["points_per_unit_off"],
                          "after": draft["points_per_unit_off"]})
    kept = {r["id"]: r for r in draft["rewards"]}
    removed = [r for r in base["rewards"] if r["id"] not in kept]
    dearer = [(r, kept[r["id"]]) for r in base["rewards"] if r["id"] in kept and kept[r["id"]]["points"] > r["points"]]
    able = affording(session, shop_id, [r["points"] for r in removed] + [p for r, a in dearer
                                                                          for p in (r["points"], a["points"])])
    for reward in removed:
        if able[reward["points"]]:
            found.append({"kind": "reward_removed", "count": able[reward["points"]], "reward": reward["name"]})
    for reward, after in dearer:
        priced_out = able[reward["points"]] - able[after["points"]]
        if priced_out:
            found.append({"kind": "reward_dearer", "count": priced_out, "reward": reward["name"],
                          "before": reward["points"], "after": after["points"]})
    return found
