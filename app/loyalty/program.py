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

from app.loyalty import widget
from app.store.models import LoyaltyProgram

REFUND_POLICIES = ("negative_balance", "deduct_from_future")

TIER_BASES = ("points_earned", "amount_spent")
TIER_WINDOWS = ("lifetime", "calendar_year", "rolling_12_months")
SOCIAL_KINDS = ("follow", "share")
CUSTOM_LIMITS = ("once", "per_key")  # once per member, or once per idempotency key
CHALLENGE_KINDS = ("orders", "reviews", "points_earned")

DEFAULTS: dict[str, Any] = {
    "points_per_unit": 1,  # points per unit of the shop's currency spent
    "points_per_unit_off": 100,  # points a shopper spends for one unit off
    "exclude_shipping": True,
    "exclude_taxes": True,
    "exclude_discounts": True,
    "exclude_gift_cards": True,  # the part of an order paid with gift cards earns nothing
    "pending_days": 14,  # the returns window: order points are spendable after it
    "refund_policy": "negative_balance",
    # Each earned lot expires this many days after it was earned (None: never); reminders before.
    "expiry_days": 365,
    "expiry_reminder_days": [30, 7],
    "signup_points": 50,
    "birthday_points": 100,
    "review_points": 25,  # once per product reviewed
    "social_actions": [
        {"id": "instagram-follow", "name": "Follow us on Instagram", "kind": "follow", "points": 25, "url": None},
        {"id": "facebook-share", "name": "Share us on Facebook", "kind": "share", "points": 25, "url": None},
    ],
    # Actions a merchant's own systems report through the admin API, with an idempotency key.
    "custom_actions": [],
    "tier_basis": "points_earned",
    "tier_window": "rolling_12_months",
    "tier_grace_days": 30,  # a member below their tier's threshold keeps it this long
    "tier_tag_prefix": "Comeback ",  # the store's customer tag is prefix + tier name
    "tiers": [
        {"name": "Bronze", "threshold": 0, "multiplier": "1", "entry_points": 0, "perks": []},
        {"name": "Silver", "threshold": 500, "multiplier": "1.25", "entry_points": 100,
         "perks": ["1.25 points per unit spent"]},
        {"name": "Gold", "threshold": 2000, "multiplier": "1.5", "entry_points": 250,
         "perks": ["1.5 points per unit spent", "early access"]},
    ],
    # What points buy: each becomes a single-use discount code in the store.
    "rewards": [
        {"id": "5-off", "name": "5 off your order", "kind": "fixed_amount", "points": 500, "value": "5",
         "minimum_subtotal": None, "code_days": 30},
        {"id": "10-percent", "name": "10% off your order", "kind": "percentage", "points": 1000, "value": "10",
         "minimum_subtotal": None, "code_days": 30},
        {"id": "free-shipping", "name": "Free shipping", "kind": "free_shipping", "points": 300, "value": "0",
         "minimum_subtotal": None, "code_days": 30},
        # Points to money in steps: 100 points (one unit) at a time, from 100 up to 5,000.
        {"id": "points-off", "name": "Points off your order", "kind": "variable", "points": 100, "value": "0",
         "minimum_subtotal": None, "code_days": 30, "increment": 100, "max_points": 5000},
    ],
    "referral_advocate_points": 500,  # after the friend's first order clears the pending period
    "referral_friend_reward": {"kind": "fixed_amount", "value": "10", "minimum_subtotal": "30", "code_days": 30},
    "referral_ip_limit": 3,  # more referrals than this from one address within the hours below: blocked
    "referral_ip_hours": 24,
    "challenges": [
        {"id": "three-in-sixty", "name": "3 orders in 60 days", "kind": "orders", "count": 3, "days": 60,
         "points": 200, "badge": "Regular"},
        {"id": "first-review", "name": "Your first review", "kind": "reviews", "count": 1, "days": None,
         "points": 50, "badge": "Critic"},
    ],
    # Bonus points when a member enters a segment (e.g. at_risk: a reason to come back); once a
    # calendar year per member and segment.
    "segment_bonuses": [],
    "leaderboard": True,  # members who opt in appear under a name they chose
    # The storefront widget's look (app/loyalty/widget.py): colours, position, texts.
    "widget": copy.deepcopy(widget.DEFAULTS),
}

