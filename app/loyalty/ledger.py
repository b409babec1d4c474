"""The points ledger: append-only entries, each with its cause; a balance is a sum.

Every entry carries a ``cause_key`` unique within the shop, and entries are inserted with
``ON CONFLICT DO NOTHING``: whatever is replayed (a webhook twice, a job retried, an order seen
again after an update) moves points once. Reversals are computed from the order's whole refund
history in a fixed order, so they come out the same whatever order the events arrive in, and
they never take back more than the order earned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.loyalty.program import Program
from app.store import locking
from app.store.models import LedgerEntry, LoyaltyMember, LoyaltyProgram, Order, Refund
from app.store.types import utcnow
from app.store.upsert import among, insert_ignore

LEDGER: Table = LedgerEntry.__table__  # type: ignore[assignment]

# Financial states in which an order has not (or no longer) been paid: it earns nothing.
_UNPAID = frozenset({"pending", "voided", "failed", "authorized", "expired"})


# The most points one manual adjustment may add or take.
MAX_ADJUSTMENT = 10_000_000


class LedgerError(Exception):
    """A movement was refused (e.g. not enough points); ``status`` suits an HTTP answer."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


class ShortBalanceError(LedgerError):
    """A manual deduction larger than the points available: ``available`` (never below 0) says how many."""

    def __init__(self, available: int):
        super().__init__(f"this would take the balance below zero: {available} points available", status=422)
        self.available = available


@dataclasses.dataclass(frozen=True)
class Balance:
    """A member's points at a moment: ``available`` may be negative after a refund of spent points."""

    available: int
    pending: int

    @property
    def spendable(self) -> int:
        return max(0, self.available)

    @property
    def debt(self) -> int:
        """Points still owed from reversals: deducted from what is earned next."""
        return max(0, -self.available)


# --- members -------------------------------------------------------------------------------


def member_for(session: Session, shop_id: int, *, customer_external_id: str | None,
               email: str | None) -> LoyaltyMember | None:
    """Return the member for a customer (or, for a guest order, for the email), creating it."""
    if customer_external_id is None and not email:
        return None
    email = email.lower() if email else None
    where: tuple[ColumnElement[bool], ...]
    if customer_external_id is not None:
        where = (LoyaltyMember.shop_id == shop_id, LoyaltyMember.customer_external_id == customer_external_id)
    else:
        where = (LoyaltyMember.shop_id == shop_id, LoyaltyMember.customer_external_id.is_(None),
                 LoyaltyMember.email == email)
    member = session.execute(select(LoyaltyMember).where(*where)).scalar_one_or_none()
    if member is not None:
        return member
    # Two workers may meet the same new shopper: the unique keys let one row win.
    try:
        with session.begin_nested():
            member = LoyaltyMember(shop_id=shop_id, customer_external_id=customer_external_id, email=email,
                                   created_at=utcnow())
            session.add(member)
            session.flush()
        return member
    except IntegrityError:
        return session.execute(select(LoyaltyMember).where(*where)).scalar_one()


# --- entries -------------------------------------------------------------------------------


def add_entry(session: Session, *, shop_id: int, member_id: int, points: int, cause: str, cause_key: str,
              program_version: int, available_at: dt.datetime, order_external_id: str | None = None,
              actor: str | None = None, reason: str | None = None, expires_at: dt.datetime | None = None) -> bool:
    """Append one entry unless its cause already moved points; return whether it was added."""
    row = _row(shop_id, member_id, points, cause, cause_key, program_version, available_at, order_external_id,
               reason=reason, expires_at=expires_at)
    row["actor"] = actor
    return insert_entries(session, [row]) == 1


