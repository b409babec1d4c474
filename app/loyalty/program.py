"""A shop's loyalty program: sensible defaults, validated changes, one version per change.

Points already in the ledger name the version that priced them; a change never re-prices them.
"""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.models import LoyaltyProgram

REFUND_POLICIES = ("negative_balance", "deduct_from_future")

DEFAULTS: dict[str, Any] = {
    "points_per_unit": 1,  # points per unit of the shop's currency spent
    "points_per_unit_off": 100,  # points a shopper spends for one unit off
    "exclude_shipping": True,
    "exclude_taxes": True,
    "exclude_discounts": True,
    "pending_days": 14,  # the returns window: order points are spendable after it
    "refund_policy": "negative_balance",
    "signup_points": 50,
    "birthday_points": 100,
    "tiers": [
        {"name": "Bronze", "threshold": 0, "multiplier": "1"},
        {"name": "Silver", "threshold": 500, "multiplier": "1.25"},
        {"name": "Gold", "threshold": 2000, "multiplier": "1.5"},
    ],
}


class ProgramError(ValueError):
    """A program change was refused; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclasses.dataclass(frozen=True)
class Program:
    version: int
    settings: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.settings[name]


def current(session: Session, shop_id: int) -> Program | None:
    """Return the shop's newest program version, or None before it has one."""
    row = session.execute(
        select(LoyaltyProgram).where(LoyaltyProgram.shop_id == shop_id)
        .order_by(LoyaltyProgram.version.desc()).limit(1)
    ).scalar_one_or_none()
    return None if row is None else Program(row.version, row.settings)


def ensure(session: Session, shop_id: int) -> Program:
    """Give a shop the default program (version 1) unless it has one; the caller commits."""
    existing = current(session, shop_id)
    if existing is not None:
        return existing
    session.add(LoyaltyProgram(shop_id=shop_id, version=1, settings=copy.deepcopy(DEFAULTS),
                               created_by="install"))
    session.flush()
    return Program(1, copy.deepcopy(DEFAULTS))


def update(session: Session, shop_id: int, changes: Any, actor: str) -> Program:
    """Validate ``changes`` against the current version and store the result as a new version."""
    base = ensure(session, shop_id)
    if not isinstance(changes, dict) or not changes:
        raise ProgramError("program", "send a JSON object with the settings to change")
    unknown = sorted(set(changes) - set(DEFAULTS))
    if unknown:
        raise ProgramError(unknown[0], f"unknown setting (known: {', '.join(sorted(DEFAULTS))})")
    settings = {**copy.deepcopy(base.settings), **copy.deepcopy(changes)}
    validate(settings)
    if settings == base.settings:
        return base  # nothing changed: no new version
    version = (session.execute(select(func.max(LoyaltyProgram.version))
                               .where(LoyaltyProgram.shop_id == shop_id)).scalar_one() or 0) + 1
    session.add(LoyaltyProgram(shop_id=shop_id, version=version, settings=settings, created_by=actor))
    session.flush()
    return Program(version, settings)


def _whole(settings: dict[str, Any], name: str, minimum: int, maximum: int) -> None:
    value = settings[name]
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ProgramError(name, f"must be a whole number from {minimum} to {maximum}")


def validate(settings: dict[str, Any]) -> None:
    """Refuse a program a merchant could not have meant, naming the setting."""
    _whole(settings, "points_per_unit", 0, 10_000)
    _whole(settings, "points_per_unit_off", 1, 1_000_000)
    _whole(settings, "pending_days", 0, 365)
    _whole(settings, "signup_points", 0, 1_000_000)
    _whole(settings, "birthday_points", 0, 1_000_000)
    for name in ("exclude_shipping", "exclude_taxes", "exclude_discounts"):
        if not isinstance(settings[name], bool):
            raise ProgramError(name, "must be true or false")
    if settings["refund_policy"] not in REFUND_POLICIES:
        raise ProgramError("refund_policy", f"must be one of {', '.join(REFUND_POLICIES)}")
    tiers = settings["tiers"]
    if not isinstance(tiers, list) or not 1 <= len(tiers) <= 10:
        raise ProgramError("tiers", "must be a list of 1 to 10 tiers")
    previous = -1
    for index, tier in enumerate(tiers):
        where = f"tiers[{index}]"
        if not isinstance(tier, dict) or set(tier) != {"name", "threshold", "multiplier"}:
            raise ProgramError(where, "must have exactly name, threshold and multiplier")
        if not isinstance(tier["name"], str) or not 1 <= len(tier["name"].strip()) <= 60:
            raise ProgramError(f"{where}.name", "must be 1 to 60 characters")
        threshold = tier["threshold"]
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= previous:
            raise ProgramError(f"{where}.threshold", "must be whole numbers rising from 0")
        if index == 0 and threshold != 0:
            raise ProgramError(f"{where}.threshold", "the first tier starts at 0")
        previous = threshold
        try:
            multiplier = Decimal(str(tier["multiplier"]))
        except ArithmeticError as error:
            raise ProgramError(f"{where}.multiplier", "must be a number") from error
        if not multiplier.is_finite() or not Decimal("0") < multiplier <= Decimal("10"):
            raise ProgramError(f"{where}.multiplier", "must be more than 0 and at most 10")
        tier["multiplier"] = str(multiplier)
