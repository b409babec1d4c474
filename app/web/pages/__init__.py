"""The merchant's admin pages: server-rendered Jinja over the domain code, small JavaScript on top.

Every page is a view decorated with ``@page(name)``: it runs only once ``access`` has decided
which shop the request speaks for (``g.shop``), and renders through ``render`` with the
shared layout, the platform's skin (``polaris`` inside the platform's admin frame, ``neutral``
elsewhere) and the words of the merchant's language (``t``). Forms post to the JSON APIs under
``/api/admin``, so the rules (and their 422 messages) live in one place.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, make_response, render_template, request, session
from werkzeug.exceptions import HTTPException

from app import platforms
from app.web.pages import access, i18n

STATIC = Path(__file__).resolve().parent / "static"
blueprint = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/admin/static")

# The admin's sections, in the order of its navigation.
SECTIONS = ("home", "onboarding", "loyalty", "flows", "segments", "customers", "settings")
SECTION_PATHS = {"home": "/admin", **{name: f"/admin/{name}" for name in SECTIONS if name != "home"}}


@functools.cache
def _asset_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def asset(name: str) -> str:
    """The URL of a static file, versioned by its content (served with a year-long cache)."""
    return f"/admin/static/{name}?v={_asset_version(name)}"


def link(path: str, **params: Any) -> str:
    """A link to an admin page that keeps the platform's frame parameters (shop, host, locale)."""
    query = "&".join(f"{key}={value}" for key, value in params.items() if value not in (None, ""))
    target = f"{path}?{query}" if query else path
    return access.with_frame_params(target)


def _language(shop_language: str | None = None) -> str:
    asked = request.args.get("locale")
    if asked and not g.get("embedded"):
        session["language"] = i18n.pick(asked)
    return i18n.pick(asked, session.get("language"), shop_language, request.headers.get("Accept-Language"))


def _resolve() -> Response | None:
    """Decide the shop of a page request (``g.shop``); a response when it must go elsewhere."""
    raw_shop = request.args.get("shop")
    g.embedded = False
    if raw_shop:
        named = access.embedded_shop_key(raw_shop)
        if named is None and access.merchant() is None:
            return error_page(400, "errors.bad_shop", shop=raw_shop)
        if named is not None:
            return _resolve_embedded(*named)
    value = access.merchant()
    if value is None:
        return access.sign_in_redirect()
    shop = access.session_shop(value)
    if shop is None:
        access.end_session()
        return access.sign_in_redirect()
    g.shop = shop
    g.skin = "neutral"
    g.merchant = value
    g.shops = access.session_shops(value)
    g.language = _language()
    return None


def _resolve_embedded(platform: str, shop_key: str) -> Response | None:
    from app.web.admin import AdminAuthError, authenticate

    connector = platforms.connector(platform)
    g.embedded = True
    g.frame = connector.admin_frame(shop_key)  # type: ignore[attr-defined]
    g.frame_of = (platform, shop_key)
    g.language = _language()
    id_token = request.args.get("id_token")
    if not id_token:
        return bounce()
    try:
        shop = authenticate(f"Bearer {id_token}")
    except AdminAuthError as error:
        # A reload of an old address: App Bridge gives a fresh token. A fresh token that fails at
        # once (a clock far off ours: every token "not valid yet") ends on a page that says so.
        if error.stale and not _just_bounced():
            return bounce()
        return error_page(error.status, "errors.token_refused", reason=str(error))
    if shop.domain != shop_key or shop.platform != platform:
        return error_page(401, "errors.token_other_shop")
    g.shop = shop
    g.skin = "polaris"
    g.merchant = None
    g.shops = [shop]
    return None


def _just_bounced() -> bool:
    raw = request.args.get("bounced", "")
    return raw.isascii() and raw.isdigit() and len(raw) < 12 and time.time() - int(raw) < 30


def bounce() -> Response:
    """The page that asks App Bridge for a session token and reloads with it (or embeds the app)."""
    path = request.path[len("/admin"):] if request.path.startswith("/admin") else ""
    html = render_template("pages/bounce.html", frame=g.frame, embed_path=path, bounced_at=int(time.time()),
                           **_globals())
    return secure(make_response(html))


def secure(response: Response) -> Response:
    """The page's security headers: who may frame it, where scripts come from, no caching."""
    if g.get("embedded"):
        platform, shop_key = g.frame_of
        ancestors = " ".join(platforms.connector(platform).frame_ancestors(shop_key))  # type: ignore[attr-defined]
        script_origin = "/".join(g.frame["script"].split("/")[:3])
    else:
        ancestors, script_origin = "'none'", ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {script_origin}".rstrip() + "; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors};")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _globals() -> dict[str, Any]:
    language = g.get("language") or i18n.DEFAULT
    return {"t": i18n.translator(language), "language": language, "asset": asset, "link": link,
            "embedded": g.get("embedded", False), "skin": g.get("skin", "neutral"),
            "sections": SECTIONS, "section_paths": SECTION_PATHS}


def render(template: str, **context: Any) -> Response:
    """Render a page of the admin with the layout's context."""
    merchant = g.get("merchant")
    html = render_template(template, shop=g.shop, page=g.get("page"), shops=g.get("shops", []),
                           csrf=(merchant or {}).get("csrf", ""), frame=g.get("frame"), **_globals(), **context)
    return secure(make_response(html))


def error_page(status: int, key: str, **values: Any) -> Response:
    """A page that says what went wrong and what to do, in the merchant's language."""
    g.setdefault("language", i18n.pick(request.args.get("locale"), session.get("language"),
                                       request.headers.get("Accept-Language")))
    html = render_template("pages/error.html", status=status, message_key=key, values=values,
                           shop=g.get("shop"), **_globals())
    response = make_response(html, status)
    return secure(response)


def page(name: str) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Make a view an admin page: the shop resolved first, the section marked in the navigation."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Response:
            refused = _resolve()
            if refused is not None:
                return refused
            g.page = name
            return view(*args, **kwargs)

        return wrapped

    return decorate


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if request.path.startswith("/admin/static"):
        return error
    keys = {404: "errors.not_found", 400: "errors.bad_request", 405: "errors.bad_request"}
    return error_page(error.code or 500, keys.get(error.code or 500, "errors.unexpected"),
                      detail=error.description or "")


@blueprint.after_request
def _cache_assets(response: Response) -> Response:
    if request.path.startswith("/admin/static/") and request.args.get("v") and response.status_code == 200:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


from app.web.pages import (  # noqa: E402  (the views register themselves on the blueprint)
    customers,
    flows,
    home,
    loyalty,
    onboarding,
    segments,
    settings,
    sign_in,
)

__all__ = ["blueprint", "customers", "flows", "home", "loyalty", "onboarding", "page", "render", "segments",
           "settings", "sign_in"]
