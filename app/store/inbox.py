"""The webhook inbox: store a verified delivery once, then drain stored events in batches.

Intake stores first and acknowledges after (a duplicate delivery hits the unique key and changes
nothing). Draining takes one shop's pending events in arrival order, applies them to the mirror
and marks them processed in the same transaction: a worker killed mid-batch leaves the batch
pending, and the next drain applies it once.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from app.store import mirror, privacy
from app.store.models import Shop, WebhookEvent
from app.store.types import utcnow
from app.store.upsert import among
from connectors import base

log = logging.getLogger(__name__)

# Errors of the connection, not of an event: nothing is charged, the job retries later.
_CONNECTION_ERRORS = (OperationalError, InterfaceError, DisconnectionError)

MAX_ATTEMPTS = 5

# Kinds accepted for a shop that has uninstalled the app: the privacy requests a platform
# keeps sending after uninstall (a shop erasure arrives days later).
_AFTER_UNINSTALL = frozenset({base.PRIVACY_DATA_REQUEST, base.PRIVACY_CUSTOMER_REDACT,
                              base.PRIVACY_SHOP_REDACT, base.APP_UNINSTALLED})


@dataclasses.dataclass(frozen=True)
class Intake:
    """What happened to a delivery: ``stored``, ``duplicate`` or ``discarded`` (unknown shop)."""

    outcome: str
    shop_id: int | None = None
    event_id: int | None = None


@dataclasses.dataclass(frozen=True)
class ShopRef:
    id: int
    status: str


# Intake looks a shop up on every delivery; a second-long memory of the answer saves a query
# per webhook on a busy shop. Lifecycle changes (install, uninstall) call ``forget_shop``.
_SHOP_CACHE_SECONDS = 2.0
_shop_cache: dict[tuple[str, str], tuple[float, ShopRef | None]] = {}


def forget_shop(platform: str, domain: str) -> None:
    _shop_cache.pop((platform, domain), None)


def _shop_ref(session: Any, platform: str, domain: str) -> ShopRef | None:
    key = (platform, domain)
    now = time.monotonic()
    cached = _shop_cache.get(key)
    if cached is not None and now - cached[0] < _SHOP_CACHE_SECONDS:
        return cached[1]
    table = Shop.__table__
    row = session.execute(
        select(table.c.id, table.c.status).where(table.c.platform == platform, table.c.domain == domain)
    ).first()
    ref = ShopRef(row[0], row[1]) if row is not None else None
    if len(_shop_cache) > 10_000:
        _shop_cache.clear()
    _shop_cache[key] = (now, ref)
    return ref


@dataclasses.dataclass(frozen=True)
class ShopSecret:
    domain: str
    secret: str | None


def shop_secret(engine: Any, platform: str, shop_id: int) -> ShopSecret | None:
    """Return a shop's domain and webhook secret (decrypted), for intake addressed by shop id."""
    table = Shop.__table__
    with engine.connect() as connection:
        row = connection.execute(
            select(table.c.domain, table.c.webhook_secret)
            .where(table.c.id == shop_id, table.c.platform == platform)
        ).first()
    return None if row is None else ShopSecret(row[0], row[1])


def find_shop_for_delivery(session: Any, envelope: base.WebhookEnvelope) -> ShopRef | None:
    """Return the shop a delivery belongs to, or None when we do not (or no longer) know it."""
    shop = _shop_ref(session, envelope.platform, envelope.shop_key)
    if shop is None:
        return None
    if shop.status in ("uninstalled", "redacted") and envelope.kind not in _AFTER_UNINSTALL:
        return None
    if shop.status == "redacted" and envelope.kind != base.PRIVACY_SHOP_REDACT:
        return None
    return shop


def _delivery_insert(dialect_name: str) -> Any:
    table = WebhookEvent.__table__
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return (insert(table).on_conflict_do_nothing(index_elements=["platform", "delivery_key"])
            .returning(table.c.id))


