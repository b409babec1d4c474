"""The /_devstore control API: set up apps and shops, drive events, inspect state."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import jwt
from flask import Blueprint, jsonify, request, send_file

from .. import events, payloads
from ..core import app_from_config
from ..errors import BadRequest, NotFound
from ..formats import gid, iso_utc, money
from ..generator import generate
from ..graph import throttle
from ..models import Discount, Metafield
from ..storefront.proxy import proxy_json
from ..trickle import Trickle
from .common import generate_spec, json_body, number, store

log = logging.getLogger(__name__)
bp = Blueprint("control", __name__, url_prefix="/_devstore")
COMPLIANCE = {"customers-data_request": "customers/data_request",
              "customers-redact": "customers/redact", "shop-redact": "shop/redact"}


def _text(body: dict, key: str, required: bool = False) -> Any:
    """Read a string field."""
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key} is required")
        return None
    if not isinstance(value, str) or (required and not value):
        raise BadRequest(f"{key} must be a non-empty string")
    return value


@bp.get("/health")
def health() -> Any:
    """Report liveness."""
    return jsonify({"ok": True})


@bp.post("/apps")
def register_app() -> Any:
    """Register or update an app."""
    body = json_body(required=True)
    app = app_from_config({"client_id": _text(body, "client_id", True),
                           "client_secret": _text(body, "client_secret", True),
                           "compliance_uri": _text(body, "compliance_uri"),
                           "scopes": _text(body, "scopes"), "app_proxy": body.get("app_proxy"),
                           "extensions": body.get("extensions"),
                           "application_url": _text(body, "application_url")})
    created = store().tokens.register_app(app)
    return jsonify({"client_id": app.client_id, "compliance_uri": app.compliance_uri,
                    "app_proxy": proxy_json(app.app_proxy),
                    "extensions": list(app.extensions)}), 201 if created else 200


@bp.post("/shops")
def create_shop() -> Any:
    """Create or update a shop."""
    body = json_body(required=True)
    shop, created = store().ensure_shop(_text(body, "domain", True), _text(body, "name"),
                                        _text(body, "currency"), _text(body, "timezone"),
                                        _text(body, "locale"))
    return jsonify(payloads.shop_payload(shop)), 201 if created else 200


@bp.get("/shops")
def list_shops() -> Any:
    """List shops."""
    devstore = store()
    with devstore.lock:
        shops = list(devstore.shops.values())
    return jsonify([payloads.shop_payload(s) for s in shops])


@bp.post("/shops/<domain>/generate")
def generate_history(domain: str) -> Any:
    """Generate a deterministic history for a shop."""
    shop = store().shop(domain)
    spec = generate_spec(json_body(), len(shop.products))
    return jsonify(generate(shop, spec))


@bp.get("/shops/<domain>/stats")
def stats(domain: str) -> Any:
    """Return object counts."""
    shop = store().shop(domain)
    with shop.lock:
        return jsonify({"customers": len(shop.customers), "orders": len(shop.orders),
                        "products": len(shop.products), "checkouts": len(shop.checkouts),
                        "refunds": len(shop.refunds), "line_items": sum(
                            len(o.line_items) for o in shop.orders),
                        "subscriptions": len(shop.subscriptions)})


@bp.get("/shops/<domain>/orders/<order_id>")
def get_order(domain: str, order_id: str) -> Any:
    """Return one order in REST shape."""
    shop = store().shop(domain)
    with shop.lock:
        order = shop.orders.get(events.parse_id(order_id, "Order"))
        if order is None:
            raise NotFound(f"order {order_id} not found")
        return jsonify(payloads.order(shop, order))


@bp.get("/shops/<domain>/customers/<customer_id>")
def get_customer(domain: str, customer_id: str) -> Any:
    """Return one customer in REST shape plus its purchase summary and consent."""
    shop = store().shop(domain)
    with shop.lock:
        customer = shop.customers.get(events.parse_id(customer_id, "Customer"))
        if customer is None:
            raise NotFound(f"customer {customer_id} not found")
        body = payloads.customer(shop, customer)
        body.update(orders_count=customer.orders_count,
                    total_spent=money(customer.spent),
                    tags=", ".join(customer.tags),
                    email_marketing_consent=payloads.consent(shop, customer)[
                        "email_marketing_consent"],
                    metafields=[_metafield_json(m)
                                for m in shop.owner_metafields("Customer", customer.id)])
        return jsonify(body)


def _metafield_json(metafield: Metafield) -> dict[str, Any]:
    """Return a metafield as plain JSON."""
    return {"id": metafield.id, "namespace": metafield.namespace, "key": metafield.key,
            "type": metafield.type, "value": metafield.value,
            "created_at": iso_utc(metafield.created_at),
            "updated_at": iso_utc(metafield.updated_at)}


def _discount_json(discount: Discount) -> dict[str, Any]:
    """Return a code discount as plain JSON (money as decimal strings, times in UTC)."""
    basic = discount.kind == "BASIC"
    value_type = ("free_shipping" if not basic
                  else "percentage" if discount.percentage is not None else "fixed_amount")
    cents = lambda value: None if value is None else money(value)  # noqa: E731
    return {
        "id": gid("DiscountCodeNode", discount.id),
        "type": "DiscountCodeBasic" if basic else "DiscountCodeFreeShipping",
        "code": discount.code, "title": discount.title, "value_type": value_type,
        "percentage": discount.percentage, "amount": cents(discount.amount),
        "applies_on_each_item": discount.applies_on_each_item,
        "starts_at": iso_utc(discount.starts_at), "ends_at": iso_utc(discount.ends_at),
        "usage_limit": discount.usage_limit,
        "applies_once_per_customer": discount.applies_once_per_customer,
        "customer_selection": "all" if discount.all_customers else "customers",
        "customer_ids": list(discount.customer_ids),
        "items": None if not basic else "products" if discount.product_ids or discount.variant_ids
        else "all",
        "product_ids": list(discount.product_ids), "variant_ids": list(discount.variant_ids),
        "combines_with": {"order_discounts": discount.combines_order,
                          "product_discounts": discount.combines_product,
                          "shipping_discounts": discount.combines_shipping},
        "minimum_subtotal": cents(discount.minimum_subtotal),
        "minimum_quantity": discount.minimum_quantity,
        "maximum_shipping_price": cents(discount.maximum_shipping_price),
        "destination": None if basic else "all",
        "applies_on_one_time_purchase": discount.applies_on_one_time_purchase,
        "applies_on_subscription": discount.applies_on_subscription,
        "client_id": discount.client_id,
        "created_at": iso_utc(discount.created_at),
    }


@bp.get("/shops/<domain>/discounts")
def list_discounts(domain: str) -> Any:
    """List the shop's code discounts, oldest first."""
    shop = store().shop(domain)
    with shop.lock:
        return jsonify([_discount_json(d) for d in sorted(shop.discounts.values(),
                                                           key=lambda d: d.id)])


