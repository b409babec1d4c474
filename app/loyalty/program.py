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
    # What points buy: each becomes a single-use discount code in the store.
    "rewards": [
        {"id": "5-off", "name": "5 off your order", "kind": "fixed_amount", "points": 500, "value": "5",
         "minimum_subtotal": None, "code_days": 30},
        {"id": "10-percent", "name": "10% off your order", "kind": "percentage", "points": 1000, "value": "10",
         "minimum_subtotal": None, "code_days": 30},
        {"id": "free-shipping", "name": "Free shipping", "kind": "free_shipping", "points": 300, "value": "0",
         "minimum_subtotal": None, "code_days": 30},
    ],
}

REWARD_KINDS = ("fixed_amount", "percentage", "free_shipping")
_REWARD_FIELDS = {"id", "name", "kind", "points", "value", "minimum_subtotal", "code_days"}


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
    _validate_rewards(settings["rewards"])


def _money(value: Any, where: str, *, allow_zero: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError as error:
        raise ProgramError(where, "must be an amount") from error
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero) or amount != amount.quantize(
            Decimal("0.01")):
        raise ProgramError(where, "must be a positive amount with at most two decimals")
    return amount


def _validate_rewards(rewards: Any) -> None:
    if not isinstance(rewards, list) or len(rewards) > 50:
        raise ProgramError("rewards", "must be a list of at most 50 rewards")
    seen: set[str] = set()
    for index, reward in enumerate(rewards):
        where = f"rewards[{index}]"
        if not isinstance(reward, dict) or set(reward) != _REWARD_FIELDS:
            raise ProgramError(where, f"must have exactly {', '.join(sorted(_REWARD_FIELDS))}")
        reward_id = reward["id"]
        if not isinstance(reward_id, str) or not reward_id or len(reward_id) > 40 or not all(
                ch.isalnum() or ch in "-_" for ch in reward_id):
            raise ProgramError(f"{where}.id", "must be 1 to 40 letters, digits, - or _")
        if reward_id in seen:
            raise ProgramError(f"{where}.id", f"{reward_id!r} is used twice")
        seen.add(reward_id)
        if not isinstance(reward["name"], str) or not 1 <= len(reward["name"].strip()) <= 80:
            raise ProgramError(f"{where}.name", "must be 1 to 80 characters")
        if reward["kind"] not in REWARD_KINDS:
            raise ProgramError(f"{where}.kind", f"must be one of {', '.join(REWARD_KINDS)}")
        points = reward["points"]
        if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= 10_000_000:
            raise ProgramError(f"{where}.points", "must be a whole number from 1 to 10000000")
        value = _money(reward["value"], f"{where}.value", allow_zero=reward["kind"] == "free_shipping")
        if reward["kind"] == "percentage" and value > 100:
            raise ProgramError(f"{where}.value", "a percentage must be at most 100")
        reward["value"] = str(value)
        if reward["minimum_subtotal"] is not None:
            reward["minimum_subtotal"] = str(_money(reward["minimum_subtotal"], f"{where}.minimum_subtotal"))
        days = reward["code_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
            raise ProgramError(f"{where}.code_days", "must be a whole number of days from 1 to 365")


def reward(program: Program, reward_id: str) -> dict[str, Any] | None:
    """Return the program's reward with this id."""
    return next((r for r in program["rewards"] if r["id"] == reward_id), None)
