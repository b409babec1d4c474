"""Each customer's figures: purchases, RFM scores and segment, churn probability and 12-month value.

``recompute`` (nightly, and on demand) computes every customer of a shop: one statement over the
counted orders (``app.analytics.common``: same orders, same customers, same money as the
analytics) that groups them per customer and ranks the groups with window functions into the RFM
scores (``_scored``, the same SQL on PostgreSQL and SQLite), the shop's BG/NBD and Gamma-Gamma
fit (``clv.fit``) and per-customer predictions in numpy, then it replaces the shop's rows: delete,
and one bulk insert of each customer's row in key order (on PostgreSQL through COPY). ``refresh``
(after the inbox drains) recomputes only the customers whose orders or refunds arrived since the
shop's cursor, scoring them against the quintile limits and the models of the last ``recompute``
so their scores mean the same as everyone else's until the next night.

RFM (see docs/segments.md): among the customers who ordered within the window, R ranks the last
order's time, F the number of orders and M the money spent in the window; each score is
``1 + floor(5 × PERCENT_RANK())`` (at most 5), so ties share the lower score. Customers whose
orders all lie before the window are ``Lost`` (1, 1, 1). The (R, FM) grid below names the segment,
FM being the rounded-up mean of F and M.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import gc
import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.analytics import common
from app.segments import clv
from app.store import locking
from app.store.models import (
    Customer,
    CustomerMetrics,
    LedgerEntry,
    LoyaltyMember,
    Order,
    Refund,
    SegmentModel,
    Shop,
)
from app.store.types import utcnow
from app.store.upsert import upsert

log = logging.getLogger(__name__)

WINDOW_DAYS = 365
WEEK_DAYS = 7.0
HORIZON_DAYS = 90
SUBSCRIBED = "subscribed"
# A refresh takes at most this many changed orders per statement; more wait for the next round.
REFRESH_BATCH = 2000

CHAMPIONS, LOYAL, POTENTIAL, NEW, PROMISING = "champions", "loyal", "potential_loyalist", "new", "promising"
NEED_ATTENTION, ABOUT_TO_SLEEP, AT_RISK, CANT_LOSE = "need_attention", "about_to_sleep", "at_risk", "cant_lose"
HIBERNATING, LOST = "hibernating", "lost"
RFM_SEGMENTS = {
    CHAMPIONS: "Champions", LOYAL: "Loyal", POTENTIAL: "Potential Loyalist", NEW: "New",
    PROMISING: "Promising", NEED_ATTENTION: "Need Attention", ABOUT_TO_SLEEP: "About to Sleep",
    AT_RISK: "At Risk", CANT_LOSE: "Can't Lose Them", HIBERNATING: "Hibernating", LOST: "Lost",
}
# GRID[R][FM]: rows R = 5 … 1, columns FM = 1 … 5.
GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: (NEW, POTENTIAL, POTENTIAL, CHAMPIONS, CHAMPIONS),
    4: (PROMISING, POTENTIAL, LOYAL, LOYAL, CHAMPIONS),
    3: (ABOUT_TO_SLEEP, ABOUT_TO_SLEEP, NEED_ATTENTION, LOYAL, LOYAL),
    2: (HIBERNATING, HIBERNATING, AT_RISK, AT_RISK, CANT_LOSE),
    1: (LOST, HIBERNATING, AT_RISK, CANT_LOSE, CANT_LOSE),
}


def segment_of(r: int, f: int, m: int) -> str:
    """The named RFM segment of three scores."""
    return GRID[r][(f + m + 1) // 2 - 1]


@dataclasses.dataclass
class Result:
    customers: int = 0
    buyers: int = 0
    method: str = ""
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    # the customers and members were read on a second connection while the orders were grouped
    read_aside: bool = False


def model_for(session: Session, shop_id: int, *, lock: bool = False) -> SegmentModel:
    """The shop's model row (made on first use); ``lock`` holds it to the end of the transaction.

    A full recompute and a refresh of the same shop both lock it first, so they run one after
    the other: the recompute replaces the shop's rows wholesale, which a refresh writing some of
    them meanwhile would collide with (an erasure takes it too: ``hold``). A shop's very first
    run has no row to lock yet; two at once then collide on making it, and one is retried.
    """
    if lock:
        hold(session, shop_id)
    # Once locked, the row as it is now: an object the session kept from before may be out of date.
    model = session.get(SegmentModel, shop_id, populate_existing=lock)
    if model is None:
        model = SegmentModel(shop_id=shop_id, window_days=WINDOW_DAYS, orders_id=0, refunds_id=0)
        session.add(model)
        session.flush()
    return model


def hold(session: Session, shop_id: int) -> None:
    """Wait for a full recompute or refresh of the shop under way, and keep them out until commit.

    The lock of ``model_for(lock=True)``, and of a writer of a few of the shop's rows (an
    erasure): a full run deletes and re-inserts them all, and a delete beside it would miss the
    rows it inserts. PostgreSQL locks the model row; SQLite takes its one write lock.
    """
    if session.get_bind().dialect.name == "sqlite":
        locking.sqlite_write_lock(session, SegmentModel.__table__)
    else:
        session.execute(select(SegmentModel.shop_id).where(SegmentModel.shop_id == shop_id).with_for_update())


def _float(column: Any) -> Any:
    return cast(column, Float)


def _purchases(session: Session, shop: Shop, now: dt.datetime, window_start: dt.datetime,
               only: Sequence[str] | None = None) -> list[Any]:
    """Per customer key: first and last order, orders, money spent (all, repeat orders, in the window)."""
    currency = common.report_currency(session, shop)
    orders = common.counted_orders(shop.id, only, common.addresses_of(session, shop.id, only) if only else ())
    refunds = (select(Refund.order_external_id.label("order_id"), func.sum(_float(Refund.amount)).label("amount"))
               .where(Refund.shop_id == shop.id, Refund.currency == currency)
               .group_by(Refund.order_external_id).subquery())
    net = case((orders.c.currency == currency, _float(orders.c.total) - func.coalesce(refunds.c.amount, 0.0)),
               else_=None)
    who: Any = orders.c.who
    if session.get_bind().dialect.name == "postgresql":
        # Grouping needs no language's order of the keys: sorting millions of them byte-wise is
        # several times faster than by the database's collation (and spills less).
        who = who.collate("C")
    sequence = func.row_number().over(partition_by=who, order_by=(orders.c.placed, orders.c.external_id))
    each = (select(who.label("who"), orders.c.placed, net.label("net"), sequence.label("seq"))
            .select_from(orders.outerjoin(refunds, refunds.c.order_id == orders.c.external_id))
            .where(orders.c.who.is_not(None), orders.c.placed <= now))
    if only is not None:
        each = each.where(orders.c.who.in_(only))
    rows = each.subquery()
    repeat = rows.c.seq > 1
    in_window = rows.c.placed >= window_start
    statement = (select(rows.c.who, func.min(rows.c.placed), func.max(rows.c.placed), func.count(),
                        func.coalesce(func.sum(rows.c.net), 0.0),
                        func.coalesce(func.sum(case((repeat, rows.c.net), else_=None)), 0.0),
                        func.count(case((and_(repeat, rows.c.net.is_not(None)), 1), else_=None)),
                        func.count(case((in_window, 1), else_=None)),
                        func.coalesce(func.sum(case((in_window, rows.c.net), else_=None)), 0.0))
                 .group_by(rows.c.who))
    if only is not None:
        return list(session.execute(statement))
    return _all_rows(session, _scored(statement, window_start))


def _all_rows(session: Session, statement: Any) -> list[Any]:
    """The rows of a statement returning a row per customer, as plain tuples on PostgreSQL.

    Fetched through psycopg itself: SQLAlchemy's rows and result types took 8 s more for the
    950 k rows of a large shop's purchases (42–48 s against 35–38 s). Timestamps come in UTC, as
    ``UTCDateTime`` gives them, and the statement's parameters are plain values (ids, texts, aware
    datetimes) that need none of SQLAlchemy's conversions; IN lists, which SQLAlchemy renders only
    when it executes a statement, are refused. A database error is raised as SQLAlchemy's.
    """
    compiled = statement.compile(dialect=session.get_bind().dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError("a statement with IN lists is executed through SQLAlchemy, not _all_rows")
    if session.get_bind().dialect.name != "postgresql":
        return list(session.execute(statement))
    with _setting(session, "TimeZone", "UTC"):
        try:
            with session.connection().connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(str(compiled), compiled.params)
                return cursor.fetchall()
        except psycopg.Error as error:
            raise DBAPIError.instance(str(compiled), compiled.params, error, psycopg.Error) from error


@contextlib.contextmanager
def _setting(session: Session, name: str, value: str, *, at_least: bool = False) -> Iterator[None]:
    """A PostgreSQL setting for the statements inside (``at_least``: only if it is smaller now), then as before.

    After an error the transaction is failed and is rolled back, which undoes the setting too.
    """
    before = session.execute(text("SELECT current_setting(:name)"), {"name": name}).scalar_one()
    raise_only = " WHERE pg_size_bytes(current_setting(:name)) < pg_size_bytes(:value)" if at_least else ""
    session.execute(text(f"SELECT set_config(:name, :value, true){raise_only}"), {"name": name, "value": value})
    yield
    session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": before})


def _cents(value: Any) -> Any:
    """Money as a whole number of cents (a float): what a rank of the stored figures, rounded to
    cents, would compare. Rounding through ``numeric`` took 0.6 s per 0.5 M values."""
    return func.round(value * literal_column("100"))


_QUINTILES = ((5, "0.8"), (4, "0.6"), (3, "0.4"), (2, "0.2"))  # score, least PERCENT_RANK reaching it


def _limits(value: Any, inside: Any, grouped: Any) -> Any:
    """One row: the least ``value`` reaching each score 5, 4, 3, 2 among the ``inside`` buyers.

    ``PERCENT_RANK`` over ``value`` alone, a narrow row per buyer. The rank never falls as the
    value grows and equal values share it, so a buyer reaches a score exactly when its value is
    at least that score's limit (NULL: nobody reaches it).
    """
    ranked = (select(value.label("value"), func.percent_rank().over(order_by=value).label("rank"))
              .select_from(grouped).where(inside).subquery())
    return select(*[func.min(case((ranked.c.rank >= literal_column(least), ranked.c.value), else_=None))
                    .label(f"score_{score}") for score, least in _QUINTILES]).subquery()


def _scored(grouped: Any, window_start: dt.datetime) -> Any:
    """The grouped purchases with R, F, M and the named segment: window functions, in SQL.

    Among the buyers who ordered within the window R ranks the last order, F the window's orders,
    M the window's money (``1 + floor(5 × PERCENT_RANK())``, at most 5); everyone else is Lost
    (1, 1, 1). The grid is written into the statement. (The spend rank is ``_score_all``'s.)

    Each measure is ranked in a subquery of its own over that value alone, which yields the
    least value reaching each score (``_limits``); the buyers are then scored by comparing with
    those. Ranking the whole rows (four sorts and windows over 0.95 M rows of a hundred bytes and
    more) took 11 s of a large shop's 36 s statement; this way the ranking takes about 4 s.
    """
    g = grouped.cte("grouped")
    last, window_orders, window_spent = g.c[2], g.c[7], g.c[8]
    inside = and_(last >= window_start, window_orders > 0)
    one = literal_column("1")
    measures = (last, window_orders, _cents(window_spent))
    limits = [_limits(value, inside, g) for value in measures]

    def scored_by(value: Any, limit: Any) -> Any:
        reached = case(*[(value >= limit.c[f"score_{number}"], literal_column(str(number)))
                         for number, _ in _QUINTILES], else_=one)
        return case((inside, reached), else_=one)

    r, f, m = (scored_by(value, limit) for value, limit in zip(measures, limits, strict=True))
    scores = (select(*[g.c[index] for index in range(9)], r.label("r"), f.label("f"), m.label("m"))
              .select_from(g)
              .join(limits[0], true()).join(limits[1], true()).join(limits[2], true())
              .subquery())
    fm = (scores.c.f + scores.c.m + 1) // 2  # SQLAlchemy's floor division: integer division on both
    named = case(*[(and_(scores.c.r == literal_column(str(score)), fm == literal_column(str(column + 1))),
                    literal_column(f"'{name}'")) for score, names in GRID.items() for column, name in enumerate(names)],
                 else_=None)
    return select(*[scores.c[index] for index in range(9)], scores.c.r, scores.c.f, scores.c.m, named)


def _customers(session: Session, shop_id: int, keys: Iterable[str] | None) -> dict[str, tuple[Any, ...]]:
    """``c:<id>`` → (email, tags text, subscribed) for the mirror's customers (those asked for, or all)."""
    query = select(Customer.external_id, Customer.email, Customer.tags, Customer.email_marketing_state) \
        .where(Customer.shop_id == shop_id, Customer.deleted_at.is_(None))
    if keys is not None:
        ids = [key[2:] for key in keys if key.startswith("c:")]
        if not ids:
            return {}
        query = query.where(Customer.external_id.in_(ids))
    found: dict[str, tuple[Any, ...]] = {}
    # All of a shop's through psycopg: 2.8 s for a million against 8.9 s through SQLAlchemy's rows
    rows = session.execute(query) if keys is not None else _all_rows(session, query)
    for external_id, email, tags, state in rows:
        text = "," + ",".join(sorted({str(tag).strip().lower() for tag in tags or () if str(tag).strip()})) + ","
        found[f"c:{external_id}"] = ((email or "").strip().lower() or None, text if text != ",," else None,
                                     state == SUBSCRIBED)
    return found


def _people(session: Session, shop_id: int, keys: Iterable[str] | None,
            now: dt.datetime) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, int]]]:
    keys = list(keys) if keys is not None else None
    return _customers(session, shop_id, keys), _members(session, shop_id, keys, now)