def balances(session: Session, member_ids: Sequence[int], at: dt.datetime | None = None) -> dict[int, Balance]:
    """The balances of many members at once."""
    at = at or utcnow()
    found = {member_id: Balance(0, 0) for member_id in member_ids}
    if not member_ids:
        return found
    for member_id, available, pending in session.execute(
        select(
            LedgerEntry.member_id,
            func.coalesce(func.sum(LedgerEntry.points).filter(LedgerEntry.available_at <= at), 0),
            func.coalesce(func.sum(LedgerEntry.points).filter(LedgerEntry.available_at > at), 0),
        ).where(LedgerEntry.member_id.in_(member_ids), LedgerEntry.created_at <= at)
        .group_by(LedgerEntry.member_id)
    ):
        found[member_id] = Balance(int(available), int(pending))
    return found


def balance(session: Session, member_id: int, at: dt.datetime | None = None) -> Balance:
    """Sum a member's entries: spendable ones and those still in their pending period."""
    return balances(session, [member_id], at)[member_id]


def history(session: Session, member_id: int, limit: int = 100) -> Sequence[LedgerEntry]:
    return session.execute(
        select(LedgerEntry).where(LedgerEntry.member_id == member_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit)
    ).scalars().all()


# --- orders --------------------------------------------------------------------------------


def eligible_amount(order: Order, program: Program) -> Decimal:
    """What an order earns on: its lines after discounts, plus what the program counts too."""
    amount = order.subtotal_price
    if not program["exclude_discounts"]:
        amount += order.total_discounts
    if not program["exclude_taxes"]:
        amount += order.total_tax
    if not program["exclude_shipping"]:
        amount += max(order.total_price - order.subtotal_price - order.total_tax, Decimal("0"))
    if program["exclude_gift_cards"]:
        amount -= order.gift_card_amount or Decimal("0")  # paid with a gift card: earned when it was bought
    return max(amount, Decimal("0"))


def order_points(order: Order, program: Program, multiplier: Decimal = Decimal("1")) -> int:
    """Points an order earns, rounded down."""
    raw = eligible_amount(order, program) * program["points_per_unit"] * multiplier
    return int(raw.to_integral_value(rounding=ROUND_DOWN))


@dataclasses.dataclass(frozen=True)
class EntryView:
    """What the order rules need to know of an entry already in the ledger (or planned)."""

    cause_key: str
    points: int
    member_id: int
    available_at: dt.datetime
    program_version: int


def order_entries(session: Session, shop_id: int, order_ids: Sequence[str]) -> dict[str, list[EntryView]]:
    """The entries of many orders at once, by order id."""
    found: dict[str, list[EntryView]] = {order_id: [] for order_id in order_ids}
    if not order_ids:
        return found
    rows = session.execute(
        select(LedgerEntry.order_external_id, LedgerEntry.cause_key, LedgerEntry.points, LedgerEntry.member_id,
               LedgerEntry.available_at, LedgerEntry.program_version)
        .where(LedgerEntry.shop_id == shop_id, among(session, LedgerEntry.order_external_id, list(order_ids)))
        .order_by(LedgerEntry.id)
    ).all()
    for order_id, cause_key, points, member_id, available_at, version in rows:
        found[str(order_id)].append(EntryView(cause_key, points, member_id, available_at, version))
    return found


def order_refunds(session: Session, shop_id: int, order_ids: Sequence[str]) -> dict[str, list[Refund]]:
    """The refunds of many orders at once, by order id, each list in time order."""
    found: dict[str, list[Refund]] = {order_id: [] for order_id in order_ids}
    if not order_ids:
        return found
    for refund in session.execute(
        select(Refund).where(Refund.shop_id == shop_id, among(session, Refund.order_external_id, list(order_ids)))
        .order_by(Refund.source_created_at, Refund.id)
    ).scalars():
        found[refund.order_external_id].append(refund)
    return found


def _award_key(order_external_id: str) -> str:
    return f"order:{order_external_id}"


def _award(entries: Sequence[EntryView], order_external_id: str) -> EntryView | None:
    return next((e for e in entries if e.cause_key == _award_key(order_external_id)), None)


