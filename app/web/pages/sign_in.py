"""The ways into a first-party admin session: the store's signed link, an e-mailed magic link."""

from __future__ import annotations

import logging
import uuid
from email.utils import formatdate

from flask import abort, g, make_response, redirect, render_template, request, session, url_for

from app import platforms
from app.extensions import db
from app.messaging.channels import OutgoingMessage, SmtpChannel
from app.web.pages import _globals as page_globals
from app.web.pages import access, blueprint, error_page, i18n, secure

log = logging.getLogger(__name__)


def _language() -> str:
    language = i18n.pick(request.args.get("locale"), session.get("language"), request.headers.get("Accept-Language"))
    g.language = language
    return language


def _form(template: str, status: int = 200, **context):
    _language()
    html = render_template(template, shop=None, csrf="", **page_globals(), **context)
    return secure(make_response(html, status))


@blueprint.get("/admin/enter")
def enter():
    """The store's admin page opened Comeback with a link signed with the shared secret."""
    params = {key: request.args.get(key, "") for key in ("store", "email", "expires", "signature")}
    try:
        shop = access.enter_with_link(params)
    except ValueError as error:
        _language()
        return error_page(403, "errors.link_refused", reason=str(error))
    if request.args.get("locale"):
        session["language"] = i18n.pick(request.args["locale"])
    log.info("shop=%s admin opened from the store's own admin", shop.id)
    return redirect(access.local_path(request.args.get("next"), _first_page(shop)), code=303)


def _first_page(shop) -> str:
    """Onboarding until the merchant finished or put it aside; Home after that."""
    from app import onboarding

    steps = onboarding.status(db.session(), shop)
    db.session().commit()
    return "/admin" if steps["completed"] or steps["skipped"] else "/admin/onboarding"


@blueprint.get("/admin/sign-in")
def sign_in():
    return _form("pages/sign_in.html", next=access.local_path(request.args.get("next")), sent=False, email="")


@blueprint.before_request
def _own_forms_only():
    """Page forms (sign-in, switch, sign-out) are posted from our own pages, never another site's."""
    if request.method == "POST" and request.path.startswith("/admin/") and not access.same_origin():
        abort(403, description="this form can only be sent from Comeback's own pages")
    return None


@blueprint.post("/admin/sign-in")
def send_sign_in_link():
    email = access.normalize_email(request.form.get("email", ""))
    target = access.local_path(request.form.get("next"))
    if "@" not in email or len(email) > 320:
        return _form("pages/sign_in.html", 422, next=target, sent=False, email=email, invalid=True)
    token = access.request_magic_link(email)
    if token is not None:
        _send_link(email, token, target)
    # The same answer whether or not the address belongs to a merchant.
    return _form("pages/sign_in.html", next=target, sent=True, email=email)


def _send_link(email: str, token: str, target: str) -> None:
    settings = platforms.settings()
    language = _language()
    url = f"{settings.app_url.rstrip('/')}{url_for('pages.magic_link', token=token, next=target)}"
    text = i18n.translate(language, "sign_in.email_body", url=url, minutes=access.MAGIC_LINK_MINUTES)
    message = OutgoingMessage(recipient=email, sender=settings.smtp_from,
                              subject=i18n.translate(language, "sign_in.email_subject"), text=text,
                              headers={"Message-ID": f"<{uuid.uuid4()}@comeback>", "Date": formatdate(localtime=False),
                                       "Auto-Submitted": "auto-generated"},
                              reference="magic-link")
    result = SmtpChannel.from_settings(settings).send(message)
    if not result.is_sent:
        log.warning("magic link not accepted by the mail server: %s", result.status)


@blueprint.get("/admin/sign-in/<token>")
def magic_link(token: str):
    """Show a button that uses the link: mail scanners that open links must not spend it."""
    if access.magic_link_state(token) is None:
        return _form("pages/sign_in.html", 410, next="/admin", sent=False, email="", expired=True)
    return _form("pages/magic_link.html", token=token, next=access.local_path(request.args.get("next")))


@blueprint.post("/admin/sign-in/<token>")
def use_magic_link(token: str):
    shops = access.redeem_magic_link(token)
    if shops is None:
        return _form("pages/sign_in.html", 410, next="/admin", sent=False, email="", expired=True)
    return redirect(access.local_path(request.form.get("next")), code=303)


@blueprint.post("/admin/switch")
def switch_shop():
    """Open another of the merchant's shops (a 404 for a shop they may not open)."""
    value = access.merchant()
    if value is None or not access.check_csrf(value):
        abort(403, description="sign in again to switch shops")
    shop_id = access.whole_number(request.form.get("shop_id"))
    if shop_id is None or not access.switch(shop_id):
        abort(404, description="no such shop")
    return redirect("/admin", code=303)


@blueprint.post("/admin/sign-out")
def sign_out():
    value = access.merchant()
    if value is not None and not access.check_csrf(value):
        abort(403, description="sign out from the admin's own button")
    access.end_session()
    return redirect(url_for("pages.sign_in"), code=303)

