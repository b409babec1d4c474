"""Who may be mailed: marketing consent, suppressed addresses, signed one-click unsubscribe.

* Marketing mail goes only to a customer of the mirror whose ``email_marketing_state`` is
  ``subscribed`` (the connectors store ``subscribed | not_subscribed | unsubscribed | pending``;
  anything else, an unknown customer included, is no consent).
* Transactional mail (loyalty notices) follows the shop's ``transactional_email`` setting
  (``app.messaging.preferences``): ``all`` addresses, only ``subscribed`` ones, or ``off``.
* A merchant's test send (category ``test``) goes to the address the merchant typed, unless it
  is suppressed.
* A suppressed address (hard bounce, complaint, unsubscribed, manual) gets nothing, whatever the
  consent says: an unsubscribe here is final until the suppression is removed on purpose (the
  store may still report the customer as subscribed until the consent is written back to it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.store.models import ConsentWriteback, Customer, EmailSuppression, Message
from app.store.models.messaging import SUPPRESSION_REASONS
from app.store.types import utcnow
from app.store.upsert import insert_ignore, upsert

SUBSCRIBED = "subscribed"
TRANSACTIONAL_CHOICES = ("all", "subscribed", "off")
_UNSUBSCRIBE_SALT = "comeback.messaging.unsubscribe"


class InvalidToken(ValueError):
    """An unsubscribe token that was not made by us (altered, cut short, or forged)."""


def normalise_email(email: str) -> str:
    """Lower-case and trim an address; raise ``ValueError`` when it cannot be one."""
    if not isinstance(email, str):
        raise ValueError("email must be text")
    value = email.strip().lower()
    local, _, domain = value.rpartition("@")
    if (not local or not domain or "." not in domain or len(value) > 320
            or any(c.isspace() or c in '<>,;"()[]\\' or ord(c) < 32 for c in value)):
        raise ValueError(f"not an email address: {email[:80]!r}")
    if not local.isascii():
        raise ValueError(f"addresses with a non-ASCII name before the @ are not supported: {email[:80]!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")  # an international domain, as DNS knows it
        except UnicodeError as error:
            raise ValueError(f"not an email address: {email[:80]!r}") from error
        value = f"{local}@{domain}"
    return value


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a message may go; when not, the status it ends in and why."""

    allowed: bool
    status: str = "queued"  # suppressed | skipped when not allowed
    reason: str | None = None


ALLOWED = Verdict(True)


def suppression_of(session: Session, shop_id: int, email: str) -> EmailSuppression | None:
    return session.execute(select(EmailSuppression).where(EmailSuppression.shop_id == shop_id,
                                                          EmailSuppression.email == email)).scalar_one_or_none()


def customer_for(session: Session, shop_id: int, customer_external_id: str | None,
                 email: str | None) -> Customer | None:
    """The mirror's customer a message is for: by id, else the one customer with that address."""
    if customer_external_id:
        return session.execute(select(Customer).where(
            Customer.shop_id == shop_id, Customer.external_id == customer_external_id)).scalar_one_or_none()
    if not email:
        return None
    found = session.execute(select(Customer).where(
        Customer.shop_id == shop_id, func.lower(Customer.email) == email).limit(2)).scalars().all()
    return found[0] if len(found) == 1 else None


def check(session: Session, shop_id: int, *, email: str | None, category: str,
          customer_external_id: str | None, transactional: str = "all") -> Verdict:
    """Decide whether a message may be sent now (called at creation and again just before sending)."""
    if not email:
        return Verdict(False, "skipped", "no email address (erased)")
    suppression = suppression_of(session, shop_id, email)
    if suppression is not None:
        return Verdict(False, "suppressed", f"address suppressed: {suppression.reason}")
    if category == "test":
        return ALLOWED
    customer = customer_for(session, shop_id, customer_external_id, email)
    if customer is not None and (customer.redacted_at is not None or customer.deleted_at is not None):
        return Verdict(False, "skipped", "the customer was erased or deleted")
    if category == "marketing":
        if customer is None:
            return Verdict(False, "skipped", "no marketing consent: no known customer for this address")
        if customer.email_marketing_state != SUBSCRIBED:
            return Verdict(False, "skipped",
                           f"no marketing consent (state: {customer.email_marketing_state or 'unknown'})")
        return ALLOWED
    if transactional == "off":
        return Verdict(False, "skipped", "the shop sends no loyalty notices (transactional_email: off)")
    if transactional == "subscribed" and (customer is None or customer.email_marketing_state != SUBSCRIBED):
        return Verdict(False, "skipped", "the shop sends loyalty notices only to subscribed customers "
                                         f"(state: {customer.email_marketing_state if customer else 'unknown'})")
    return ALLOWED