def _holder(entries: Sequence[EntryView], award: EntryView) -> int:
    """The member who holds an order's points now: its earner, or who claimed them from a guest."""
    claimed = [e for e in entries if e.cause_key.startswith("claim:") and e.cause_key.endswith(":in")]
    return claimed[-1].member_id if claimed else award.member_id


def earns(order: Order, started_at: dt.datetime) -> bool:
    """Whether an order earns at all: paid, not a test, placed since the program began."""
    placed = order.processed_at or order.source_created_at
    # Platforms give times to the second: an order in the second the program began counts.
    return not (order.is_test or placed < started_at.replace(microsecond=0)
                or (order.financial_status or "") in _UNPAID
                or order.cancelled_at is not None or order.deleted_at is not None)


def plan_order(order: Order, program: Program, entries: list[EntryView], member_id: int | None, *,
               started_at: dt.datetime, multiplier: Decimal = Decimal("1")) -> list[dict[str, Any]]:
    """The entries an order still owes the ledger: its award, or the reversal of a cancellation.

    ``entries`` (the order's entries so far) is extended with what is planned.
    """
    planned: list[dict[str, Any]] = []
    award = _award(entries, order.external_id)
    if award is None:
        if program["exclude_gift_cards"] and not order.gift_card_amount_known:
            return planned  # priced when the full read of the order says what gift cards paid
        points = order_points(order, program, multiplier)
        if member_id is None or points <= 0 or not earns(order, started_at):
            return planned
        placed = order.processed_at or order.source_created_at
        available_at = placed + dt.timedelta(days=program["pending_days"])
        reason = None if multiplier == 1 else f"tier multiplier ×{multiplier}"
        row = _row(order.shop_id, member_id, points, "order", _award_key(order.external_id), program.version,
                   available_at, order.external_id, reason=reason, expires_at=lot_expiry(program, available_at))
        planned.append(row)
        award = _view(row)
        entries.append(award)
    if order.cancelled_at is not None or order.deleted_at is not None:
        net = sum(e.points for e in entries)
        key = f"order:{order.external_id}:cancelled"
        if net > 0 and all(e.cause_key != key for e in entries):
            row = _row(order.shop_id, _holder(entries, award), -net, "cancellation", key, award.program_version,
                       _reversal_available_at(award), order.external_id)
            planned.append(row)
            entries.append(_view(row))
    return planned


def plan_refunds(order: Order, entries: list[EntryView], refunds: Sequence[Refund]) -> list[dict[str, Any]]:
    """The reversals an order's refunds still owe: in proportion to what was refunded.

    Each refund's share is the change in ``floor(earned × refunded so far / order total)``
    with refunds taken in a fixed order (time, then id): the shares are the same however the
    refunds arrive, a full refund takes back exactly what was earned, and nothing takes back
    more than the order still holds (a cancellation may have reversed it already).
    """
    award = _award(entries, order.external_id)
    if award is None or order.total_price <= 0:
        return []
    done = {e.cause_key for e in entries}
    net = sum(e.points for e in entries)
    refunded, taken_so_far = Decimal("0"), 0
    planned: list[dict[str, Any]] = []
    for refund in refunds:
        refunded += refund.amount
        share = min(refunded / order.total_price, Decimal("1"))
        taken = int((award.points * share).to_integral_value(rounding=ROUND_DOWN))
        points, taken_so_far = taken - taken_so_far, taken
        key = f"refund:{refund.external_id}"
        if key in done or points <= 0:
            continue
        points = min(points, net)  # never below what the order still holds
        if points > 0:
            row = _row(order.shop_id, _holder(entries, award), -points, "refund", key, award.program_version,
                       _reversal_available_at(award), order.external_id,
                       reason=f"refund of {refund.amount} {refund.currency}")
            planned.append(row)
            entries.append(_view(row))
            net -= points
    return planned


