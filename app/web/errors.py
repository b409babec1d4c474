"""JSON errors with the right status; a database outage is a 503 the platform will retry."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from app.extensions import db

log = logging.getLogger(__name__)


def error_response(status: int, message: str, **extra: object):
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return error_response(error.code or 500, error.description or error.name)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database_down(error: Exception):
        log.error("database unavailable: %s", type(error).__name__)
        db.session.rollback()
        response = error_response(503, "database unavailable, try again shortly")
        response.headers["Retry-After"] = "5"
        return response
