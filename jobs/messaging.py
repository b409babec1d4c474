"""Jobs of the messaging room: queue a message, deliver it, sweep what is due.

Callers (the flow engine) use ``enqueue_message``: it writes the message (once per dedupe key),
commits, and queues its delivery. ``deliver_message`` re-checks everything just before sending
(``app.messaging.delivery``); a message deferred by quiet hours, the contact budget or a
temporary failure gets a delayed job for its ``not_before``, and the periodic sweep queues
whatever is due in case that job was lost, in batches (``deliver_messages``: one job, one SMTP
connection for up to 100 messages).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from redis import RedisError
from sqlalchemy.orm import Session

from app.extensions import db
from app.messaging import delivery, outbox
from app.messaging.channels import Channel, SmtpChannel
from app.store.models import Message
from app.store.types import utcnow
from jobs.context import app_settings, with_app
from jobs.queues import enqueue

log = logging.getLogger(__name__)

QUEUE = "default"


def deliver_job_id(message_id: int, at: dt.datetime | None = None) -> str:
    return f"deliver-message-{message_id}" + (f"-at-{int(at.timestamp())}" if at else "")


def request_delivery(message_id: int, at: dt.datetime | None = None) -> None:
    """Queue the delivery of a message (after the transaction that wrote it committed); at ``at`` if given."""
    delay = None
    if at is not None:
        delay = max(dt.timedelta(0), at - utcnow())
    # The job handles SMTP failures itself (it reschedules); RQ retries only what raised.
    enqueue(deliver_message, message_id, queue_name=QUEUE, job_id=deliver_job_id(message_id, at), delay=delay,
            retries=2)


def enqueue_message(session: Session, shop_id: int, **fields: Any) -> Message:
    """Create a message (``app.messaging.outbox.create_message`` arguments), commit, queue its delivery.

    Idempotent on ``dedupe_key``: the second call returns the first message and queues nothing
    new. Raises ``outbox.MessageError`` on bad input. If Redis is down the message stays queued
    and the sweep picks it up.
    """
    created = outbox.create_message(session, shop_id, **fields)
    session.commit()
    message = created.message
    if created.created and message.status == "queued":
        try:
            request_delivery(message.id, message.not_before)
        except RedisError as error:
            log.warning("shop=%s message=%s delivery not queued (%s); left for the sweep", shop_id, message.id,
                        type(error).__name__)
    return message


def channel_for(settings: Any) -> Channel:
    """The channel email goes out through: the configured SMTP server."""
    return SmtpChannel.from_settings(settings)


@with_app
def deliver_message(message_id: int) -> str:
    """Send one message if it may go now; defer, skip or fail it otherwise (never twice)."""
    settings = app_settings()
    outcome = delivery.deliver(db.session(), message_id, channel_for(settings),
                               delivery.DeliveryConfig.from_settings(settings))
    if outcome.changed and outcome.status == "deferred" and outcome.not_before is not None:
        request_delivery(message_id, outcome.not_before)
    return outcome.status


BATCH_SIZE = 100


def request_batch(message_ids: list[int]) -> None:
    """Queue one job delivering many messages (the same batch already waiting is kept)."""
    if message_ids:
        enqueue(deliver_messages, list(message_ids), queue_name=QUEUE, retries=2,
                job_id=f"deliver-messages-{message_ids[0]}-{message_ids[-1]}-{len(message_ids)}")


@with_app
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver many messages in one job over one SMTP connection (each decided on its own, as one job would).

    One job per message costs a job's overhead each (a forking worker's fork, a fresh database
    connection); the sweep and callers with many messages at once hand them over in batches.
    """
    settings = app_settings()
    session = db.session()
    config = delivery.DeliveryConfig.from_settings(settings)
    channel = channel_for(settings)
    statuses: dict[str, int] = {}
    with channel.connection() if isinstance(channel, SmtpChannel) else contextlib.nullcontext():
        for message_id in message_ids:
            outcome = delivery.deliver(session, message_id, channel, config)
            if outcome.changed and outcome.status == "deferred" and outcome.not_before is not None:
                request_delivery(message_id, outcome.not_before)
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    return statuses


def consent_job_id(shop_id: int) -> str:
    return f"consent-writeback-{shop_id}"


def request_consent_write_back(shop_id: int) -> None:
    """Queue the write-back of the shop's unsubscribes to the store (one job writes all that are due)."""
    enqueue(write_back_consent, shop_id, queue_name=QUEUE, job_id=consent_job_id(shop_id), retries=2)


@with_app
def write_back_consent(shop_id: int) -> dict[str, int]:
    """Write the shop's pending unsubscribes to the store's email-marketing consent, a batch at a time."""
    from app import installs, platforms
    from app.messaging import consent_writeback
    from app.store.models import ConsentWriteback, Shop
    from connectors import base

    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        return {}
    connector = platforms.connector(shop.platform)
    totals: dict[str, int] = {}
    if base.CAP_CONSENT_WRITEBACK not in connector.capabilities:
        from sqlalchemy import update

        result = session.execute(update(ConsentWriteback).where(
            ConsentWriteback.shop_id == shop_id, ConsentWriteback.status == "pending").values(
            status="failed", last_error=f"{shop.platform} has no consent write-back"))
        session.commit()
        return {"failed": int(getattr(result, "rowcount", 0) or 0)}
    while True:
        rows = consent_writeback.due(session, shop_id, utcnow())
        if not rows:
            break

        def writer(updates, shop=shop):
            return installs.call_with_credentials(
                session, shop, lambda credentials: connector.set_email_consent(credentials, updates))  # type: ignore[attr-defined]

        try:
            counts = consent_writeback.write(session, rows, writer)
        except base.AuthRevokedError:
            session.rollback()
            log.warning("shop=%s consent write-back waits: the store must be authorized again", shop_id)
            break
        for outcome, count in counts.items():
            totals[outcome] = totals.get(outcome, 0) + count
        if set(counts) <= {"retry"}:
            break  # the store cannot answer now: the rows wait for their next attempt
    if totals:
        log.info("shop=%s consent write-back: %s", shop_id, ", ".join(f"{k}={v}" for k, v in sorted(totals.items())))
    return totals


@with_app
def sweep_messages() -> int:
    """Queue every message that is due (a lost or delayed job); fail those a dead worker left sending (periodic).

    Also queues the consent write-back of shops with unsubscribes the store has not been told.
    """
    from app.messaging import consent_writeback

    session = db.session()
    for shop_id in consent_writeback.shops_due(session, utcnow()):
        request_consent_write_back(shop_id)
    interrupted = delivery.reap_interrupted(session)
    if interrupted:
        log.warning("messaging sweep: %s messages interrupted while sending marked failed", interrupted)
    ids = delivery.due(session, limit=10 * BATCH_SIZE)
    for start in range(0, len(ids), BATCH_SIZE):
        request_batch(ids[start:start + BATCH_SIZE])
    return len(ids)
