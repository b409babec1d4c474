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


@with_app
def sweep_messages() -> int:
    """Queue every message that is due (a lost or delayed job); fail those a dead worker left sending (periodic)."""
    session = db.session()
    interrupted = delivery.reap_interrupted(session)
    if interrupted:
        log.warning("messaging sweep: %s messages interrupted while sending marked failed", interrupted)
    ids = delivery.due(session, limit=10 * BATCH_SIZE)
    for start in range(0, len(ids), BATCH_SIZE):
        request_batch(ids[start:start + BATCH_SIZE])
    return len(ids)
