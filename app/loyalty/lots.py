"""Lots: what is left of each earned entry after the takings so far (first in, first out).

Every positive entry is a lot with its own end (``expires_at``). Spending and other untargeted
takings come out of the oldest spendable lots first; a reversal (refund, cancellation), an expiry
and a guest's claimed points come out of the lot they concern; a debt is paid by the next lot.
Pure functions over entries, used by expiry, claims and refused codes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any


@dataclasses.dataclass
class Lot:
    entry_id: int
    points: int
    available_at: dt.datetime
    expires_at: dt.datetime | None
    order_external_id: str | None
    left: int = 0


def _target(entry: Any, lots: dict[int, Lot], by_order: dict[str, list[Lot]]) -> Lot | None:
    """The lot a negative entry takes from, when it names one (a reversal, an expiry, a claim)."""
    key = entry.cause_key
    if key.startswith("expiry:"):
        return lots.get(int(key.split(":")[1]))
    if entry.cause == "claim" and key.endswith(":out"):
        return lots.get(int(key.split(":")[1]))
    if entry.cause in ("refund", "cancellation") and entry.order_external_id:
        held = [lot for lot in by_order.get(entry.order_external_id, ()) if lot.left > 0]
        return held[-1] if held else None
    return None


def remaining(entries: Iterable[Any]) -> dict[int, Lot]:
    """What is left of each of a member's lots after every negative entry so far.

    Entries are taken in time order; a lot counts from when it became spendable. Untargeted
    spending takes the oldest spendable lots first; what finds no lot is a debt that the next
    lots pay first.
    """
    ordered = sorted(entries, key=lambda e: (e.created_at, e.id))
    lots: dict[int, Lot] = {}
    by_order: dict[str, list[Lot]] = defaultdict(list)
    timeline: list[tuple[dt.datetime, int, int, Any]] = []
    for entry in ordered:
        if entry.points > 0:
            lot = Lot(entry.id, entry.points, entry.available_at, entry.expires_at, entry.order_external_id,
                      entry.points)
            lots[entry.id] = lot
            if entry.order_external_id:
                by_order[entry.order_external_id].append(lot)
            # a lot arrives when it becomes spendable (never before it was written)
            timeline.append((max(entry.available_at, entry.created_at), 0, entry.id, lot))
        else:
            timeline.append((entry.created_at, 1, entry.id, entry))
    timeline.sort(key=lambda item: item[:3])
    arrived: list[Lot] = []
    debt = 0
    for _, _, _, item in timeline:
        if isinstance(item, Lot):
            arrived.append(item)
            paid = min(debt, item.left)
            item.left -= paid
            debt -= paid
            continue
        owed = -item.points
        target = _target(item, lots, by_order)
        if target is not None:
            taken = min(owed, target.left)
            target.left -= taken
            owed -= taken
        for lot in arrived:  # first in, first out
            if owed <= 0:
                break
            taken = min(owed, lot.left)
            lot.left -= taken
            owed -= taken
        debt += owed
    return lots


