"""Show customers' segment tags in the store: the ``customer_tag_syncs`` rows, written in batches.

The segment code says which tags a customer should carry (``want``); a row is ``dirty`` while
the store may not show them yet. ``write`` sends ``wanted - written`` to add and ``written -
wanted`` to remove, so a tag the merchant set by hand is never taken away: only tags this app
wrote are ever removed. The same tags travel as one customer value too (``segment_tags``:
``",a,b,"``, ``","`` for none), which a platform without customer tags keeps instead, and a
theme can read on any platform.

Adding a tag that is there or removing one that is not changes nothing in the store, so a
batch is safe to replay after a lost answer, or when two jobs overlap. A store that cannot
answer now is tried again later (``next_attempt_at``, backing off), up to ``MAX_ATTEMPTS``;
a customer the store refuses is given up at once. A row whose wanted tags change while its
write is in flight stays dirty: ``want`` moves ``updated_at``, and the outcome of a write is
recorded only on the row as it was read.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.orm import Session

from app.store.models import Customer, CustomerTagSync, Shop
from app.store.types import utcnow
from app.store.upsert import among, insert_ignore
from connectors import base

log = logging.getLogger(__name__)

BATCH = 25
MAX_ATTEMPTS = 6
RETRY_DELAYS = (dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2), dt.timedelta(hours=6))
# The customer value carrying the same tags, for platforms without customer tags and for themes.
VALUE_NAME = "segment_tags"
MAX_TAG_LENGTH = 255

# Outcomes of ``write``, as counted.
WRITTEN = "written"
UNCHANGED = "unchanged"
RETRY = "retry"
FAILED = "failed"  # given up: refused by the store, or out of attempts
GONE = "gone"  # the customer was deleted or erased: nobody in the store to show them to

_TABLE: Table = CustomerTagSync.__table__  # type: ignore[assignment]
_LOOKUP_CHUNK = 1000
_TICK = dt.timedelta(microseconds=1)


def _normalized(tags: Iterable[str]) -> list[str]:
    return sorted({tag for tag in tags if tag})


def tag_problem(tag: object) -> str | None:
    """Return why a value cannot be one customer tag (nor an item of the ``",a,b,"`` value), or ``None``."""
    if not isinstance(tag, str) or not tag.strip():
        return "must be a non-empty string"
    if tag != tag.strip():
        return "must not start or end with spaces"
    if "," in tag or "\n" in tag or "\r" in tag:
        return "must not contain a comma or a line break"
    if len(tag) > MAX_TAG_LENGTH:
        return f"is longer than {MAX_TAG_LENGTH} characters"
    return None


def want(session: Session, shop_id: int, changes: Mapping[str, Iterable[str]], *,
         now: dt.datetime | None = None) -> int:
    """Set the tags each customer (by external id) should carry; return how many rows changed.

    A row is marked dirty only when its wanted tags differ from before; a new customer who
    should carry no tag gets no row. Empty tags are dropped; a tag that cannot be one tag
    (``tag_problem``) raises ``ValueError`` before anything is written. Concurrent calls do not fail on the unique key: a row
    another transaction inserted first is updated instead. The caller commits (then queues
    ``jobs.segments.request_tag_write_back``).
    """
    now = now or utcnow()
    wanted = {str(customer_id): _normalized(tags) for customer_id, tags in changes.items()}
    for customer_tags in wanted.values():
        for tag in customer_tags:
            problem = tag_problem(tag)
            if problem is not None:
                raise ValueError(f"tag {tag!r} {problem}")
    if not wanted:
        return 0
    seen, count = _update_existing(session, shop_id, wanted, now)
    missing = [customer_id for customer_id in wanted if customer_id not in seen and wanted[customer_id]]
    inserted: set[str] = set()
    if missing:
        inserted = {row.customer_external_id for row in insert_ignore(
            session, _TABLE,
            [{"shop_id": shop_id, "customer_external_id": customer_id, "wanted": wanted[customer_id],
              "written": [], "dirty": True, "attempts": 0, "next_attempt_at": None, "error": None,
              "updated_at": now} for customer_id in missing],
            conflict=("shop_id", "customer_external_id"), returning=("customer_external_id",))}
    # rows another transaction inserted between our look-up and our insert
    lost = {customer_id: wanted[customer_id] for customer_id in missing if customer_id not in inserted}
    if lost:
        count += _update_existing(session, shop_id, lost, now)[1]
    return count + len(inserted)


def _update_existing(session: Session, shop_id: int, wanted: Mapping[str, list[str]],
                     now: dt.datetime) -> tuple[set[str], int]:
    """Update the rows that exist for these customers where the wanted tags differ: (ids found, rows changed)."""
    ids = list(wanted)
    seen: set[str] = set()
    count = 0
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        part = ids[start:start + _LOOKUP_CHUNK]
        rows = session.execute(select(
            CustomerTagSync.id, CustomerTagSync.customer_external_id, CustomerTagSync.wanted,
            CustomerTagSync.updated_at).where(
            CustomerTagSync.shop_id == shop_id, among(session, CustomerTagSync.customer_external_id, part))).all()
        changed = []
        for row_id, customer_id, before, updated_at in rows:
            seen.add(customer_id)
            if _normalized(before or []) == wanted[customer_id]:
                continue
            # updated_at is what a write in flight checks: it must move even within a microsecond
            moved = max(now, updated_at + _TICK) if updated_at is not None else now
            changed.append({"id": row_id, "wanted": wanted[customer_id], "dirty": True, "attempts": 0,
                            "next_attempt_at": None, "error": None, "updated_at": moved})
        if changed:
            # one executemany UPDATE by primary key
            session.execute(update(CustomerTagSync), changed)
            count += len(changed)
    return seen, count


def _is_due(now: dt.datetime) -> Any:
    return (CustomerTagSync.dirty.is_(True),
            or_(CustomerTagSync.next_attempt_at.is_(None), CustomerTagSync.next_attempt_at <= now))


def due(session: Session, shop_id: int, now: dt.datetime, limit: int = BATCH) -> list[CustomerTagSync]:
    """The shop's rows to write now: dirty, and not waiting for a later attempt."""
    return list(session.execute(
        select(CustomerTagSync).where(CustomerTagSync.shop_id == shop_id, *_is_due(now))
        .order_by(CustomerTagSync.id).limit(limit).execution_options(populate_existing=True)).scalars().all())


