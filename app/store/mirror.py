"""Write neutral records into the mirror: batched upserts where the newer version wins.

Every function takes many records at once (a batch of webhooks or a page of a backfill) and
issues a handful of multi-row statements, so that a worker applies thousands per second.
Applying the same records twice leaves the same rows: each write is keyed on
``(shop_id, external_id)`` and guarded by the platform's own ``updated_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.store.models import Cart, Customer, LineItem, Order, Product, Refund, RefundLineItem, Variant
from app.store.types import utcnow
from app.store.upsert import among, insert_ignore, upsert
from connectors import base


def _newest(records: Iterable[Any], key: str = "external_id", stamp: str = "updated_at") -> list[Any]:
    """Keep one record per id: the one with the latest ``stamp`` (the last one on a tie)."""
    chosen: dict[str, Any] = {}
    for record in records:
        current = chosen.get(getattr(record, key))
        if current is None or (getattr(record, stamp) or _EPOCH) >= (getattr(current, stamp) or _EPOCH):
            chosen[getattr(record, key)] = record
    return list(chosen.values())


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

_CUSTOMER_CORE = ("email", "first_name", "last_name", "phone", "state", "country_code", "province_code",
                  "source_created_at", "source_updated_at", "updated_at")


def apply_customers(session: Session, shop_id: int, platform: str, records: Sequence[base.Customer]) -> int:
    """Upsert customers; consent and purchasing summary only when the record carries them.

    A location field the record names unknown (a payload without the address) keeps what is
    stored; a new row starts without it.
    """
    records = _newest(records)
    now = utcnow()
    rows = [
        {
            "shop_id": shop_id, "platform": platform, "external_id": r.external_id,
            "email": r.email, "first_name": r.first_name, "last_name": r.last_name,
            "phone": r.phone, "state": r.state, "tags": list(r.tags) if r.tags is not None else None,
            "country_code": None if "country_code" in r.unknown_fields else r.country_code,
            "province_code": None if "province_code" in r.unknown_fields else r.province_code,
            "source_created_at": r.created_at, "source_updated_at": r.updated_at,
            "created_at": now, "updated_at": now,
        }
        for r in records
    ]
    columns = [_known_columns(_CUSTOMER_CORE, set(r.unknown_fields) & base.CUSTOMER_OPTIONAL_FIELDS)
               for r in records]
    # A redacted customer keeps its erased fields erased, whatever arrives later.
    not_redacted = Customer.__table__.c.redacted_at.is_(None)
    written: list[Any] = []
    for update_columns, group in _by_columns(rows, columns).items():
        written += upsert(session, Customer.__table__, group, conflict=("shop_id", "external_id"),
                          update=update_columns, newer_than="source_updated_at", extra_where=not_redacted)
    tagged = [r for r in rows if r["tags"] is not None]
    if tagged:
        upsert(session, Customer.__table__, tagged, conflict=("shop_id", "external_id"),
               update=("tags",), newer_than="source_updated_at", extra_where=not_redacted, returning=())
    consents = [
        base.CustomerConsent(r.external_id, r.email_marketing_state, r.consent_updated_at or r.updated_at)
        for r in records if r.email_marketing_state is not None
    ]
    if consents:
        apply_consents(session, shop_id, platform, consents)
    summaries = [
        base.CustomerSummary(r.external_id, r.order_count, r.total_spent, r.updated_at)
        for r in records if r.order_count is not None and r.total_spent is not None
    ]
    if summaries:
        apply_summaries(session, shop_id, platform, summaries)
    return len(written)


def apply_consents(session: Session, shop_id: int, platform: str, records: Sequence[base.CustomerConsent]) -> int:
    """Record marketing consent; a customer we have not seen yet gets a row to hold it."""
    records = _newest(records, key="customer_external_id", stamp="consent_updated_at")
    now = utcnow()
    rows = [
        {"shop_id": shop_id, "platform": platform, "external_id": r.customer_external_id,
         "email_marketing_state": r.email_marketing_state, "consent_updated_at": r.consent_updated_at,
         "created_at": now, "updated_at": now}
        for r in records
    ]
    return len(upsert(session, Customer.__table__, rows, conflict=("shop_id", "external_id"),
                      update=("email_marketing_state", "consent_updated_at", "updated_at"),
                      newer_than="consent_updated_at"))


def apply_summaries(session: Session, shop_id: int, platform: str, records: Sequence[base.CustomerSummary]) -> int:
    """Record order count and total spent as the platform reports them."""
    records = _newest(records, key="customer_external_id")
    now = utcnow()
    rows = [
        {"shop_id": shop_id, "platform": platform, "external_id": r.customer_external_id,
         "order_count": r.order_count, "total_spent": r.total_spent.amount,
         "total_spent_currency": r.total_spent.currency, "summary_updated_at": r.updated_at or now,
         "created_at": now, "updated_at": now}
        for r in records
    ]
    return len(upsert(session, Customer.__table__, rows, conflict=("shop_id", "external_id"),
                      update=("order_count", "total_spent", "total_spent_currency",
                              "summary_updated_at", "updated_at"),
                      newer_than="summary_updated_at"))


_LINE_COLUMNS = ("title", "quantity", "unit_price", "total_discount", "sku", "product_external_id",
                 "variant_external_id")
_VARIANT_COLUMNS = ("title", "sku", "price", "inventory_quantity")

_ORDER_COLUMNS = ("number", "customer_external_id", "email", "currency", "total_price",
                  "subtotal_price", "total_discounts", "total_tax", "gift_card_amount",
                  "shipping_address_key", "financial_status", "fulfillment_status", "is_test", "tags",
                  "discount_codes", "source_created_at", "source_updated_at", "processed_at",
                  "cancelled_at", "fulfilled_at", "updated_at")


def _known_columns(columns: Sequence[str], unknown: Iterable[str]) -> tuple[str, ...]:
    """Return the columns a record may overwrite: all but those its source could not tell."""
    left_out = set(unknown)
    return tuple(column for column in columns if column not in left_out)


def _order_columns(record: base.Order) -> tuple[str, ...]:
    """Return the columns an order overwrites when it wins.

    An order whose gift card amount the source could not tell keeps the stored one (and
    whether it is known); a known amount is written with the flag. A field the record names
    unknown keeps what is stored too.
    """
    unknown = set(record.unknown_fields) & base.ORDER_OPTIONAL_FIELDS
    if not record.gift_card_amount_known:
        return _known_columns(_ORDER_COLUMNS, unknown | {"gift_card_amount"})
    return (*_known_columns(_ORDER_COLUMNS, unknown), "gift_card_amount_known")


def _by_columns(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, ...]]
                ) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Group rows by the columns each may overwrite (one statement per group)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row, update_columns in zip(rows, columns, strict=True):
        groups.setdefault(update_columns, []).append(row)
    return groups


def apply_orders(session: Session, shop_id: int, platform: str, records: Sequence[base.Order]) -> int:
    """Upsert orders; an order that won gets its line items replaced and its refunds added.

    An order whose gift card amount its source could not tell keeps the amount stored (a new
    row starts at 0), and so does a field the record names unknown (a new row starts empty);
    every other column is written as usual.
    """
    records = _newest(records)
    now = utcnow()
    rows = [
        {
            "shop_id": shop_id, "platform": platform, "external_id": r.external_id,
            "number": r.number, "customer_external_id": r.customer_external_id, "email": r.email,
            "currency": r.currency, "total_price": r.total_price, "subtotal_price": r.subtotal_price,
            "total_discounts": r.total_discounts, "total_tax": r.total_tax,
            "gift_card_amount": r.gift_card_amount if r.gift_card_amount_known else Decimal("0"),
            "gift_card_amount_known": r.gift_card_amount_known,
            "shipping_address_key": r.shipping_address_key,
            "financial_status": r.financial_status, "fulfillment_status": r.fulfillment_status,
            "is_test": r.is_test, "tags": list(r.tags), "discount_codes": list(r.discount_codes),
            "source_created_at": r.created_at, "source_updated_at": r.updated_at,
            "processed_at": r.processed_at, "cancelled_at": r.cancelled_at,
            "fulfilled_at": None if "fulfilled_at" in r.unknown_fields else r.fulfilled_at,
            "created_at": now, "updated_at": now,
        }
        for r in records
    ]
    written: list[Any] = []
    for update_columns, group in _by_columns(rows, [_order_columns(r) for r in records]).items():
        written += upsert(session, Order.__table__, group, conflict=("shop_id", "external_id"),
                          update=update_columns, newer_than="source_updated_at",
                          extra_where=Order.__table__.c.deleted_at.is_(None))
    ids = {external_id: order_id for order_id, external_id in written}
    if ids:
        complete = {ids[r.external_id] for r in records if r.external_id in ids and r.line_items_complete}
        for part in _slices(sorted(complete), 5000):
            session.execute(delete(LineItem).where(among(session, LineItem.order_id, part)))
        line_rows = [
            {"shop_id": shop_id, "order_id": ids[r.external_id], "external_id": li.external_id,
             "title": li.title, "quantity": li.quantity, "unit_price": li.unit_price,
             "total_discount": li.total_discount, "sku": li.sku,
             "product_external_id": li.product_external_id,
             "variant_external_id": li.variant_external_id}
            for r in records if r.external_id in ids for li in r.line_items
        ]
        # Lines of a cut-short list update the stored ones; the lines beyond the cut stay.
        upsert(session, LineItem.__table__, line_rows, conflict=("order_id", "external_id"),
               update=_LINE_COLUMNS, returning=())
    if ids:
        _keep_redacted_emails_erased(session, shop_id, Order.__table__, list(ids.values()))
    refunds = [refund for r in records for refund in r.refunds]
    if refunds:
        apply_refunds(session, shop_id, platform, refunds)
    return len(written)


def _keep_redacted_emails_erased(session: Session, shop_id: int, table: Any, row_ids: list[int]) -> None:
    """Erase the email again on rows just written for customers whose data was redacted."""
    redacted = (
        select(Customer.external_id)
        .where(Customer.shop_id == shop_id, Customer.redacted_at.is_not(None))
        .scalar_subquery()
    )
    for part in _slices(row_ids, 5000):
        session.execute(
            update(table)
            .where(among(session, table.c.id, part), table.c.email.is_not(None),
                   table.c.customer_external_id.in_(redacted))
            .values(email=None)
        )


def apply_refunds(session: Session, shop_id: int, platform: str, records: Sequence[base.Refund]) -> int:
    """Add refunds (they never change once made); a refund seen twice is kept once."""
    unique = {r.external_id: r for r in records}
    now = utcnow()
    rows = [
        {"shop_id": shop_id, "platform": platform, "external_id": r.external_id,
         "order_external_id": r.order_external_id, "amount": r.amount.amount,
         "currency": r.amount.currency, "note": r.note, "source_created_at": r.created_at,
         "created_at": now}
        for r in unique.values()
    ]
    inserted = insert_ignore(session, Refund.__table__, rows, conflict=("shop_id", "external_id"))
    line_rows = [
        {"refund_id": refund_id, "line_item_external_id": line.line_item_external_id,
         "quantity": line.quantity, "subtotal": line.subtotal}
        for refund_id, external_id in inserted for line in unique[external_id].line_items
    ]
    if line_rows:
        session.execute(RefundLineItem.__table__.insert(), line_rows)
    return len(inserted)


_PRODUCT_COLUMNS = ("title", "handle", "status", "vendor", "product_type", "tags", "image_url", "url",
                    "categories", "source_created_at", "source_updated_at", "updated_at")


def apply_products(session: Session, shop_id: int, platform: str, records: Sequence[base.Product]) -> int:
    """Upsert products and replace the variants of those that won; deleted ones stay deleted.

    A field the record names unknown (a webhook without the storefront URL) keeps what is
    stored; a new row starts without it.
    """
    records = _newest(records)
    now = utcnow()
    rows = []
    for r in records:
        unknown = r.unknown_fields
        rows.append(
            {"shop_id": shop_id, "platform": platform, "external_id": r.external_id, "title": r.title,
             "handle": r.handle, "status": r.status, "vendor": r.vendor, "product_type": r.product_type,
             "tags": list(r.tags),
             "image_url": None if "image_url" in unknown else r.image_url,
             "url": None if "url" in unknown else r.url,
             "categories": None if "categories" in unknown else list(r.categories),
             "source_created_at": r.created_at, "source_updated_at": r.updated_at,
             "created_at": now, "updated_at": now})
    columns = [_known_columns(_PRODUCT_COLUMNS, set(r.unknown_fields) & base.PRODUCT_OPTIONAL_FIELDS)
               for r in records]
    written: list[Any] = []
    for update_columns, group in _by_columns(rows, columns).items():
        written += upsert(session, Product.__table__, group, conflict=("shop_id", "external_id"),
                          update=update_columns, newer_than="source_updated_at",
                          extra_where=Product.__table__.c.deleted_at.is_(None))
    ids = {external_id: product_id for product_id, external_id in written}
    if ids:
        complete = {ids[r.external_id] for r in records if r.external_id in ids and r.variants_complete}
        for part in _slices(sorted(complete), 5000):
            session.execute(delete(Variant).where(among(session, Variant.product_id, part)))
        variant_rows = [
            {"shop_id": shop_id, "product_id": ids[r.external_id], "external_id": v.external_id,
             "title": v.title, "sku": v.sku, "price": v.price, "inventory_quantity": v.inventory_quantity}
            for r in records if r.external_id in ids for v in r.variants
        ]
        upsert(session, Variant.__table__, variant_rows, conflict=("product_id", "external_id"),
               update=_VARIANT_COLUMNS, returning=())
    return len(written)


def delete_products(session: Session, shop_id: int, platform: str, records: Sequence[base.Deletion]) -> int:
    """Mark products deleted; a deletion that arrives before the product leaves a tombstone."""
    now = utcnow()
    rows = [
        {"shop_id": shop_id, "platform": platform, "external_id": r.external_id, "title": "",
         "tags": [], "deleted_at": now, "created_at": now, "updated_at": now}
        for r in {r.external_id: r for r in records}.values()
    ]
    return len(upsert(session, Product.__table__, rows, conflict=("shop_id", "external_id"),
                      update=("deleted_at", "updated_at"),
                      extra_where=Product.__table__.c.deleted_at.is_(None)))


def delete_orders(session: Session, shop_id: int, platform: str, records: Sequence[base.Deletion]) -> int:
    """Mark orders deleted (their amounts stay for the ledger's history)."""
    ids = list({r.external_id for r in records})
    result = session.execute(
        update(Order).where(Order.shop_id == shop_id, Order.external_id.in_(ids), Order.deleted_at.is_(None))
        .values(deleted_at=utcnow())
    )
    return result.rowcount or 0


def restore_orders(session: Session, shop_id: int, external_ids: Sequence[str]) -> int:
    """Undo the deletion of orders the platform restored."""
    if not external_ids:
        return 0
    result = session.execute(
        update(Order).where(Order.shop_id == shop_id, Order.external_id.in_(list(external_ids)),
                            Order.deleted_at.is_not(None))
        .values(deleted_at=None, updated_at=utcnow())
    )
    return result.rowcount or 0


def restore_products(session: Session, shop_id: int, external_ids: Sequence[str]) -> int:
    """Undo the deletion of products the platform restored."""
    if not external_ids:
        return 0
    result = session.execute(
        update(Product).where(Product.shop_id == shop_id, Product.external_id.in_(list(external_ids)),
                              Product.deleted_at.is_not(None))
        .values(deleted_at=None, updated_at=utcnow())
    )
    return result.rowcount or 0


_CART_COLUMNS = ("email", "customer_external_id", "currency", "total_price", "lines", "recovery_url",
                 "source_created_at", "source_updated_at", "completed_at", "updated_at")


def apply_carts(session: Session, shop_id: int, platform: str, records: Sequence[base.Cart]) -> int:
    """Upsert carts and checkouts; the newer version wins."""
    records = _newest(records)
    now = utcnow()
    rows = [
        {"shop_id": shop_id, "platform": platform, "external_id": r.external_id, "email": r.email,
         "customer_external_id": r.customer_external_id, "currency": r.currency,
         "total_price": r.total_price,
         "lines": [
             {"title": line.title, "quantity": line.quantity, "unit_price": str(line.unit_price),
              "product_external_id": line.product_external_id,
              "variant_external_id": line.variant_external_id, "sku": line.sku}
             for line in r.lines
         ],
         "recovery_url": r.recovery_url, "source_created_at": r.created_at,
         "source_updated_at": r.updated_at, "completed_at": r.completed_at,
         "created_at": now, "updated_at": now}
        for r in records
    ]
    written = upsert(session, Cart.__table__, rows, conflict=("shop_id", "external_id"),
                     update=_CART_COLUMNS, newer_than="source_updated_at")
    _keep_redacted_emails_erased(session, shop_id, Cart.__table__, [row_id for row_id, _ in written])
    return len(written)


def apply_cart_completions(session: Session, shop_id: int, platform: str,
                           records: Sequence[base.CartCompletion]) -> int:
    """Mark stored carts as completed (an order came of them); unknown carts stay unknown.

    Most orders never were a stored cart: one query finds the few open carts among them.
    """
    table = Cart.__table__
    newest = {r.external_id: r for r in _newest(records, stamp="completed_at")}
    open_ids: list[str] = []
    for chunk in _slices(list(newest), 500):
        open_ids += session.execute(
            select(table.c.external_id).where(table.c.shop_id == shop_id, among(session, table.c.external_id, chunk),
                                              table.c.completed_at.is_(None))
        ).scalars().all()
    now = utcnow()
    for external_id in open_ids:
        session.execute(
            table.update().where(table.c.shop_id == shop_id, table.c.external_id == external_id,
                                 table.c.completed_at.is_(None))
            .values(completed_at=newest[external_id].completed_at, updated_at=now)
        )
    return len(open_ids)


def apply_records(session: Session, shop_id: int, platform: str, records: Iterable[Any]) -> dict[str, int]:
    """Sort a mixed batch of records by type and apply each group; return counts written."""
    groups: dict[type, list[Any]] = {}
    for record in records:
        groups.setdefault(type(record), []).append(record)
    counts: dict[str, int] = {}
    for record_type, handler, name in _HANDLERS:
        group = groups.pop(record_type, None)
        if group:
            counts[name] = handler(session, shop_id, platform, group)
    if groups:
        raise TypeError(f"no mirror handler for {sorted(t.__name__ for t in groups)}")
    return counts


# Order matters: customers before orders so a later step can rely on both being present.
_HANDLERS = (
    (base.Customer, apply_customers, "customers"),
    (base.CustomerConsent, apply_consents, "consents"),
    (base.CustomerSummary, apply_summaries, "summaries"),
    (base.Product, apply_products, "products"),
    (base.Order, apply_orders, "orders"),
    (base.Refund, apply_refunds, "refunds"),
    (base.Cart, apply_carts, "carts"),
    (base.CartCompletion, apply_cart_completions, "cart_completions"),
)


def _slices(values: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def latest_update(session: Session, shop_id: int, resource: str) -> dt.datetime | None:
    """Return the newest platform ``updated_at`` we hold for a resource (the catch-up cursor)."""
    model = {"customers": Customer, "orders": Order, "products": Product, "carts": Cart}[resource]
    return session.execute(
        select(model.source_updated_at).where(model.shop_id == shop_id)
        .order_by(model.source_updated_at.desc().nulls_last()).limit(1)
    ).scalar_one_or_none()


def has_refunds(session: Session, shop_id: int, order_external_id: str, refund_ids: Sequence[str]) -> bool:
    """Return whether the mirror holds every one of an order's refunds."""
    held = session.execute(
        select(Refund.external_id).where(Refund.shop_id == shop_id,
                                         Refund.external_id.in_(list(refund_ids)))
    ).scalars().all()
    return set(held) >= set(refund_ids)


def changed_only(session: Session, shop_id: int, records: Sequence[Any]) -> list[Any]:
    """Drop customers the mirror already holds at the same platform ``updated_at``.

    A full pass over a resource the platform cannot filter by date rewrites nothing that
    has not changed; everything else passes through.
    """
    customers = [r for r in records if isinstance(r, base.Customer) and r.updated_at is not None]
    if not customers:
        return list(records)
    table = Customer.__table__
    held = dict(session.execute(
        select(table.c.external_id, table.c.source_updated_at)
        .where(table.c.shop_id == shop_id, among(session, table.c.external_id, [r.external_id for r in customers]))
    ).all())
    return [r for r in records
            if not (isinstance(r, base.Customer) and r.updated_at is not None
                    and held.get(r.external_id) == r.updated_at)]
