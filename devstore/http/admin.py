"""Shopify-facing routes: OAuth authorize/access_token and the GraphQL Admin API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Blueprint, jsonify, make_response, redirect, request

from ..errors import BadRequest
from ..graph import executor
from ..graph.context import Ctx
from .common import host_shop, store

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
DEFAULT_SCOPE = "read_customers,read_orders,read_products"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
FAULT_BODIES = {429: "Exceeded 2 calls per second for api client. Reduce request rates to "
                     "resume uninterrupted service.",
                500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def oauth_hmac(secret: str, params: dict[str, str]) -> str:
    """Return Shopify's hex HMAC of query parameters (sorted `k=v` joined by `&`)."""
    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def host_param(shop: str) -> str:
    """Return the `host` parameter: base64url (padding stripped) of the admin URL."""
    raw = f"admin.shopify.com/store/{shop.split('.', 1)[0]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _oauth_error(error: str, description: str, status: int = 400) -> Any:
    """Return an OAuth error answer."""
    return jsonify({"error": error, "error_description": description}), status


@bp.get("/admin/oauth/authorize")
def authorize() -> Any:
    """Auto-approve an install and redirect back with a code."""
    args = request.args
    devstore = store()
    app = devstore.tokens.app(args.get("client_id", ""))
    if app is None:
        return make_response("<h1>Oauth error invalid_request: The client_id is invalid</h1>",
                             400)
    redirect_uri = args.get("redirect_uri")
    if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
        return make_response("<h1>Oauth error invalid_request: The redirect_uri is missing or "
                             "invalid</h1>", 400)
    try:
        shop, _ = devstore.ensure_shop(args.get("shop") or host_shop() or "")
    except BadRequest as exc:
        return make_response(f"<h1>Oauth error invalid_request: {exc}</h1>", 400)
    scope = args.get("scope", "")
    with shop.lock:
        shop.granted_scopes[app.client_id] = scope
    params = {"code": devstore.tokens.issue_code(shop.domain, app.client_id, scope),
              "host": host_param(shop.domain), "shop": shop.domain,
              "timestamp": str(int(time.time()))}
    if "state" in args:
        params["state"] = args["state"]
    params["hmac"] = oauth_hmac(app.client_secret, params)
    separator = "&" if "?" in redirect_uri else "?"
    log.info("authorized %s on %s (scope %s)", app.client_id, shop.domain, scope)
    return redirect(redirect_uri + separator + urlencode(params), code=302)


def _token_params() -> dict[str, str]:
    """Merge query, form and JSON parameters of a token request."""
    params: dict[str, Any] = dict(request.args)
    params.update(request.form.to_dict())
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        params.update(body)
    return {k: str(v) for k, v in params.items() if v is not None}


def _expiring(params: dict[str, str]) -> bool:
    """Return whether an expiring offline token was requested."""
    return params.get("expiring", "0").lower() in ("1", "true")


@bp.post("/admin/oauth/access_token")
def access_token() -> Any:
    """Issue tokens for the code, refresh-token and token-exchange grants."""
    params = _token_params()
    devstore = store()
    tokens = devstore.tokens
    client_id = params.get("client_id", "")
    if not client_id or "client_secret" not in params:
        return _oauth_error("invalid_request", "client_id and client_secret are required")
    app = tokens.app(client_id)
    if app is None or not hmac.compare_digest(app.client_secret, params["client_secret"]):
        return _oauth_error("invalid_client", "Client authentication failed", 401)
    host = host_shop()
    grant_type = params.get("grant_type", "authorization_code")
    if grant_type == "authorization_code":
        if not params.get("code"):
            return _oauth_error("invalid_request", "code is required")
        grant = tokens.redeem_code(params["code"], client_id)
        if grant is None or (host and host != grant.shop):
            return _oauth_error("invalid_grant",
                                "The authorization code was not found or was already used")
        return jsonify(tokens.issue_access(grant.shop, client_id, grant.scope,
                                           _expiring(params)))
    if grant_type == "refresh_token":
        if not params.get("refresh_token"):
            return _oauth_error("invalid_request", "refresh_token is required")
        grant = tokens.rotate_refresh(params["refresh_token"], client_id)
        if grant is None or (host and host != grant.shop):
            return _oauth_error("invalid_grant", "The refresh token is invalid or expired")
        return jsonify(tokens.issue_access(grant.shop, client_id, grant.scope, True))
    if grant_type == TOKEN_EXCHANGE:
        return _token_exchange(params, app.client_id, app.client_secret, host)
    return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


def _token_exchange(params: dict[str, str], client_id: str, secret: str,
                    host: str | None) -> Any:
    """Exchange an App Bridge session token for an offline access token."""
    if params.get("subject_token_type", ID_TOKEN_TYPE) != ID_TOKEN_TYPE:
        return _oauth_error("invalid_request", "subject_token_type must be an id_token")
    if params.get("requested_token_type", OFFLINE_TOKEN_TYPE) != OFFLINE_TOKEN_TYPE:
        return _oauth_error("invalid_request", "only offline access tokens are supported")
    try:
        claims = jwt.decode(params.get("subject_token", ""), secret, algorithms=["HS256"],
                            audience=client_id, leeway=5,
                            options={"require": ["exp", "nbf", "dest", "aud"]})
    except jwt.PyJWTError as exc:
        return _oauth_error("invalid_subject_token", f"Session token is invalid: {exc}")
    shop_domain = str(claims.get("dest", "")).removeprefix("https://").split("/", 1)[0]
    if host and host != shop_domain:
        return _oauth_error("invalid_subject_token", "Session token is for another shop")
    devstore = store()
    try:
        shop, _ = devstore.ensure_shop(shop_domain)
    except BadRequest as exc:
        return _oauth_error("invalid_subject_token", str(exc))
    app = devstore.tokens.app(client_id)
    with shop.lock:
        scope = shop.granted_scopes.setdefault(
            client_id, getattr(app, "scopes", None) or DEFAULT_SCOPE)
    return jsonify(devstore.tokens.issue_access(shop.domain, client_id, scope,
                                                _expiring(params)))


@bp.post("/admin/api/<version>/graphql.json")
def graphql(version: str) -> Any:
    """Serve the GraphQL Admin API."""
    devstore = store()
    fault = devstore.faults.take(request.path)
    if fault is not None:
        response = jsonify({"errors": FAULT_BODIES.get(fault, "Error")})
        response.status_code = fault
        if fault == 429:
            response.headers["Retry-After"] = "1"
        return response
    if not VERSION_RE.match(version):
        return jsonify({"errors": "Not Found"}), 404
    grant = devstore.tokens.authenticate(request.headers.get("X-Shopify-Access-Token", ""))
    domain = host_shop()
    if grant is None or (domain is not None and grant.shop != domain):
        return jsonify({"errors": INVALID_TOKEN}), 401
    shop = devstore.shop(grant.shop)
    body = request.get_json(silent=True)
    scopes = frozenset(part.strip() for part in (grant.scope or "").split(",") if part.strip())
    ctx = Ctx(devstore, shop, grant.client_id, version, scopes=scopes)
    return jsonify(executor.run(ctx, body))
