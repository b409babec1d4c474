"""Referrals: a member's link brings a friend, who gets a welcome code; the member gets points.

A referral is screened when the friend arrives (self-referral, near-duplicate emails, many
referrals from one address, a friend who already ordered) and again at the friend's first order
(the advocate's own account or shipping address, an order from before the referral). A blocked
referral waits for the merchant, its reasons written as sentences the merchant reads. The
advocate earns once the friend's first order has cleared the pending period without being
cancelled or refunded in full. The award and its event are keyed on the referral and every step
looks at the referral's status first, so a replayed batch or a retried job moves nothing twice.

Platform-neutral: it reads the mirror and the ledger only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.loyalty import events, ledger, rewards
from app.loyalty import program as programs
from app.store.models import Customer, LedgerEntry, LoyaltyMember, Order, Referral, Shop
from app.store.types import utcnow
from app.store.upsert import among

log = logging.getLogger(__name__)

STATUSES = ("invited", "blocked", "qualified", "completed", "rejected", "void")
CODE_LENGTH = 8
FRIEND_REWARD_ID = "referral-friend"
DUPLICATE_DAYS = 30  # an advocate's referrals this recent are compared with a new friend's email
LINK_PARAMETER = "cb_ref"

_CODE_TRIES = 8
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")
_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
_OPEN = ("invited", "blocked")  # statuses still waiting for the friend's first order
_GONE = "void: the friend's order is no longer in the store"
# When an order was placed, as the ledger dates it (``ledger.plan_order``).
_PLACED = func.coalesce(Order.processed_at, Order.source_created_at)


def _placed(order: Order) -> dt.datetime:
    return order.processed_at or order.source_created_at


# --- codes and links -----------------------------------------------------------------------


def code_for(session: Session, member: LoyaltyMember) -> str:
    """Return the member's referral code, choosing one on first use (unique within the shop).

    The code is set only where the member has none yet, so two requests at once agree on one
    code; a code another member holds already is drawn again.
    """
    if member.referral_code:
        return member.referral_code
    if member.id is None:
        session.flush()
    for _ in range(_CODE_TRIES):
        code = "".join(secrets.choice(rewards._CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with session.begin_nested():
                session.execute(
                    update(LoyaltyMember)
                    .where(LoyaltyMember.id == member.id, LoyaltyMember.referral_code.is_(None))
                    .values(referral_code=code).execution_options(synchronize_session=False))
        except IntegrityError:
            continue  # another member of the shop has this code
        session.refresh(member, ["referral_code"])
        if member.referral_code:
            return member.referral_code
    raise ledger.LedgerError("no free referral code was found, try again", status=503)


def link(shop: Shop, code: str) -> str:
    """The shop's storefront address that credits ``code``'s member with the visit.

    A shop named by its host gets https; a shop named by its site address (a store URL the
    merchant typed, kept normalised) keeps that address's scheme and path.
    """
    site = shop.domain.rstrip("/")
    if "://" not in site:
        site = f"https://{site}"
    return f"{site}/?{urlencode({LINK_PARAMETER: code})}"


# --- emails --------------------------------------------------------------------------------


def normal_email(raw: Any) -> str:
    """The email as referrals keep it (trimmed, lower case); refused (400) when it is not one."""
    if not isinstance(raw, str):
        raise ledger.LedgerError("give the friend's email address", status=400)
    email = raw.strip().lower()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise ledger.LedgerError("the friend's email address is not valid", status=400)
    return email


def mailbox(email: str) -> str:
    """The mailbox an address delivers to: without a +tag, and for Gmail without dots.

    ``Ana.Lee+shop@googlemail.com`` and ``analee@gmail.com`` are one mailbox.
    """
    local, _, domain = email.strip().lower().rpartition("@")
    if domain in _GMAIL_DOMAINS:
        domain = _GMAIL_DOMAINS[0]
    local = local.split("+", 1)[0]
    if domain == _GMAIL_DOMAINS[0]:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def within_one_edit(first: str, second: str) -> bool:
    """Whether two texts are at most one edit apart (Damerau–Levenshtein distance ≤ 1).

    An edit is inserting, deleting or replacing a character, or swapping two neighbours.
    """
    if first == second:
        return True
    if abs(len(first) - len(second)) > 1:
        return False
    start = 0
    while start < min(len(first), len(second)) and first[start] == second[start]:
        start += 1
    first, second = first[start:], second[start:]
    end = 0
    while end < min(len(first), len(second)) and first[-1 - end] == second[-1 - end]:
        end += 1
    first, second = first[:len(first) - end], second[:len(second) - end]
    if len(first) <= 1 and len(second) <= 1:
        return True  # one character replaced, inserted or deleted
    return len(first) == len(second) == 2 and first == second[::-1]


def _near(first: str, second: str) -> bool:
    """Same domain and local parts at most one edit apart, comparing mailboxes."""
    first_local, _, first_domain = mailbox(first).rpartition("@")
    second_local, _, second_domain = mailbox(second).rpartition("@")
    return first_domain == second_domain and within_one_edit(first_local, second_local)


# --- the friend arrives --------------------------------------------------------------------


def invite(session: Session, shop_id: int, code: Any, friend_email: Any, *, ip: str | None,
           now: dt.datetime | None = None) -> Referral:
    """Record the friend who came with ``code`` and gave an email; the caller commits.

    One referral per friend email in a shop: a repeat returns the first. A referral the fraud
    checks pass is ``invited`` and its ``friend_redemption_id`` names the friend's welcome code,
    which the caller queues after the commit (``jobs.loyalty.request_code``); otherwise it is
    ``blocked`` with its reasons.
    """
    now = now or utcnow()
    advocate = _advocate(session, shop_id, code)
    email = normal_email(friend_email)
    existing = _by_email(session, shop_id, email)
    if existing is not None:
        return existing
    program = programs.ensure(session, shop_id)
    reasons = screen(session, shop_id, advocate, email, ip=ip, now=now, program=program)
    referral = Referral(shop_id=shop_id, advocate_id=advocate.id, friend_email=email, ip=ip[:64] if ip else None,
                        status="blocked" if reasons else "invited", reasons=reasons, created_at=now)
    try:
        with session.begin_nested():
            session.add(referral)
            session.flush()
    except IntegrityError:
        # The same friend twice at once: the first row stands.
        found = _by_email(session, shop_id, email)
        if found is None:
            raise
        return found
    if not reasons:
        _grant_friend(session, referral, program)
    log.info("shop=%s referral=%s advocate=%s %s (%d reasons)", shop_id, referral.id, advocate.id,
             referral.status, len(reasons))
    return referral


def _advocate(session: Session, shop_id: int, code: Any) -> LoyaltyMember:
    normal = code.strip().upper() if isinstance(code, str) else ""
    member = session.execute(
        select(LoyaltyMember).where(LoyaltyMember.shop_id == shop_id, LoyaltyMember.referral_code == normal)
    ).scalar_one_or_none() if normal else None
    if member is None:
        raise ledger.LedgerError("unknown referral code", status=404)
    return member


def _by_email(session: Session, shop_id: int, email: str) -> Referral | None:
    return session.execute(
        select(Referral).where(Referral.shop_id == shop_id, Referral.friend_email == email)
    ).scalar_one_or_none()


def _grant_friend(session: Session, referral: Referral, program: programs.Program) -> None:
    """Give the friend the program's welcome code (once per referral)."""
    customer_id = session.execute(
        select(Customer.external_id).where(Customer.shop_id == referral.shop_id,
                                           func.lower(Customer.email) == referral.friend_email,
                                           Customer.deleted_at.is_(None), Customer.redacted_at.is_(None))
        .order_by(Customer.id).limit(1)
    ).scalar_one_or_none()
    friend = ledger.member_for(session, referral.shop_id, customer_external_id=customer_id,
                               email=referral.friend_email)
    if friend is None:  # never: the email is there
        raise ledger.LedgerError("the friend has no email", status=400)
    redemption = rewards.grant(session, referral.shop_id, friend.id, reward=dict(program["referral_friend_reward"]),
                               key=f"referral:{referral.id}", reward_id=FRIEND_REWARD_ID)
    referral.friend_member_id, referral.friend_redemption_id = friend.id, redemption.id