REWARD_KINDS = ("fixed_amount", "percentage", "free_shipping", "free_product", "variable")
_REWARD_FIELDS = {"id", "name", "kind", "points", "value", "minimum_subtotal", "code_days"}
_REWARD_OPTIONAL: dict[str, Any] = {"products": [], "increment": None, "max_points": None}
_TIER_FIELDS = {"name", "threshold", "multiplier"}
_TIER_OPTIONAL: dict[str, Any] = {"entry_points": 0, "perks": []}


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
    return None if row is None else Program(row.version, with_defaults(row.settings))


def with_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """A stored version with the settings (and optional fields) added since it was written, at their defaults.

    A setting that would change what an existing program earns or expires is brought in by a
    migration that writes a new version keeping the old behaviour (0005 did so); what is left
    to fill here changes nothing already earned.
    """
    merged = {**copy.deepcopy(DEFAULTS), **copy.deepcopy(settings)}
    _fill_optional(merged)
    try:
        validate(merged)
    except ProgramError:
        pass  # stored versions were valid when written; a stricter rule today does not unmake them
    return merged


def _fill_optional(settings: dict[str, Any]) -> None:
    """Give tiers, rewards and actions the optional fields they leave out (never fails)."""
    settings["widget"] = widget.with_defaults(settings.get("widget"))
    for name, optional in (("tiers", _TIER_OPTIONAL), ("rewards", _REWARD_OPTIONAL),
                           ("social_actions", {"url": None})):
        items = settings.get(name)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    for field, default in optional.items():
                        item.setdefault(field, copy.deepcopy(default))


def ensure(session: Session, shop_id: int) -> Program:
    """Give a shop the default program (version 1) unless it has one; the caller commits."""
    existing = current(session, shop_id)
    if existing is not None:
        return existing
    settings = with_defaults(DEFAULTS)
    session.add(LoyaltyProgram(shop_id=shop_id, version=1, settings=settings, created_by="install"))
    session.flush()
    return Program(1, copy.deepcopy(settings))


