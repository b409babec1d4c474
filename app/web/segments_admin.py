"""The merchant's segments API: segments and their members, exports, the RFM grid, a customer's predictions.

Every call carries the embedded admin's session token and sees only its own shop: another shop's
segment or customer is a 404. A bad definition is a 422 naming the field (``rules.all[0].op``).
Definitions of every field: docs/segments.md.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request, stream_with_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.analytics import common
from app.extensions import db
from app.segments import audience, membership, metrics, rules
from app.store.models import Customer, CustomerMetrics, Segment, SegmentMember, SegmentModel
from app.store.types import utcnow
from app.web.admin import require_session_token, whole_arg
from app.web.errors import error_response

log = logging.getLogger(__name__)

blueprint = Blueprint("segments_admin", __name__, url_prefix="/api/admin/segments")
blueprint.before_request(require_session_token)

_PAGE = 2000
EXPORT_COLUMNS = ("customer_id", "email", "first_name", "last_name", "phone", "order_count", "total_spent",
                  "average_order_value", "first_order_at", "last_order_at", "rfm_segment", "r", "f", "m",
                  "probability_active", "expected_orders_90d", "predicted_value_12m", "churn_band", "tier",
                  "points_balance", "email_subscribed")


def _moment(value: Any) -> str | None:
    return value.isoformat() if value else None


def _describe(segment: Segment) -> dict[str, Any]:
    return {"key": segment.key, "name": segment.name, "rules": segment.rules, "built_in": segment.built_in,
            "tag": segment.tag, "version": segment.version, "members": segment.member_count,
            "computed_at": _moment(segment.computed_at), "updated_at": _moment(segment.updated_at)}


def predictions(row: CustomerMetrics) -> dict[str, Any]:
    """One customer's figures as the API shows them."""
    return {"customer_key": row.customer_key, "customer_id": row.customer_external_id, "email": row.email,
            "order_count": row.order_count, "total_spent": row.total_spent,
            "average_order_value": row.average_order_value, "first_order_at": _moment(row.first_order_at),
            "last_order_at": _moment(row.last_order_at),
            "rfm": {"r": row.r_score, "f": row.f_score, "m": row.m_score, "segment": row.rfm_segment,
                    "name": metrics.RFM_SEGMENTS.get(row.rfm_segment or "")},
            "spend_percentile": round(row.spend_rank * 100, 1) if row.spend_rank is not None else None,
            "probability_active": row.p_alive, "expected_orders_90d": row.expected_orders_90d,
            "predicted_value_12m": row.predicted_value_12m, "churn_band": row.churn_band, "tier": row.tier,
            "points_balance": row.points_balance, "email_subscribed": row.email_subscribed,
            "computed_at": _moment(row.computed_at)}


def _segments() -> list[Segment]:
    session = db.session()
    membership.ensure_built_ins(session, g.shop.id)
    session.commit()
    return membership.live(session, g.shop.id)


def _segment(key: str) -> Segment:
    found = db.session().execute(select(Segment).where(Segment.shop_id == g.shop.id, Segment.key == key,
                                                       Segment.deleted_at.is_(None))).scalar_one_or_none()
    if found is None:
        membership.ensure_built_ins(db.session(), g.shop.id)
        db.session().commit()
        found = db.session().execute(select(Segment).where(Segment.shop_id == g.shop.id, Segment.key == key,
                                                           Segment.deleted_at.is_(None))).scalar_one_or_none()
    if found is None:
        abort(404, description=f"no segment {key!r}")
    return found


@blueprint.get("")
def list_segments():
    """Every segment with its size, the built-ins first."""
    return jsonify({"segments": [_describe(segment) for segment in _segments()]})


