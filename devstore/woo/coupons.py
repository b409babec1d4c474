"""Coupon validation and changes, with coupon.* webhooks."""

from __future__ import annotations

from typing import Any, Optional

from ..formats import money, parse_money
from . import lookup, meta, timefmt, topics
from .errors import WooError, invalid_params
from .hookshot import Hookshot
from .shapes.admin import coupon as shape
from .state import Coupon, WooStore, advance, now

DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
FLAGS = ("individual_use", "free_shipping")
LIMITS = ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items")


def _decimal(value: Any, name: str) -> str:
    """Format an amount as WooCommerce returns it ("10.00")."""
    try:
        return money(parse_money(value if value != "" else "0"))
    except ValueError as exc:
        raise invalid_params({name: f"{name} is not of type string."}) from exc


def _expiry(store: WooStore, body: dict) -> tuple[bool, Optional[int]]:
    """Read date_expires_gmt or date_expires (store-local); return (given, epoch)."""
    for name, is_gmt in (("date_expires_gmt", True), ("date_expires", False)):
        if name in body:
            if not body[name]:
                return True, None
            try:
                return True, timefmt.parse(str(body[name]), store.shop.timezone, is_gmt)
            except ValueError as exc:
                raise invalid_params({name: "Invalid date."}) from exc
    return False, None


def _id_list(value: Any, name: str) -> list[int]:
    """Read a list of ids the way WooCommerce stores one (wp_parse_id_list, zeros dropped).

    The ids are not checked against the catalogue: WooCommerce keeps whatever it is given.
    """
    if not isinstance(value, list):
        raise invalid_params({name: f"{name} is not of type array."})
    ids: list[int] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not (isinstance(item, int) or
                                          (isinstance(item, str) and item.lstrip("-").isdigit())):
            raise invalid_params({name: f"{name}[{index}] is not of type integer."})
        number = abs(int(item))
        if number and number not in ids:
            ids.append(number)
    return ids


def code_taken(store: WooStore, code: str, coupon_id: int = 0) -> bool:
    """Tell whether another published coupon uses this code."""
    return any(c.code == code and c.id != coupon_id and c.status != "trash"
               for c in store.coupons.values())


def _apply(store: WooStore, coupon: Coupon, body: dict) -> None:
    """Validate and apply the writable coupon fields."""
    if "code" in body:
        code = str(body["code"] or "").strip().lower()
        if not code:
            raise WooError("woocommerce_rest_empty_coupon_code",
                           "The coupon code cannot be empty.", 400)
        if code_taken(store, code, coupon.id):
            raise WooError("woocommerce_rest_coupon_code_already_exists",
                           "The coupon code already exists", 400)
        coupon.code = code
    if "discount_type" in body:
        if body["discount_type"] not in DISCOUNT_TYPES:
            raise invalid_params({"discount_type": "discount_type is not one of percent, "
                                                   "fixed_cart, and fixed_product."})
        coupon.discount_type = body["discount_type"]
    for name in ("amount", "minimum_amount", "maximum_amount"):
        if name in body:
            setattr(coupon, name, _decimal(body[name], name))
    if "description" in body:
        coupon.description = str(body["description"])
    for name in FLAGS:
        if name in body:
            if not isinstance(body[name], bool):
                raise invalid_params({name: f"{name} is not of type boolean."})
            setattr(coupon, name, body[name])
    for name in LIMITS:
        if name in body:
            value = body[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise invalid_params({name: f"{name} is not of type integer."})
            setattr(coupon, name, value or None)
    if "product_ids" in body:
        coupon.product_ids = _id_list(body["product_ids"], "product_ids")
    if "email_restrictions" in body:
        if not isinstance(body["email_restrictions"], list):
            raise invalid_params({"email_restrictions": "email_restrictions is not of type "
                                                        "array."})
        coupon.email_restrictions = [str(e).lower() for e in body["email_restrictions"]]
    given, expires = _expiry(store, body)
    if given:
        coupon.date_expires = expires
    if "meta_data" in body:
        meta.upsert(store, coupon.meta_data, body["meta_data"])


def create_locked(store: WooStore, body: dict) -> Coupon:
    """Create a coupon; call with the store lock held."""
    if not body.get("code"):
        raise WooError("woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.",
                       400)
    at = now()
    coupon = Coupon(0, "", at, at)
    _apply(store, coupon, body)
    coupon.id = store.shop.next_id("Coupon")
    store.coupons[coupon.id] = coupon
    return coupon


def update_locked(store: WooStore, coupon_id: Any, body: dict) -> Coupon:
    """Update a coupon; call with the store lock held."""
    coupon = lookup.coupon(store, coupon_id)
    _apply(store, coupon, body)
    coupon.updated_at = advance(coupon.updated_at)
    return coupon


def delete_locked(store: WooStore, coupon_id: Any, force: bool) -> dict:
    """Trash (or with force, delete) a coupon and return its shape."""
    coupon = lookup.coupon(store, coupon_id)
    if force:
        store.coupons.pop(coupon.id)
    else:
        coupon.status = "trash"
        coupon.updated_at = advance(coupon.updated_at)
    return shape(store, coupon)


def create(hookshot: Hookshot, store: WooStore, body: dict) -> dict:
    """Create a coupon (coupon.created)."""
    with store.lock:
        payload = shape(store, create_locked(store, body))
    topics.fire(hookshot, store, "coupon.created", payload["id"], payload)
    return payload


def update(hookshot: Hookshot, store: WooStore, coupon_id: Any, body: dict) -> dict:
    """Update a coupon (coupon.updated)."""
    with store.lock:
        payload = shape(store, update_locked(store, coupon_id, body))
    topics.fire(hookshot, store, "coupon.updated", payload["id"], payload)
    return payload


def delete(hookshot: Hookshot, store: WooStore, coupon_id: Any, force: bool) -> dict:
    """Delete a coupon (coupon.deleted: full when trashed, only the id when forced)."""
    with store.lock:
        payload = delete_locked(store, coupon_id, force)
    topics.fire(hookshot, store, "coupon.deleted", payload["id"],
                {"id": payload["id"]} if force else payload)
    return payload