def update(session: Session, shop_id: int, changes: Any, actor: str) -> Program:
    """Validate ``changes`` against the current version and store the result as a new version."""
    base = ensure(session, shop_id)
    if not isinstance(changes, dict) or not changes:
        raise ProgramError("program", "send a JSON object with the settings to change")
    unknown = sorted(set(changes) - set(DEFAULTS))
    if unknown:
        raise ProgramError(unknown[0], f"unknown setting (known: {', '.join(sorted(DEFAULTS))})")
    settings = {**copy.deepcopy(base.settings), **copy.deepcopy(changes)}
    if isinstance(changes.get("widget"), dict):  # the widget's look can be changed a field at a time
        settings["widget"] = {**base.settings["widget"], **copy.deepcopy(changes["widget"])}
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
    """Refuse a program a merchant could not have meant, naming the setting; fill optional fields."""
    _whole(settings, "points_per_unit", 0, 10_000)
    _whole(settings, "points_per_unit_off", 1, 1_000_000)
    _whole(settings, "pending_days", 0, 365)
    for name in ("signup_points", "birthday_points", "review_points", "referral_advocate_points"):
        _whole(settings, name, 0, 1_000_000)
    for name in ("exclude_shipping", "exclude_taxes", "exclude_discounts", "exclude_gift_cards", "leaderboard"):
        if not isinstance(settings[name], bool):
            raise ProgramError(name, "must be true or false")
    _choice(settings, "refund_policy", REFUND_POLICIES)
    if settings["expiry_days"] is not None:
        _whole(settings, "expiry_days", 30, 3650)
    reminders = settings["expiry_reminder_days"]
    if not isinstance(reminders, list) or len(reminders) > 5 or not all(
            _is_whole(days) and 1 <= days <= 365 for days in reminders):
        raise ProgramError("expiry_reminder_days", "must be a list of at most 5 whole numbers of days from 1 to 365")
    settings["expiry_reminder_days"] = sorted(set(reminders), reverse=True)
    _choice(settings, "tier_basis", TIER_BASES)
    _choice(settings, "tier_window", TIER_WINDOWS)
    _whole(settings, "tier_grace_days", 0, 365)
    prefix = settings["tier_tag_prefix"]
    if not isinstance(prefix, str) or len(prefix) > 30 or "," in prefix or not prefix.isprintable():
        raise ProgramError("tier_tag_prefix", "must be at most 30 printable characters without commas")
    _validate_tiers(settings["tiers"])
    _validate_rewards(settings["rewards"])
    _validate_actions(settings)
    _validate_referrals(settings)
    _validate_challenges(settings["challenges"])
    _validate_segment_bonuses(settings["segment_bonuses"])
    try:
        settings["widget"] = widget.validate(settings["widget"])
    except widget.WidgetError as error:
        raise ProgramError(error.field, error.message) from error


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(settings: dict[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    if settings[name] not in allowed:
        raise ProgramError(name, f"must be one of {', '.join(allowed)}")


def _fields(item: Any, where: str, required: set[str], optional: dict[str, Any]) -> dict[str, Any]:
    """Check an object's keys; fill the optional ones left out with their defaults."""
    if not isinstance(item, dict) or not required <= set(item) or set(item) - required - set(optional):
        listed = ", ".join(sorted(required))
        extra = f" (optional: {', '.join(sorted(optional))})" if optional else ""
        raise ProgramError(where, f"must have exactly {listed}{extra}")
    for name, default in optional.items():
        item.setdefault(name, copy.deepcopy(default))
    return item


def _name(value: Any, where: str, longest: int) -> None:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= longest:
        raise ProgramError(where, f"must be 1 to {longest} characters")


def _ident(value: Any, where: str, seen: set[str]) -> None:
    if not isinstance(value, str) or not value or len(value) > 40 or not all(
            ch.isalnum() or ch in "-_" for ch in value):
        raise ProgramError(where, "must be 1 to 40 letters, digits, - or _")
    if value in seen:
        raise ProgramError(where, f"{value!r} is used twice")
    seen.add(value)


def _points(value: Any, where: str, minimum: int = 1) -> None:
    if not _is_whole(value) or not minimum <= value <= 10_000_000:
        raise ProgramError(where, f"must be a whole number from {minimum} to 10000000")


def _validate_tiers(tiers: Any) -> None:
    if not isinstance(tiers, list) or not 1 <= len(tiers) <= 10:
        raise ProgramError("tiers", "must be a list of 1 to 10 tiers")
    previous = -1
    names: set[str] = set()
    for index, tier in enumerate(tiers):
        where = f"tiers[{index}]"
        _fields(tier, where, _TIER_FIELDS, _TIER_OPTIONAL)
        _name(tier["name"], f"{where}.name", 60)
        # the name becomes a customer tag in the store: no commas, no line breaks or other controls
        if tier["name"].strip().lower() in names or "," in tier["name"] or not tier["name"].isprintable() \
                or tier["name"] != tier["name"].strip():
            raise ProgramError(f"{where}.name", "must be unique, printable, without commas or surrounding spaces")
        names.add(tier["name"].strip().lower())
        threshold = tier["threshold"]
        if not _is_whole(threshold) or threshold <= previous:
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
        _points(tier["entry_points"], f"{where}.entry_points", minimum=0)
        perks = tier["perks"]
        if not isinstance(perks, list) or len(perks) > 10 or not all(
                isinstance(p, str) and 1 <= len(p.strip()) <= 120 for p in perks):
            raise ProgramError(f"{where}.perks", "must be a list of at most 10 texts of 1 to 120 characters")


def _validate_actions(settings: dict[str, Any]) -> None:
    seen: set[str] = set()
    social = settings["social_actions"]
    if not isinstance(social, list) or len(social) > 20:
        raise ProgramError("social_actions", "must be a list of at most 20 actions")
    for index, action in enumerate(social):
        where = f"social_actions[{index}]"
        _fields(action, where, {"id", "name", "kind", "points"}, {"url": None})
        _ident(action["id"], f"{where}.id", seen)
        _name(action["name"], f"{where}.name", 80)
        if action["kind"] not in SOCIAL_KINDS:
            raise ProgramError(f"{where}.kind", f"must be one of {', '.join(SOCIAL_KINDS)}")
        _points(action["points"], f"{where}.points")
        url = action["url"]
        if url is not None and (not isinstance(url, str) or not url.startswith("https://") or len(url) > 500):
            raise ProgramError(f"{where}.url", "must be an https:// address or null")
    custom = settings["custom_actions"]
    if not isinstance(custom, list) or len(custom) > 50:
        raise ProgramError("custom_actions", "must be a list of at most 50 actions")
    for index, action in enumerate(custom):
        where = f"custom_actions[{index}]"
        _fields(action, where, {"id", "name", "points", "limit"}, {})
        _ident(action["id"], f"{where}.id", seen)
        _name(action["name"], f"{where}.name", 80)
        _points(action["points"], f"{where}.points")
        if action["limit"] not in CUSTOM_LIMITS:
            raise ProgramError(f"{where}.limit", f"must be one of {', '.join(CUSTOM_LIMITS)}")


def _validate_segment_bonuses(bonuses: Any) -> None:
    if not isinstance(bonuses, list) or len(bonuses) > 20:
        raise ProgramError("segment_bonuses", "must be a list of at most 20 bonuses")
    seen: set[str] = set()
    for index, bonus in enumerate(bonuses):
        where = f"segment_bonuses[{index}]"
        _fields(bonus, where, {"segment", "points"}, {})
        segment = bonus["segment"]
        if not isinstance(segment, str) or not 1 <= len(segment) <= 64 or not all(
                ch.islower() or ch.isdigit() or ch in "-_" for ch in segment):
            raise ProgramError(f"{where}.segment", "must be the key of a segment (e.g. at_risk)")
        if segment in seen:
            raise ProgramError(f"{where}.segment", f"{segment!r} has a bonus already")
        seen.add(segment)
        _points(bonus["points"], f"{where}.points")


def _validate_referrals(settings: dict[str, Any]) -> None:
    friend = settings["referral_friend_reward"]
    where = "referral_friend_reward"
    _fields(friend, where, {"kind", "value", "minimum_subtotal", "code_days"}, {})
    if friend["kind"] not in ("fixed_amount", "percentage", "free_shipping"):
        raise ProgramError(f"{where}.kind", "must be one of fixed_amount, percentage, free_shipping")
    _reward_terms(friend, where)
    _whole(settings, "referral_ip_limit", 1, 1000)
    _whole(settings, "referral_ip_hours", 1, 24 * 30)


def _validate_challenges(challenges: Any) -> None:
    if not isinstance(challenges, list) or len(challenges) > 30:
        raise ProgramError("challenges", "must be a list of at most 30 challenges")
    seen: set[str] = set()
    for index, challenge in enumerate(challenges):
        where = f"challenges[{index}]"
        _fields(challenge, where, {"id", "name", "kind", "count", "days", "points", "badge"}, {})
        _ident(challenge["id"], f"{where}.id", seen)
        _name(challenge["name"], f"{where}.name", 80)
        _name(challenge["badge"], f"{where}.badge", 80)
        if challenge["kind"] not in CHALLENGE_KINDS:
            raise ProgramError(f"{where}.kind", f"must be one of {', '.join(CHALLENGE_KINDS)}")
        _points(challenge["count"], f"{where}.count")
        if challenge["days"] is not None and (not _is_whole(challenge["days"]) or not 1 <= challenge["days"] <= 3650):
            raise ProgramError(f"{where}.days", "must be a whole number of days from 1 to 3650, or null")
        _points(challenge["points"], f"{where}.points", minimum=0)


def _money(value: Any, where: str, *, allow_zero: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError as error:
        raise ProgramError(where, "must be an amount") from error
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero) or amount != amount.quantize(
            Decimal("0.01")):
        raise ProgramError(where, "must be a positive amount with at most two decimals")
    return amount


def _reward_terms(reward: dict[str, Any], where: str) -> None:
    """The value, minimum order and code lifetime of a reward (or of a referral friend's code)."""
    value = _money(reward["value"], f"{where}.value",
                   allow_zero=reward["kind"] in ("free_shipping", "free_product", "variable"))
    if reward["kind"] == "percentage" and value > 100:
        raise ProgramError(f"{where}.value", "a percentage must be at most 100")
    reward["value"] = str(value)
    if reward["minimum_subtotal"] is not None:
        reward["minimum_subtotal"] = str(_money(reward["minimum_subtotal"], f"{where}.minimum_subtotal"))
    days = reward["code_days"]
    if not _is_whole(days) or not 1 <= days <= 365:
        raise ProgramError(f"{where}.code_days", "must be a whole number of days from 1 to 365")


def _validate_rewards(rewards: Any) -> None:
    if not isinstance(rewards, list) or len(rewards) > 50:
        raise ProgramError("rewards", "must be a list of at most 50 rewards")
    seen: set[str] = set()
    for index, reward in enumerate(rewards):
        where = f"rewards[{index}]"
        _fields(reward, where, _REWARD_FIELDS, _REWARD_OPTIONAL)
        _ident(reward["id"], f"{where}.id", seen)
        _name(reward["name"], f"{where}.name", 80)
        if reward["kind"] not in REWARD_KINDS:
            raise ProgramError(f"{where}.kind", f"must be one of {', '.join(REWARD_KINDS)}")
        _points(reward["points"], f"{where}.points")
        _reward_terms(reward, where)
        products = reward["products"]
        if not isinstance(products, list) or len(products) > 100 or not all(
                isinstance(p, str) and 1 <= len(p) <= 64 for p in products):
            raise ProgramError(f"{where}.products", "must be a list of at most 100 product ids")
        if reward["kind"] == "free_product" and not products:
            raise ProgramError(f"{where}.products", "a free product reward names at least one product")
        if reward["kind"] == "variable":
            increment, most = reward["increment"], reward["max_points"]
            _points(increment, f"{where}.increment")
            _points(most, f"{where}.max_points")
            if reward["points"] % increment or most % increment or most < reward["points"]:
                raise ProgramError(f"{where}.max_points",
                                   "points (the least) and max_points must be multiples of increment, least first")
        elif reward["increment"] is not None or reward["max_points"] is not None:
            raise ProgramError(f"{where}.increment", "only a variable reward has an increment and max_points")


def reward(program: Program, reward_id: str) -> dict[str, Any] | None:
    """Return the program's reward with this id."""
    return next((r for r in program["rewards"] if r["id"] == reward_id), None)


def tier(program: Program, name: str | None) -> dict[str, Any]:
    """The program's tier with this name; the first tier for a member without one (or a removed one)."""
    tiers = program["tiers"]
    return next((t for t in tiers if t["name"] == name), tiers[0])


def multiplier(program: Program, tier_name: str | None) -> Decimal:
    return Decimal(tier(program, tier_name)["multiplier"])


def social_action(program: Program, action_id: str) -> dict[str, Any] | None:
    return next((a for a in program["social_actions"] if a["id"] == action_id), None)


def custom_action(program: Program, action_id: str) -> dict[str, Any] | None:
    return next((a for a in program["custom_actions"] if a["id"] == action_id), None)