def _written_nothing(session: Session) -> bool:
    """Whether this PostgreSQL transaction has written nothing yet (it has no transaction id)."""
    return session.execute(text("SELECT pg_current_xact_id_if_assigned() IS NULL")).scalar_one() is True


class _ReadAside:
    """All of the shop's customers and members (``_people``), read on a second connection meanwhile.

    The full run's purchases statement keeps the database busy for half a minute while this
    process waits; a thread reads and prepares the customers then (3–4 s for a million). The run
    starts it once it holds the shop's model lock, so the read comes after whatever held the lock
    before (an erasure commits its customers' changes under it), and only if its transaction had
    written nothing before the lock (which writes no data): the other connection then sees the
    same committed rows as this transaction's statements, which each read the latest too.
    """

    def __init__(self, session: Session, shop_id: int, now: dt.datetime):
        self._driver: Any = None
        self._lock = threading.Lock()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="segments-read-aside")
        self._future = pool.submit(self._read, session.get_bind().engine, shop_id, now)
        pool.shutdown(wait=False)

    def _read(self, engine: Any, shop_id: int,
              now: dt.datetime) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, int]]]:
        with engine.connect() as connection, Session(bind=connection) as aside:
            with self._lock:
                self._driver = connection.connection.driver_connection
            try:
                return _people(aside, shop_id, None, now)
            finally:
                with self._lock:
                    self._driver = None
                connection.rollback()

    def result(self) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, int]]]:
        return self._future.result()

    def stop(self) -> None:
        """Cancel a read still under way (the run failed) and wait until its connection is back."""
        if self._future.done() or self._future.cancel():
            return
        with self._lock:
            if self._driver is not None:
                self._driver.cancel_safe()
        error = self._future.exception()
        if error is not None:
            log.info("the customers' read aside ended with %s after the run failed", type(error).__name__)