@blueprint.post("")
def create_segment():
    """A merchant's segment from ``name``, ``rules`` and optionally ``key`` and ``tag``; filled at once."""
    body = request.get_json(silent=True)
    if body is None:
        return error_response(400, "send a JSON body (Content-Type: application/json)")
    try:
        definition = membership.check_definition(body, creating=True)
    except membership.SegmentError as error:
        return error_response(422, str(error), field=error.field)
    session = db.session()
    count = session.execute(select(func.count()).select_from(Segment).where(
        Segment.shop_id == g.shop.id, Segment.deleted_at.is_(None))).scalar_one()
    if count >= membership.MAX_SEGMENTS:
        return error_response(422, f"a shop has at most {membership.MAX_SEGMENTS} segments; delete one first",
                              field="key")
    now = utcnow()
    segment = Segment(shop_id=g.shop.id, key=definition["key"], name=definition["name"], rules=definition["rules"],
                      tag=definition.get("tag"), built_in=False, version=1, member_count=0, created_at=now,
                      updated_at=now)
    session.add(segment)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return error_response(409, f"a segment {definition['key']!r} exists already (deleted ones keep their key)",
                              field="key")
    _fill(segment)
    session.commit()
    log.info("shop=%s segment %s created: %s members", g.shop.id, segment.key, segment.member_count)
    response = jsonify(_describe(segment))
    response.status_code = 201
    response.headers["Location"] = f"/api/admin/segments/{segment.key}"
    return response


def _fill(segment: Segment) -> None:
    session = db.session()
    _, moved = membership.update(session, g.shop, segment, utcnow())
    if segment.tag or moved:
        membership.want_tags(session, g.shop.id, moved)


@blueprint.post("/preview")
def preview_segment():
    """How many customers draft ``rules`` match now, without saving anything (422 naming a bad rule's place)."""
    body = request.get_json(silent=True)
    if body is None:
        return error_response(400, "send a JSON body (Content-Type: application/json)")
    if not isinstance(body, dict) or set(body) - {"rules"}:
        return error_response(422, 'send {"rules": ...} alone', field="body")
    try:
        definition = membership.check_definition({"rules": body.get("rules")}, creating=False)
    except membership.SegmentError as error:
        return error_response(422, str(error), field=error.field)
    session = db.session()
    context = rules.Context(shop_id=g.shop.id, now=utcnow(), timezone=common.zone(g.shop))
    matches = rules.condition(session, context, definition["rules"])
    count = session.execute(select(func.count()).select_from(CustomerMetrics)
                            .where(CustomerMetrics.shop_id == g.shop.id, matches)).scalar_one()
    return jsonify({"members": count, "rules": definition["rules"]})


@blueprint.get("/<key>")
def get_segment(key: str):
    return jsonify(_describe(_segment(key)))


@blueprint.put("/<key>")
def update_segment(key: str):
    """Change ``name``, ``rules`` or ``tag`` (null: none); members are recomputed at once."""
    segment = _segment(key)
    body = request.get_json(silent=True)
    if body is None:
        return error_response(400, "send a JSON body (Content-Type: application/json)")
    try:
        definition = membership.check_definition(body, creating=False)
    except membership.SegmentError as error:
        return error_response(422, str(error), field=error.field)
    session = db.session()
    old_tag = segment.tag
    for name, value in definition.items():
        setattr(segment, name, value)
    segment.version += 1
    segment.updated_at = utcnow()
    session.flush()
    _, moved = membership.update(session, g.shop, segment, utcnow())
    if "tag" in definition and definition["tag"] != old_tag:
        moved |= set(membership.members_of(session, segment))
    membership.want_tags(session, g.shop.id, moved)
    session.commit()
    return jsonify(_describe(segment))


@blueprint.delete("/<key>")
def delete_segment(key: str):
    """Delete a merchant's segment (built-ins can be changed, not deleted); its tags are taken off."""
    segment = _segment(key)
    if segment.built_in:
        return error_response(409, f"{key!r} is built in: change its rules or tag instead of deleting it")
    session = db.session()
    keys = membership.members_of(session, segment)
    segment.deleted_at = utcnow()
    session.execute(SegmentMember.__table__.delete().where(SegmentMember.segment_id == segment.id))
    segment.member_count = 0
    session.flush()
    membership.want_tags(session, g.shop.id, keys)
    session.commit()
    return "", 204