# --- fraud checks --------------------------------------------------------------------------


def screen(session: Session, shop_id: int, advocate: LoyaltyMember, email: str, *, ip: str | None,
           now: dt.datetime, program: programs.Program) -> list[str]:
    """Why a new referral of ``email`` by ``advocate`` looks like fraud (empty: it does not)."""
    own = _advocate_emails(session, shop_id, advocate)
    reasons = _self_referral(advocate, own, email)
    reasons += _near_duplicates(session, shop_id, advocate, own, email, now)
    reasons += _busy_address(session, shop_id, ip, now, program)
    reasons += _not_new(session, shop_id, email, now)
    return reasons


def _advocate_emails(session: Session, shop_id: int, advocate: LoyaltyMember) -> list[str]:
    """The advocate's emails: the member's, then their customer's in the mirror (lower case)."""
    found = [advocate.email.lower()] if advocate.email else []
    if advocate.customer_external_id is not None:
        customer_email = session.execute(
            select(Customer.email).where(Customer.shop_id == shop_id,
                                         Customer.external_id == advocate.customer_external_id)
        ).scalar_one_or_none()
        if customer_email and customer_email.lower() not in found:
            found.append(customer_email.lower())
    return found


def _self_referral(advocate: LoyaltyMember, own: list[str], email: str) -> list[str]:
    if advocate.email and email == advocate.email.lower():
        return ["self-referral: the friend's email is the advocate's own email"]
    if email in own:
        return ["self-referral: the friend's email belongs to the advocate's customer account"]
    if any(mailbox(email) == mailbox(mine) for mine in own):
        return ["self-referral: the friend's email reaches the advocate's own mailbox (dots or a +tag added)"]
    return []