_DELIVERY_INSERTS = {name: _delivery_insert(name) for name in ("postgresql", "sqlite")}


def record_delivery(connection: Any, shop_id: int, envelope: base.WebhookEnvelope) -> Intake:
    """Store a verified delivery once; the caller commits, then acknowledges."""
    statement = _DELIVERY_INSERTS[connection.get_bind().dialect.name if isinstance(connection, Session)
                                  else connection.dialect.name]
    row = connection.execute(statement, {
        "shop_id": shop_id, "platform": envelope.platform, "delivery_key": envelope.delivery_key,
        "topic": envelope.topic, "kind": envelope.kind, "body": envelope.body,
        "status": "ignored" if envelope.kind == base.IGNORED else "pending", "attempts": 0,
        "received_at": utcnow(), "triggered_at": envelope.triggered_at,
    }).first()
    if row is None:
        return Intake("duplicate", shop_id)
    return Intake("stored", shop_id, row[0])


def store_delivery(engine: Any, envelope: base.WebhookEnvelope) -> Intake:
    """Find the delivery's shop and store the delivery in one short transaction of its own.

    The hot path of webhook intake: a Core connection (no ORM session), a statement built once,
    the shop usually remembered. Returns ``discarded`` for a shop we do not serve.
    """
    with engine.begin() as connection:
        shop = find_shop_for_delivery(connection, envelope)
        if shop is None:
            return Intake("discarded")
        return record_delivery(connection, shop.id, envelope)


def mark_enqueued(session: Session, shop_id: int) -> None:
    """Note on the shop's pending events when the sweeper last queued a drain for them."""
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.shop_id == shop_id, WebhookEvent.status == "pending")
        .values(enqueued_at=utcnow())
    )


def shops_needing_drain(session: Session, older_than_seconds: int = 60) -> list[int]:
    """Return shops with events still pending a while after they arrived.

    Those were never queued (Redis was down at intake) or their drain was lost; queuing a
    drain again is harmless, since a drain already waiting keeps its place.
    """
    import datetime as dt

    cutoff = utcnow() - dt.timedelta(seconds=older_than_seconds)
    rows = session.execute(
        select(WebhookEvent.shop_id)
        .where(WebhookEvent.status == "pending", WebhookEvent.received_at < cutoff)
        .distinct()
    ).scalars().all()
    return list(rows)


@dataclasses.dataclass
class DrainResult:
    processed: int = 0
    ignored: int = 0
    failed: int = 0
    batches: int = 0
    uninstalled: bool = False
    retry_later: int = 0  # failed this time, left pending for a later drain
    # What applied events asked to be read from the platform (queued once committed).
    refetch: list[base.Refetch] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        return self.processed + self.ignored + self.failed


Parser = Callable[[str, bytes], base.NormalizedEvent]
Lifecycle = Callable[[Session, Shop, base.NormalizedEvent], None]


