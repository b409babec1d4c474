"""One-click unsubscribe (RFC 8058): ``POST /m/u/<token>`` unsubscribes, ``GET`` only asks.

Mail scanners and link previews follow GETs, so a GET shows a page with a button that POSTs;
mail clients that honour ``List-Unsubscribe-Post`` POST ``List-Unsubscribe=One-Click`` directly.
The token is signed with the app's secret and names the shop, the address and the message.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template_string
from sqlalchemy import select

from app import platforms
from app.extensions import db
from app.messaging import consent
from app.store.models import Shop

log = logging.getLogger(__name__)

blueprint = Blueprint("unsubscribe", __name__, url_prefix="/m/u")

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ title }}</title>
<style>body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;background:#f4f4f5;color:#1a1a1a;
margin:0;padding:48px 16px}main{max-width:480px;margin:0 auto;background:#fff;border-radius:8px;padding:32px}
h1{font-size:22px;margin:0 0 16px}button{font-size:16px;padding:12px 24px;border:0;border-radius:6px;
background:#1a1a1a;color:#fff;cursor:pointer}</style></head>
<body><main><h1>{{ title }}</h1><p>{{ message }}</p>
{% if form %}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>{% endif %}</main></body></html>
"""


def _page(status: int, title: str, message: str, *, form: bool = False):
    body = render_template_string(_PAGE, title=title, message=message, form=form)
    return body, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                          "Referrer-Policy": "no-referrer"}


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(1, len(local) - 1)}@{domain}"


def _resolve(token: str):
    """The request a token names and its shop, or the error page to answer with."""
    try:
        request = consent.read_unsubscribe_token(platforms.settings().secret_key, token)
    except consent.InvalidToken as error:
        return None, None, _page(400, "This link does not work", f"{error}. Use the link in the latest email "
                                 "you received, or reply to it to be removed from the list.")
    shop = db.session().execute(select(Shop).where(Shop.id == request.shop_id)).scalar_one_or_none()
    if shop is None or shop.status == "redacted":
        return None, None, _page(404, "Store not found", "This store no longer sends email through us.")
    return request, shop, None


@blueprint.get("/<token>")
def confirm(token: str):
    """Ask before unsubscribing: a GET changes nothing."""
    request, shop, error = _resolve(token)
    if error is not None:
        return error
    return _page(200, "Unsubscribe", f"Stop marketing email from {shop.name or shop.domain} to "
                 f"{_masked(request.email)}?", form=True)


@blueprint.post("/<token>")
def unsubscribe(token: str):
    """Unsubscribe at once (the one-click POST, or the confirm page's button); doing it again is harmless."""
    request, shop, error = _resolve(token)
    if error is not None:
        return error
    try:
        result = consent.unsubscribe(db.session(), request)
    except ValueError as bad:  # the token named something that is not an address
        db.session().rollback()
        return _page(400, "This link does not work", str(bad))
    db.session().commit()
    log.info("shop=%s unsubscribed (new=%s, customers=%s)", shop.id, result.newly_suppressed, len(result.customers))
    from redis import RedisError

    from jobs.messaging import request_consent_write_back

    try:
        request_consent_write_back(shop.id)
    except RedisError as failure:  # the sweep queues it later
        log.warning("shop=%s consent write-back not queued (%s)", shop.id, type(failure).__name__)
    return _page(200, "You are unsubscribed", f"{_masked(request.email)} will get no more marketing email "
                 f"from {shop.name or shop.domain}.")
