"""Customer changes (live events and REST writes) and the webhooks they fire."""

from __future__ import annotations

from typing import Any

from ..models import Customer
from . import lookup, meta, topics
from .errors import WooError, invalid_params
from .hookshot import Hookshot
from .shapes.people import customer as shape
from .state import WooStore, advance, now

NAME_FIELDS = ("first_name", "last_name")


def _check_email(store: WooStore, email: Any, current: Customer | None = None) -> str:
    """Validate an email and make sure no other customer has it."""
    if not isinstance(email, str) or "@" not in email:
        raise invalid_params({"email": "Invalid email address."})
    other = store.shop.customers_by_email.get(email.lower())
    if other is not None and other is not current:
        raise WooError("registration-error-email-exists",
                       "An account is already registered with your email address. "
                       "Please log in.", 400)
    return email.lower()


def _apply(store: WooStore, customer: Customer, body: dict) -> None:
    """Apply names, email, addresses, role and meta_data from a body."""
    shop = store.shop
    if "email" in body:
        email = _check_email(store, body["email"], customer)
        shop.customers_by_email.pop((customer.email or "").lower(), None)
        customer.email = email
        shop.customers_by_email[email] = customer
    for key in NAME_FIELDS:
        if key in body:
            setattr(customer, key, str(body[key]))
    for kind in ("billing", "shipping"):
        if kind in body:
            if not isinstance(body[kind], dict):
                raise invalid_params({kind: f"{kind} is not of type object."})
            fields = {k: str(v) for k, v in body[kind].items() if v is not None}
            store.addresses.setdefault(customer.id, {}).setdefault(kind, {}).update(fields)
    if "role" in body:
        store.customer_roles[customer.id] = str(body["role"])
    if "meta_data" in body:
        meta.upsert(store, store.customer_meta.setdefault(customer.id, []), body["meta_data"])


def create_locked(store: WooStore, body: dict) -> Customer:
    """Create a customer; call with the store lock held."""
    email = _check_email(store, body.get("email"))
    shop = store.shop
    customer = Customer(shop.next_id("Customer"), str(body.get("first_name", "")),
                        str(body.get("last_name", "")), email, None, now())
    _apply(store, customer, {k: v for k, v in body.items() if k != "email"})
    shop.customers.add(customer)
    shop.customers_by_email[email] = customer
    return customer


def update_locked(store: WooStore, customer_id: Any, body: dict) -> Customer:
    """Update a customer; call with the store lock held."""
    customer = lookup.customer(store, customer_id)
    _apply(store, customer, body)
    customer.updated_at = advance(customer.updated_at)
    store.shop.customers.touched()
    return customer


def delete_locked(store: WooStore, customer_id: Any) -> dict:
    """Delete a customer and return its last shape; call with the store lock held."""
    customer = lookup.customer(store, customer_id)
    payload = shape(store, customer)
    store.shop.customers.remove(customer.id)
    store.shop.customers_by_email.pop((customer.email or "").lower(), None)
    return payload


def create(hookshot: Hookshot, store: WooStore, body: dict) -> dict:
    """Create a customer (customer.created)."""
    with store.lock:
        payload = shape(store, create_locked(store, body))
    topics.fire(hookshot, store, "customer.created", payload["id"], payload)
    return payload


def update(hookshot: Hookshot, store: WooStore, customer_id: Any, body: dict) -> dict:
    """Update a customer (customer.updated)."""
    with store.lock:
        payload = shape(store, update_locked(store, customer_id, body))
    topics.fire(hookshot, store, "customer.updated", payload["id"], payload)
    return payload


def delete(hookshot: Hookshot, store: WooStore, customer_id: Any) -> dict:
    """Delete a customer (customer.deleted with only the id)."""
    with store.lock:
        payload = delete_locked(store, customer_id)
    topics.fire(hookshot, store, "customer.deleted", payload["id"], {"id": payload["id"]})
    return payload
