"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db
from jobs.queues import redis_available

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify({"database": "ok", "redis": "ok" if redis_available() else "down"})
