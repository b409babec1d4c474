"""Create messages: the outbox rows callers (the flow engine) write, once per dedupe key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.messaging import consent, render
from app.store.models import Customer, Message, Shop
from app.store.models.messaging import CATEGORIES
from app.store.types import utcnow
from app.store.upsert import insert_ignore

_MAX_CONTEXT_BYTES = 64 * 1024


class MessageError(ValueError):
    """A message that cannot be created; the text says what to change."""


@dataclasses.dataclass(frozen=True)
class Created:
    message: Message
    created: bool  # False: the dedupe key was already used and this is the message it made


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def create_message(session: Session, shop_id: int, *, template: str, dedupe_key: str,
                   context: Mapping[str, Any] | None = None, email: str | None = None,
                   customer_external_id: str | None = None, category: str | None = None, priority: int = 0,
                   not_before: dt.datetime | None = None, now: dt.datetime | None = None) -> Created:
    """Write a message to send (the caller commits, then queues its delivery).

    Idempotent: a ``dedupe_key`` the shop already used returns the message it made, unchanged.
    ``email`` defaults to the customer's current address. ``category`` defaults to the
    template's; a marketing template cannot be sent as transactional (it would skip consent).
    Consent and the budget are not decided here: delivery decides just before sending.
    """
    now = now or utcnow()
    if not isinstance(dedupe_key, str) or not 1 <= len(dedupe_key) <= 191:
        raise MessageError("dedupe_key must be 1 to 191 characters")
    existing = _by_key(session, shop_id, dedupe_key)
    if existing is not None:
        return Created(existing, False)
    if session.get(Shop, shop_id) is None:
        raise MessageError(f"no shop {shop_id}")
    try:
        default_category = render.category_of(template)
    except ValueError as error:
        raise MessageError(str(error)) from None
    category = category or default_category
    if category not in CATEGORIES:
        raise MessageError(f"category must be one of {', '.join(CATEGORIES)}, got {category!r}")
    if default_category == "marketing" and category not in ("marketing", "test"):
        raise MessageError(f"{template} is marketing mail: it cannot be sent as {category}")
    if isinstance(priority, bool) or not isinstance(priority, int) or not -1000 <= priority <= 1000:
        raise MessageError("priority must be a whole number from -1000 to 1000")
    if not_before is not None and not_before.tzinfo is None:
        raise MessageError("not_before must be timezone-aware")
    if customer_external_id is not None and (not isinstance(customer_external_id, str)
                                             or not 1 <= len(customer_external_id) <= 64):
        raise MessageError("customer_external_id must be 1 to 64 characters")
    if email is None and customer_external_id:
        email = session.execute(select(Customer.email).where(
            Customer.shop_id == shop_id, Customer.external_id == customer_external_id)).scalar_one_or_none()
        if not email:
            raise MessageError(f"customer {customer_external_id} has no email address; give one")
    if email is None:
        raise MessageError("give an email address or a customer_external_id")
    try:
        email = consent.normalise_email(email)
    except ValueError as error:
        raise MessageError(str(error)) from None
    try:
        checked = _jsonable(render.validate_context(template, context or {}))
    except render.ContextError as error:
        raise MessageError(str(error)) from None
    if len(json.dumps(checked)) > _MAX_CONTEXT_BYTES:
        raise MessageError(f"context is larger than {_MAX_CONTEXT_BYTES // 1024} KB")
    row = {"shop_id": shop_id, "customer_external_id": customer_external_id, "email": email, "channel": "email",
           "category": category, "template": template, "context": checked, "dedupe_key": dedupe_key,
           "priority": priority, "status": "queued", "not_before": not_before, "attempts": 0,
           "token": secrets.token_urlsafe(18), "created_at": now}
    inserted = insert_ignore(session, Message.__table__,  # type: ignore[arg-type]
                             [row], conflict=("shop_id", "dedupe_key"), returning=("id",))
    message = _by_key(session, shop_id, dedupe_key)
    assert message is not None
    return Created(message, bool(inserted))


def existing(session: Session, shop_id: int, dedupe_key: str) -> Message | None:
    """The message a dedupe key already made, if any."""
    return _by_key(session, shop_id, dedupe_key)


def _by_key(session: Session, shop_id: int, dedupe_key: str) -> Message | None:
    return session.execute(select(Message).where(Message.shop_id == shop_id, Message.dedupe_key == dedupe_key)
                           .execution_options(populate_existing=True)).scalar_one_or_none()
