"""The storefront API the widget calls, through the platform's own signed channel.

Every request is verified by the connector of its platform (on Shopify, the app proxy's
``signature``; on WooCommerce, the store the widget names and the plugin's customer token),
which also says who the shopper is: that proof is the only identity, so no
parameter or body field can name another customer. Anonymous visitors see the program;
everything about a member needs a signed-in shopper. Requests are rate limited per shop and
per shopper (or visitor address), and the anonymous program view carries an ETag.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from typing import Any

from flask import Blueprint, Response, g, request
from redis import RedisError
from sqlalchemy import select

from app import platforms
from app.extensions import db, redis_holder
from app.loyalty import ledger, referrals, rewards, storefront
from app.recommendations import recommend
from app.store.models import Shop
from app.web import widget_assets
from app.web.errors import error_response
from connectors import base, registry

log = logging.getLogger(__name__)

blueprint = Blueprint("storefront_api", __name__, url_prefix="/proxy")

@blueprint.before_request
def _verify_caller():
    if request.method == "OPTIONS":
        return _preflight()
    query = request.query_string.decode("latin-1")
    for platform in registry.platforms():
        connector = platforms.connector(platform)
        if not hasattr(connector, "storefront_caller"):
            continue
        try:
            caller = connector.storefront_caller(  # type: ignore[attr-defined]
                query, request.headers, now=time.time(), store_of=functools.partial(_store, platform))
        except base.InvalidSignatureError as error:
            # the store's own pages must be able to read the refusal (an expired token, say)
            _cross_origin_of(connector, _named_store(platform, connector))
            return error_response(401, f"signature invalid: {error}")
        if caller is None:
            continue
        shop = db.session().execute(select(Shop).where(Shop.platform == platform,
                                                       Shop.domain == caller.shop_key)).scalar_one_or_none()
        if shop is None or not shop.is_active:
            return error_response(404, "this store has not installed the app")
        g.shop, g.customer_id = shop, caller.customer_external_id
        _cross_origin_of(connector, shop)
        sent_from = request.headers.get("Origin")
        if g.origins and sent_from is not None and sent_from not in g.origins:
            return error_response(403, f"pages on {sent_from} may not call this store's storefront API")
        if request.endpoint == "storefront_api.widget_file":
            return None  # the same public files for every page, cached by the browser: not counted
        # Behind a platform's proxy every visitor comes from the proxy's address: visitors there
        # count toward the shop's budget only.
        proxied = getattr(connector, "storefront_proxied", False)
        who = caller.customer_external_id or (None if proxied else f"ip:{request.remote_addr}")
        return _rate_limit(shop.id, who)
    return error_response(401, "the request is not signed by a store")


def _named_store(platform: str, connector: Any) -> Shop | None:
    """The store a refused request names, when it names one by our id (not proven, only named)."""
    shop_id = connector.storefront_shop_id(request.headers) if hasattr(connector, "storefront_shop_id") else None
    shop = db.session().get(Shop, shop_id) if shop_id is not None else None
    return shop if shop is not None and shop.platform == platform else None


def _cross_origin_of(connector: Any, shop: Shop | None) -> None:
    """Remember which pages may read this answer, and which headers caches must key it on."""
    g.vary = getattr(connector, "storefront_request_headers", ())
    g.origins = tuple(connector.storefront_origins(shop.domain)) if shop is not None and hasattr(
        connector, "storefront_origins") else ()


def _preflight() -> Response:
    """Let a widget on a store's own pages send its headers; who may read the answer is decided per store."""
    headers = {"Content-Type", "Accept"}
    for platform in registry.platforms():
        headers.update(getattr(platforms.connector(platform), "storefront_request_headers", ()))
    response = Response(status=204)
    response.headers.update({"Access-Control-Allow-Origin": request.headers.get("Origin") or "*",
                             "Access-Control-Allow-Methods": "GET, POST",
                             "Access-Control-Allow-Headers": ", ".join(sorted(headers)),
                             "Access-Control-Max-Age": "600", "Vary": "Origin"})
    return response