def _near_duplicates(session: Session, shop_id: int, advocate: LoyaltyMember, own: list[str], email: str,
                     now: dt.datetime) -> list[str]:
    reasons = []
    if any(mailbox(email) != mailbox(mine) and _near(email, mine) for mine in own):
        reasons.append("near-duplicate email: the friend's email differs from the advocate's by one character")
    recent = session.execute(
        select(Referral.id, Referral.friend_email).where(
            Referral.shop_id == shop_id, Referral.advocate_id == advocate.id,
            Referral.created_at > now - dt.timedelta(days=DUPLICATE_DAYS), Referral.created_at <= now)
        .order_by(Referral.id)
    ).all()
    similar = [str(referral_id) for referral_id, other in recent if _near(email, other)]
    if similar:
        reasons.append("near-duplicate email: the friend's email is within one character of another friend "
                       f"this advocate referred in the last {DUPLICATE_DAYS} days (referral {', '.join(similar)})")
    return reasons


def _busy_address(session: Session, shop_id: int, ip: str | None, now: dt.datetime,
                  program: programs.Program) -> list[str]:
    if not ip:
        return []
    limit, hours = program["referral_ip_limit"], program["referral_ip_hours"]
    earlier = session.execute(
        select(func.count(Referral.id)).where(
            Referral.shop_id == shop_id, Referral.ip == ip[:64],
            Referral.created_at > now - dt.timedelta(hours=hours), Referral.created_at <= now)
    ).scalar_one()
    if earlier >= limit:  # this one would be one more than the limit
        return [f"too many referrals from one IP address: more than {limit} within {hours} hours"]
    return []


def _not_new(session: Session, shop_id: int, email: str, now: dt.datetime) -> list[str]:
    """Whether the friend already bought here: the store's count, the mirror's orders, the ledger."""
    customers = session.execute(
        select(Customer.external_id, Customer.order_count).where(Customer.shop_id == shop_id,
                                                                 func.lower(Customer.email) == email)
    ).all()
    if any((count or 0) > 0 for _, count in customers):
        return ["not a new customer: the store already counts orders for the friend's email"]
    match: ColumnElement[bool] = func.lower(Order.email) == email
    if customers:
        match = or_(match, among(session, Order.customer_external_id, [external_id for external_id, _ in customers]))
    ordered = session.execute(
        select(Order.id).where(Order.shop_id == shop_id, match, _PLACED < now, Order.is_test.is_(False),
                               Order.deleted_at.is_(None)).limit(1)
    ).first()
    if ordered is not None:
        return ["not a new customer: the friend placed an order before the referral"]
    earned = session.execute(
        select(LedgerEntry.id).join(LoyaltyMember, LoyaltyMember.id == LedgerEntry.member_id)
        .where(LoyaltyMember.shop_id == shop_id, LoyaltyMember.email == email, LedgerEntry.cause == "order")
        .limit(1)
    ).first()
    if earned is not None:
        return ["not a new customer: the friend's loyalty account already earned points on orders"]
    return []


