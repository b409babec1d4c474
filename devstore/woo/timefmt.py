"""WooCommerce date formats: local and GMT `YYYY-MM-DDTHH:MM:SS`, ISO 8601 parsing."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from ..formats import _zone

_UTC = dt.timezone.utc
WC_FORMAT = "%Y-%m-%dT%H:%M:%S"




def local(epoch: Optional[int], timezone: str) -> Optional[str]:
    """Format epoch seconds in the store's timezone, without an offset."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, _zone(timezone)).strftime(WC_FORMAT)


def gmt(epoch: Optional[int]) -> Optional[str]:
    """Format epoch seconds in GMT, without an offset."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, _UTC).strftime(WC_FORMAT)


def pair(name: str, epoch: Optional[int], timezone: str) -> dict[str, Optional[str]]:
    """Return `{name: local, name_gmt: gmt}`."""
    return {name: local(epoch, timezone), f"{name}_gmt": gmt(epoch)}


def parse(value: str, timezone: str, is_gmt: bool) -> int:
    """Parse ISO 8601; a naive value is GMT when is_gmt, else store-local."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC if is_gmt else _zone(timezone))
    return int(parsed.timestamp())


def gmt_offset(timezone: str) -> float:
    """Return the store's current UTC offset in hours."""
    offset = dt.datetime.now(_zone(timezone)).utcoffset() or dt.timedelta()
    hours = offset.total_seconds() / 3600
    return int(hours) if hours.is_integer() else hours