def _members(session: Session, shop_id: int, keys: Iterable[str] | None, now: dt.datetime) -> dict[str, tuple[Any, int]]:
    """Customer key → (tier, spendable points) of the shop's loyalty members."""
    who = case((LoyaltyMember.customer_external_id.is_not(None), literal("c:") + LoyaltyMember.customer_external_id),
               else_=literal("e:") + func.lower(func.trim(LoyaltyMember.email)))
    points = (select(LedgerEntry.member_id, func.sum(LedgerEntry.points).label("points"))
              .where(LedgerEntry.shop_id == shop_id, LedgerEntry.available_at <= now, LedgerEntry.created_at <= now)
              .group_by(LedgerEntry.member_id).subquery())
    query = (select(who, LoyaltyMember.tier, func.coalesce(points.c.points, 0))
             .select_from(LoyaltyMember).outerjoin(points, points.c.member_id == LoyaltyMember.id)
             .where(LoyaltyMember.shop_id == shop_id, LoyaltyMember.claimed_by_id.is_(None)))
    if keys is not None:
        keys = list(keys)
        ids = [key[2:] for key in keys if key.startswith("c:")]
        emails = [key[2:] for key in keys if key.startswith("e:")]
        query = query.where(or_(LoyaltyMember.customer_external_id.in_(ids),
                                and_(LoyaltyMember.customer_external_id.is_(None),
                                     func.lower(func.trim(LoyaltyMember.email)).in_(emails))))
    return {key: (tier, int(points)) for key, tier, points in session.execute(query) if key}


