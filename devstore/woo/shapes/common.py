"""Pieces shared by the shapes: money, PHP-like numbers, addresses, links, meta."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

from ...formats import money
from ...models import Customer
from ..state import WooStore

TAX_RATE_PERCENT = 8
PLACES = (("Berlin", "BE", "10115", "DE"), ("München", "BY", "80331", "DE"),
          ("Köln", "NW", "50667", "DE"), ("Paris", "", "75001", "FR"),
          ("Lyon", "", "69001", "FR"), ("Wien", "", "1010", "AT"),
          ("London", "", "SW1A 1AA", "GB"), ("Los Angeles", "CA", "90012", "US"),
          ("Brooklyn", "NY", "11201", "US"), ("Phoenix", "AZ", "85004", "US"),
          ("Toronto", "ON", "M5V 2T6", "CA"), ("Sydney", "NSW", "2000", "AU"))
STREETS = ("Hauptstraße", "Rue de la Paix", "Gartenweg", "Lindenallee", "Ringstraße")

__all__ = ["money", "number", "links", "address", "customer_address", "meta", "digest"]


def number(cents_value: float) -> float | int:
    """Return a float as PHP's json_encode writes it (`12` for 12.0)."""
    value = round(cents_value, 6)
    return int(value) if float(value).is_integer() else value


def digest(*parts: Any) -> str:
    """Return a stable hex digest of some values."""
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()


def links(store: WooStore, collection: str, object_id: int,
          **extra: Optional[str]) -> dict[str, list[dict[str, str]]]:
    """Return the `_links` of a REST object."""
    base = f"{store.url}/wp-json/wc/v3/{collection}"
    out = {"self": [{"href": f"{base}/{object_id}"}], "collection": [{"href": base}]}
    for rel, href in extra.items():
        if href:
            out[rel] = [{"href": href}]
    return out


def address(first: str, last: str, seed: int, email: Optional[str] = None,
            phone: Optional[str] = None) -> dict[str, str]:
    """Return a deterministic billing-style address for a seed."""
    city, state, postcode, country = PLACES[seed % len(PLACES)]
    out = {"first_name": first, "last_name": last, "company": "",
           "address_1": f"{STREETS[seed % len(STREETS)]} {seed % 97 + 1}", "address_2": "",
           "city": city, "state": state, "postcode": postcode, "country": country}
    if email is not None:
        out["email"] = email
    out["phone"] = phone or ""
    return out


def customer_address(store: WooStore, customer: Customer, kind: str) -> dict[str, str]:
    """Return a customer's billing or shipping address with stored overrides applied."""
    base = address(customer.first_name, customer.last_name, customer.id,
                   (customer.email or "") if kind == "billing" else None,
                   customer.phone if kind == "billing" else "")
    base.update(store.addresses.get(customer.id, {}).get(kind, {}))
    return base


def meta(rows: Optional[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Return meta rows as the REST API lists them."""
    return [{"id": r["id"], "key": r["key"], "value": r["value"]} for r in rows or ()]