@blueprint.get("/<key>/members")
def list_members(key: str):
    """Members with their figures, ``limit`` (1-500, default 100) at a time; ``after`` (a customer key) pages on."""
    segment = _segment(key)
    limit = whole_arg("limit", 100, 1, 500)
    assert limit is not None
    after = request.args.get("after")
    query = (select(CustomerMetrics).join(SegmentMember, (SegmentMember.segment_id == segment.id)
                                          & (SegmentMember.customer_key == CustomerMetrics.customer_key))
             .where(CustomerMetrics.shop_id == g.shop.id))
    if after:
        query = query.where(CustomerMetrics.customer_key > after)
    rows = db.session().execute(query.order_by(CustomerMetrics.customer_key).limit(limit + 1)).scalars().all()
    page = list(rows[:limit])
    return jsonify({"segment": segment.key, "members": [predictions(row) for row in page],
                    "next_after": page[-1].customer_key if len(rows) > limit and page else None})


def _member_rows(segment: Segment) -> Iterator[tuple[CustomerMetrics, Customer | None]]:
    """Members with their customer record, in pages (a segment may hold a million)."""
    session = db.session()
    after = ""
    while True:
        page = session.execute(
            select(CustomerMetrics, Customer)
            .join(SegmentMember, (SegmentMember.segment_id == segment.id)
                  & (SegmentMember.customer_key == CustomerMetrics.customer_key))
            .outerjoin(Customer, (Customer.shop_id == CustomerMetrics.shop_id)
                       & (Customer.external_id == CustomerMetrics.customer_external_id))
            .where(CustomerMetrics.shop_id == segment.shop_id, CustomerMetrics.customer_key > after)
            .order_by(CustomerMetrics.customer_key).limit(_PAGE)).all()
        if not page:
            return
        yield from ((row, customer) for row, customer in page)
        after = page[-1][0].customer_key


def _cell(value: Any) -> Any:
    """A spreadsheet would run a cell that starts with = + - @ as a formula: such text gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_response(rows: Iterator[list[Any]], header: tuple[str, ...], filename: str) -> Response:
    def generate() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            if out.tell() > 65536:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/<key>/export.csv")
def export_segment(key: str):
    """The segment's members as CSV with their figures (cells that a spreadsheet would run are escaped)."""
    segment = _segment(key)

    def rows() -> Iterator[list[Any]]:
        for row, customer in _member_rows(segment):
            yield [_cell(value) for value in (
                row.customer_external_id, row.email, customer.first_name if customer else None,
                customer.last_name if customer else None, customer.phone if customer else None, row.order_count,
                f"{row.total_spent:.2f}", f"{row.average_order_value:.2f}" if row.average_order_value is not None
                else None, _moment(row.first_order_at), _moment(row.last_order_at), row.rfm_segment, row.r_score,
                row.f_score, row.m_score, row.p_alive, row.expected_orders_90d, row.predicted_value_12m,
                row.churn_band, row.tier, row.points_balance, "yes" if row.email_subscribed else "no")]

    return _csv_response(rows(), EXPORT_COLUMNS, f"{segment.key}.csv")