def suppress(session: Session, shop_id: int, email: str, reason: str, *, detail: str | None = None,
             now: dt.datetime | None = None) -> bool:
    """Suppress an address (kept as first suppressed, with its first reason); True when new."""
    if reason not in SUPPRESSION_REASONS:
        raise ValueError(f"unknown suppression reason {reason!r} (known: {', '.join(SUPPRESSION_REASONS)})")
    email = normalise_email(email)
    rows = insert_ignore(session, EmailSuppression.__table__,  # type: ignore[arg-type]
                         [{"shop_id": shop_id, "email": email, "reason": reason,
                           "detail": detail[:1000] if detail else None, "created_at": now or utcnow()}],
                         conflict=("shop_id", "email"), returning=("id",))
    return bool(rows)


# --- one-click unsubscribe --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UnsubscribeRequest:
    shop_id: int
    email: str
    message_id: int | None


def unsubscribe_token(secret_key: str, shop_id: int, email: str, message_id: int | None = None) -> str:
    """A token naming shop, address and message, signed with the app's secret (no expiry: links must keep working)."""
    return str(URLSafeSerializer(secret_key, salt=_UNSUBSCRIBE_SALT).dumps([shop_id, email, message_id]))


def read_unsubscribe_token(secret_key: str, token: str) -> UnsubscribeRequest:
    """Return what an unsubscribe token names, or raise ``InvalidToken``."""
    try:
        value = URLSafeSerializer(secret_key, salt=_UNSUBSCRIBE_SALT).loads(token)
    except BadSignature as error:
        raise InvalidToken("this unsubscribe link is not valid: it was changed or cut short") from error
    if (not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], int)
            or not isinstance(value[1], str) or not (value[2] is None or isinstance(value[2], int))):
        raise InvalidToken("this unsubscribe link is not valid")
    return UnsubscribeRequest(shop_id=value[0], email=value[1], message_id=value[2])


@dataclasses.dataclass(frozen=True)
class Unsubscribed:
    newly_suppressed: bool
    customers: Sequence[str]  # external ids whose local consent became unsubscribed


def unsubscribe(session: Session, request: UnsubscribeRequest, now: dt.datetime | None = None) -> Unsubscribed:
    """Stop marketing to the address at once; the caller commits.

    Suppresses the address, sets the local consent of the customers it belongs to to
    ``unsubscribed`` and leaves a pending write-back for the store (``consent_writebacks``).
    Doing it twice changes nothing more.
    """
    now = now or utcnow()
    email = normalise_email(request.email)
    new = suppress(session, request.shop_id, email, "unsubscribed", detail="one-click unsubscribe", now=now)
    match = [func.lower(Customer.email) == email]
    if request.message_id is not None:
        customer_id = session.execute(select(Message.customer_external_id).where(
            Message.id == request.message_id, Message.shop_id == request.shop_id)).scalar_one_or_none()
        if customer_id:
            match.append(Customer.external_id == customer_id)
    customers = list(session.execute(
        update(Customer).where(Customer.shop_id == request.shop_id, or_(*match), Customer.redacted_at.is_(None))
        .values(email_marketing_state="unsubscribed", consent_updated_at=now, updated_at=now)
        .returning(Customer.external_id)
    ).scalars().all())
    upsert(session, ConsentWriteback.__table__,  # type: ignore[arg-type]
           [{"shop_id": request.shop_id, "email": email, "customer_external_id": customers[0] if customers else None,
             "state": "unsubscribed", "status": "pending", "attempts": 0, "last_error": None,
             "requested_at": now, "written_at": None}],
           conflict=("shop_id", "email"),
           update=("customer_external_id", "state", "status", "attempts", "last_error", "requested_at", "written_at"),
           returning=())
    return Unsubscribed(newly_suppressed=new, customers=customers)
