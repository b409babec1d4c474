"""Comeback: a customer-retention app for Shopify and WooCommerce merchants."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app import crypto
from app.config import Settings, load_settings
from app.extensions import db, redis_holder


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deeply to parse is bad JSON like any other.

    Python's parser recurses once per level and raises ``RecursionError``, which the request's
    ``get_json`` does not treat as a parse error: a body of ``[[[…]]]`` 100,000 deep was a 500.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def create_app(overrides: Mapping[str, Any] | None = None, *, settings: Settings | None = None) -> Flask:
    """Build the app: settings from the environment (plus overrides), resources bound, blueprints on."""
    settings = settings or load_settings(overrides=overrides)
    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=False)
    app.config.update(SECRET_KEY=settings.secret_key, TESTING=settings.testing,
                      MAX_CONTENT_LENGTH=5 * 1024 * 1024, JSON_SORT_KEYS=False,
                      # the first-party admin session (merchants outside an embedding platform)
                      SESSION_COOKIE_NAME="comeback_session", SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=settings.app_url.startswith("https://"),
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12))
    app.json = _JSONProvider(app)
    app.extensions["comeback.settings"] = settings
    if settings.database_url.startswith("sqlite"):
        settings.instance_path.mkdir(parents=True, exist_ok=True)
    crypto.configure(settings.encryption_keys)
    db.init(settings.database_url)
    redis_holder.init(settings)

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # HTTP clients log every URL at INFO, and a bulk export's URL is a signed link to a shop's
    # whole customer and order data: keep them quiet.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)

    from app.web import register_blueprints

    register_blueprints(app)

    from app.cli import register_commands

    register_commands(app)

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        db.session.remove()

    return app
