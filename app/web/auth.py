"""Install: send the merchant to the platform's consent screen, take the callback."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, request, url_for
from redis import RedisError

from app import installs, platforms
from app.extensions import db
from app.web.errors import error_response

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)


def _known_platform(platform: str) -> None:
    try:
        platforms.connector(platform)
    except KeyError:
        abort(404, description=f"unknown platform {platform!r}")


@blueprint.get("/auth/<platform>/install")
def install(platform: str):
    _known_platform(platform)
    session = db.session()
    try:
        authorization = installs.begin_install(session, platform, request.args.get("shop"))
    except installs.InstallError as error:
        return error_response(error.status, str(error))
    session.commit()
    return redirect(authorization.url, code=302)


@blueprint.get("/auth/<platform>/callback")
def callback(platform: str):
    _known_platform(platform)
    session = db.session()
    try:
        shop = installs.complete_install(session, platform, request.args.to_dict(flat=True))
    except installs.InstallError as error:
        session.rollback()
        return error_response(error.status, str(error))
    session.commit()
    from jobs.shops import after_install

    try:
        after_install(shop.id)
    except RedisError:
        # Installed all the same; the set-up is queued again when the merchant opens the app.
        log.warning("shop=%s set-up not queued (Redis unavailable)", shop.id)
    return redirect(url_for("admin.home", shop=shop.domain), code=302)
