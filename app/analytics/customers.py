"""Repeat purchase rate, and loyalty members compared with everyone else, over a window of days."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from app.analytics import common
from app.store.models import LedgerEntry, LoyaltyMember, Redemption, Shop

BASES = ("enrolled", "engaged")
# Ledger causes that are a member's own doing in the program (not what any order earns by itself).
ENGAGED_CAUSES = ("redemption", "birthday", "review", "social", "custom", "referral", "challenge")

NOTE = ("Members are not a random group. Shoppers who already like the shop are the ones who join, "
        "take part and order again, and anyone who orders often becomes a member sooner. So the gap "
        "between members and non-members is not what the program adds: part or all of it was there "
        "before. The causal measure is the lift of each flow against its holdout group (flow-lift), "
        "where who is held out is drawn at random.")


def _window(now: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
    return now - dt.timedelta(days=days), now


def repeat_rate(session: Session, shop: Shop, days: int, now: dt.datetime) -> dict[str, Any]:
    """Customers with two or more orders in the window, out of those with at least one."""
    start, end = _window(now, days)
    common.tune(session)
    orders = common.counted_orders(shop.id)
    each = (select(orders.c.who, func.count().label("orders"))
            .where(orders.c.who.is_not(None), orders.c.placed >= start, orders.c.placed <= end)
            .group_by(orders.c.who).subquery())
    customers, repeaters, placed = session.execute(select(
        func.count(), func.coalesce(func.sum(case((each.c.orders >= 2, 1), else_=0)), 0),
        func.coalesce(func.sum(each.c.orders), 0))).one()
    return {"days": days, "from": start.isoformat(), "to": end.isoformat(), "customers": int(customers),
            "repeat_customers": int(repeaters), "orders": int(placed),
            "rate": common.share(int(repeaters), int(customers))}


def _member_keys(shop_id: int, basis: str) -> Any:
    """The customer keys (``common.customer_key``) of the shop's loyalty members, one row each."""
    guest = LoyaltyMember.customer_external_id.is_(None)
    emails = common.customer_emails(shop_id, select(common.email_key(LoyaltyMember.email))
                                    .where(LoyaltyMember.shop_id == shop_id, guest))
    key = common.customer_key(LoyaltyMember.customer_external_id, LoyaltyMember.email, emails)
    query = (select(key.label("who")).distinct()
             .select_from(LoyaltyMember)
             .outerjoin(emails, and_(guest, emails.c.email == common.email_key(LoyaltyMember.email)))
             .where(LoyaltyMember.shop_id == shop_id))
    if basis == "engaged":
        query = query.where(or_(
            exists().where(LedgerEntry.member_id == LoyaltyMember.id, LedgerEntry.cause.in_(ENGAGED_CAUSES)),
            exists().where(Redemption.member_id == LoyaltyMember.id)))
    return query.subquery()


def members(session: Session, shop: Shop, days: int, now: dt.datetime, basis: str = "enrolled") -> dict[str, Any]:
    """Members and non-members who ordered in the window: how many, how often, how much."""
    start, end = _window(now, days)
    common.tune(session)
    orders = common.counted_orders(shop.id)
    keys = _member_keys(shop.id, basis)
    in_window = and_(orders.c.who.is_not(None), orders.c.placed >= start, orders.c.placed <= end)
    is_member = case((keys.c.who.is_not(None), literal(1)), else_=literal(0))
    joined = orders.outerjoin(keys, keys.c.who == orders.c.who)
    each = (select(orders.c.who, is_member.label("member"), func.count().label("orders"))
            .select_from(joined).where(in_window).group_by(orders.c.who, keys.c.who).subquery())
    repeaters = {int(member): int(count) for member, count in session.execute(
        select(each.c.member, func.count()).where(each.c.orders >= 2).group_by(each.c.member))}
    rows = (select(is_member.label("member"), orders.c.who, orders.c.external_id, orders.c.total, orders.c.currency)
            .select_from(joined).where(in_window).subquery())
    currency = common.report_currency(session, shop)
    totals = common.totals_by(session, rows, ("member",), shop.id, currency)

    def group(member: int) -> dict[str, Any]:
        found = totals.get((member,)) or common.Totals()
        customers, placed, repeat = found.customers, found.orders, int(repeaters.get(member, 0))
        return {"customers": customers, "orders": placed,
                "orders_per_customer": round(placed / customers, 4) if customers else None,
                "average_order_value": common.per(found.revenue, found.priced_orders),
                "repeat_customers": repeat, "repeat_rate": common.share(repeat, customers),
                "revenue": common.amount(found.revenue), "revenue_per_customer": common.per(found.revenue, customers),
                "orders_in_other_currencies": placed - found.priced_orders}

    return {"days": days, "from": start.isoformat(), "to": end.isoformat(), "basis": basis,
            "currency": currency, "members": group(1), "non_members": group(0), "note": NOTE}
