"""Tracked links and the open pixel of sent messages: ``/m/c/<token>`` and ``/m/o/<token>.gif``."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request

from app import platforms
from app.extensions import db
from app.messaging import tracking
from app.web.errors import error_response

blueprint = Blueprint("message_tracking", __name__, url_prefix="/m")


@blueprint.get("/c/<token>")
def click(token: str):
    """Record the click and redirect (302) to the link's destination, if we signed it for this message."""
    signed = request.args.get("u", "")
    try:
        url = tracking.read_click(platforms.settings().secret_key, token, signed)
    except tracking.InvalidLink as error:
        return error_response(400, str(error))
    # A message erased since still gets its reader where the link pointed; nothing is recorded.
    if tracking.record_click(db.session(), token, url):
        db.session().commit()
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.get("/o/<token>.gif")
def open_pixel(token: str):
    """Record the first open; answer a 1x1 transparent GIF."""
    if not tracking.record_open(db.session(), token):
        return error_response(404, "no such message")
    db.session().commit()
    return Response(tracking.PIXEL_GIF, mimetype="image/gif",
                    headers={"Cache-Control": "no-store, max-age=0", "Referrer-Policy": "no-referrer"})