# --- the friend's first order --------------------------------------------------------------


def on_orders(session: Session, shop_id: int, orders: Sequence[Order]) -> int:
    """Qualify referrals whose friend placed a first order in this batch of mirror orders.

    Called by the accrual with each batch (after its ledger entries). A friend's order is
    matched by its email or customer; the first one that earns (paid, not a test, not
    cancelled) qualifies the referral, unless the advocate's own account placed it or it ships
    to an address of the advocate's orders; an order from before the referral blocks it (not a
    new customer). A blocked referral records its first order too, for the merchant's decision.
    Seeing a batch again changes nothing. Returns how many referrals changed.
    """
    waiting = _waiting(session, shop_id, orders)
    if not waiting:
        return 0
    from app.loyalty.accrual import started_at  # the accrual calls this module: import at use

    program = programs.ensure(session, shop_id)
    start = started_at(session, shop_id)
    return sum(_first_order(session, referral, theirs, program, start) for referral, theirs in waiting)


def _waiting(session: Session, shop_id: int, orders: Sequence[Order]) -> list[tuple[Referral, list[Order]]]:
    """Referrals still waiting for a first order, each with its friend's orders in the batch."""
    if not orders or session.execute(  # most batches (a backfill) meet a shop with none waiting
            select(Referral.id).where(Referral.shop_id == shop_id, Referral.status.in_(_OPEN),
                                      Referral.order_external_id.is_(None)).limit(1)).first() is None:
        return []
    customer_ids = sorted({o.customer_external_id for o in orders if o.customer_external_id is not None})
    customer_emails: dict[str, str] = {}
    if customer_ids:
        customer_emails = {external_id: email.strip().lower() for external_id, email in session.execute(
            select(Customer.external_id, Customer.email).where(
                Customer.shop_id == shop_id, among(session, Customer.external_id, customer_ids))
        ).all() if email}
    emails_of = {o.id: {e for e in ((o.email or "").strip().lower(), customer_emails.get(o.customer_external_id or ""))
                        if e} for o in orders}
    emails = sorted(set().union(*emails_of.values()))
    matches: list[ColumnElement[bool]] = []
    if emails:
        matches.append(among(session, Referral.friend_email, emails))
    if customer_ids:
        matches.append(Referral.friend_member_id.in_(
            select(LoyaltyMember.id).where(LoyaltyMember.shop_id == shop_id,
                                           among(session, LoyaltyMember.customer_external_id, customer_ids))))
    if not matches:
        return []
    referrals = session.execute(
        select(Referral).where(Referral.shop_id == shop_id, Referral.status.in_(_OPEN),
                               Referral.order_external_id.is_(None), or_(*matches))
        .order_by(Referral.id)
    ).scalars().all()
    friend_ids = sorted({r.friend_member_id for r in referrals if r.friend_member_id is not None})
    friend_customer: dict[int, str | None] = {}
    if friend_ids:
        friend_customer = dict(session.execute(
            select(LoyaltyMember.id, LoyaltyMember.customer_external_id).where(LoyaltyMember.id.in_(friend_ids))
        ).all())
    waiting = []
    for referral in referrals:
        customer = friend_customer.get(referral.friend_member_id or 0)
        theirs = [o for o in orders if referral.friend_email in emails_of[o.id]
                  or (customer is not None and o.customer_external_id == customer)]
        if theirs:
            waiting.append((referral, theirs))
    return waiting


