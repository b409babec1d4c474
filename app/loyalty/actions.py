"""Points for what shoppers do besides ordering: signing up, birthdays, reviews, social, custom.

Each award has a key that says how often it may happen (a signup once per customer, a birthday
once per calendar year, a review once per product, a social action once, a custom action once
per member or once per idempotency key), so a repeated request earns nothing more.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.loyalty import challenges, events, expiry, ledger, tiers
from app.loyalty import program as programs
from app.store.models import Customer, LineItem, LoyaltyMember, Order, Product, SegmentEvent
from app.store.types import utcnow

BIRTHDAY_NOTICE_DAYS = 30  # a birthday set less than this long ago earns nothing this time


def _earned(session: Session, shop_id: int, member: LoyaltyMember, points: int, *, cause: str, key: str,
            program: programs.Program, reason: str, actor: str | None = None) -> bool:
    added = ledger.award(session, shop_id, member.id, points, cause=cause, key=key, program=program,
                         reason=reason, actor=actor)
    if added:
        events.emit(session, [events.event(shop_id, events.POINTS_EARNED, f"{cause}:{key}", member.id,
                                           points=points, cause=cause, reason=reason)])
        challenges.evaluate(session, shop_id, [member.id], program=program)
        tiers.evaluate(session, shop_id, [member.id], program=program)
    return added


def signups(session: Session, shop_id: int, customers: Sequence[Customer], started_at: dt.datetime,
            program: programs.Program) -> int:
    """Customers who opened an account since the program began: signup points, and guest points claimed.

    An account is a customer the platform shows as enabled (Shopify's checkout-only customers
    are "disabled" until they accept an invitation).
    """
    eligible = [c for c in customers
                if c.deleted_at is None and c.redacted_at is None and c.state == "enabled"]
    guests = ledger.guests_by_email(session, shop_id, sorted({c.email.lower() for c in eligible if c.email}))
    begun = started_at.replace(microsecond=0)
    awarded = 0
    for customer in eligible:
        created = customer.source_created_at or customer.created_at
        claims = customer.email is not None and customer.email.lower() in guests
        if created < begun and not claims:
            continue  # an older account with nothing to claim: no member row needed yet
        member = ledger.member_for(session, shop_id, customer_external_id=customer.external_id,
                                   email=customer.email)
        if member is None:
            continue
        if claims and customer.email is not None:
            claim(session, shop_id, member, customer.email)
        if created >= begun and _earned(session, shop_id, member, program["signup_points"], cause="signup",
                                        key=customer.external_id, program=program, reason="account created"):
            awarded += program["signup_points"]
    return awarded


def claim(session: Session, shop_id: int, member: LoyaltyMember, email: str) -> int:
    """Claim the points a guest earned with this email (the shopper's account or verified email)."""
    guests = ledger.guests_by_email(session, shop_id, [email.strip().lower()])
    moved = sum(ledger.claim_guest(session, shop_id, guest, member) for guest in guests.values())
    if moved:
        tiers.evaluate(session, shop_id, [member.id])
    return moved


def set_birthday(session: Session, member: LoyaltyMember, month: int, day: int) -> None:
    """Record a birthday (day and month); a change restarts the 30-day wait."""
    if not isinstance(month, int) or not isinstance(day, int) or isinstance(month, bool) or isinstance(day, bool) \
            or not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
        raise ledger.LedgerError("birthday: give a real month (1-12) and day", status=400)
    if (member.birthday_month, member.birthday_day) != (month, day):
        member.birthday_month, member.birthday_day, member.birthday_set_at = month, day, utcnow()


def _celebrates(member: LoyaltyMember, today: dt.date) -> bool:
    month, day = member.birthday_month, member.birthday_day
    if month == 2 and day == 29 and not calendar.isleap(today.year):
        day = 28  # a 29 February birthday is kept on the 28th in other years
    return (month, day) == (today.month, today.day)


def birthdays(session: Session, shop_id: int, today: dt.date | None = None) -> int:
    """Award today's birthdays (once per member per year; not within 30 days of setting it)."""
    today = today or utcnow().date()
    program = programs.ensure(session, shop_id)
    if not program["birthday_points"]:
        return 0
    months = {today.month}
    members = session.execute(
        select(LoyaltyMember).where(LoyaltyMember.shop_id == shop_id, LoyaltyMember.birthday_month.in_(months),
                                    LoyaltyMember.birthday_set_at.is_not(None))
    ).scalars().all()
    cutoff = dt.datetime.combine(today, dt.time(23, 59, 59), dt.timezone.utc) - dt.timedelta(
        days=BIRTHDAY_NOTICE_DAYS)
    awarded = 0
    for member in members:
        if not _celebrates(member, today) or member.birthday_set_at is None or member.birthday_set_at > cutoff:
            continue
        if _earned(session, shop_id, member, program["birthday_points"], cause="birthday",
                   key=f"{member.id}:{today.year}", program=program, reason=f"happy birthday {today.year}"):
            awarded += 1
    return awarded


def segment_bonuses(session: Session, shop_id: int, program: programs.Program) -> int:
    """Bonus points for members who entered a segment with a bonus since the last run.

    Read from the segment events after the cursor's ``segment_event_id``; a member earns a
    segment's bonus once per calendar year, however often they enter it.
    """
    cursor = expiry.cursor_for(session, shop_id)
    after = int((cursor.marks or {}).get("segment_event_id") or 0)
    bonuses = {bonus["segment"]: bonus["points"] for bonus in program["segment_bonuses"]}
    events_read = session.execute(
        select(SegmentEvent.id, SegmentEvent.segment_key, SegmentEvent.kind, SegmentEvent.customer_external_id,
               SegmentEvent.created_at)
        .where(SegmentEvent.shop_id == shop_id, SegmentEvent.id > after).order_by(SegmentEvent.id).limit(5000)).all()
    if not events_read:
        return 0
    wanted = [(segment, customer, at) for _, segment, kind, customer, at in events_read
              if segment in bonuses and kind == "entered" and customer is not None]
    members = {member.customer_external_id: member for member in session.execute(
        select(LoyaltyMember).where(LoyaltyMember.shop_id == shop_id,
                                    LoyaltyMember.customer_external_id.in_(sorted({c for _, c, _ in wanted})))
    ).scalars()} if wanted else {}
    awarded = 0
    for segment, customer, at in wanted:
        member = members.get(customer)
        if member is None:
            continue
        if _earned(session, shop_id, member, bonuses[segment], cause="segment", key=f"{member.id}:{segment}:{at.year}",
                   program=program, reason=f"entered the {segment} segment"):
            awarded += 1
    cursor.marks = {**(cursor.marks or {}), "segment_event_id": events_read[-1][0]}
    return awarded


def review(session: Session, shop_id: int, member: LoyaltyMember, product_external_id: str) -> bool:
    """Points for reviewing a product the shopper bought, once per product.

    Only a product in the store that the member ordered earns: made-up ids mint nothing.
    """
    if not product_external_id or len(product_external_id) > 64:
        raise ledger.LedgerError("product: give the id of the product reviewed", status=400)
    if not _bought(session, shop_id, member, product_external_id):
        raise ledger.LedgerError("product: only a product you ordered earns points for a review", status=409)
    program = programs.ensure(session, shop_id)
    return _earned(session, shop_id, member, program["review_points"], cause="review",
                   key=f"{member.id}:{product_external_id}", program=program,
                   reason=f"review of product {product_external_id}")


def _bought(session: Session, shop_id: int, member: LoyaltyMember, product_external_id: str) -> bool:
    buyer = []
    if member.customer_external_id is not None:
        buyer.append(Order.customer_external_id == member.customer_external_id)
    if member.email:
        buyer.append(Order.email == member.email)
    if not buyer:
        return False
    return session.execute(
        select(LineItem.id).join(Order, Order.id == LineItem.order_id)
        .join(Product, (Product.shop_id == shop_id) & (Product.external_id == LineItem.product_external_id))
        .where(Order.shop_id == shop_id, LineItem.product_external_id == product_external_id,
               Order.cancelled_at.is_(None), Order.deleted_at.is_(None), Product.deleted_at.is_(None), or_(*buyer))
        .limit(1)
    ).first() is not None


def social(session: Session, shop_id: int, member: LoyaltyMember, action_id: str) -> bool:
    """Points for a follow or share the program lists, once each."""
    program = programs.ensure(session, shop_id)
    action = programs.social_action(program, action_id)
    if action is None:
        raise ledger.LedgerError(f"no social action {action_id!r} in the program", status=404)
    return _earned(session, shop_id, member, action["points"], cause="social", key=f"{member.id}:{action_id}",
                   program=program, reason=action["name"])


def custom(session: Session, shop_id: int, member: LoyaltyMember, action_id: str, *, key: str,
           actor: str) -> bool:
    """Points for a merchant-defined action reported by the merchant's systems.

    ``limit: once`` awards a member once; ``per_key`` once per idempotency key.
    """
    if not key or len(key) > 120:
        raise ledger.LedgerError("an idempotency key of 1 to 120 characters is required", status=400)
    program = programs.ensure(session, shop_id)
    action = programs.custom_action(program, action_id)
    if action is None:
        raise ledger.LedgerError(f"no custom action {action_id!r} in the program", status=404)
    scope = f"{member.id}:{action_id}" if action["limit"] == "once" else f"{member.id}:{action_id}:{key}"
    return _earned(session, shop_id, member, action["points"], cause="custom", key=scope, program=program,
                   reason=action["name"], actor=actor)