def _days(moments: Sequence[dt.datetime], now: dt.datetime) -> np.ndarray:
    stamp = now.timestamp()
    return np.array([(stamp - moment.timestamp()) / 86400.0 for moment in moments], dtype=np.float64)


def _fit_from(model: SegmentModel) -> tuple[clv.BgNbdParams, clv.GammaGammaParams | None] | None:
    stored = model.clv or {}
    if "bgnbd" not in stored:
        return None
    gamma = stored.get("gamma_gamma")
    return clv.BgNbdParams(**stored["bgnbd"]), clv.GammaGammaParams(**gamma) if gamma else None


def _predict(purchases: Sequence[Any], now: dt.datetime, model: SegmentModel, fit: bool) -> dict[str, np.ndarray]:
    """P(alive), expected orders in 90 days, 12-month value and churn band, per purchases row."""
    first = _days([row[1] for row in purchases], now)
    last = _days([row[2] for row in purchases], now)
    orders = np.array([row[3] for row in purchases], dtype=np.float64)
    repeat_spent = np.array([row[5] for row in purchases], dtype=np.float64)
    repeat_priced = np.array([row[6] for row in purchases], dtype=np.float64)
    spent = np.array([row[4] for row in purchases], dtype=np.float64)
    x = orders - 1
    T = first / WEEK_DAYS
    t_x = np.where(x > 0, (first - last) / WEEK_DAYS, 0.0)
    m = np.where(repeat_priced > 0, repeat_spent / np.maximum(repeat_priced, 1), np.nan)
    stored = None if fit else _fit_from(model)
    if stored is None:
        found = clv.fit(x, t_x, T, m, time_unit_days=WEEK_DAYS)
        bgnbd, gamma_gamma = found.bgnbd, found.gamma_gamma
        model.clv = {"bgnbd": dataclasses.asdict(bgnbd),
                     "gamma_gamma": dataclasses.asdict(gamma_gamma) if gamma_gamma else None,
                     "method": found.method, "gamma_gamma_method": found.gamma_gamma_method,
                     "reason": found.reason, "customers": found.customers,
                     "repeat_customers": found.repeat_customers, "history_days": round(found.history_days, 1),
                     "mean_order_value": float(spent.sum() / orders.sum()) if orders.sum() else None,
                     "fitted_at": now.isoformat()}
    else:
        bgnbd, gamma_gamma = stored
    # Without a Gamma-Gamma model (no repeat order values yet) a customer's value is their own mean order.
    fallback = (model.clv or {}).get("mean_order_value") or 0.0
    own = m if gamma_gamma is not None else np.where(orders > 0, spent / np.maximum(orders, 1), fallback)

    def predict(part: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (clv.probability_alive(bgnbd, x[part], t_x[part], T[part]),
                clv.expected_purchases(bgnbd, HORIZON_DAYS / WEEK_DAYS, x[part], t_x[part], T[part]),
                clv.lifetime_value(bgnbd, gamma_gamma, x[part], t_x[part], T[part], own[part],
                                   time_unit_days=WEEK_DAYS))

    alive, expected, value = _by_parts(predict, len(x))
    return {"p_alive": alive, "expected": expected, "value": np.maximum(value, 0.0),
            "band": clv.churn_risk(alive)}


# Predictions for more customers than this are computed in parts on two threads.
_PARALLEL_FROM = 100_000


def _by_parts(compute: Callable[[slice], tuple[np.ndarray, ...]], size: int) -> tuple[np.ndarray, ...]:
    """``compute(slice(0, size))``, as two halves on two threads for many customers.

    scipy's and numpy's element-wise functions release the GIL, so the halves run at once:
    the predictions of 950 k customers (13 hypergeometric series each) took half the time.
    Each element's result is the same either way.
    """
    if size < _PARALLEL_FROM:
        return compute(slice(0, size))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="segments-predict") as pool:
        halves = list(pool.map(compute, (slice(0, size // 2), slice(size // 2, size))))
    return tuple(np.concatenate(parts) for parts in zip(*halves, strict=True))


_WRITTEN = ("customer_external_id", "email", "first_order_at", "last_order_at", "order_count", "total_spent",
            "average_order_value", "window_orders", "window_spent", "p_alive", "expected_orders_90d",
            "predicted_value_12m", "churn_band", "tags_text", "email_subscribed", "tier", "points_balance",
            "computed_at")
_SCORED = ("r_score", "f_score", "m_score", "rfm_segment", "spend_rank")
_ROW = ("shop_id", "customer_key", *_WRITTEN)  # what ``_row_values`` yields, in this order


def _row_values(session: Session, shop: Shop, purchases: Sequence[Any], keys: Iterable[str] | None,
                now: dt.datetime, model: SegmentModel, fit: bool, lap: Callable[[str], None] = lambda stage: None,
                extra: tuple[Sequence[tuple[Any, ...]], tuple[Any, ...]] | None = None,
                people: tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, int]]] | None = None,
                amounts: tuple[np.ndarray, ...] | None = None,
                ) -> tuple[int, Callable[[], Iterator[tuple[Any, ...]]]]:
    """How many rows to write (``_ROW``), and a function that yields them in customer key order.

    A row per purchases row and per customer without any. ``extra``: values to append to each,
    one tuple per purchases row (in their order) and the one for the customers without purchases.
    ``people``: the customers and members (``_customers``, ``_members``) if already read;
    ``amounts``: the purchases' ``_amounts`` if already computed.

    Reads the customers and members (unless given) and predicts now; the rows are yielded one by one, so that a
    million of them can be streamed into the database without being held at once. In key order
    (code point order, which is the unique index's in a C or C.UTF-8 database and close to it in
    others), the index on (shop, customer key) is written leaf after leaf: 1.09 M rows went in
    twice as fast as in the purchases' order (11 s against 20–24 s).
    """
    customers, members = people if people is not None else _people(session, shop.id, keys, now)
    lap("customers")
    predicted = _predict(purchases, now, model, fit) if purchases else {}
    lap("clv")
    # Rounded in numpy, as Python floats and texts up front: rounding each value in Python took
    # 2–3 s of a large shop's run, and indexing numpy arrays one element at a time is slow.
    spent_cents, average_cents, window_cents = (values.tolist() for values in (
        amounts if amounts is not None else _amounts(purchases)))
    alive, expected = ((np.round(predicted[name], 6).tolist() if predicted else []) for name in ("p_alive", "expected"))
    value = _money(predicted["value"]) if predicted else []
    band = predicted["band"].tolist() if predicted else []
    bought = {row[0] for row in purchases}
    idle = sorted(who for who in customers if who not in bought)
    del bought
    order = sorted(range(len(purchases)), key=lambda index: purchases[index][0])
    added, added_idle = extra if extra is not None else ((), ())
    shop_id = shop.id

    def with_purchases() -> Iterator[tuple[Any, ...]]:
        guest = (None, None, False)
        no_member = (None, None)
        for index in order:
            who, first, last, orders, _, _, _, window_orders = purchases[index][:8]
            is_customer = who.startswith("c:")
            email, tags, subscribed = customers.get(who, guest if is_customer else (who[2:], None, False))
            tier, points = members.get(who, no_member)
            yield (shop_id, who, who[2:] if is_customer else None, email, first, last, int(orders),
                   spent_cents[index], average_cents[index], int(window_orders), window_cents[index],
                   alive[index], expected[index], value[index], band[index], tags,
                   subscribed, tier, points, now) + (added[index] if extra is not None else ())

    def without() -> Iterator[tuple[Any, ...]]:
        for who in idle:
            email, tags, subscribed = customers[who]
            tier, points = members.get(who, (None, None))
            yield (shop_id, who, who[2:], email, None, None, 0, 0.0, None, 0, 0.0, None, None, None, None, tags,
                   subscribed, tier, points, now) + added_idle

    def rows() -> Iterator[tuple[Any, ...]]:
        return heapq.merge(with_purchases(), without(), key=_key_of)

    return len(purchases) + len(idle), rows


def _column(rows: Sequence[Any], place: int) -> np.ndarray:
    return np.array([row[place] for row in rows], dtype=np.float64)


def _amounts(purchases: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each buyer's total, average order and window spend, rounded to cents as they are stored."""
    spent = _column(purchases, 4)
    return tuple(np.round(values, 2) for values in (  # type: ignore[return-value]
        spent, spent / np.maximum(_column(purchases, 3), 1), _column(purchases, 8)))


def _money(values: np.ndarray) -> list[float]:
    """Amounts rounded to cents as they are stored (numpy's rounding: the full run and a refresh agree)."""
    return np.round(values, 2).tolist()


def _key_of(row: tuple[Any, ...]) -> str:
    return row[1]


def _rows(session: Session, shop: Shop, purchases: Sequence[Any], keys: Iterable[str] | None, now: dt.datetime,
          model: SegmentModel, fit: bool) -> list[dict[str, Any]]:
    _, rows = _row_values(session, shop, purchases, keys, now, model, fit)
    return [dict(zip(_ROW, values, strict=True)) for values in rows()]


def _write(session: Session, rows: Iterable[tuple[Any, ...]], columns: Sequence[str],
           lap: Callable[[str], None] = lambda stage: None, *, fresh: bool = False) -> None:
    """Upsert rows (tuples of ``columns``, the first two the shop and customer key) by (shop, customer key).

    ``fresh``: the shop has no rows (the caller deleted them in this transaction), so they are
    only inserted.

    PostgreSQL gets them through COPY: ``app.store.bulk_upsert`` does the same for any table but
    converts each value through its column type in Python, and dedupes; these rows hold only
    plain values psycopg sends as they are (aware datetimes, numbers, texts), one per key.
    """
    update = columns[2:]
    if session.get_bind().dialect.name != "postgresql":
        upsert(session, CustomerMetrics.__table__,  # type: ignore[arg-type]
               [dict(zip(columns, values, strict=True)) for values in rows], conflict=("shop_id", "customer_key"),
               update=update, returning=())
        return
    column_list = ", ".join(f'"{name}"' for name in columns)
    connection = session.connection()
    if fresh:
        # The shop's rows were just deleted: straight into the table. Through a staging table and
        # a sorted INSERT it took longer (1.09 M rows: 42 s against 30 s), the indexes' writes
        # being most of it either way.
        _copy(connection, "customer_metrics", columns, rows)
        lap("copy")
        return
    connection.execute(text(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{_STAGING}" ON COMMIT DROP AS '
                            f'SELECT {column_list} FROM customer_metrics WITH NO DATA'))
    connection.execute(text(f'TRUNCATE "{_STAGING}"'))
    _copy(connection, _STAGING, columns, rows)
    lap("copy")
    assignments = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in update)
    # In key order: the unique index is then written (or looked up) leaf after leaf, not all over.
    connection.execute(text(f'INSERT INTO customer_metrics ({column_list}) SELECT {column_list} FROM "{_STAGING}" '
                            f'ORDER BY customer_key ON CONFLICT (shop_id, customer_key) DO UPDATE SET {assignments}'))
    connection.execute(text(f'TRUNCATE "{_STAGING}"'))
    lap("upsert")


_STAGING = "staging_customer_metrics_recompute"


def _copy(connection: Any, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Binary COPY of ``rows`` into ``table``, typed as its columns: several times faster than
    text, which formats every timestamp and float in Python."""
    types: dict[str, int] = dict(connection.execute(text(
        "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = CAST(:name AS regclass) AND attnum > 0"),
        {"name": f'"{table}"'}).all())
    column_list = ", ".join(f'"{name}"' for name in columns)
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([types[name] for name in columns])
            for values in rows:
                copy.write_row(values)


def _score(value: Any, limits: Sequence[Any]) -> int:
    """The score whose lower limit ``value`` reaches (limits of scores 2 … 5, None where no one has it)."""
    score = 1
    for number, limit in enumerate(limits, start=2):
        if limit is not None and value >= limit:
            score = number
    return score


def _score_all(purchases: Sequence[Any], window_start: dt.datetime, amounts: tuple[np.ndarray, ...],
               ) -> tuple[list[tuple[Any, ...]], dict[str, list[Any]]]:
    """``_SCORED`` of every buyer (R, F, M and the segment as the statement scored them, the spend
    rank from the totals), and the limits a refresh scores against.

    A score's limit is the lowest value that reached it among the customers ranked in the window
    (amounts as stored, rounded to cents); the spend list is every buyer's total, thinned to about
    1,000 points. ``amounts``: the purchases' ``_amounts``.
    """
    totals, _, window_money = amounts
    ordered = np.sort(totals)
    # PERCENT_RANK of the stored totals: the share of the other buyers who spent less
    spend_ranks = (np.searchsorted(ordered, totals, side="left") / max(len(totals) - 1, 1)).tolist()
    scored = [(int(row[9]), int(row[10]), int(row[11]), row[12] or LOST, spend_rank)
              for row, spend_rank in zip(purchases, spend_ranks, strict=True)]
    inside = np.array([row[2] >= window_start and row[7] > 0 for row in purchases], dtype=bool)
    # per measure: the scores' column, the values compared (the last order as a timestamp), and
    # the limit kept for the buyer at an index (the last order as ISO text, the rest as numbers)
    measures: dict[str, tuple[int, np.ndarray, Callable[[int], Any]]] = {
        "r": (9, np.array([row[2].timestamp() for row in purchases], dtype=np.float64),
              lambda index: purchases[index][2].isoformat()),
        "f": (10, _column(purchases, 7), lambda index: int(purchases[index][7])),
        "m": (11, window_money, lambda index: float(window_money[index])),
    }
    limits: dict[str, list[Any]] = {}
    for name, (place, values, kept) in measures.items():
        scores = np.array([row[place] for row in purchases], dtype=np.int64)
        found: list[Any] = []
        for number in range(2, 6):
            among = np.flatnonzero(inside & (scores == number))
            if not len(among):
                found.append(None)
                continue
            found.append(kept(int(among[np.argmin(values[among])])))
        limits[name] = found
    limits["spend"] = ordered[::max(1, len(purchases) // 1000)].tolist()
    return scored, limits


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a full run holds a million rows.

    Each of its collections walks every tracked object alive, and the rows (tuples) are: reading
    the customers with the purchases held took 3.8 s instead of 8.0 s. The rows hold no cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _sort_memory(session: Session, size: str) -> Iterator[None]:
    """At least ``size`` of sort and hash memory for the statements inside (PostgreSQL), then as before.

    The purchases statement's grouping and its rank windows each spilled to disk at 64 MB; at
    256 MB it took 34 s instead of 49 s over 4.9 M orders. Each sort or hash of it may take that
    much of the database server's memory while it runs, so it is given for that statement only.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    with _setting(session, "work_mem", size, at_least=True):
        yield


def recompute(session: Session, shop: Shop, now: dt.datetime | None = None) -> Result:
    """Every customer of the shop, from scratch (the nightly run). The caller commits."""
    with _collector_paused():
        return _recompute(session, shop, now)


def _recompute(session: Session, shop: Shop, now: dt.datetime | None) -> Result:
    now = now or utcnow()
    # Asked before the model's row lock, which gives this transaction an id (it locks a row).
    unwritten = session.get_bind().dialect.name == "postgresql" and _written_nothing(session)
    model = model_for(session, shop.id, lock=True)
    aside = _ReadAside(session, shop.id, now) if unwritten else None
    try:
        return _recompute_with(session, shop, now, model, aside)
    finally:
        if aside is not None:
            aside.stop()


def _recompute_with(session: Session, shop: Shop, now: dt.datetime, model: SegmentModel,
                    aside: _ReadAside | None) -> Result:
    common.tune(session)
    window_start = now - dt.timedelta(days=model.window_days)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - clock
        clock = time.perf_counter()

    cursor = _cursor_now(session, shop.id)
    with _sort_memory(session, "256MB"):
        purchases = _purchases(session, shop, now, window_start)
    lap("purchases")
    amounts = _amounts(purchases)
    scored, model.bounds = _score_all(purchases, window_start, amounts)
    lap("scores")
    count, rows = _row_values(session, shop, purchases, None, now, model, fit=True, lap=lap,
                              extra=(scored, (None,) * len(_SCORED)),
                              people=aside.result() if aside is not None else None, amounts=amounts)
    # Every row is rewritten: deleting them and inserting the new ones is faster than upserting
    # each over its old version (no conflict to look up, no old version to update), and takes the
    # customers gone since with them. Other transactions see the old rows until this one commits.
    session.execute(delete(CustomerMetrics).where(CustomerMetrics.shop_id == shop.id))
    lap("delete")
    _write(session, rows(), (*_ROW, *_SCORED), lap, fresh=True)
    if session.get_bind().dialect.name == "postgresql":
        # The table was just rewritten: without fresh statistics the segments' statements that
        # follow in this transaction are planned for a table of a few hundred rows.
        session.execute(text("ANALYZE customer_metrics"))
    lap("analyze")
    model.full_computed_at = now
    model.orders_updated_at, model.orders_id, model.refunds_created_at, model.refunds_id = cursor
    model.updated_at = now
    return Result(customers=count, buyers=len(purchases), method=(model.clv or {}).get("method", ""),
                  seconds=seconds, read_aside=aside is not None)


def _cursor_now(session: Session, shop_id: int) -> tuple[Any, int, Any, int]:
    order = session.execute(select(Order.updated_at, Order.id).where(Order.shop_id == shop_id)
                            .order_by(Order.updated_at.desc(), Order.id.desc()).limit(1)).first()
    refund = session.execute(select(Refund.created_at, Refund.id).where(Refund.shop_id == shop_id)
                             .order_by(Refund.created_at.desc(), Refund.id.desc()).limit(1)).first()
    return (order[0] if order else None, order[1] if order else 0,
            refund[0] if refund else None, refund[1] if refund else 0)


def _changed_keys(session: Session, shop_id: int, model: SegmentModel, limit: int) -> tuple[set[str], bool, tuple]:
    """Customer keys of the orders and refunds written since the cursor; whether more wait; the new cursor."""
    orders_after = Order.id > model.orders_id if model.orders_updated_at is None else or_(
        Order.updated_at > model.orders_updated_at,
        and_(Order.updated_at == model.orders_updated_at, Order.id > model.orders_id))
    changed = session.execute(select(Order.updated_at, Order.id, Order.customer_external_id, Order.email)
                              .where(Order.shop_id == shop_id, orders_after)
                              .order_by(Order.updated_at, Order.id).limit(limit)).all()
    refunds_after = Refund.id > model.refunds_id if model.refunds_created_at is None else or_(
        Refund.created_at > model.refunds_created_at,
        and_(Refund.created_at == model.refunds_created_at, Refund.id > model.refunds_id))
    refunded = session.execute(select(Refund.created_at, Refund.id, Refund.order_external_id)
                               .where(Refund.shop_id == shop_id, refunds_after)
                               .order_by(Refund.created_at, Refund.id).limit(limit)).all()
    people = [(customer, email) for _, _, customer, email in changed]
    if refunded:
        people += session.execute(select(Order.customer_external_id, Order.email).where(
            Order.shop_id == shop_id, Order.external_id.in_([row[2] for row in refunded]))).all()
    keys: set[str] = set()
    guests: set[str] = set()
    for customer, email in people:
        if customer:
            keys.add(f"c:{customer}")
        elif email and email.strip():
            guests.add(email.strip().lower())
    if guests:  # a guest's orders belong to the customer with that email, if there is one
        owners = dict(session.execute(select(func.lower(func.trim(Customer.email)), func.min(Customer.external_id))
                                      .where(Customer.shop_id == shop_id,
                                             func.lower(func.trim(Customer.email)).in_(sorted(guests)))
                                      .group_by(func.lower(func.trim(Customer.email)))).all())
        keys |= {f"c:{owners[email]}" if email in owners else f"e:{email}" for email in guests}
    cursor = (changed[-1][0] if changed else model.orders_updated_at, changed[-1][1] if changed else model.orders_id,
              refunded[-1][0] if refunded else model.refunds_created_at,
              refunded[-1][1] if refunded else model.refunds_id)
    return keys, len(changed) == limit or len(refunded) == limit, cursor


def refresh(session: Session, shop: Shop, now: dt.datetime | None = None,
            limit: int = REFRESH_BATCH) -> tuple[set[str], bool]:
    """Recompute the customers whose orders or refunds changed since the cursor. The caller commits.

    Returns their keys and whether more changes wait. Before the first ``recompute`` of a shop it
    does that instead (there are no limits to score against yet), and so it does when more than
    ``limit`` orders or refunds changed (the empty key set then means: everyone was recomputed).
    """
    now = now or utcnow()
    model = model_for(session, shop.id, lock=True)
    if model.full_computed_at is None or not model.bounds:
        recompute(session, shop, now)
        return set(), False
    common.tune(session)  # a statement JIT-compiled for a handful of customers costs more than it saves
    keys, more, cursor = _changed_keys(session, shop.id, model, limit)
    if more:  # a batch full of changes (an import, an outage caught up): everyone at once is cheaper
        recompute(session, shop, now)
        return set(), False
    if keys:
        window_start = now - dt.timedelta(days=model.window_days)
        purchases = _purchases(session, shop, now, window_start, only=sorted(keys))
        rows = _rows(session, shop, purchases, keys, now, model, fit=False)
        rows = [row for row in rows if row["customer_key"] in keys]
        for row in rows:
            row.update(_scores_for(row, model.bounds, window_start))
        if rows:
            upsert(session, CustomerMetrics.__table__, rows, conflict=("shop_id", "customer_key"),  # type: ignore[arg-type]
                   update=(*_WRITTEN, *_SCORED), returning=())
        gone = keys - {row["customer_key"] for row in rows}
        if gone:  # every order of theirs cancelled or deleted: no purchases left
            session.execute(update(CustomerMetrics).where(
                CustomerMetrics.shop_id == shop.id, tuple_(CustomerMetrics.customer_key).in_([(k,) for k in gone]))
                .values(order_count=0, total_spent=0.0, average_order_value=None, window_orders=0, window_spent=0.0,
                        first_order_at=None, last_order_at=None, r_score=None, f_score=None, m_score=None,
                        rfm_segment=None, spend_rank=None, p_alive=None, expected_orders_90d=None,
                        predicted_value_12m=None, churn_band=None, computed_at=now))
    model.orders_updated_at, model.orders_id, model.refunds_created_at, model.refunds_id = cursor
    model.updated_at = now
    return keys, more


def _scores_for(row: dict[str, Any], bounds: dict[str, Any], window_start: dt.datetime) -> dict[str, Any]:
    """Scores of one recomputed customer against the limits of the last full computation."""
    spend = bounds.get("spend") or []
    spent = row["total_spent"]
    below = int(np.searchsorted(np.array(spend, dtype=np.float64), spent, side="left")) if spend else 0
    rank = below / max(len(spend) - 1, 1) if spend else 0.0
    if not row["order_count"]:
        return {"r_score": None, "f_score": None, "m_score": None, "rfm_segment": None, "spend_rank": None}
    spend_rank = round(min(rank, 1.0), 6)
    if row["last_order_at"] < window_start or not row["window_orders"]:
        return {"r_score": 1, "f_score": 1, "m_score": 1, "rfm_segment": LOST, "spend_rank": spend_rank}
    r_limits = [dt.datetime.fromisoformat(value) if value else None for value in bounds["r"]]
    r = _score(row["last_order_at"], r_limits)
    f = _score(row["window_orders"], bounds["f"])
    m = _score(row["window_spent"], bounds["m"])
    return {"r_score": r, "f_score": f, "m_score": m, "rfm_segment": segment_of(r, f, m), "spend_rank": spend_rank}
