"""Bounces and complaints that arrive after the SMTP server accepted a message.

With ``MESSAGING_BOUNCE_ADDRESS`` set (``bounces@mail.example.com``), every message leaves with
the envelope sender ``bounces+<message token>@mail.example.com`` (VERP), so a bounce names the
message it is about even when the report itself does not. The bounce receiver
(``app/messaging/bounce_server.py``, an SMTP server for that address) hands each report to
``handle``:

* a delivery status notification (RFC 3464, ``multipart/report; report-type=delivery-status``)
  whose recipient ``Action: failed`` with a ``5.x.x`` status is a **hard bounce**: the message
  becomes ``bounced`` and the address is suppressed for the shop (no more mail of any kind);
* a ``4.x.x`` status or ``Action: delayed`` is a **soft bounce**: noted on the message, nothing
  suppressed (the server keeps retrying; a later hard bounce settles it);
* a complaint (RFC 5965 feedback report, ``report-type=feedback-report``, feedback type abuse)
  suppresses the address as ``complaint`` and unsubscribes it, as a one-click unsubscribe would.

Reports for tokens we never sent, or that cannot be read, are dropped (logged): the receiver
still accepts them, as a bounce of a bounce helps nobody. A complaint's consent change is written
back to the store like an unsubscribe (the caller queues ``request_consent_write_back``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import logging
import re
from email.message import Message as MimeMessage
from email.policy import default as DEFAULT_POLICY

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.messaging import consent
from app.store.models import Message
from app.store.types import utcnow

log = logging.getLogger(__name__)

HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"
_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
HEADER = "X-Comeback-Message"


@dataclasses.dataclass(frozen=True)
class Report:
    kind: str  # hard | soft | complaint
    recipient: str | None
    status: str | None  # e.g. 5.1.1
    detail: str
    token: str | None  # the message token found inside the report (returned headers)


def verp(bounce_address: str, token: str) -> str:
    """The envelope sender of one message: ``local+token@domain``."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{token}@{domain}"


def token_of(bounce_address: str, recipient: str) -> str | None:
    """The message token a bounce was addressed to (``local+token@domain``); None if it is not ours."""
    local, _, domain = bounce_address.lower().rpartition("@")
    their_local, at, their_domain = recipient.strip().strip("<>").rpartition("@")
    if not at or their_domain.lower() != domain:
        return None
    base, plus, token = their_local.partition("+")
    if not plus or base.lower() != local or not _TOKEN.match(token):
        return None
    return token