@blueprint.get("/<key>/audience.csv")
def export_audience(key: str):
    """The members as an ad-platform customer list: ``format`` meta or google, hashed as each expects.

    A member's phone number written without a country code is read in the country of their
    default address; ``country`` (ISO alpha-2) is the one for members whose country is unknown.
    The mirror holds no postal codes, so the name-and-address columns stay empty.
    Only members who agreed to email marketing are included unless ``consent=any``.
    """
    segment = _segment(key)
    kind = request.args.get("format", "meta")
    if kind not in ("meta", "google"):
        return error_response(400, "format must be meta or google")
    country = request.args.get("country")
    if country is not None and audience.normalise_country(country) is None:
        return error_response(400, "country must be a two-letter ISO 3166 code such as DE or US")
    consent = request.args.get("consent", "subscribed")
    if consent not in ("subscribed", "any"):
        return error_response(400, "consent must be subscribed or any")
    make_row = audience.meta_row if kind == "meta" else audience.google_row
    header = audience.META_HEADER if kind == "meta" else audience.GOOGLE_HEADER

    def rows() -> Iterator[list[Any]]:
        seen: set[tuple[str, ...]] = set()
        for row, customer in _member_rows(segment):
            if consent == "subscribed" and not row.email_subscribed:
                continue
            line = make_row({"email": row.email, "phone": customer.phone if customer else None,
                             "first_name": customer.first_name if customer else None,
                             "last_name": customer.last_name if customer else None,
                             "country": customer.country_code if customer else None}, country)
            if line is not None and line not in seen:
                seen.add(line)
                yield list(line)

    return _csv_response(rows(), header, f"{segment.key}-{kind}-audience.csv")


@blueprint.get("/rfm")
def rfm_grid():
    """How many customers hold each (R, F) pair and each named RFM segment: a chart's grid as it is."""
    session = db.session()
    grid = [[0] * 5 for _ in range(5)]
    for r, f, count in session.execute(
            select(CustomerMetrics.r_score, CustomerMetrics.f_score, func.count())
            .where(CustomerMetrics.shop_id == g.shop.id, CustomerMetrics.r_score.is_not(None))
            .group_by(CustomerMetrics.r_score, CustomerMetrics.f_score)):
        grid[5 - r][f - 1] = count
    named = dict(session.execute(select(CustomerMetrics.rfm_segment, func.count())
                                 .where(CustomerMetrics.shop_id == g.shop.id, CustomerMetrics.rfm_segment.is_not(None))
                                 .group_by(CustomerMetrics.rfm_segment)).all())
    model = session.get(SegmentModel, g.shop.id)
    return jsonify({"rows": [5, 4, 3, 2, 1], "columns": [1, 2, 3, 4, 5], "r_by_f": grid,
                    "segments": [{"segment": key, "name": name, "customers": named.get(key, 0)}
                                 for key, name in metrics.RFM_SEGMENTS.items()],
                    "window_days": model.window_days if model else metrics.WINDOW_DAYS,
                    "computed_at": _moment(model.full_computed_at) if model else None})


@blueprint.get("/model")
def model_summary():
    """The shop's churn and lifetime-value model: how it was fitted (or why the fallback), its parameters."""
    model = db.session().get(SegmentModel, g.shop.id)
    if model is None or model.full_computed_at is None:
        return jsonify({"computed_at": None, "clv": None, "window_days": metrics.WINDOW_DAYS,
                        "note": "Not computed yet: the first computation runs after the store's orders are synced."})
    return jsonify({"computed_at": _moment(model.full_computed_at), "window_days": model.window_days,
                    "clv": model.clv})


@blueprint.get("/customers/<customer_id>")
def customer_figures(customer_id: str):
    """One customer's figures and predictions, and the segments they are in."""
    session = db.session()
    row = session.execute(select(CustomerMetrics).where(CustomerMetrics.shop_id == g.shop.id,
                                                        CustomerMetrics.customer_key == f"c:{customer_id}")
                          ).scalar_one_or_none()
    if row is None:
        return error_response(404, f"no customer {customer_id!r} with computed figures")
    segments = session.execute(select(Segment.key).join(SegmentMember, SegmentMember.segment_id == Segment.id)
                               .where(SegmentMember.customer_key == row.customer_key, Segment.shop_id == g.shop.id,
                                      Segment.deleted_at.is_(None)).order_by(Segment.key)).scalars().all()
    return jsonify({**predictions(row), "segments": list(segments)})


@blueprint.post("/recompute")
def recompute():
    """Queue a full recomputation of every customer's figures and every segment (202)."""
    from jobs.segmentation import request_recompute

    queued = request_recompute(g.shop.id)
    response = jsonify({"queued": queued})
    response.status_code = 202
    return response