@bp.post("/shops/<domain>/orders")
def create_order(domain: str) -> Any:
    """Place a live order."""
    devstore = store()
    return jsonify(events.create_order(devstore, devstore.shop(domain), json_body())), 201


@bp.post("/shops/<domain>/orders/<order_id>/refund")
def refund_order(domain: str, order_id: str) -> Any:
    """Refund an order."""
    devstore = store()
    return jsonify(events.refund_order(devstore, devstore.shop(domain), order_id,
                                       json_body())), 201


@bp.post("/shops/<domain>/orders/<order_id>/cancel")
def cancel_order(domain: str, order_id: str) -> Any:
    """Cancel an order."""
    devstore = store()
    return jsonify(events.cancel_order(devstore, devstore.shop(domain), order_id))


@bp.post("/shops/<domain>/orders/<order_id>/fulfillments")
def fulfill_order(domain: str, order_id: str) -> Any:
    """Fulfil every line of an order."""
    devstore = store()
    return jsonify(events.fulfill_order(devstore, devstore.shop(domain), order_id)), 201


@bp.post("/shops/<domain>/orders/<order_id>/fulfillments/<fulfillment_id>/cancel")
def cancel_fulfillment(domain: str, order_id: str, fulfillment_id: str) -> Any:
    """Cancel a fulfillment of an order."""
    devstore = store()
    return jsonify(events.cancel_fulfillment(devstore, devstore.shop(domain), order_id,
                                             fulfillment_id))


