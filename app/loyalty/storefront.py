"""What the storefront (the widget, through the storefront API) can ask of the program.

Every function takes the shopper's identity as the platform proved it (a customer id) and can
reach nothing else. Amounts are priced in the shop's currency and shown in the shopper's
presentment currency when the storefront gives one with its rate (Shopify themes expose the
active currency and rate; the discount itself stays in the shop's currency, which the platform
converts at checkout).
"""

from __future__ import annotations

import dataclasses
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.loyalty import actions, challenges, expiry, ledger, rewards, tiers, widget
from app.loyalty import program as programs
from app.store.models import Customer, LedgerEntry, LoyaltyMember, Redemption, Shop
from app.store.types import utcnow

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclasses.dataclass(frozen=True)
class Presentment:
    """The shopper's currency and how many of it one unit of the shop's currency buys."""

    currency: str
    rate: Decimal

    @classmethod
    def parse(cls, shop: Shop, currency: str | None, rate: str | None) -> Presentment:
        base = shop.currency or "USD"
        if not currency or currency == base:
            return cls(base, Decimal("1"))
        if not _CURRENCY.match(currency):
            raise ledger.LedgerError("currency: give a three-letter ISO 4217 code", status=400)
        try:
            value = Decimal(str(rate))
        except (InvalidOperation, ValueError) as error:
            raise ledger.LedgerError("rate: give the presentment currency's rate as a number", status=400) from error
        if not value.is_finite() or not Decimal("0") < value <= Decimal("1000000"):
            raise ledger.LedgerError("rate: must be above 0", status=400)
        return cls(currency, value)

    def show(self, amount: Decimal | str | None, shop_currency: str) -> dict[str, str] | None:
        if amount is None:
            return None
        shop_amount = Decimal(str(amount))
        shown = (shop_amount * self.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return {"amount": str(shown), "currency": self.currency, "shop_amount": str(shop_amount),
                "shop_currency": shop_currency}


def _reward_view(reward: dict[str, Any], present: Presentment, shop_currency: str) -> dict[str, Any]:
    view = {"id": reward["id"], "name": reward["name"], "kind": reward["kind"], "points": reward["points"],
            "minimum_order": present.show(reward["minimum_subtotal"], shop_currency),
            "code_days": reward["code_days"]}
    if reward["kind"] in ("fixed_amount",):
        view["value"] = present.show(reward["value"], shop_currency)
    elif reward["kind"] == "percentage":
        view["percent"] = reward["value"]
    elif reward["kind"] == "variable":
        view.update(increment=reward["increment"], max_points=reward["max_points"])
    elif reward["kind"] == "free_product":
        view["products"] = list(reward["products"])
    return view


def program_view(session: Session, shop: Shop, present: Presentment) -> dict[str, Any]:
    """The program as anyone may see it: ways to earn, rewards, tiers."""
    program = programs.ensure(session, shop.id)
    currency = shop.currency or "USD"
    unit_value = present.show(Decimal(1) / program["points_per_unit_off"], currency)
    return {
        "currency": present.currency,
        "earn": {
            "per_unit": program["points_per_unit"], "pending_days": program["pending_days"],
            "signup": program["signup_points"], "birthday": program["birthday_points"],
            "review": program["review_points"],
            "social": [{"id": a["id"], "name": a["name"], "kind": a["kind"], "points": a["points"], "url": a["url"]}
                       for a in program["social_actions"]],
            "referral": {"advocate_points": program["referral_advocate_points"],
                         "friend_reward": _reward_view({"id": "referral-friend", "name": "", "points": 0,
                                                        **program["referral_friend_reward"]}, present, currency)},
        },
        "point_value": unit_value,
        "rewards": [_reward_view(r, present, currency) for r in program["rewards"]],
        "tiers": [{"name": t["name"], "threshold": t["threshold"], "multiplier": t["multiplier"],
                   "perks": t["perks"]} for t in program["tiers"]],
        "tier_basis": program["tier_basis"], "tier_window": program["tier_window"],
        "challenges": [{"id": c["id"], "name": c["name"], "points": c["points"], "badge": c["badge"]}
                       for c in program["challenges"]],
        "expiry_days": program["expiry_days"],
        "widget": widget.view(program["widget"]),
    }


def member(session: Session, shop_id: int, customer_external_id: str) -> LoyaltyMember:
    """The member of a signed-in shopper (made on first visit, with the email the store has)."""
    if not customer_external_id or len(customer_external_id) > 64:
        raise ledger.LedgerError("sign in to see your points", status=401)
    email = session.execute(
        select(Customer.email).where(Customer.shop_id == shop_id, Customer.external_id == customer_external_id)
    ).scalar_one_or_none()
    found = ledger.member_for(session, shop_id, customer_external_id=customer_external_id, email=email)
    assert found is not None
    return found


_CAUSE_TEXT = {"order": "order", "refund": "refund", "cancellation": "order cancelled", "redemption": "reward",
               "redemption_refund": "reward refused, points returned", "adjustment": "adjustment",
               "expiry": "points expired", "claim": "guest order points", "signup": "account created",
               "birthday": "birthday", "review": "product review", "social": "social", "custom": "bonus",
               "referral": "referral", "challenge": "challenge completed", "tier_entry": "new tier"}


def history_view(entries: list[LedgerEntry]) -> list[dict[str, Any]]:
    now = utcnow()
    return [{"points": e.points, "cause": e.cause, "text": _CAUSE_TEXT.get(e.cause, e.cause),
             "at": e.created_at.isoformat(), "pending": e.available_at > now,
             "available_at": e.available_at.isoformat(), "order": e.order_external_id} for e in entries]


def member_view(session: Session, shop: Shop, customer_external_id: str, present: Presentment) -> dict[str, Any]:
    """A signed-in shopper's own standing: balance, pending, tier, history, badges, expiring points."""
    from app.loyalty import referrals

    program = programs.ensure(session, shop.id)
    who = member(session, shop.id, customer_external_id)
    now = utcnow()
    balance = ledger.balance(session, who.id, now)
    value = tiers.qualifying(session, program, [who.id], now)[who.id]
    all_entries = list(session.execute(select(LedgerEntry).where(LedgerEntry.member_id == who.id)
                                       .order_by(LedgerEntry.id)).scalars())
    currency = shop.currency or "USD"
    affordable = [r for r in program["rewards"] if r["points"] <= balance.spendable]
    others = [r for r in program["rewards"] if r["points"] > balance.spendable]
    code = referrals.code_for(session, who)
    codes = session.execute(select(Redemption).where(Redemption.member_id == who.id)
                            .order_by(Redemption.id.desc()).limit(20)).scalars().all()
    return {
        # The refund policy decides how points owed are shown: a balance below zero, or a zero
        # balance with the points that the next earnings will pay first.
        "points": {"available": balance.available if program["refund_policy"] == "negative_balance"
                   else balance.spendable, "spendable": balance.spendable, "pending": balance.pending,
                   "owed": balance.debt,
                   "value": present.show(Decimal(balance.spendable) / program["points_per_unit_off"], currency)},
        "tier": tiers.progress(program, who.tier, value),
        "rewards": [dict(_reward_view(r, present, currency), affordable=r in affordable)
                    for r in affordable + others],
        "codes": [{"code": r.code, "reward": r.reward_id, "status": r.status,
                   "expires_at": r.expires_at.isoformat()} for r in codes],
        "history": history_view(list(reversed(all_entries))[:50]),
        "expiring": expiry.expiring(all_entries, now),
        "badges": challenges.badges(session, who.id),
        "referral": {"code": code, "link": referrals.link(shop, code)},
        "birthday": ({"month": who.birthday_month, "day": who.birthday_day} if who.birthday_month else None),
        "leaderboard": {"opted_in": who.leaderboard_opt_in, "name": who.display_name},
    }


def redeem(session: Session, shop_id: int, customer_external_id: str, reward_id: Any, *, key: Any,
           points: Any = None) -> Redemption:
    """Spend the shopper's points on a reward (once per idempotency key); the caller commits and queues."""
    if not isinstance(reward_id, str) or not isinstance(key, str):
        raise ledger.LedgerError("send reward (an id) and key (an idempotency key)", status=400)
    who = member(session, shop_id, customer_external_id)
    return rewards.redeem(session, shop_id, who.id, reward_id, key=key, points=points)


def claim(session: Session, shop_id: int, customer_external_id: str) -> int:
    """Claim guest points earned with the email the store holds for the signed-in shopper."""
    who = member(session, shop_id, customer_external_id)
    if not who.email:
        return 0
    return actions.claim(session, shop_id, who, who.email)


def set_birthday(session: Session, shop_id: int, customer_external_id: str, month: Any, day: Any) -> None:
    actions.set_birthday(session, member(session, shop_id, customer_external_id), month, day)


def review(session: Session, shop_id: int, customer_external_id: str, product_external_id: Any) -> bool:
    if not isinstance(product_external_id, str):
        raise ledger.LedgerError("product: give the id of the product reviewed", status=400)
    return actions.review(session, shop_id, member(session, shop_id, customer_external_id), product_external_id)


def social(session: Session, shop_id: int, customer_external_id: str, action_id: Any) -> bool:
    if not isinstance(action_id, str):
        raise ledger.LedgerError("action: give the id of the social action", status=400)
    return actions.social(session, shop_id, member(session, shop_id, customer_external_id), action_id)


def leaderboard(session: Session, shop_id: int, customer_external_id: str | None, *, opt_in: Any = None,
                name: Any = None) -> list[dict[str, Any]]:
    """The leaderboard; a signed-in shopper may opt in (with a chosen name) or out first."""
    program = programs.ensure(session, shop_id)
    if not program["leaderboard"]:
        raise ledger.LedgerError("this shop has no leaderboard", status=404)
    if opt_in is not None:
        if not isinstance(opt_in, bool) or (name is not None and not isinstance(name, str)):
            raise ledger.LedgerError("send opt_in (true or false) and name (text)", status=400)
        challenges.set_display_name(member(session, shop_id, customer_external_id or ""), name, opt_in)
    return challenges.leaderboard(session, shop_id)
