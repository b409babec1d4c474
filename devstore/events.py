"""Live store events: mutate a shop and send the matching webhooks."""

from __future__ import annotations

import logging
import random
import secrets
import time
from typing import Any, Optional

from . import commerce, names, payloads, taxonomy
from .core import DevStore
from .errors import BadRequest, NotFound
from .formats import parse_gid, parse_money
from .models import Address, Checkout, Customer, Fulfillment, Order, Product, ProductImage, Variant
from .shopstate import ShopState

log = logging.getLogger(__name__)

FINANCIAL = {"paid": "PAID", "pending": "PENDING", "authorized": "AUTHORIZED",
             "partially_paid": "PARTIALLY_PAID"}
CONSENT = {"subscribed": "SUBSCRIBED", "not_subscribed": "NOT_SUBSCRIBED",
           "unsubscribed": "UNSUBSCRIBED", "pending": "PENDING"}
_rng = random.Random()


def advance(previous: int) -> int:
    """Return a new updated_at that is now but strictly after the previous one."""
    return max(int(time.time()), previous + 1)


def parse_id(value: Any, type_name: str) -> int:
    """Accept a numeric id or a GID of the given type."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        parsed = parse_gid(value)
        if parsed and parsed[0] == type_name:
            return parsed[1]
    raise BadRequest(f"invalid {type_name} id: {value!r}")


def _order(shop: ShopState, order_id: Any) -> Order:
    """Return an order or raise NotFound."""
    order = shop.orders.get(parse_id(order_id, "Order"))
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def _customer(shop: ShopState, customer_id: Any) -> Customer:
    """Return a customer or raise NotFound."""
    customer = shop.customers.get(parse_id(customer_id, "Customer"))
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def _product(shop: ShopState, product_id: Any) -> Product:
    """Return a product or raise NotFound."""
    product = shop.products.get(parse_id(product_id, "Product"))
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product


def _new_customer(shop: ShopState, email: Optional[str], first: Optional[str] = None,
                  last: Optional[str] = None, phone: Optional[str] = None) -> Customer:
    """Create and register a customer now."""
    first = first or _rng.choice(names.FIRST_NAMES)
    last = last or _rng.choice(names.LAST_NAMES)
    customer_id = shop.next_id("Customer")
    if not email:
        email = f"{first}.{last}{customer_id % 100000}@example.com".lower()
    customer = Customer(customer_id, first, last, email, phone, int(time.time()))
    customer.default_address = commerce.default_address(customer)
    shop.customers.add(customer)
    shop.customers_by_email[email.lower()] = customer
    return customer


def _resolve_buyer(shop: ShopState, body: dict) -> tuple[Customer, bool]:
    """Find or create the customer of an order or checkout; also whether it is new."""
    if body.get("customer_id") is not None:
        return _customer(shop, body["customer_id"]), False
    email = body.get("email")
    if email:
        if not isinstance(email, str) or "@" not in email:
            raise BadRequest("email must be an email address")
        known = shop.customers_by_email.get(email.lower())
        if known is not None:
            return known, False
        return _new_customer(shop, email.lower()), True
    if len(shop.customers) and _rng.random() < 0.5:
        return _rng.choice(list(shop.customers.by_id.values())[-500:]), False
    return _new_customer(shop, None), True


def _default_product(shop: ShopState) -> Product:
    """Create a sample product when a shop has none."""
    now = int(time.time())
    product = Product(shop.next_id("Product"), "Sample Product", "sample-product", "Devstore",
                      "Misc", (), now)
    variant = Variant(shop.next_id("ProductVariant"), product, "Default Title", "SAMPLE-1",
                      2500, 100, now)
    product.variants.append(variant)
    shop.variants[variant.id] = variant
    shop.products.add(product)
    return product


def _picks(shop: ShopState, items: Optional[list]) -> list[tuple[Variant, int]]:
    """Resolve requested line items, or choose one or two random variants."""
    if items is None:
        pool = list(shop.variants.values()) or _default_product(shop).variants
        return [(v, _rng.choice((1, 1, 2))) for v in _rng.sample(pool, min(len(pool), _rng.randint(1, 2)))]
    if not isinstance(items, list) or not items:
        raise BadRequest("line_items must be a non-empty list")
    picks = []
    for item in items:
        if not isinstance(item, dict) or "variant_id" not in item:
            raise BadRequest("each line item needs variant_id")
        variant = shop.variants.get(parse_id(item["variant_id"], "ProductVariant"))
        if variant is None or variant.product.deleted:
            raise NotFound(f"variant {item['variant_id']} not found")
        quantity = item.get("quantity", 1)
        if not isinstance(quantity, int) or quantity < 1:
            raise BadRequest("quantity must be a positive integer")
        picks.append((variant, quantity))
    return picks


_ADDRESS_TEXT = ("first_name", "last_name", "address1", "address2", "city", "province_code", "zip")


def _shipping_address(body: dict, customer: Customer, field: str = "shipping_address") -> Optional[Address]:
    """Read `shipping_address` (null: the order ships nowhere; absent: the buyer's address).

    `field` names another address of the same shape (a customer's `default_address`).
    """
    if field not in body:
        return customer.default_address
    value = body[field]
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{field} must be an object or null")
    for key in _ADDRESS_TEXT + ("country_code",):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise BadRequest(f"{field}.{key} must be a string")
    country = (value.get("country_code") or "US").upper()
    if country not in commerce.SHIPS_TO:
        raise BadRequest(f"{field}.country_code must be one of {sorted(commerce.SHIPS_TO)}")
    text = {key: value.get(key) or "" for key in _ADDRESS_TEXT}
    return Address(text["first_name"] or customer.first_name, text["last_name"] or customer.last_name,
                   text["address1"], text["address2"], text["city"], text["province_code"],
                   text["zip"], country)


def _gift_card(body: dict) -> int:
    """Read `gift_card`: the amount gift cards pay (at most the order's total)."""
    value = body.get("gift_card")
    if value is None:
        return 0
    try:
        cents = parse_money(value)
    except ValueError as exc:
        raise BadRequest(f"gift_card: {exc}") from exc
    if cents < 0:
        raise BadRequest("gift_card must not be negative")
    return cents


def _place_order(shop: ShopState, customer: Customer, picks: list[tuple[Variant, int]],
                 financial: str, address: Optional[Address], checkout: Optional[Checkout] = None,
                 gift_card: int = 0) -> Order:
    """Create an order now (shipped to `address`) and update the buyer's summary."""
    now = int(time.time())
    order = Order(shop.next_id("Order"), shop.next_order_number(), customer, customer.email,
                  now, commerce.make_lines(shop, picks))
    order.financial_status = financial
    commerce.price_order(order)
    commerce.pay_with_gift_card(order, gift_card)
    order.shipping_address = address
    order.checkout = checkout
    shop.orders.add(order)
    commerce.record_purchase(customer, order)
    return order


def _order_webhooks(store: DevStore, shop: ShopState, order: Order, new_customer: bool) -> None:
    """Send the webhooks of a newly placed order."""
    with shop.lock:
        customer = order.customer
        customer_body = payloads.customer(shop, customer) if customer else None
        order_body = payloads.order(shop, order)
        summary = payloads.purchasing_summary(shop, customer) if customer else None
    if new_customer and customer_body:
        store.emit(shop, "customers/create", customer_body)
    store.emit(shop, "orders/create", order_body)
    if order.financial_status == "PAID":
        store.emit(shop, "orders/paid", order_body)
    if summary:
        store.emit(shop, "customers/purchasing_summary", summary)


def create_order(store: DevStore, shop: ShopState, body: dict) -> dict:
    """Place a live order (orders/create, orders/paid, customers/*)."""
    financial = FINANCIAL.get(str(body.get("financial_status", "paid")).lower())
    if financial is None:
        raise BadRequest(f"financial_status must be one of {sorted(FINANCIAL)}")
    gift_card = _gift_card(body)
    with shop.lock:
        customer, is_new = _resolve_buyer(shop, body)
        order = _place_order(shop, customer, _picks(shop, body.get("line_items")), financial,
                             _shipping_address(body, customer), gift_card=gift_card)
    _order_webhooks(store, shop, order, is_new)
    with shop.lock:
        return payloads.order(shop, order)


def refund_order(store: DevStore, shop: ShopState, order_id: Any, body: dict) -> dict:
    """Refund lines and/or an amount of an order (refunds/create, orders/updated)."""
    with shop.lock:
        order = _order(shop, order_id)
        items = body.get("line_items")
        amount = body.get("amount")
        try:
            cents = parse_money(amount) if amount is not None else None
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        if items is None and cents is None:
            picks = commerce.full_refund_picks(order)
            cents = order.total - order.refunded()
        else:
            picks = []
            for item in items or []:
                if not isinstance(item, dict) or "line_item_id" not in item:
                    raise BadRequest("each refund line needs line_item_id")
                line_id = parse_id(item["line_item_id"], "LineItem")
                line = next((li for li in order.line_items if li.id == line_id), None)
                if line is None:
                    raise NotFound(f"line item {line_id} not in order {order.id}")
                picks.append((line, int(item.get("quantity", line.quantity))))
        if order.refunded() >= order.total:
            raise BadRequest("order is already fully refunded")
        refund = commerce.add_refund(shop, order, picks, cents, int(time.time()),
                                     body.get("note"))
        order.updated_at = advance(order.updated_at)
        refund.created_at = min(refund.created_at, order.updated_at)
        shop.orders.touched()
        refund_body = payloads.refund(shop, refund)
        order_body = payloads.order(shop, order)
    store.emit(shop, "refunds/create", refund_body)
    store.emit(shop, "orders/updated", order_body)
    return refund_body


def cancel_order(store: DevStore, shop: ShopState, order_id: Any) -> dict:
    """Cancel an order (orders/cancelled, orders/updated)."""
    with shop.lock:
        order = _order(shop, order_id)
        if order.cancelled_at is not None:
            raise BadRequest("order is already cancelled")
        order.updated_at = advance(order.updated_at)
        order.cancelled_at = order.updated_at
        if order.financial_status in ("PENDING", "AUTHORIZED"):
            order.financial_status = "VOIDED"
        shop.orders.touched()
        body = payloads.order(shop, order)
    store.emit(shop, "orders/cancelled", body)
    store.emit(shop, "orders/updated", body)
    return body


def update_order(store: DevStore, shop: ShopState, order_id: Any, body: dict) -> dict:
    """Change tags and/or email of an order (orders/updated)."""
    with shop.lock:
        order = _order(shop, order_id)
        if "tags" in body:
            tags = body["tags"]
            if isinstance(tags, str):
                tags = [t.strip() for t in tags.split(",") if t.strip()]
            if not isinstance(tags, list):
                raise BadRequest("tags must be a list or comma-separated string")
            order.tags = tuple(str(t) for t in tags)
        if "email" in body:
            order.email = body["email"]
        order.updated_at = advance(order.updated_at)
        shop.orders.touched()
        payload = payloads.order(shop, order)
    store.emit(shop, "orders/updated", payload)
    return payload


def fulfill_order(store: DevStore, shop: ShopState, order_id: Any) -> dict:
    """Ship every line of an order in one fulfillment (orders/fulfilled, orders/updated)."""
    with shop.lock:
        order = _order(shop, order_id)
        if order.cancelled_at is not None:
            raise BadRequest("a cancelled order cannot be fulfilled")
        if any(f.status == "SUCCESS" for f in order.fulfillments or ()):
            raise BadRequest("order is already fulfilled")
        order.updated_at = advance(order.updated_at)
        fulfillment = Fulfillment(shop.next_id("Fulfillment"), order, order.updated_at)
        order.fulfillments = [*(order.fulfillments or ()), fulfillment]
        order.fulfillment_status = "FULFILLED"
        shop.orders.touched()
        payload = payloads.order(shop, order)
        answer = payloads.fulfillment(shop, fulfillment)
    store.emit(shop, "orders/fulfilled", payload)
    store.emit(shop, "orders/updated", payload)
    return answer


def cancel_fulfillment(store: DevStore, shop: ShopState, order_id: Any, fulfillment_id: Any) -> dict:
    """Cancel a fulfillment: the order is unfulfilled again without another (orders/updated)."""
    with shop.lock:
        order = _order(shop, order_id)
        wanted = parse_id(fulfillment_id, "Fulfillment")
        fulfillment = next((f for f in order.fulfillments or () if f.id == wanted), None)
        if fulfillment is None:
            raise NotFound(f"fulfillment {fulfillment_id} not in order {order.id}")
        if fulfillment.status == "CANCELLED":
            raise BadRequest("fulfillment is already cancelled")
        order.updated_at = advance(order.updated_at)
        fulfillment.status = "CANCELLED"
        fulfillment.updated_at = order.updated_at
        if not any(f.status == "SUCCESS" for f in order.fulfillments or ()):
            order.fulfillment_status = "UNFULFILLED"
        shop.orders.touched()
        payload = payloads.order(shop, order)
        answer = payloads.fulfillment(shop, fulfillment)
    store.emit(shop, "orders/updated", payload)
    return answer


def update_customer(store: DevStore, shop: ShopState, customer_id: Any, body: dict) -> dict:
    """Change a customer's name, email, phone or default address (customers/update)."""
    with shop.lock:
        customer = _customer(shop, customer_id)
        if "default_address" in body:  # checked before anything changes
            customer.default_address = _shipping_address(body, customer, "default_address")
        for key in ("first_name", "last_name", "phone"):
            if key in body:
                setattr(customer, key, body[key])
        if "email" in body:
            shop.customers_by_email.pop((customer.email or "").lower(), None)
            customer.email = body["email"]
            if customer.email:
                shop.customers_by_email[customer.email.lower()] = customer
        customer.updated_at = advance(customer.updated_at)
        shop.customers.touched()
        payload = payloads.customer(shop, customer)
    store.emit(shop, "customers/update", payload)
    return payload


def update_consent(store: DevStore, shop: ShopState, customer_id: Any, body: dict) -> dict:
    """Change email marketing consent (customers/email_marketing_consent_update)."""
    state = CONSENT.get(str(body.get("state", "")).lower())
    if state is None:
        raise BadRequest(f"state must be one of {sorted(CONSENT)}")
    with shop.lock:
        customer = _customer(shop, customer_id)
        customer.marketing_state = state
        customer.updated_at = advance(customer.updated_at)
        customer.consent_updated_at = customer.updated_at
        shop.customers.touched()
        payload = payloads.consent(shop, customer)
    store.emit(shop, "customers/email_marketing_consent_update", payload)
    return payload


def create_checkout(store: DevStore, shop: ShopState, body: dict) -> dict:
    """Start a checkout that stays abandoned until completed (checkouts/create)."""
    with shop.lock:
        customer, _ = _resolve_buyer(shop, body)
        lines = commerce.make_lines(shop, _picks(shop, body.get("line_items")))
        checkout = Checkout(shop.next_id("AbandonedCheckout"), secrets.token_hex(16), customer,
                            customer.email, int(time.time()), lines)
        shop.checkouts.add(checkout)
        payload = payloads.checkout(shop, checkout)
    store.emit(shop, "checkouts/create", payload)
    return payload


def complete_checkout(store: DevStore, shop: ShopState, checkout_id: Any) -> dict:
    """Turn a checkout into a paid order (orders/create, orders/paid, checkouts/update)."""
    with shop.lock:
        checkout = shop.checkouts.get(parse_id(checkout_id, "AbandonedCheckout"))
        if checkout is None:
            raise NotFound(f"checkout {checkout_id} not found")
        if checkout.completed_at is not None:
            raise BadRequest("checkout is already completed")
        customer = checkout.customer or _new_customer(shop, checkout.email)
        picks = [(li.variant, li.quantity) for li in checkout.line_items]
        order = _place_order(shop, customer, picks, "PAID", customer.default_address, checkout)
        checkout.order = order
        checkout.completed_at = checkout.updated_at = advance(checkout.updated_at)
        shop.checkouts.touched()
    _order_webhooks(store, shop, order, False)
    with shop.lock:
        checkout_body = payloads.checkout(shop, checkout)
        order_body = payloads.order(shop, order)
    store.emit(shop, "checkouts/update", checkout_body)
    return {"checkout": checkout_body, "order": order_body}


def _apply_product(shop: ShopState, product: Product, body: dict, now: int) -> None:
    """Apply product fields and variants from a control body."""
    for key in ("title", "vendor", "product_type", "handle"):
        if key in body:
            setattr(product, key, str(body[key]))
    if "status" in body:
        status = str(body["status"]).upper()
        if status not in ("ACTIVE", "ARCHIVED", "DRAFT"):
            raise BadRequest("status must be active, archived or draft")
        product.status = status
    if "tags" in body:
        tags = body["tags"]
        product.tags = tuple(t.strip() for t in tags.split(",")) if isinstance(tags, str) \
            else tuple(tags)
    if "image" in body:
        if body["image"] is None:
            product.image = None
        elif body["image"] is True:
            product.image = ProductImage(shop.next_id("MediaImage"), now, product.title)
        else:
            raise BadRequest("image must be true (a new image) or null (none)")
    if "category" in body:
        name = body["category"]
        category = taxonomy.find(name) if isinstance(name, str) else None
        if name is not None and category is None:
            raise BadRequest(f"category must be null or one of {sorted(taxonomy.CATEGORIES)}")
        product.category = category
    if "published" in body:
        if not isinstance(body["published"], bool):
            raise BadRequest("published must be a boolean")
        product.published_at = (product.published_at or now) if body["published"] else None
    for item in body.get("variants") or []:
        try:
            price = parse_money(item.get("price", "10.00"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        variant = shop.variants.get(parse_id(item["id"], "ProductVariant")) \
            if item.get("id") is not None else None
        if variant is None or variant.product is not product:
            variant = Variant(shop.next_id("ProductVariant"), product,
                              item.get("title", "Default Title"), item.get("sku", ""), price,
                              int(item.get("inventory_quantity", 0)), now)
            product.variants.append(variant)
            shop.variants[variant.id] = variant
        else:
            variant.title = item.get("title", variant.title)
            variant.sku = item.get("sku", variant.sku)
            variant.price = price if "price" in item else variant.price
            variant.inventory = int(item.get("inventory_quantity", variant.inventory))
            variant.updated_at = now


def create_product(store: DevStore, shop: ShopState, body: dict) -> dict:
    """Create a product (products/create)."""
    if not body.get("title"):
        raise BadRequest("title is required")
    now = int(time.time())
    with shop.lock:
        handle = body.get("handle") or str(body["title"]).lower().replace(" ", "-")
        product = Product(shop.next_id("Product"), str(body["title"]), handle,
                          str(body.get("vendor", "Devstore")), str(body.get("product_type", "")),
                          (), now)
        if not body.get("variants"):
            body = {**body, "variants": [{"title": "Default Title",
                                          "price": body.get("price", "10.00")}]}
        # A new product comes with an image unless told otherwise (`image: null`).
        _apply_product(shop, product, {"image": True, **body}, now)
        shop.products.add(product)
        payload = payloads.product(shop, product)
    store.emit(shop, "products/create", payload)
    return payload


def update_product(store: DevStore, shop: ShopState, product_id: Any, body: dict) -> dict:
    """Update a product (products/update)."""
    with shop.lock:
        product = _product(shop, product_id)
        product.updated_at = advance(product.updated_at)
        _apply_product(shop, product, body, product.updated_at)
        shop.products.touched()
        payload = payloads.product(shop, product)
    store.emit(shop, "products/update", payload)
    return payload


def delete_product(store: DevStore, shop: ShopState, product_id: Any) -> dict:
    """Delete a product (products/delete)."""
    with shop.lock:
        product = _product(shop, product_id)
        product.deleted = True
        shop.products.remove(product.id)
        for variant in product.variants:
            shop.variants.pop(variant.id, None)
    payload = {"id": product.id}
    store.emit(shop, "products/delete", payload)
    return payload


def uninstall(store: DevStore, shop: ShopState, client_id: str) -> dict:
    """Uninstall an app: revoke tokens, drop subscriptions, send app/uninstalled."""
    store.app(client_id)
    with shop.lock:
        subs = [s for s in shop.subscriptions.values() if s.client_id == client_id]
        for sub in subs:
            del shop.subscriptions[sub.id]
        shop.granted_scopes.pop(client_id, None)
        payload = payloads.shop_payload(shop)
    revoked = store.tokens.revoke(shop.domain, client_id)
    sent = store.emit(shop, "app/uninstalled", payload,
                      only=[s for s in subs if s.topic == "app/uninstalled"])
    return {"revoked_tokens": revoked, "deleted_subscriptions": len(subs), "webhooks_sent": sent}


def compliance(store: DevStore, shop: ShopState, topic: str, body: dict) -> dict:
    """Send a compliance webhook to the app's compliance URI."""
    client_id = body.get("client_id")
    if not client_id:
        raise BadRequest("client_id is required")
    payload: dict[str, Any] = {"shop_id": shop.id, "shop_domain": shop.domain}
    if topic != "shop/redact":
        if body.get("customer_id") is None:
            raise BadRequest("customer_id is required")
        with shop.lock:
            customer = _customer(shop, body["customer_id"])
            order_ids = [o.id for o in shop.orders if o.customer is customer]
            who = {"id": customer.id, "email": customer.email, "phone": customer.phone}
        if topic == "customers/data_request":
            payload.update(orders_requested=order_ids, customer=who,
                           data_request={"id": int(time.time() * 1000) % 10_000_000})
        else:
            payload.update(customer=who, orders_to_redact=order_ids)
    webhook_id = store.emit_compliance(shop, client_id, topic, payload)
    return {"webhook_id": webhook_id, "payload": payload}