@bp.patch("/shops/<domain>/orders/<order_id>")
def update_order(domain: str, order_id: str) -> Any:
    """Update an order's tags or email."""
    devstore = store()
    return jsonify(events.update_order(devstore, devstore.shop(domain), order_id,
                                       json_body(required=True)))


@bp.patch("/shops/<domain>/customers/<customer_id>")
def update_customer(domain: str, customer_id: str) -> Any:
    """Update a customer."""
    devstore = store()
    return jsonify(events.update_customer(devstore, devstore.shop(domain), customer_id,
                                          json_body(required=True)))


@bp.post("/shops/<domain>/customers/<customer_id>/consent")
def update_consent(domain: str, customer_id: str) -> Any:
    """Change a customer's email marketing consent."""
    devstore = store()
    return jsonify(events.update_consent(devstore, devstore.shop(domain), customer_id,
                                         json_body(required=True)))


@bp.post("/shops/<domain>/checkouts")
def create_checkout(domain: str) -> Any:
    """Start an (abandoned) checkout."""
    devstore = store()
    return jsonify(events.create_checkout(devstore, devstore.shop(domain), json_body())), 201


@bp.post("/shops/<domain>/checkouts/<checkout_id>/complete")
def complete_checkout(domain: str, checkout_id: str) -> Any:
    """Complete a checkout into an order."""
    devstore = store()
    return jsonify(events.complete_checkout(devstore, devstore.shop(domain), checkout_id)), 201


@bp.post("/shops/<domain>/products")
def create_product(domain: str) -> Any:
    """Create a product."""
    devstore = store()
    return jsonify(events.create_product(devstore, devstore.shop(domain),
                                         json_body(required=True))), 201


@bp.route("/shops/<domain>/products/<product_id>", methods=["PATCH", "POST"])
def update_product(domain: str, product_id: str) -> Any:
    """Update a product."""
    devstore = store()
    return jsonify(events.update_product(devstore, devstore.shop(domain), product_id,
                                         json_body(required=True)))


@bp.delete("/shops/<domain>/products/<product_id>")
def delete_product(domain: str, product_id: str) -> Any:
    """Delete a product."""
    devstore = store()
    return jsonify(events.delete_product(devstore, devstore.shop(domain), product_id))


@bp.post("/shops/<domain>/uninstall")
def uninstall(domain: str) -> Any:
    """Uninstall an app from a shop."""
    devstore = store()
    body = json_body(required=True)
    return jsonify(events.uninstall(devstore, devstore.shop(domain),
                                    _text(body, "client_id", True)))


@bp.post("/shops/<domain>/compliance/<kind>")
def compliance(domain: str, kind: str) -> Any:
    """Send a compliance webhook."""
    if kind not in COMPLIANCE:
        raise NotFound(f"compliance topic must be one of {sorted(COMPLIANCE)}")
    devstore = store()
    return jsonify(events.compliance(devstore, devstore.shop(domain), COMPLIANCE[kind],
                                     json_body(required=True)))


@bp.post("/shops/<domain>/trickle")
def start_trickle(domain: str) -> Any:
    """Start a background stream of live events."""
    devstore = store()
    shop = devstore.shop(domain)
    body = json_body(required=True)
    interval = number(body, "interval_seconds", None, float, minimum=0.01)
    if interval is None:
        raise BadRequest("interval_seconds is required")
    with devstore.lock:
        previous = devstore.trickles.pop(shop.domain, None)
    if previous is not None:
        previous.stop()
    trickle = Trickle(devstore, shop, interval, number(body, "count", None, minimum=1),
                      number(body, "seed", None)).start()
    with devstore.lock:
        devstore.trickles[shop.domain] = trickle
    return jsonify(trickle.status()), 201


@bp.get("/shops/<domain>/trickle")
def trickle_status(domain: str) -> Any:
    """Report the trickle of a shop."""
    devstore = store()
    shop = devstore.shop(domain)
    trickle = devstore.trickles.get(shop.domain)
    if trickle is None:
        raise NotFound("no trickle running")
    return jsonify(trickle.status())


