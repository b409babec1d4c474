"""Customers in WooCommerce REST v3 shape."""

from __future__ import annotations

import hashlib
from typing import Any

from ...models import Customer
from .. import timefmt
from ..state import WooStore
from .common import customer_address, links, meta


def username(customer: Customer) -> str:
    """Return the WordPress login WooCommerce derives from the email."""
    return (customer.email or f"customer{customer.id}").split("@", 1)[0]


def avatar_url(email: str) -> str:
    """Return the Gravatar URL WordPress shows for an email."""
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?s=96&d=mm&r=g"


def customer(store: WooStore, c: Customer) -> dict[str, Any]:
    """Return a customer."""
    tz = store.shop.timezone
    return {
        "id": c.id, **timefmt.pair("date_created", c.created_at, tz),
        **timefmt.pair("date_modified", c.updated_at, tz),
        "email": c.email or "", "first_name": c.first_name, "last_name": c.last_name,
        "role": store.customer_roles.get(c.id, "customer"), "username": username(c),
        "billing": customer_address(store, c, "billing"),
        "shipping": customer_address(store, c, "shipping"),
        "is_paying_customer": c.orders_count > 0, "avatar_url": avatar_url(c.email or ""),
        "meta_data": meta(store.customer_meta.get(c.id)),
        "_links": links(store, "customers", c.id),
    }