def _pending(session: Session, shop_id: int, limit: int) -> Sequence[Any]:
    table = WebhookEvent.__table__
    query = (
        select(table.c.id, table.c.topic, table.c.body, table.c.triggered_at, table.c.received_at)
        .where(table.c.shop_id == shop_id, table.c.status == "pending")
        .order_by(table.c.id).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.execute(query).all()


def has_pending(session: Session, shop_id: int) -> bool:
    """Tell whether the shop has events waiting to be applied."""
    table = WebhookEvent.__table__
    return session.execute(
        select(table.c.id).where(table.c.shop_id == shop_id, table.c.status == "pending").limit(1)
    ).first() is not None


_UPSERT_KINDS = frozenset({base.ORDER_UPSERT, base.REFUND_CREATE, base.CUSTOMER_UPSERT,
                           base.CUSTOMER_CONSENT, base.CUSTOMER_SUMMARY, base.CART_UPSERT,
                           base.PRODUCT_UPSERT})


def _mark(session: Session, ids: list[int], status: str, **values: Any) -> None:
    """Record the outcome; an applied event's raw payload is erased (its data lives in the mirror)."""
    if ids:
        table = WebhookEvent.__table__
        session.execute(
            table.update().where(among(session, table.c.id, ids))
            .values(status=status, attempts=table.c.attempts + 1, processed_at=utcnow(), body=b"", **values)
        )


def _apply_events(session: Session, shop: Shop, events: Sequence[Any], parse: Parser,
                  on_uninstall: Lifecycle) -> DrainResult:
    """Apply events in order and mark them; the caller commits (or rolls back)."""
    result = DrainResult(batches=1 if events else 0)
    pending_records: list[Any] = []
    processed: list[int] = []
    ignored: list[int] = []

    def flush() -> None:
        if pending_records:
            mirror.apply_records(session, shop.id, shop.platform, pending_records)
            pending_records.clear()

    for event_id, topic, body, triggered_at, received_at in events:
        try:
            normalized = parse(topic, body)
        except base.TerminalError as error:
            table = WebhookEvent.__table__
            session.execute(table.update().where(table.c.id == event_id).values(
                status="failed", attempts=table.c.attempts + 1, processed_at=utcnow(),
                last_error=str(error)[:2000]))
            result.failed += 1
            log.warning("shop=%s event=%s topic=%s rejected: %s", shop.id, event_id, topic, error)
            continue
        result.refetch.extend(normalized.refetch)
        if normalized.kind in _UPSERT_KINDS:
            pending_records.extend(normalized.records)
        elif normalized.kind == base.IGNORED:
            ignored.append(event_id)
            continue
        else:
            flush()
            if normalized.kind == base.APP_UNINSTALLED and _predates_install(shop, triggered_at or received_at):
                # A late retry of the uninstall before the merchant installed again.
                log.info("shop=%s event=%s uninstall from before the current install ignored", shop.id, event_id)
                ignored.append(event_id)
                continue
            _apply_lifecycle(session, shop, event_id, normalized, on_uninstall)
            if normalized.kind == base.APP_UNINSTALLED:
                result.uninstalled = True
        processed.append(event_id)
    flush()
    _mark(session, processed, "processed", last_error=None)
    _mark(session, ignored, "ignored")
    result.processed += len(processed)
    result.ignored += len(ignored)
    return result


def _apply_lifecycle(session: Session, shop: Shop, event_id: int, normalized: base.NormalizedEvent,
                     on_uninstall: Lifecycle) -> None:
    kind = normalized.kind
    if kind == base.PRODUCT_DELETE:
        mirror.delete_products(session, shop.id, shop.platform, normalized.records)
    elif kind == base.ORDER_DELETE:
        mirror.delete_orders(session, shop.id, shop.platform, normalized.records)
    elif kind == base.ORDER_RESTORE:
        # The deletion is undone first: a deleted row takes no updates.
        mirror.restore_orders(session, shop.id, [r.external_id for r in normalized.records
                                                  if isinstance(r, base.Order)])
        mirror.apply_records(session, shop.id, shop.platform, normalized.records)
    elif kind == base.PRODUCT_RESTORE:
        mirror.restore_products(session, shop.id, [r.external_id for r in normalized.records
                                                    if isinstance(r, base.Product)])
        mirror.apply_records(session, shop.id, shop.platform, normalized.records)
    elif kind == base.CUSTOMER_DELETE:
        for record in normalized.records:
            privacy.redact_customer(session, shop.id, record.external_id, email=None, order_ids=(),
                                    event_id=event_id, kind="customer_delete")
    elif kind == base.APP_UNINSTALLED:
        on_uninstall(session, shop, normalized)
    elif kind == base.PRIVACY_DATA_REQUEST:
        privacy.export_customer_data(session, shop.id, normalized.records[0], event_id=event_id)
    elif kind == base.PRIVACY_CUSTOMER_REDACT:
        request = normalized.records[0]
        privacy.redact_customer(session, shop.id, request.customer_external_id, email=request.email,
                                order_ids=request.order_external_ids, event_id=event_id)
    elif kind == base.PRIVACY_SHOP_REDACT:
        privacy.redact_shop(session, shop, keep_event_id=event_id)
    else:
        raise base.TerminalError(f"no handler for event kind {kind!r}")


def _predates_install(shop: Shop, happened_at: Any) -> bool:
    return shop.installed_at is not None and happened_at is not None and happened_at < shop.installed_at


def apply_batch(session: Session, shop: Shop, parse: Parser, on_uninstall: Lifecycle, limit: int) -> DrainResult:
    """Apply up to ``limit`` pending events of one shop and mark them; the caller commits.

    Consecutive upserts are applied together; an event with its own effect (a deletion, an
    uninstall, a privacy request) first flushes what came before it, so order is kept.
    """
    return _apply_events(session, shop, _pending(session, shop.id, limit), parse, on_uninstall)


def _apply_one_by_one(session: Session, shop: Shop, parse: Parser, on_uninstall: Lifecycle,
                      limit: int) -> DrainResult:
    """Apply a batch that failed as a whole event by event, each in a savepoint.

    The event that breaks is charged an attempt (and parked after ``MAX_ATTEMPTS``); the
    others are applied, so one bad event never holds up or fails the rest.
    """
    total = DrainResult()
    table = WebhookEvent.__table__
    for event in _pending(session, shop.id, limit):
        try:
            with session.begin_nested():
                result = _apply_events(session, shop, [event], parse, on_uninstall)
        except _CONNECTION_ERRORS:
            raise
        except Exception as error:  # noqa: BLE001 - recorded on the event, which is retried
            message = f"{type(error).__name__}: {error}"[:2000]
            log.warning("shop=%s event=%s failed: %s", shop.id, event[0], message)
            session.execute(table.update().where(table.c.id == event[0])
                            .values(attempts=table.c.attempts + 1, last_error=message))
            parked = session.execute(
                table.update().where(table.c.id == event[0], table.c.attempts >= MAX_ATTEMPTS)
                .values(status="failed", processed_at=utcnow())).rowcount
            total.failed += 1
            total.retry_later += 0 if parked else 1
            continue
        total.processed += result.processed
        total.ignored += result.ignored
        total.failed += result.failed
        total.uninstalled = total.uninstalled or result.uninstalled
        total.refetch.extend(result.refetch)
    total.batches = 1
    return total


def drain(session: Session, shop: Shop, parse: Parser, on_uninstall: Lifecycle, *, batch_size: int,
          max_batches: int = 200) -> DrainResult:
    """Apply the shop's pending events batch by batch, committing each; bounded in batches.

    A lost connection is raised for the job's retry without charging the events; any other
    failure of a batch is narrowed down to the event that caused it.
    """
    total = DrainResult()
    for _ in range(max_batches):
        try:
            result = apply_batch(session, shop, parse, on_uninstall, batch_size)
            session.commit()
        except _CONNECTION_ERRORS:
            session.rollback()
            raise
        except Exception:  # noqa: BLE001 - narrowed down event by event below
            session.rollback()
            log.exception("shop=%s inbox batch failed; applying its events one by one", shop.id)
            session.refresh(shop)
            result = _apply_one_by_one(session, shop, parse, on_uninstall, batch_size)
            session.commit()
        total.processed += result.processed
        total.ignored += result.ignored
        total.failed += result.failed
        total.batches += result.batches
        total.uninstalled = total.uninstalled or result.uninstalled
        total.retry_later += result.retry_later
        total.refetch.extend(result.refetch)
        if result.total < batch_size or result.uninstalled or result.retry_later:
            break  # done, or events failed: they are tried again by the next drain, not now
    return total