def _row(shop_id: int, member_id: int, points: int, cause: str, cause_key: str, program_version: int,
         available_at: dt.datetime, order_external_id: str | None, reason: str | None = None,
         expires_at: dt.datetime | None = None) -> dict[str, Any]:
    return {"shop_id": shop_id, "member_id": member_id, "points": points, "cause": cause,
            "cause_key": cause_key[:191], "order_external_id": order_external_id,
            "program_version": program_version, "available_at": available_at, "actor": None,
            "reason": reason, "created_at": utcnow(), "expires_at": expires_at}


def lot_expiry(program: Program, available_at: dt.datetime) -> dt.datetime | None:
    """When a lot of earned points expires: ``expiry_days`` after it became spendable."""
    days = program["expiry_days"]
    return None if days is None else available_at + dt.timedelta(days=days)


def _view(row: dict[str, Any]) -> EntryView:
    return EntryView(row["cause_key"], row["points"], row["member_id"], row["available_at"],
                     row["program_version"])


def insert_entries(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Append planned entries in one statement; those whose cause already moved points are skipped."""
    rows = [row for row in rows if row["points"] != 0]
    return len(insert_ignore(session, LEDGER, rows, conflict=("shop_id", "cause_key"), returning=("id",)))


def _reversal_available_at(award: EntryView) -> dt.datetime:
    """A reversal of still-pending points takes them from pending; otherwise from the balance now."""
    now = utcnow()
    return award.available_at if award.available_at > now else now


def claim_guest(session: Session, shop_id: int, guest: LoyaltyMember, member: LoyaltyMember) -> int:
    """Move what is left of a guest's points (earned on orders with this email) to the customer who has it now.

    Each guest lot with points left moves as a pair — out of the guest lot, into a new lot of the
    member with the same availability and end — so pending points stay pending, an order's net
    stays the same, and later reversals of those orders come out of the member's lot. Once per
    lot; returns the points moved.
    """
    from app.loyalty.lots import remaining

    if guest.id == member.id or guest.customer_external_id is not None:
        return 0
    lock_members(session, [guest.id, member.id])  # an expiry of the guest's lots cannot run meanwhile
    entries = session.execute(select(LedgerEntry).where(LedgerEntry.member_id == guest.id)
                              .order_by(LedgerEntry.id)).scalars().all()
    versions = {entry.id: entry.program_version for entry in entries}
    rows = []
    for lot in remaining(entries).values():
        if lot.left <= 0:
            continue
        for member_id, points, side in ((guest.id, -lot.left, "out"), (member.id, lot.left, "in")):
            rows.append(_row(shop_id, member_id, points, "claim", f"claim:{lot.entry_id}:{side}",
                             versions[lot.entry_id], lot.available_at, lot.order_external_id,
                             reason="points earned as a guest before the account",
                             expires_at=lot.expires_at if side == "in" else None))
    moved = insert_entries(session, rows) and sum(row["points"] for row in rows if row["member_id"] == member.id)
    if guest.claimed_by_id is None:
        guest.claimed_by_id, guest.claimed_at = member.id, utcnow()
    return int(moved or 0)


def guests_by_email(session: Session, shop_id: int, emails: Sequence[str]) -> dict[str, LoyaltyMember]:
    """Unclaimed guest members with these emails, by email."""
    if not emails:
        return {}
    return {guest.email: guest for guest in session.execute(
        select(LoyaltyMember).where(LoyaltyMember.shop_id == shop_id, LoyaltyMember.customer_external_id.is_(None),
                                    LoyaltyMember.claimed_by_id.is_(None),
                                    among(session, LoyaltyMember.email, list(emails)))
    ).scalars() if guest.email}


def members_for_orders(session: Session, shop_id: int, orders: Sequence[Order]) -> dict[str, int]:
    """Member ids for the customers of many orders at once (made where missing), by customer id.

    Guests (an email, no customer) are left to ``member_for``: they are few.
    """
    wanted = sorted({o.customer_external_id for o in orders if o.customer_external_id is not None})
    if not wanted:
        return {}
    table = LoyaltyMember.__table__

    def known() -> dict[str, int]:
        return dict(session.execute(
            select(table.c.customer_external_id, table.c.id)
            .where(table.c.shop_id == shop_id, among(session, table.c.customer_external_id, wanted))).all())

    found = known()
    missing = [customer for customer in wanted if customer not in found]
    if missing:
        emails = {o.customer_external_id: (o.email.lower() if o.email else None) for o in orders}
        insert_ignore(session, table, [  # type: ignore[arg-type]
            {"shop_id": shop_id, "customer_external_id": customer, "email": emails.get(customer),
             "created_at": utcnow()} for customer in missing],
            conflict=("shop_id", "customer_external_id"), returning=("id",))
        found = known()
    return found


# --- spending ------------------------------------------------------------------------------


_SHOP_LOCK_SPACE = 0x4C59_0000_0000  # keeps the loyalty's advisory locks apart from others


def lock_shop(session: Session, shop_id: int) -> None:
    """Serialise the shop's multi-member loyalty work (accrual, upkeep) for this transaction.

    Both touch many members and the shop's cursor row; taking this first means they never hold
    those rows in opposite orders. On SQLite, which has one writer at a time, it takes that
    writer's lock before anything is read.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_SHOP_LOCK_SPACE + shop_id)))
    elif dialect == "sqlite":
        _sqlite_write_lock(session)  # the one writer: reads that follow see the last commit


def _sqlite_write_lock(session: Session) -> None:
    """SQLite's write lock, taken before the member's balance is read (``locking.sqlite_write_lock``)."""
    locking.sqlite_write_lock(session, LoyaltyMember.__table__)


def lock_members(session: Session, member_ids: Sequence[int]) -> None:
    """Hold many member rows, in id order (the order every multi-member writer takes them)."""
    if not member_ids:
        return
    if session.get_bind().dialect.name == "sqlite":
        _sqlite_write_lock(session)
        return
    session.execute(select(LoyaltyMember.id).where(LoyaltyMember.id.in_(sorted(member_ids)))
                    .order_by(LoyaltyMember.id).with_for_update())


def _lock_member(session: Session, member_id: int) -> LoyaltyMember:
    """Hold the member row for this transaction: concurrent spends of one member queue here.

    PostgreSQL locks the row (``FOR UPDATE``). SQLite has no row locks: the database's write lock
    is taken first (``_sqlite_write_lock``), so the balance read after it cannot be overtaken by
    another writer.
    """
    if session.get_bind().dialect.name == "sqlite":
        _sqlite_write_lock(session)
    member = session.execute(
        select(LoyaltyMember).where(LoyaltyMember.id == member_id).with_for_update()
    ).scalar_one_or_none()
    if member is None:
        raise LedgerError("no such member", status=404)
    return member


def spend(session: Session, shop_id: int, member_id: int, points: int, *, key: str, program: Program,
          reason: str | None = None) -> LedgerEntry:
    """Spend points once per ``key``; refused when the spendable balance is short.

    On PostgreSQL the member row is locked first, so two spends at once cannot both see the
    same balance; SQLite runs one writer at a time. A replay with the same key returns the
    first spend and moves nothing.
    """
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise LedgerError("points must be a whole number above 0", status=400)
    cause_key = f"redemption:{key}"
    _lock_member(session, member_id)
    existing = session.execute(
        select(LedgerEntry).where(LedgerEntry.shop_id == shop_id, LedgerEntry.cause_key == cause_key)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    from app.loyalty import expiry

    expiry.expire_member(session, shop_id, member_id, program)  # points past their end are gone first
    current = balance(session, member_id)
    if current.spendable < points:
        raise LedgerError(f"not enough points: {current.spendable} spendable, {points} asked")
    add_entry(session, shop_id=shop_id, member_id=member_id, points=-points, cause="redemption",
              cause_key=cause_key, program_version=program.version, available_at=utcnow(), reason=reason)
    return session.execute(
        select(LedgerEntry).where(LedgerEntry.shop_id == shop_id, LedgerEntry.cause_key == cause_key)
    ).scalar_one()


ACTION_CAUSES = ("signup", "birthday", "review", "social", "custom", "referral", "challenge", "tier_entry", "segment")
# What counts as "points earned" toward tiers and challenges: earning less its reversals.
EARNING_CAUSES = ("order", "refund", "cancellation", "claim", "signup", "birthday", "review", "social",
                  "custom", "referral", "challenge", "segment")


def award_row(shop_id: int, member_id: int, points: int, *, cause: str, key: str, program: Program,
              reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """The entry of points for something other than an order (spendable now), keyed ``<cause>:<key>``.

    For callers that award many at once with ``insert_entries``; ``award`` writes one.
    """
    if cause not in ACTION_CAUSES:
        raise LedgerError(f"unknown cause {cause!r}", status=400)
    now = utcnow()
    row = _row(shop_id, member_id, points, cause, f"{cause}:{key}", program.version, now, None, reason=reason,
               expires_at=lot_expiry(program, now))
    row["actor"] = actor
    return row


def award(session: Session, shop_id: int, member_id: int, points: int, *, cause: str, key: str,
          program: Program, reason: str | None = None, actor: str | None = None) -> bool:
    """Award points for something other than an order (spendable now), once per ``key``.

    Returns whether they were added; a key already used moves nothing.
    """
    row = award_row(shop_id, member_id, points, cause=cause, key=key, program=program, reason=reason, actor=actor)
    return points > 0 and insert_entries(session, [row]) == 1


def adjust(session: Session, shop_id: int, member_id: int, points: int, *, key: str, actor: str,
           reason: str, program: Program, below_zero: bool = False) -> bool:
    """A manual adjustment by a merchant: needs who and why; once per ``key``.

    A deduction may not take the available balance below zero (``ShortBalanceError``) unless
    ``below_zero``: the member's row is locked first (as ``spend`` does), so two deductions at
    once cannot both pass. A replay of a key already used moves nothing and is not refused.
    """
    if not actor or not reason or not reason.strip():
        raise LedgerError("a manual adjustment needs an actor and a reason", status=400)
    if not isinstance(points, int) or isinstance(points, bool) or points == 0 or abs(points) > MAX_ADJUSTMENT:
        raise LedgerError(f"points must be a whole number other than 0, at most {MAX_ADJUSTMENT} either way",
                          status=400)
    cause_key = f"adjustment:{key}"
    if points < 0 and not below_zero:
        _lock_member(session, member_id)
        repeated = session.execute(select(LedgerEntry.id).where(
            LedgerEntry.shop_id == shop_id, LedgerEntry.cause_key == cause_key)).first()
        if repeated is None:
            available = balance(session, member_id).available
            if available + points < 0:
                raise ShortBalanceError(max(available, 0))
    now = utcnow()
    return add_entry(session, shop_id=shop_id, member_id=member_id, points=points, cause="adjustment",
                     cause_key=cause_key, program_version=program.version,
                     available_at=now, actor=actor, reason=reason.strip(),
                     expires_at=lot_expiry(program, now) if points > 0 else None)


# --- the shop's books ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Liability:
    points: int
    amount: Decimal  # in the shop's currency, at the rate of the program in force at that date
    at: dt.datetime


def liability(session: Session, shop_id: int, at: dt.datetime | None = None) -> Liability:
    """The points a shop owes its members at a moment (pending included), and their value."""
    at = at or utcnow()
    points = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.points), 0))
        .where(LedgerEntry.shop_id == shop_id, LedgerEntry.created_at <= at)
    ).scalar_one()
    settings: Any = session.execute(
        select(LoyaltyProgram.settings).where(LoyaltyProgram.shop_id == shop_id, LoyaltyProgram.created_at <= at)
        .order_by(LoyaltyProgram.version.desc()).limit(1)
    ).scalar_one_or_none()
    rate = int(settings["points_per_unit_off"]) if settings else 100
    amount = (Decimal(int(points)) / rate).quantize(Decimal("0.01"))
    return Liability(int(points), amount, at)