@blueprint.after_request
def _cross_origin(response: Response) -> Response:
    """The store's own pages (another origin than the app on some platforms) may read the answer."""
    if request.endpoint == "storefront_api.widget_file":
        return response  # the same public files for every page
    origin = request.headers.get("Origin")
    if origin is not None and origin in g.get("origins", ()):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "ETag, Retry-After"
    if request.method != "OPTIONS":
        response.vary.update(("Origin", *g.get("vary", ())))
    return response


def _store(platform: str, shop_id: int) -> tuple[str, str | None] | None:
    """The key and storefront secret of a store that signs its own requests (by our id)."""
    shop = db.session().get(Shop, shop_id)
    if shop is None or shop.platform != platform or not shop.is_active:
        return None
    return shop.domain, shop.storefront_secret


def _rate_limit(shop_id: int, who: str | None):
    """A fixed one-minute window per shop and per shopper (``who``, if known); a Redis outage lets requests through."""
    window = int(time.time() // 60)
    keys = [f"storefront-rate:{shop_id}:{window}"] + ([f"storefront-rate:{shop_id}:{who}:{window}"] if who else [])
    try:
        pipe = redis_holder.get().pipeline()
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, 120)
        counts = pipe.execute()[0::2]
    except RedisError as error:
        log.warning("shop=%s storefront rate limit not checked: %s", shop_id, type(error).__name__)
        return None
    settings = platforms.settings()  # requests a minute: the shop's shoppers together, and one shopper
    limits = (settings.storefront_shop_rate, settings.storefront_shopper_rate)
    if any(count > limit for count, limit in zip(counts, limits, strict=False)):  # no shopper: one count
        response = error_response(429, "too many requests; try again in a minute")
        response.headers["Retry-After"] = str(60 - int(time.time()) % 60)
        return response
    return None


def _signed_in() -> str:
    if not g.customer_id:
        raise ledger.LedgerError("sign in to the store to see and use your points", status=401)
    return g.customer_id


def _body() -> dict[str, Any]:
    # JSON only: a form another site posts in a shopper's browser cannot send it without a preflight
    if not request.is_json:
        raise ledger.LedgerError("send a JSON object (Content-Type: application/json)", status=415)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ledger.LedgerError("send a JSON object", status=400)
    return body


def _presentment() -> storefront.Presentment:
    return storefront.Presentment.parse(g.shop, request.args.get("currency"), request.args.get("rate"))


