"""Tell the store about an unsubscribe: the pending ``consent_writebacks`` rows, written in batches.

An unsubscribe takes effect here at once (the address is suppressed, the mirror's consent is
``unsubscribed``); this writes it to the platform's own email-marketing consent, so that the
merchant's other tools stop too. Each row is one address: ``pending`` until the store accepted
it (``written``), found no customer with it (``no_customer``: a guest), or refused it for good
(``failed``, after ``MAX_ATTEMPTS``). A store that cannot answer now is tried again later
(``next_attempt_at``). Writing the same consent twice changes nothing in the store, so a retry
after a lost answer is harmless; a new unsubscribe of the same address while one is being
written makes the row pending again (its ``requested_at`` moves), and the first answer does
not mark it written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.store.models import ConsentWriteback
from app.store.types import utcnow
from connectors import base

BATCH = 25
MAX_ATTEMPTS = 8
RETRY_DELAYS = (dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2), dt.timedelta(hours=6))

Writer = Callable[[Sequence[base.ConsentUpdate]], Sequence[base.ConsentResult]]


def due(session: Session, shop_id: int, now: dt.datetime, limit: int = BATCH) -> list[ConsentWriteback]:
    return list(session.execute(
        select(ConsentWriteback).where(
            ConsentWriteback.shop_id == shop_id, ConsentWriteback.status == "pending",
            or_(ConsentWriteback.next_attempt_at.is_(None), ConsentWriteback.next_attempt_at <= now))
        .order_by(ConsentWriteback.id).limit(limit).execution_options(populate_existing=True)).scalars().all())


def shops_due(session: Session, now: dt.datetime) -> list[int]:
    """Shops with a write-back that may be tried now."""
    return list(session.execute(
        select(ConsentWriteback.shop_id).where(
            ConsentWriteback.status == "pending",
            or_(ConsentWriteback.next_attempt_at.is_(None), ConsentWriteback.next_attempt_at <= now))
        .distinct()).scalars().all())


def _retry_at(attempts: int, now: dt.datetime) -> dt.datetime:
    return now + RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


def write(session: Session, rows: Sequence[ConsentWriteback], writer: Writer, now: dt.datetime | None = None
          ) -> dict[str, int]:
    """Write one batch through ``writer`` (the connector's ``set_email_consent``); commits. Counts by outcome.

    ``RetryableError`` puts the whole batch off; ``AuthRevokedError`` leaves it pending for when
    the shop is authorized again; ``TerminalError`` counts as a refusal of each row.
    """
    now = now or utcnow()
    if not rows:
        return {}
    seen = {row.id: row.requested_at for row in rows}
    updates = [base.ConsentUpdate(email=row.email, customer_external_id=row.customer_external_id, state=row.state,
                                  occurred_at=row.requested_at) for row in rows]
    try:
        results: Sequence[base.ConsentResult | None] = list(writer(updates))
        batch_error = None
    except base.RetryableError as error:
        results, batch_error = [None] * len(rows), f"the store could not be asked: {error}"
    except base.TerminalError as error:
        results, batch_error = [None] * len(rows), f"the store refused: {error}"
    counts: dict[str, int] = {}
    for row, result in zip(rows, results, strict=False):
        if result is not None and result.status in (base.CONSENT_WRITTEN, base.CONSENT_NO_CUSTOMER):
            values = {"status": result.status, "written_at": now, "last_error": None, "next_attempt_at": None}
            if result.customer_external_id and not row.customer_external_id:
                values["customer_external_id"] = result.customer_external_id
            outcome = result.status
        else:
            attempts = row.attempts + 1
            detail = (result.error if result is not None else batch_error) or "refused"
            if attempts >= MAX_ATTEMPTS:
                values = {"status": "failed", "attempts": attempts, "last_error": detail[:1000], "next_attempt_at": None}
                outcome = "failed"
            else:
                values = {"attempts": attempts, "last_error": detail[:1000], "next_attempt_at": _retry_at(attempts, now)}
                outcome = "retry"
        session.execute(update(ConsentWriteback).where(
            ConsentWriteback.id == row.id, ConsentWriteback.status == "pending",
            ConsentWriteback.requested_at == seen[row.id]).values(**values))
        counts[outcome] = counts.get(outcome, 0) + 1
    session.commit()
    return counts