def _first_order(session: Session, referral: Referral, orders: list[Order], program: programs.Program,
                 start: dt.datetime) -> bool:
    created = referral.created_at.replace(microsecond=0)  # platforms give times to the second
    reasons: list[str] = []
    first: Order | None = None
    for order in sorted(orders, key=lambda o: (_placed(o), o.id)):
        if order.is_test or order.deleted_at is not None:
            continue
        if _placed(order) < created:
            reasons.append(f"not a new customer: the friend's order {order.number} was placed before the referral")
        elif first is None and ledger.earns(order, start):
            first = order
    if first is not None:
        reasons += _order_reasons(session, referral, first)
        referral.order_external_id = first.external_id
        referral.qualifies_at = _placed(first) + dt.timedelta(days=program["pending_days"])
    new = [reason for reason in reasons if reason not in referral.reasons]
    if new:
        referral.reasons = [*referral.reasons, *new]
    before = referral.status
    if referral.status == "invited" and reasons:
        referral.status = "blocked"
    elif referral.status == "invited" and first is not None:
        referral.status = "qualified"
    if first is None and not new:
        return False
    log.info("shop=%s referral=%s first order: %s -> %s", referral.shop_id, referral.id, before, referral.status)
    return True


def _order_reasons(session: Session, referral: Referral, order: Order) -> list[str]:
    """The checks at the friend's first order: the advocate's own account or address."""
    advocate = session.get(LoyaltyMember, referral.advocate_id)
    if advocate is None:
        return []
    reasons = []
    if advocate.customer_external_id is not None and order.customer_external_id == advocate.customer_external_id:
        reasons.append(f"self-referral: the friend's order {order.number} was placed by the advocate's customer account")
    if order.shipping_address_key:
        own = _advocate_emails(session, referral.shop_id, advocate)
        whose: list[ColumnElement[bool]] = []
        if advocate.customer_external_id is not None:
            whose.append(Order.customer_external_id == advocate.customer_external_id)
        if own:
            whose.append(func.lower(Order.email).in_(own))
        if whose and session.execute(
            select(Order.id).where(Order.shop_id == referral.shop_id,
                                   Order.shipping_address_key == order.shipping_address_key,
                                   Order.external_id != order.external_id, or_(*whose)).limit(1)
        ).first() is not None:
            reasons.append(f"same shipping address as the advocate (the friend's order {order.number})")
    return reasons


# --- the advocate's points -----------------------------------------------------------------


def complete_due(session: Session, shop_id: int, now: dt.datetime | None = None, *, limit: int = 500) -> int:
    """Settle qualified referrals whose friend's order cleared its pending period; the caller commits.

    An order cancelled or refunded in full voids the referral (with the reason); otherwise the
    advocate earns ``referral_advocate_points`` and a ``referral_completed`` event is written,
    both keyed on the referral. Up to ``limit`` at a time; returns how many were completed.
    """
    now = now or utcnow()
    due = session.execute(
        select(Referral).where(Referral.shop_id == shop_id, Referral.status == "qualified",
                               Referral.qualifies_at <= now)
        .order_by(Referral.qualifies_at, Referral.id).limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: a second worker takes other rows
    ).scalars().all()
    if not due:
        return 0
    program = programs.ensure(session, shop_id)
    order_ids = sorted({r.order_external_id for r in due if r.order_external_id is not None})
    orders = {o.external_id: o for o in session.execute(
        select(Order).where(Order.shop_id == shop_id, among(session, Order.external_id, order_ids))).scalars()}
    entries = ledger.order_entries(session, shop_id, order_ids)
    refunds = ledger.order_refunds(session, shop_id, order_ids)
    completed = 0
    for referral in due:
        order_id = referral.order_external_id or ""
        order = orders.get(order_id)
        undone = _undone(order, entries.get(order_id, []), refunds.get(order_id, []))
        if order is None or undone is not None:
            referral.status = "void"
            referral.reasons = [*referral.reasons, undone or _GONE]
            log.info("shop=%s referral=%s void: %s", shop_id, referral.id, undone)
            continue
        points = program["referral_advocate_points"]
        ledger.award(session, shop_id, referral.advocate_id, points, cause="referral", key=str(referral.id),
                     program=program, reason=f"a friend you referred placed their first order ({order.number})")
        referral.status, referral.completed_at = "completed", now
        # no email in the event: flows address the advocate, and erasing the friend stays simple
        events.emit(session, [events.event(shop_id, events.REFERRAL_COMPLETED, str(referral.id),
                                           referral.advocate_id, referral_id=referral.id, points=points)])
        completed += 1
        log.info("shop=%s referral=%s completed: advocate=%s +%s points", shop_id, referral.id,
                 referral.advocate_id, points)
    advocates = sorted({r.advocate_id for r in due if r.status == "completed"})
    if advocates:  # the award counts toward tiers and challenges
        from app.loyalty import challenges, tiers

        challenges.evaluate(session, shop_id, advocates, program=program)
        tiers.evaluate(session, shop_id, advocates, program=program)
    return completed


