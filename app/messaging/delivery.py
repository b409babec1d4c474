"""Deliver one message: re-check it just before sending, claim it, send it once, record how it went.

The order of a delivery:

1. Lock the message and its recipient (PostgreSQL: the row, then an advisory lock on shop +
   address; SQLite: the write lock), so that two workers never both decide that the same
   customer's budget is free.
2. Re-check: the store still connected, the address not suppressed, consent still given, and
   for marketing mail the quiet hours, the contact budget and competing messages of higher
   priority. A message that must wait is ``deferred`` (with ``not_before`` and the reason); one
   that may not go is ``skipped`` or ``suppressed``.
3. Claim it: ``UPDATE … SET status = 'sending' WHERE status IN ('queued', 'deferred')``, committed
   before the SMTP conversation, so a second worker finds nothing to send.
4. Send, and record: ``sent``; a temporary failure waits 1 min, 5 min, 30 min, 2 h, then
   ``failed``; a permanent one is ``failed`` at once, and a refused recipient is suppressed
   (``hard_bounce``).

A worker that dies between 3 and 4 leaves the message ``sending``: the sweep marks it ``failed``
after 15 minutes rather than risk sending it twice (``reap_interrupted``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, cast

from jinja2 import TemplateError
from sqlalchemy import CursorResult, or_, select, text, update
from sqlalchemy.orm import Session

from app.messaging import bounces, budget, consent, preferences, render, zones
from app.messaging.channels import Channel, DeliveryResult, OutgoingMessage
from app.messaging.tracking import LinkTracker
from app.store.models import Message, Shop
from app.store.models.messaging import OPEN_STATUSES
from app.store.types import utcnow

log = logging.getLogger(__name__)

RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2))
# A message that gives way to one of higher priority looks again this much later (by then the
# other was sent, and the budget says exactly how long to wait).
GIVE_WAY = dt.timedelta(minutes=1)
INTERRUPTED_AFTER = dt.timedelta(minutes=15)


@dataclasses.dataclass(frozen=True)
class DeliveryConfig:
    """What delivery needs from the app's settings."""

    app_url: str
    secret_key: str
    sender: str  # SMTP_FROM: its address sends every shop's mail, with the shop's name
    contact_budget: dt.timedelta = budget.DEFAULT_WINDOW
    quiet_hours: budget.QuietHours | None = dataclasses.field(default_factory=budget.QuietHours)
    # A shop's own settings replace the five below (``preferences.apply``).
    transactional: str = "all"
    sender_name: str | None = None  # None: the shop's name
    reply_to: str | None = None
    language: str = "en"  # the templates' language (render.render)
    bounce_address: str | None = None  # MESSAGING_BOUNCE_ADDRESS: envelope senders become VERP addresses

    @classmethod
    def from_settings(cls, settings: Any) -> DeliveryConfig:
        return cls(app_url=settings.app_url, secret_key=settings.secret_key, sender=settings.smtp_from,
                   contact_budget=dt.timedelta(hours=settings.messaging_contact_budget_hours),
                   quiet_hours=budget.QuietHours.parse(settings.messaging_quiet_hours),
                   bounce_address=getattr(settings, "messaging_bounce_address", None))


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str  # the message's status after this call; "missing" when there is no such message
    reason: str | None = None
    not_before: dt.datetime | None = None
    changed: bool = False  # False: nothing was done (already handled elsewhere, or not due yet)


def deliver(session: Session, message_id: int, channel: Channel, config: DeliveryConfig, *,
            now: dt.datetime | None = None) -> Outcome:
    """Send the message if it may go now; commits. Safe to call twice, or from two workers at once."""
    now = now or utcnow()
    session.commit()  # the decision below must run in a transaction of its own
    message = _lock(session, message_id)
    if message is None:
        session.commit()
        return Outcome("missing")
    if message.status not in OPEN_STATUSES:
        session.commit()
        return Outcome(message.status, message.reason)
    if message.not_before is not None and message.not_before > now:
        session.commit()
        return Outcome(message.status, message.reason, message.not_before)
    shop = session.get(Shop, message.shop_id)
    if shop is None or shop.status in ("uninstalled", "redacted"):
        return _conclude(session, message, "skipped", "the store is no longer connected")
    config = preferences.apply(session, shop.id, config)
    verdict = consent.check(session, shop.id, email=message.email, category=message.category,
                            customer_external_id=message.customer_external_id, transactional=config.transactional)
    if not verdict.allowed:
        return _conclude(session, message, verdict.status, verdict.reason)
    if message.category == "marketing":
        wait = _marketing_wait(session, message, shop, config, now)
        if wait is not None:
            return _conclude(session, message, "deferred", wait[1], not_before=wait[0])
    try:
        outgoing = compose(session, message, shop, config, now)
    except (ValueError, TemplateError) as error:
        return _conclude(session, message, "failed", f"cannot render the {message.template} template: {error}")
    attempt = message.attempts + 1
    claimed = _rows(session.execute(
        update(Message).where(Message.id == message.id, Message.status.in_(OPEN_STATUSES))
        .values(status="sending", attempts=attempt, claimed_at=now, reason=None,
                message_id=outgoing.headers["Message-ID"])
    ))
    session.commit()
    if not claimed:  # cannot happen under the lock; said plainly if it ever does
        return Outcome(session.execute(select(Message.status).where(Message.id == message.id)).scalar_one())
    result = channel.send(outgoing)
    return _record(session, message, attempt, result, now)