@bp.delete("/shops/<domain>/trickle")
def stop_trickle(domain: str) -> Any:
    """Stop the trickle of a shop."""
    devstore = store()
    shop = devstore.shop(domain)
    with devstore.lock:
        trickle = devstore.trickles.pop(shop.domain, None)
    if trickle is None:
        raise NotFound("no trickle running")
    trickle.stop()
    return jsonify(trickle.status())


@bp.post("/shops/<domain>/session-token")
def session_token(domain: str) -> Any:
    """Mint an App Bridge session token for an app on a shop."""
    devstore = store()
    shop = devstore.shop(domain)
    body = json_body(required=True)
    app = devstore.app(_text(body, "client_id", True))
    now = int(time.time())
    claims = {"iss": f"https://{shop.domain}/admin", "dest": f"https://{shop.domain}",
              "aud": app.client_id, "sub": str(body.get("sub", "1")),
              "exp": now + number(body, "exp_in", 60), "nbf": now, "iat": now,
              "jti": str(uuid.uuid4()), "sid": uuid.uuid4().hex}
    return jsonify({"token": jwt.encode(claims, app.client_secret, algorithm="HS256"),
                    "claims": claims})


@bp.post("/shops/<domain>/throttle")
def set_throttle(domain: str) -> Any:
    """Change the GraphQL cost bucket of a shop."""
    shop = store().shop(domain)
    body = json_body(required=True)
    return jsonify(throttle.configure(
        shop, number(body, "maximum_available", None, float, minimum=1),
        number(body, "restore_rate", None, float, minimum=0),
        number(body, "currently_available", None, float, minimum=0)))


@bp.post("/shops/<domain>/expire-tokens")
def expire_tokens(domain: str) -> Any:
    """Expire all current access tokens of a shop."""
    devstore = store()
    shop = devstore.shop(domain)
    return jsonify({"expired": devstore.tokens.expire(shop.domain)})


@bp.post("/faults")
def add_fault() -> Any:
    """Make the next GraphQL requests fail with a status."""
    body = json_body(required=True)
    status = number(body, "status", None)
    if status not in (429, 500, 502, 503):
        raise BadRequest("status must be one of 429, 500, 502, 503")
    store().faults.add(status, number(body, "count", 1, minimum=1),
                       _text(body, "path_contains"))
    return jsonify({"status": status, "count": body.get("count", 1)}), 201


@bp.post("/delivery")
def delivery_options() -> Any:
    """Set webhook delivery modes (duplicate, shuffle)."""
    body = json_body(required=True)
    for key in ("duplicate", "shuffle"):
        if key in body and not isinstance(body[key], bool):
            raise BadRequest(f"{key} must be a boolean")
    return jsonify(store().dispatcher.configure(body.get("duplicate"), body.get("shuffle")))


@bp.post("/delivery/flush")
def delivery_flush() -> Any:
    """Release held deliveries in reverse order."""
    return jsonify({"released": store().dispatcher.flush()})


@bp.post("/delivery/drain")
def delivery_drain() -> Any:
    """Wait until no delivery is queued or in flight."""
    body = json_body()
    drained = store().dispatcher.drain(number(body, "timeout", 10.0, float, minimum=0))
    return jsonify({"drained": drained}), 200 if drained else 504


@bp.get("/deliveries")
def deliveries() -> Any:
    """Return the delivery log, filtered by ?shop= and ?topic=."""
    return jsonify(store().dispatcher.entries(request.args.get("shop"),
                                              request.args.get("topic")))


@bp.delete("/deliveries")
def clear_deliveries() -> Any:
    """Forget finished deliveries."""
    store().dispatcher.clear_log()
    return jsonify({"cleared": True})


@bp.get("/bulk/<int:operation_id>.jsonl")
def bulk_file(operation_id: int) -> Any:
    """Stream the JSONL result of a bulk operation."""
    devstore = store()
    with devstore.lock:
        shops = list(devstore.shops.values())
    for shop in shops:
        op = shop.bulk_ops.get(operation_id)
        if op is not None and op.path and op.status == "COMPLETED":
            return send_file(op.path, mimetype="application/jsonl", conditional=False,
                             download_name=f"bulk-{operation_id}.jsonl")
    raise NotFound(f"bulk result {operation_id} not found")