def shops_due(session: Session, now: dt.datetime) -> list[int]:
    """Active shops with a row to write now."""
    return list(session.execute(
        select(CustomerTagSync.shop_id).join(Shop, Shop.id == CustomerTagSync.shop_id)
        .where(Shop.status == "active", *_is_due(now)).distinct().order_by(CustomerTagSync.shop_id)).scalars().all())


def attributes(customer_external_id: str, wanted: Sequence[str], written: Sequence[str]) -> base.CustomerAttributes:
    """What the store is sent for one customer: the tags to add and remove, and the value."""
    return base.CustomerAttributes(
        customer_external_id=customer_external_id,
        values=((VALUE_NAME, "," + "".join(f"{tag}," for tag in wanted)),),
        tags_add=tuple(tag for tag in wanted if tag not in written),
        tags_remove=tuple(tag for tag in written if tag not in wanted))


class _Seen:
    """A row as it was read before the call: what was sent, and the mark its outcome checks."""

    def __init__(self, row: CustomerTagSync):
        self.id = row.id
        self.customer_external_id = row.customer_external_id
        self.wanted = _normalized(row.wanted or [])
        self.written = _normalized(row.written or [])
        self.attempts = row.attempts or 0
        self.updated_at = row.updated_at


def write(session: Session, shop: Shop, connector: base.Connector, credentials: base.Credentials,
          rows: Sequence[CustomerTagSync], *, now: dt.datetime | None = None) -> dict[str, int]:
    """Write one batch of rows to the store in one ``set_customer_attributes`` call; commit; count outcomes.

    ``RetryableError`` puts the batch off (backing off, up to ``MAX_ATTEMPTS``). A
    ``TerminalError`` is retried customer by customer: one the store refuses is given up, but
    when the store refuses every one the cause is the shop's (a scope, say) and they are all
    put off instead. ``AuthRevokedError`` is raised with nothing recorded, so that
    ``installs.call_with_credentials`` can refresh and call again, and otherwise the rows wait
    for the shop to be authorized again.
    """
    now = now or utcnow()
    seen = [_Seen(row) for row in rows]
    if not seen:
        return {}
    outcomes: dict[int, tuple[str, str | None, float | None]] = {}
    gone = _gone(session, shop.id, [row.customer_external_id for row in seen])
    pending = []
    for row in seen:
        if row.customer_external_id in gone:
            outcomes[row.id] = (GONE, None, None)
        elif row.wanted == row.written:
            outcomes[row.id] = (UNCHANGED, None, None)
        else:
            pending.append(row)
    outcomes.update(_send(shop, connector, credentials, pending))
    counts: dict[str, int] = {}
    for row in seen:
        outcome, error, retry_after = outcomes[row.id]
        outcome = _record(session, row, outcome, error, retry_after, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    session.commit()
    log.info("shop=%s segment tags: %s", shop.id, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return counts


def _gone(session: Session, shop_id: int, customer_ids: Sequence[str]) -> set[str]:
    return set(session.execute(select(Customer.external_id).where(
        Customer.shop_id == shop_id, among(session, Customer.external_id, customer_ids),
        or_(Customer.deleted_at.is_not(None), Customer.redacted_at.is_not(None)))).scalars())


def _send(shop: Shop, connector: base.Connector, credentials: base.Credentials,
          rows: Sequence[_Seen]) -> dict[int, tuple[str, str | None, float | None]]:
    """Call the store for the rows; the outcome of each (``AuthRevokedError`` is raised)."""
    if not rows:
        return {}

    def call(batch: Sequence[_Seen]) -> None:
        connector.set_customer_attributes(
            credentials, [attributes(row.customer_external_id, row.wanted, row.written) for row in batch])

    try:
        call(rows)
        return {row.id: (WRITTEN, None, None) for row in rows}
    except base.RetryableError as error:
        return {row.id: (RETRY, f"the store could not be reached: {error}", error.retry_after) for row in rows}
    except base.TerminalError as error:
        if len(rows) == 1:
            return {rows[0].id: (FAILED, f"the store refused: {error}", None)}
    # one refused customer (deleted in the store, say) must not hold up the others
    outcomes: dict[int, tuple[str, str | None, float | None]] = {}
    for index, row in enumerate(rows):
        try:
            call([row])
            outcomes[row.id] = (WRITTEN, None, None)
        except base.RetryableError as error:
            for rest in rows[index:]:
                outcomes[rest.id] = (RETRY, f"the store could not be reached: {error}", error.retry_after)
            return outcomes
        except base.TerminalError as error:
            outcomes[row.id] = (FAILED, f"the store refused: {error}", None)
            log.warning("shop=%s tag sync=%s refused: %s", shop.id, row.id, error)
    if all(outcome == FAILED for outcome, _, _ in outcomes.values()):
        # the store refuses every customer: the cause is the shop's, not theirs
        return {row_id: (RETRY, error, None) for row_id, (_, error, _) in outcomes.items()}
    return outcomes


def _retry_at(attempts: int, retry_after: float | None, now: dt.datetime) -> dt.datetime:
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    if retry_after is not None:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return now + delay


def _record(session: Session, row: _Seen, outcome: str, error: str | None, retry_after: float | None,
            now: dt.datetime) -> str:
    """Store one row's outcome, unless its wanted tags changed meanwhile; return the outcome counted."""
    values: dict[str, Any]
    if outcome in (WRITTEN, UNCHANGED):
        values = {"written": row.wanted, "dirty": False, "attempts": 0, "next_attempt_at": None, "error": None}
    elif outcome == GONE:
        values = {"dirty": False, "next_attempt_at": None, "error": "the customer is no longer in the store"}
    elif outcome == RETRY and row.attempts + 1 < MAX_ATTEMPTS:
        values = {"attempts": row.attempts + 1, "next_attempt_at": _retry_at(row.attempts + 1, retry_after, now),
                  "error": (error or "")[:1000]}
    else:
        if outcome == RETRY:
            error = f"gave up after {row.attempts + 1} attempts: {error}"
            outcome = FAILED
        values = {"attempts": row.attempts + 1, "dirty": False, "next_attempt_at": None,
                  "error": (error or "")[:1000]}
    result = session.execute(update(CustomerTagSync).where(
        CustomerTagSync.id == row.id, CustomerTagSync.updated_at == row.updated_at).values(**values)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 1) == 0 and outcome == WRITTEN:
        # wanted changed while the store was writing: it holds what was sent, and the row stays
        # dirty for the new tags (also when they are the old ones again)
        session.execute(update(CustomerTagSync).where(CustomerTagSync.id == row.id).values(
            written=row.wanted, dirty=True).execution_options(synchronize_session=False))
    return outcome