def _rows(result: Any) -> int:
    """How many rows an UPDATE changed."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _lock(session: Session, message_id: int) -> Message | None:
    """Load the message locked for this transaction, with its recipient's marketing decisions.

    PostgreSQL: the row (``FOR UPDATE``), then an advisory lock on shop + address, so that two
    workers never both find the same customer's budget free. SQLite has one writer at a time:
    writing first makes this transaction it until it commits.
    """
    if session.get_bind().dialect.name != "postgresql":
        session.execute(update(Message).where(Message.id == message_id).values(status=Message.status))
        return session.execute(select(Message).where(Message.id == message_id)
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    message = session.execute(select(Message).where(Message.id == message_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()
    if message is not None and message.category == "marketing" and message.status in OPEN_STATUSES:
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"comeback:recipient:{message.shop_id}:{message.email or ''}"})
    return message


def _marketing_wait(session: Session, message: Message, shop: Shop, config: DeliveryConfig,
                    now: dt.datetime) -> tuple[dt.datetime, str] | None:
    """When a marketing message must wait (quiet hours, budget, a competitor first) and why."""
    # One read of the recipient's other marketing mail that matters: sent within the window,
    # being sent, or still to send.
    others = session.execute(select(Message.id, Message.status, Message.priority, Message.not_before,
                                    Message.sent_at).where(
        Message.shop_id == message.shop_id, Message.email == message.email, Message.category == "marketing",
        Message.id != message.id,
        or_(Message.status.in_((*OPEN_STATUSES, "sending")),
            (Message.status == "sent") & (Message.sent_at > now - config.contact_budget)))).all()
    sent = [other.sent_at for other in others if other.status == "sent" and other.sent_at is not None]
    last = max(sent, default=None)
    if any(other.status == "sending" for other in others):
        last = max(last or now, now)  # one is being sent right now: it spends the budget
    wait = budget.earliest_send(now, last_marketing_at=last, window=config.contact_budget,
                                timezone=zones.recipient_zone(session, shop, email=message.email,
                                                              customer_external_id=message.customer_external_id),
                                quiet=config.quiet_hours)
    if wait is not None:
        return wait
    competitors = [(other.priority, other.id) for other in others if other.status in OPEN_STATUSES
                   and (other.not_before is None or other.not_before <= now)]
    if competitors:
        priority, first = budget.first_in_line([(message.priority, message.id), *competitors])
        if first != message.id:
            return now + GIVE_WAY, f"contact budget: gives way to message {first} (priority {priority})"
    return None


def compose(session: Session, message: Message, shop: Shop, config: DeliveryConfig,
            now: dt.datetime) -> OutgoingMessage:
    """Render a message for sending: tracked links, open pixel, headers, one-click unsubscribe."""
    assert message.email is not None
    branding = render.branding_for(session, shop)
    tracker = LinkTracker(config.app_url, config.secret_key, message.token)
    sender_address = parseaddr(config.sender)[1]
    headers = {
        "Date": format_datetime(now),
        "Message-ID": message.message_id or f"<{message.token}.{message.id}@{sender_address.rpartition('@')[2]}>",
        bounces.HEADER: message.token,  # comes back inside most bounce reports
    }
    envelope = bounces.verp(config.bounce_address, message.token) if config.bounce_address else None
    if config.reply_to:
        headers["Reply-To"] = config.reply_to
    if message.category == "test":
        return dataclasses.replace(_compose_test(session, message, shop, config, branding, headers),
                                   envelope_sender=envelope)
    unsubscribe_url = None
    if message.category == "marketing":
        token = consent.unsubscribe_token(config.secret_key, shop.id, message.email, message.id)
        unsubscribe_url = f"{config.app_url}/m/u/{token}"
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    context = dict(message.context or {})
    if not context.get("first_name"):
        customer = consent.customer_for(session, shop.id, message.customer_external_id, message.email)
        if customer is not None and customer.first_name:
            context["first_name"] = customer.first_name
    rendered = render.render(message.template, context, branding, category=message.category,
                             unsubscribe_url=unsubscribe_url, tracker=tracker, language=config.language)
    return OutgoingMessage(recipient=message.email, sender=formataddr((config.sender_name or branding.shop_name,
                                                                       sender_address)),
                           subject=rendered.subject, text=rendered.text, html=rendered.html, headers=headers,
                           reference=str(message.id), envelope_sender=envelope)


TEST_PREFIX = "[Test] "


def _compose_test(session: Session, message: Message, shop: Shop, config: DeliveryConfig,
                  branding: render.Branding, headers: dict[str, str]) -> OutgoingMessage:
    """A merchant's test send: the template as its customers get it, marked as a test.

    Links are not tracked and the unsubscribe link goes nowhere (``#unsubscribe``), so that the
    merchant's clicks count for nothing and cannot unsubscribe their own address.
    """
    assert message.email is not None
    category = render.category_of(message.template)
    rendered = render.render(message.template, dict(message.context or {}), branding, category=category,
                             unsubscribe_url="#unsubscribe" if category == "marketing" else None,
                             language=config.language)
    return OutgoingMessage(recipient=message.email,
                           sender=formataddr((config.sender_name or branding.shop_name, parseaddr(config.sender)[1])),
                           subject=TEST_PREFIX + rendered.subject, text=rendered.text, html=rendered.html,
                           headers=headers, reference=str(message.id))


def _conclude(session: Session, message: Message, status: str, reason: str | None, *,
              not_before: dt.datetime | None = None) -> Outcome:
    values: dict[str, Any] = {"status": status, "reason": reason}
    if status == "deferred":
        values["not_before"] = not_before
    done = _rows(session.execute(update(Message).where(Message.id == message.id,
                                                       Message.status.in_(OPEN_STATUSES)).values(**values)))
    session.commit()
    if done:
        log.info("shop=%s message=%s %s: %s", message.shop_id, message.id, status, reason)
    return Outcome(status, reason, not_before, changed=bool(done))


def _record(session: Session, message: Message, attempts: int, result: DeliveryResult,
            now: dt.datetime) -> Outcome:
    values: dict[str, Any]
    not_before = None
    if result.is_sent:
        values = {"status": "sent", "sent_at": now, "last_error": None, "reason": None}
    elif result.outcome == "temporary" and attempts <= len(RETRY_DELAYS):
        not_before = now + RETRY_DELAYS[attempts - 1]
        values = {"status": "deferred", "not_before": not_before, "last_error": result.detail,
                  "reason": f"temporary failure (attempt {attempts}), trying again at "
                            f"{not_before:%Y-%m-%d %H:%M} UTC"}
    elif result.outcome == "temporary":
        values = {"status": "failed", "last_error": result.detail,
                  "reason": f"gave up after {attempts} attempts: {result.detail}"}
    else:
        values = {"status": "failed", "last_error": result.detail, "reason": f"refused: {result.detail}"}
        if result.recipient_refused and message.email:
            consent.suppress(session, message.shop_id, message.email, "hard_bounce", detail=result.detail, now=now)
    session.execute(update(Message).where(Message.id == message.id, Message.status == "sending").values(**values))
    session.commit()
    log.info("shop=%s message=%s %s (attempt %s)%s", message.shop_id, message.id, values["status"],
             attempts, f": {result.detail}" if not result.is_sent else "")
    return Outcome(values["status"], values.get("reason"), not_before, changed=True)


def due(session: Session, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Messages that may be tried now (queued, or deferred to a moment that has come), first first."""
    now = now or utcnow()
    return list(session.execute(
        select(Message.id).where(Message.status.in_(OPEN_STATUSES),
                                 or_(Message.not_before.is_(None), Message.not_before <= now))
        .order_by(Message.priority.desc(), Message.id).limit(limit)
    ).scalars().all())


def reap_interrupted(session: Session, now: dt.datetime | None = None) -> int:
    """Fail messages left ``sending`` by a worker that died: whether the server got them is unknown."""
    now = now or utcnow()
    count = _rows(session.execute(
        update(Message).where(Message.status == "sending", Message.claimed_at < now - INTERRUPTED_AFTER)
        .values(status="failed", reason="interrupted while sending: not tried again, it may have been delivered")
    ))
    session.commit()
    return count
