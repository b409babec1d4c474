"""Wire formats shared by the GraphQL and REST views: GIDs, times and money."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

GID_RE = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)(?:\?.*)?$")
_UTC = dt.timezone.utc


def gid(type_name: str, numeric_id: int) -> str:
    """Return the Shopify global id of an object."""
    return f"gid://shopify/{type_name}/{numeric_id}"


def parse_gid(value: str) -> tuple[str, int] | None:
    """Split a GID into its type name and numeric id, or return None."""
    match = GID_RE.match(value or "")
    if not match:
        return None
    return match.group("type"), int(match.group("id"))


def iso_utc(epoch: int | None) -> str | None:
    """Format epoch seconds as GraphQL DateTime (UTC, `Z` suffix)."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, _UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=64)
def _zone(name: str) -> dt.tzinfo:
    """Return the tzinfo for an IANA name, falling back to UTC."""
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - unknown zone names degrade to UTC
        return _UTC


def iso_local(epoch: int | None, timezone: str) -> str | None:
    """Format epoch seconds as a REST time with the shop's UTC offset."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, _zone(timezone)).isoformat()


def parse_time(value: str) -> int:
    """Parse an ISO 8601 date or datetime (naive means UTC) into epoch seconds."""
    text = value.strip().strip("'\"")
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    return int(parsed.timestamp())


def money(cents: int) -> str:
    """Format integer cents as a decimal string."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def parse_money(value: object) -> int:
    """Parse a decimal amount (string or number) into integer cents."""
    text = str(value).strip()
    if not re.fullmatch(r"-?\d+(\.\d{1,2})?", text):
        raise ValueError(f"invalid amount: {value!r}")
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    cents = int(whole) * 100 + int((frac + "00")[:2])
    return -cents if negative else cents
