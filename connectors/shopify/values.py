"""Convert Shopify scalar values (ids, times, money, statuses) to neutral ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import TerminalError

_GID_PREFIX = "gid://shopify/"
GIFT_CARD_GATEWAY = "gift_card"  # the gateway Shopify's own gift cards pay through
_CONSENT_STATES = frozenset({"subscribed", "not_subscribed", "unsubscribed", "pending"})


def external_id(value: Any) -> str:
    """Return the numeric id of a REST id or a GID (``gid://shopify/Order/12`` → ``"12"``)."""
    if type(value) is str and value:
        if not value.startswith(_GID_PREFIX):
            return value
        tail = value[value.rfind("/") + 1:]
        # GIDs may carry a query string (``gid://shopify/Cart/abc?key=…``).
        query = tail.find("?")
        return tail if query < 0 else tail[:query]
    if value is None or value == "" or isinstance(value, (bool, dict, list)):
        raise TerminalError(f"missing or invalid id {value!r}")
    return external_id(str(value))


def optional_id(value: Any) -> str | None:
    """Return ``external_id(value)``, or ``None`` for a missing id."""
    if value is None or value == "":
        return None
    return external_id(value)


def timestamp(value: Any) -> dt.datetime:
    """Parse an ISO 8601 time into an aware datetime (naive input is taken as UTC)."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise TerminalError(f"invalid timestamp {value!r}") from exc
    else:
        raise TerminalError(f"missing or invalid timestamp {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def optional_timestamp(value: Any) -> dt.datetime | None:
    """Return ``timestamp(value)``, or ``None`` when absent."""
    if value is None or value == "":
        return None
    return timestamp(value)


def decimal(value: Any, default: Decimal | None = None) -> Decimal:
    """Return a money amount as ``Decimal`` (strings, ints and Decimals; never floats)."""
    if value is None or value == "":
        if default is not None:
            return default
        raise TerminalError("missing amount")
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise TerminalError(f"invalid amount {value!r}") from exc


def integer(value: Any, default: int | None = None) -> int:
    """Return an integer count."""
    if value is None or value == "":
        if default is not None:
            return default
        raise TerminalError("missing integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise TerminalError(f"invalid integer {value!r}") from exc


def snake_lower(value: Any) -> str | None:
    """Normalize an enum-ish status (``PARTIALLY_REFUNDED``, ``partially refunded``) to snake case."""
    if value is None or value == "":
        return None
    return str(value).strip().lower().replace(" ", "_").replace("-", "_")


def consent_state(value: Any) -> str | None:
    """Normalize a marketing consent state to ``subscribed|not_subscribed|unsubscribed|pending``."""
    state = snake_lower(value)
    if state is None:
        return None
    if state not in _CONSENT_STATES:
        # Shopify also knows INVALID / REDACTED: they mean we must not market to this address.
        return "not_subscribed"
    return state


def tags(value: Any) -> tuple[str, ...]:
    """Return tags from a comma-separated string (REST) or a list (GraphQL)."""
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(part) for part in value)


def require(payload: Any, key: str) -> Any:
    """Return ``payload[key]`` or raise ``TerminalError`` naming the missing field."""
    if not isinstance(payload, dict):
        raise TerminalError(f"expected an object holding {key!r}")
    value = payload.get(key)
    if value is None:
        raise TerminalError(f"missing required field {key!r}")
    return value


def to_gid(type_name: str, value: Any) -> str:
    """Return the GID of a numeric id (``("Customer", "7")`` → ``gid://shopify/Customer/7``).

    A GID of the same type passes through unchanged; anything else is a ``TerminalError``,
    since a malformed id can never name a resource.
    """
    text = str(value).strip() if value is not None else ""
    prefix = f"{_GID_PREFIX}{type_name}/"
    if text.startswith(prefix):
        text = text[len(prefix):]
    if not text.isdigit():
        raise TerminalError(f"invalid {type_name} id {value!r}")
    return prefix + text


def categories(taxonomy_name: Any, product_type: Any) -> tuple[str, ...]:
    """Return a product's categories: its taxonomy category's name, then its product type.

    The standard taxonomy names what the product is in Shopify's shared vocabulary; the
    product type is the merchant's own grouping (the nearest thing to a WooCommerce category).
    Blank names are left out, and the type when it only repeats the category (ignoring case).
    """
    names: list[str] = []
    for value in (taxonomy_name, product_type):
        text = str(value).strip() if value is not None else ""
        if text and text.casefold() not in {name.casefold() for name in names}:
            names.append(text)
    return tuple(names)


def location(address: Any) -> tuple[str | None, str | None]:
    """Return the country and subdivision codes of an address (``US``, ``CA``); None for a missing part.

    A subdivision given in full ISO 3166-2 form (``JP-13``) loses its country prefix.
    """
    if not isinstance(address, dict):
        return None, None
    country = str(address.get("countryCodeV2") or address.get("country_code") or "").strip().upper()
    province = str(address.get("provinceCode") or address.get("province_code") or "").strip().upper()
    if len(country) != 2:
        return None, None  # a subdivision means nothing without its country
    if province.startswith(f"{country}-"):
        province = province[len(country) + 1:]
    return country, province[:8] or None