def _private(payload: Any, status: int = 200) -> Response:
    response = Response(json.dumps(payload, separators=(",", ":")), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.errorhandler(ledger.LedgerError)
def _refused(error: ledger.LedgerError):
    db.session().rollback()
    return error_response(error.status, str(error))


@blueprint.get("/widget/<name>")
def widget_file(name: str):
    """The widget's scripts, for pages that reach the app through the platform's proxy."""
    return widget_assets.serve(name)


@blueprint.get("/program")
def program():
    """The program as anyone sees it; the same for everyone, so cacheable and revalidated by ETag."""
    view = storefront.program_view(db.session(), g.shop, _presentment())
    db.session().commit()
    body = json.dumps(view, separators=(",", ":"), sort_keys=True)
    tag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if tag in [t.strip() for t in (request.headers.get("If-None-Match") or "").split(",")]:
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.headers["ETag"] = tag
    # Named by a request header (not the address), the answer is kept out of shared caches: some
    # ignore Vary and would hand one store's program to another's pages.
    response.headers["Cache-Control"] = "private, max-age=60" if g.get("vary") else "public, max-age=60"
    return response


@blueprint.get("/me")
def me():
    view = storefront.member_view(db.session(), g.shop, _signed_in(), _presentment())
    db.session().commit()
    return _private(view)


@blueprint.post("/redeem")
def redeem():
    """Spend points on a reward (``reward``, ``key``: an idempotency key, ``points`` for a variable one)."""
    from jobs.loyalty import request_code

    body = _body()
    session = db.session()
    known = isinstance(body.get("key"), str) and rewards.by_key(session, g.shop.id, body["key"]) is not None
    redemption = storefront.redeem(session, g.shop.id, _signed_in(), body.get("reward"), key=body.get("key"),
                                   points=body.get("points"))
    fresh = not known
    session.commit()
    if fresh:
        try:
            request_code(redemption.id)
        except RedisError as error:  # the periodic sweep queues it
            log.warning("shop=%s redemption=%s code not queued: %s", g.shop.id, redemption.id, type(error).__name__)
    # why a store refused a code is the merchant's to read (admin API), not the shopper's
    return _private({"code": redemption.code, "status": redemption.status,
                     "points": redemption.points, "expires_at": redemption.expires_at.isoformat()},
                    status=201 if fresh else 200)


@blueprint.post("/claim")
def claim():
    """Claim the points earned as a guest with the email the store holds for the shopper."""
    moved = storefront.claim(db.session(), g.shop.id, _signed_in())
    db.session().commit()
    return _private({"claimed": moved})


@blueprint.post("/birthday")
def birthday():
    body = _body()
    storefront.set_birthday(db.session(), g.shop.id, _signed_in(), body.get("month"), body.get("day"))
    db.session().commit()
    return _private({"month": body["month"], "day": body["day"]})


@blueprint.post("/review")
def review():
    added = storefront.review(db.session(), g.shop.id, _signed_in(), _body().get("product"))
    db.session().commit()
    return _private({"added": added}, status=201 if added else 200)


@blueprint.post("/social")
def social():
    added = storefront.social(db.session(), g.shop.id, _signed_in(), _body().get("action"))
    db.session().commit()
    return _private({"added": added}, status=201 if added else 200)


@blueprint.route("/leaderboard", methods=["GET", "POST"])
def leaderboard():
    """The opt-in leaderboard; a POST (signed in) opts in with ``name`` or out."""
    if request.method == "POST":
        body = _body()
        board = storefront.leaderboard(db.session(), g.shop.id, _signed_in(), opt_in=body.get("opt_in"),
                                       name=body.get("name"))
    else:
        board = storefront.leaderboard(db.session(), g.shop.id, g.customer_id)
    db.session().commit()
    return _private({"leaders": board})


@blueprint.post("/referral")
def referral():
    """A friend who came with a referral link gives an email: ``code`` and ``email``."""
    from jobs.loyalty import request_code

    body = _body()
    session = db.session()
    made = referrals.invite(session, g.shop.id, body.get("code"), body.get("email"), ip=request.remote_addr)
    session.commit()
    if made.friend_redemption_id is not None:
        try:
            request_code(made.friend_redemption_id)
        except RedisError as error:
            log.warning("shop=%s referral=%s code not queued: %s", g.shop.id, made.id, type(error).__name__)
    # the friend learns whether a welcome code comes, never why a referral was held back
    return _private({"status": "invited" if made.status == "invited" else "received"}, status=202)


@blueprint.get("/recommendations")
def recommendations():
    """Products for this shopper: bought with their cart or last order, their categories, popular.

    ``cart`` lists the product ids in the shopper's cart, comma-separated (absent: the signed-in
    customer's open cart in the mirror). The customer is the signed one, never a parameter.
    """
    try:
        limit = int(request.args.get("limit", 4))
    except ValueError:
        return error_response(400, "limit must be a whole number")
    if not 1 <= limit <= 12:
        return error_response(400, "limit must be from 1 to 12")
    cart = request.args.get("cart")
    cart_ids = None if cart is None else [part.strip() for part in cart.split(",") if part.strip()]
    if cart_ids is not None and (len(cart_ids) > 50 or any(len(part) > 64 for part in cart_ids)):
        return error_response(400, "cart must list at most 50 product ids of up to 64 characters")
    return _private({"products": recommend.for_customer(db.session(), g.shop.id, customer_external_id=g.customer_id,
                                                        cart_product_ids=cart_ids, limit=limit)})