def _fields(part: MimeMessage) -> list[dict[str, str]]:
    """The field groups of a message/delivery-status part: the per-message one first, then one per recipient."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each group as a message of headers
        return [{key.lower(): str(value) for key, value in group.items()}
                for group in payload if isinstance(group, MimeMessage)]
    text = payload if isinstance(payload, str) else ""
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                groups.append(current)
                current = {}
            continue
        if line[:1] in (" ", "\t") and current:
            last = next(reversed(current))
            current[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if colon:
            current[name.strip().lower()] = value.strip()
    if current:
        groups.append(current)
    return groups


def _returned_token(report: MimeMessage) -> str | None:
    """Our message header inside the returned message or headers, when the server included them."""
    for part in report.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], MimeMessage):
                found = payload[0].get(HEADER)
            else:
                found = email.message_from_string(str(payload), policy=DEFAULT_POLICY).get(HEADER)
            if found and _TOKEN.match(str(found).strip()):
                return str(found).strip()
    return None


def _address(value: str | None) -> str | None:
    if not value:
        return None
    _, _, address = value.partition(";")  # "rfc822; someone@example.com"
    address = (address or value).strip().strip("<>").strip()
    return address.lower() if "@" in address else None


def parse(raw: bytes) -> list[Report]:
    """The bounces or complaint a report holds (empty when it is neither)."""
    try:
        message = email.message_from_bytes(raw, policy=DEFAULT_POLICY)
    except Exception:  # noqa: BLE001 - a report we cannot read is dropped, whatever is wrong with it
        return []
    if message.get_content_type() != "multipart/report":
        return []
    report_type = str(message.get_param("report-type") or "").lower()
    token = _returned_token(message)
    found: list[Report] = []
    for part in message.walk():
        kind = part.get_content_type()
        if report_type == "delivery-status" and kind in ("message/delivery-status", "message/global-delivery-status"):
            for group in _fields(part)[1:] or _fields(part):
                action = group.get("action", "").lower()
                status = _STATUS.match(group.get("status", ""))
                code = ".".join(status.groups()) if status else None
                detail = (group.get("diagnostic-code") or group.get("status") or action)[:500]
                recipient = _address(group.get("final-recipient") or group.get("original-recipient"))
                if action == "failed" and code and code.startswith("5"):
                    found.append(Report(HARD, recipient, code, detail, token))
                elif action in ("failed", "delayed") and (code is None or code[0] in "45"):
                    found.append(Report(SOFT, recipient, code, detail, token))
        elif report_type == "feedback-report" and kind == "message/feedback-report":
            group = (_fields(part) or [{}])[0]
            if group.get("feedback-type", "abuse").lower() in ("abuse", "fraud", "virus", "other"):
                recipient = _address(group.get("original-rcpt-to") or group.get("removal-recipient"))
                found.append(Report(COMPLAINT, recipient, None,
                                    f"complaint ({group.get('feedback-type', 'abuse')})", token))
    return found


@dataclasses.dataclass(frozen=True)
class Handled:
    message_id: int | None
    outcome: str  # hard | soft | complaint | unknown | ignored


def handle(session: Session, raw: bytes, *, token: str | None, now: dt.datetime | None = None) -> list[Handled]:
    """Record what a report says about the message ``token`` names (from the VERP address). Commits."""
    now = now or utcnow()
    reports = parse(raw)
    if not reports:
        log.info("bounce receiver: a message that is no bounce report (token %s) dropped", token)
        return [Handled(None, "ignored")]
    results = []
    for report in reports:
        message = _message(session, token or report.token)
        if message is None:
            log.info("bounce receiver: report for an unknown message (token %s) dropped", token or report.token)
            results.append(Handled(None, "unknown"))
            continue
        address = message.email
        if report.recipient and address and report.recipient != address.lower():
            log.info("shop=%s message=%s bounce for %s, not the message's recipient: dropped", message.shop_id,
                     message.id, report.recipient)
            results.append(Handled(message.id, "ignored"))
            continue
        if report.kind == HARD:
            session.execute(update(Message).where(Message.id == message.id, Message.status == "sent")
                            .values(status="bounced", reason=f"bounced after acceptance: {report.detail}",
                                    last_error=report.detail))
            if address:
                consent.suppress(session, message.shop_id, address, "hard_bounce", detail=report.detail, now=now)
        elif report.kind == SOFT:
            session.execute(update(Message).where(Message.id == message.id)
                            .values(last_error=f"delayed or soft bounce: {report.detail}"))
        elif address:
            consent.suppress(session, message.shop_id, address, "complaint", detail=report.detail, now=now)
            consent.unsubscribe(session, consent.UnsubscribeRequest(message.shop_id, address, message.id), now=now)
        session.commit()
        log.info("shop=%s message=%s %s bounce recorded: %s", message.shop_id, message.id, report.kind, report.detail)
        results.append(Handled(message.id, report.kind))
    return results


def _message(session: Session, token: str | None) -> Message | None:
    if not token:
        return None
    found = session.execute(select(Message).where(Message.token == token)).scalar_one_or_none()
    if found is None:  # a server that lower-cased the local part
        found = session.execute(select(Message).where(func.lower(Message.token) == token.lower())
                                .limit(1)).scalar_one_or_none()
    return found