def _undone(order: Order | None, entries: Sequence[ledger.EntryView], refunds: Sequence[Any]) -> str | None:
    """Why a qualifying order no longer counts: gone, cancelled, or refunded in full."""
    if order is None or order.deleted_at is not None:
        return _GONE
    if order.cancelled_at is not None:
        return "void: the friend's order was cancelled"
    if entries:
        if sum(entry.points for entry in entries) <= 0:
            return "void: the friend's order was refunded in full"
    elif order.total_price > 0 and sum(refund.amount for refund in refunds) >= order.total_price:
        return "void: the friend's order was refunded in full"
    return None


# --- the merchant --------------------------------------------------------------------------


def find(session: Session, shop_id: int, referral_id: int, *, lock: bool = False) -> Referral:
    """The shop's referral with this id; another shop's is unknown (404)."""
    if not 0 < referral_id < 2**63:
        raise ledger.LedgerError(f"no referral {referral_id}", status=404)
    statement = select(Referral).where(Referral.shop_id == shop_id, Referral.id == referral_id)
    referral = session.execute(statement.with_for_update() if lock else statement).scalar_one_or_none()
    if referral is None:
        raise ledger.LedgerError(f"no referral {referral_id}", status=404)
    return referral


def decide(session: Session, shop_id: int, referral_id: int, *, approve: bool, actor: str,
           reason: str | None) -> Referral:
    """Approve or reject a blocked referral; the caller commits (then queues a granted code).

    Approved, it goes on as if it had passed: ``qualified`` when the friend's first order is
    known, else ``invited`` with the friend's welcome code granted (once). The reasons it was
    blocked stay; the decision is added to them.
    """
    if not actor:
        raise ledger.LedgerError("a decision needs an actor", status=400)
    referral = find(session, shop_id, referral_id, lock=True)
    if referral.status != "blocked":
        raise ledger.LedgerError(f"only a blocked referral can be approved or rejected; this one is {referral.status}",
                                 status=409)
    note = f"{'approved' if approve else 'rejected'} by {actor}"
    if reason and reason.strip():
        note += f": {reason.strip()}"
    if not approve:
        referral.status = "rejected"
    elif referral.order_external_id is not None:
        referral.status = "qualified"
    else:
        referral.status = "invited"
        # an erased friend (their email replaced) gets no code: there is nobody to give it to
        if referral.friend_redemption_id is None and not referral.friend_email.startswith("redacted-"):
            _grant_friend(session, referral, programs.ensure(session, shop_id))
    referral.reasons = [*referral.reasons, note]
    referral.decided_by, referral.decided_at = actor[:255], utcnow()
    log.info("shop=%s referral=%s decided: %s", shop_id, referral.id, referral.status)
    return referral


def listing(session: Session, shop_id: int, status: str | None = None, *, limit: int = 50,
            before_id: int | None = None) -> Sequence[Referral]:
    """The shop's referrals, newest first, optionally of one status; page on with ``before_id``."""
    if status is not None and status not in STATUSES:
        raise ledger.LedgerError(f"status must be one of {', '.join(STATUSES)}", status=400)
    if not 1 <= limit <= 100:
        raise ledger.LedgerError("limit must be from 1 to 100", status=400)
    statement = select(Referral).where(Referral.shop_id == shop_id)
    if status is not None:
        statement = statement.where(Referral.status == status)
    if before_id is not None:
        statement = statement.where(Referral.id < before_id)
    return session.execute(statement.order_by(Referral.id.desc()).limit(limit)).scalars().all()
