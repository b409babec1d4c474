"""What every figure shares: which orders count, who placed them, months in the shop's time zone, money.

* **Orders that count**: not cancelled, not a test, not deleted. An order is placed at its
  ``processed_at`` (the date the store shows on it), else when it was created.
* **Who placed it** (the customer key): the order's customer id; without one, the customer of
  the mirror with the order's email (trimmed, lower case; the lowest customer id when several
  share it); without such a customer, the email itself (a guest counted as one customer per
  address). Orders with neither a customer id nor an email are nobody's: they count as
  revenue where a figure says so (``unidentified``), never as customers.
* **Money** is the shop's currency (``Shop.currency``; without one the currency most of its
  orders are in). Orders in another currency count as orders but not as money, and the figures
  say how many there were. Revenue is order totals (shipping and taxes included) less every
  refund the mirror holds for those orders, in the month of the order, not of the refund.
* **Months** are calendar months in the shop's time zone (``Shop.timezone``, UTC when it has
  none or an unknown one). Their limits are computed here as UTC instants, so a month is the
  same set of orders on PostgreSQL and SQLite, summer time included.

SQLite keeps amounts as text, so sums of money are taken by PostgreSQL in SQL and, on other
databases, in Python over the same narrow projection (one amount per row): ``totals_by``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import CTE, ColumnElement, and_, case, distinct, func, literal, select, text, union_all
from sqlalchemy.orm import Session

from app.store.models import Customer, Order, Refund, Shop

CENT = Decimal("0.01")
ZERO = Decimal("0")
# Bucket numbers of ``bucket``: no value, before the first month (after the last is ``len(months)``).
NOBODY = -2
BEFORE = -1


def tune(session: Session) -> None:
    """Settings for the analytic statements of this transaction (PostgreSQL only).

    The planner cannot estimate joins on an expression (the guests' emails) and overestimates
    them by orders of magnitude; that makes it compile the statement with JIT, which took longer
    than running it (2 of 6.5 s over a million orders). Grouping a shop's orders by customer
    also needs more than the default 4 MB of sort and hash memory not to spill to disk.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def zone(shop: Shop) -> ZoneInfo:
    """The shop's time zone; UTC when it has none or one this machine does not know."""
    try:
        return ZoneInfo(shop.timezone) if shop.timezone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclasses.dataclass(frozen=True)
class Months:
    """Consecutive calendar months: their labels (``2026-03``) and limits (one more than labels, UTC)."""

    labels: list[str]
    bounds: list[dt.datetime]
    timezone: str


def month_of(moment: dt.datetime, timezone: ZoneInfo) -> tuple[int, int]:
    local = moment.astimezone(timezone)
    return local.year, local.month


def months_ending(year: int, month: int, count: int, timezone: ZoneInfo) -> Months:
    """The ``count`` months that end with ``year-month``, oldest first."""
    index = year * 12 + month - 1 - (count - 1)
    starts = [divmod(index + n, 12) for n in range(count + 1)]
    bounds = [dt.datetime(y, m + 1, 1, tzinfo=timezone).astimezone(dt.timezone.utc) for y, m in starts]
    labels = [f"{y:04d}-{m + 1:02d}" for y, m in starts[:-1]]
    return Months(labels, bounds, timezone.key)


def bucket(column: Any, bounds: Sequence[dt.datetime]) -> ColumnElement[int]:
    """Which month a moment falls in: 0 … n-1, ``BEFORE``, n after the last, ``NOBODY`` without a moment."""
    whens: list[tuple[Any, int]] = [(column.is_(None), NOBODY), (column < bounds[0], BEFORE)]
    whens += [(column < limit, index) for index, limit in enumerate(bounds[1:])]
    return case(*whens, else_=len(bounds) - 1)


def email_key(column: Any) -> ColumnElement[Any]:
    return func.nullif(func.lower(func.trim(column)), "")


def customer_emails(shop_id: int, among: Any) -> Any:
    """One customer id per email (the lowest), for the emails ``among`` selects (trimmed, lower case).

    Only the emails asked about are grouped: a shop's guests are usually few next to its customers.
    """
    email = email_key(Customer.email)
    keyed = (select(email.label("email"), Customer.external_id.label("external_id"))
             .where(Customer.shop_id == shop_id, email.in_(among)).subquery())
    return select(keyed.c.email, func.min(keyed.c.external_id).label("external_id")) \
        .group_by(keyed.c.email).subquery()


def customer_key(customer_id: Any, email: Any, emails: Any) -> ColumnElement[Any]:
    """``c:<customer id>`` or ``e:<email>`` (see the module's rule); NULL for nobody."""
    whens: list[tuple[Any, Any]] = []
    if customer_id is not None:
        customer = func.nullif(customer_id, "")
        whens.append((customer.is_not(None), literal("c:") + customer))
    whens += [(emails.c.external_id.is_not(None), literal("c:") + emails.c.external_id),
              (email_key(email).is_not(None), literal("e:") + email_key(email))]
    return case(*whens, else_=None)


def counted_orders(shop_id: int, only: Sequence[str] | None = None, addresses: Sequence[str] = ()) -> CTE:
    """The shop's orders that count: ``external_id``, ``who``, ``placed``, ``total``, ``currency``.

    Orders with a customer id and guest orders are read apart: only the guests are matched to
    the customers' emails, so a shop whose orders mostly have a customer does not pay for it.
    Given ``only`` (customer keys), just the orders that may belong to those customers are read:
    theirs by id through its index, and guest orders by the guests' addresses and ``addresses``
    (the customers' own, trimmed and lower case: ``addresses_of``) through
    ``ix_orders_shop_id_email_key``. The caller still keeps the rows whose ``who`` it asked for,
    as a guest order with a customer's address may belong to another customer.
    """
    counts = (Order.shop_id == shop_id, Order.cancelled_at.is_(None), Order.deleted_at.is_(None),
              Order.is_test.is_(False))
    customer = func.nullif(Order.customer_external_id, "")
    by_id: list[Any] = []
    by_email: list[Any] = []
    if only is not None:
        ids = sorted({key[2:] for key in only if key.startswith("c:")})
        looked_up = sorted({key[2:] for key in only if key.startswith("e:")} | set(addresses))
        by_id = [Order.customer_external_id.in_(ids)]
        by_email = [func.lower(func.trim(Order.email)).in_(looked_up)]
    emails = customer_emails(shop_id, select(email_key(Order.email)).where(*counts, *by_email, customer.is_(None)))
    placed = func.coalesce(Order.processed_at, Order.source_created_at)
    with_customer = (select(Order.external_id.label("external_id"), (literal("c:") + customer).label("who"),
                            placed.label("placed"), Order.total_price.label("total"),
                            Order.currency.label("currency"))
                     .where(*counts, *by_id, customer.is_not(None)))
    guests = (select(Order.external_id, customer_key(None, Order.email, emails), placed, Order.total_price,
                     Order.currency)
              .select_from(Order)
              .outerjoin(emails, emails.c.email == email_key(Order.email))
              .where(*counts, *by_email, customer.is_(None)))
    return union_all(with_customer, guests).cte("counted_orders")


def addresses_of(session: Session, shop_id: int, keys: Sequence[str]) -> list[str]:
    """The addresses (trimmed, lower case) of the customers among ``keys``, for ``counted_orders``."""
    ids = sorted({key[2:] for key in keys if key.startswith("c:")})
    if not ids:
        return []
    return sorted({address for (address,) in session.execute(
        select(func.lower(func.trim(Customer.email))).where(Customer.shop_id == shop_id, Customer.external_id.in_(ids),
                                                           Customer.email.is_not(None))) if address})


def first_orders(orders: CTE) -> CTE:
    """Each customer's first counted order (``who``, ``first_at``), over all time."""
    return (select(orders.c.who, func.min(orders.c.placed).label("first_at"))
            .where(orders.c.who.is_not(None)).group_by(orders.c.who).cte("first_orders"))


@dataclasses.dataclass
class Totals:
    """What a group of counted orders adds up to."""

    customers: int = 0
    orders: int = 0
    priced_orders: int = 0  # those in the report currency: the money is theirs
    sold: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def revenue(self) -> Decimal:
        return self.sold - self.refunded

    def add(self, other: Totals) -> None:
        self.customers += other.customers
        self.orders += other.orders
        self.priced_orders += other.priced_orders
        self.sold += other.sold
        self.refunded += other.refunded


def totals_by(session: Session, rows: Any, keys: Sequence[str], shop_id: int,
              currency: str | None) -> dict[tuple[Any, ...], Totals]:
    """Customers, orders and money of ``rows`` grouped by ``keys``.

    ``rows`` is a subquery of counted orders with the key columns and ``who``, ``external_id``,
    ``total`` and ``currency``. PostgreSQL adds it all up in one statement; elsewhere (SQLite
    keeps amounts as text) the counts come from SQL and the amounts are added up here, one
    amount per row.
    """
    key_columns = [rows.c[key] for key in keys]
    priced = rows.c.currency == currency
    found: dict[tuple[Any, ...], Totals] = defaultdict(Totals)
    if session.get_bind().dialect.name == "postgresql":
        refunds = (select(Refund.order_external_id, func.sum(Refund.amount).label("amount"))
                   .where(Refund.shop_id == shop_id, Refund.currency == currency)
                   .group_by(Refund.order_external_id).subquery())
        for *key, customers, orders, priced_orders, sold, refunded in session.execute(
                select(*key_columns, func.count(distinct(rows.c.who)), func.count(),
                       func.count().filter(priced), func.sum(rows.c.total).filter(priced),
                       func.sum(refunds.c.amount).filter(priced))
                .select_from(rows.outerjoin(refunds, refunds.c.order_external_id == rows.c.external_id))
                .group_by(*key_columns)):
            found[tuple(key)] = Totals(int(customers), int(orders), int(priced_orders), Decimal(sold or 0),
                                       Decimal(refunded or 0))
        return dict(found)
    for *key, customers, orders in session.execute(
            select(*key_columns, func.count(distinct(rows.c.who)), func.count()).group_by(*key_columns)):
        found[tuple(key)].customers, found[tuple(key)].orders = int(customers), int(orders)
    if currency is None:
        return dict(found)
    for *key, total in session.execute(select(*key_columns, rows.c.total).where(priced)):
        found[tuple(key)].priced_orders += 1
        found[tuple(key)].sold += Decimal(total)
    for *key, refunded in session.execute(
            select(*key_columns, Refund.amount)
            .select_from(rows.join(Refund, and_(Refund.shop_id == shop_id,
                                                Refund.order_external_id == rows.c.external_id)))
            .where(priced, Refund.currency == currency)):
        found[tuple(key)].refunded += Decimal(refunded)
    return dict(found)


def report_currency(session: Session, shop: Shop) -> str | None:
    """The currency money is reported in: the shop's, else the one most of its orders use."""
    if shop.currency:
        return shop.currency
    found = session.execute(
        select(Order.currency).where(Order.shop_id == shop.id).group_by(Order.currency)
        .order_by(func.count().desc(), Order.currency).limit(1)).scalar_one_or_none()
    return found


def amount(value: Decimal) -> str:
    """Money as text with two decimals (half up)."""
    return format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")


def per(value: Decimal, count: int) -> str | None:
    """Money divided by a count, as text with two decimals; None when there is nothing to divide by."""
    return amount(value / count) if count else None


def share(part: int, whole: int) -> float | None:
    """A proportion rounded to four decimals; None when the whole is 0."""
    return round(part / whole, 4) if whole else None
