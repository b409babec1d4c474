"""The contact budget and quiet hours, as pure functions of ``now`` (tests move time freely).

* Budget: at most one marketing email per customer within a window (16 hours by default),
  across every flow; transactional mail is not counted. Of two that compete, the higher
  priority goes first (then the older message); the other waits, it is not dropped.
* Quiet hours: marketing mail that falls between 21:00 and 08:00 in the customer's local time
  waits for the end of the quiet period. The customer's zone comes from the country and
  subdivision of their default address in the mirror (``app.messaging.zones``); the shop's
  (IANA name) stands in when the mirror cannot tell, and UTC when the shop has none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

DEFAULT_WINDOW = dt.timedelta(hours=16)


@dataclasses.dataclass(frozen=True)
class QuietHours:
    """Local hours in which marketing mail waits; ``start`` after ``end`` spans midnight."""

    start: dt.time = dt.time(21, 0)
    end: dt.time = dt.time(8, 0)

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")

    @classmethod
    def parse(cls, value: str) -> QuietHours | None:
        """``"21:00-08:00"`` is 21:00 to 08:00; an empty value is no quiet hours."""
        if not value:
            return None
        start, _, end = value.partition("-")
        try:
            return cls(dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip()))
        except ValueError as error:
            raise ValueError(f"quiet hours must be written HH:MM-HH:MM, got {value!r}") from error

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def quiet_until(now: dt.datetime, timezone: ZoneInfo, quiet: QuietHours | None) -> dt.datetime | None:
    """The moment (UTC) the quiet period ``now`` falls in ends, or None when ``now`` is not quiet."""
    if quiet is None:
        return None
    local = now.astimezone(timezone)
    clock = local.time().replace(tzinfo=None)
    if quiet.start > quiet.end:  # e.g. 21:00-08:00: quiet in the evening and in the early morning
        if clock >= quiet.start:
            day = local.date() + dt.timedelta(days=1)
        elif clock < quiet.end:
            day = local.date()
        else:
            return None
    elif quiet.start <= clock < quiet.end:
        day = local.date()
    else:
        return None
    # Wall-clock time on that day in the zone (a DST change in between is accounted for).
    return dt.datetime.combine(day, quiet.end, tzinfo=timezone).astimezone(dt.timezone.utc)


def budget_free_at(now: dt.datetime, last_marketing_at: dt.datetime | None,
                   window: dt.timedelta = DEFAULT_WINDOW) -> dt.datetime | None:
    """When the next marketing email may go, or None when it may go now."""
    if last_marketing_at is None:
        return None
    free = last_marketing_at + window
    return free if free > now else None


def earliest_send(now: dt.datetime, *, last_marketing_at: dt.datetime | None, window: dt.timedelta,
                  timezone: ZoneInfo, quiet: QuietHours | None) -> tuple[dt.datetime, str] | None:
    """When a marketing email may go at the earliest and why it waits; None when it may go now.

    The budget comes first; a moment it frees that falls in quiet hours moves to their end.
    """
    reason = None
    moment = now
    free = budget_free_at(now, last_marketing_at, window)
    if free is not None:
        moment = free
        reason = f"contact budget: one marketing email per {_hours(window)}"
    quiet_end = quiet_until(moment, timezone, quiet)
    if quiet_end is not None:
        moment = quiet_end
        reason = (reason + ", then " if reason else "") + f"quiet hours {quiet} ({timezone.key})"
    return None if reason is None else (moment, reason)


def first_in_line(candidates: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """Of competing (priority, message id) pairs, the one that goes first: highest priority, then oldest."""
    return min(candidates, key=lambda candidate: (-candidate[0], candidate[1]))


def _hours(window: dt.timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h"
