"""Delivery channels: the ``Channel`` protocol and email over SMTP.

A channel sends one ``OutgoingMessage`` and says how it went: ``sent``, ``temporary`` (try again
later: a 4xx reply, a connection that failed or timed out) or ``permanent`` (a 5xx reply; with
``recipient_refused`` when the server refused the address itself, which suppresses it). Another
channel (SMS) is an adapter with the same ``send``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import parseaddr
from typing import Literal, Protocol

from app.config import Settings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 15.0
# Lines up to RFC 5322's 998 characters: at 78 the library would fold the unbreakable
# List-Unsubscribe URL into RFC 2047 encoded words, which mail providers do not read as a URL.
_POLICY = SMTP_POLICY.clone(max_line_length=998)


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message ready for a channel."""

    recipient: str
    sender: str  # the From header, display name included
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)  # Message-ID, Date, List-Unsubscribe...
    reference: str = ""  # our id of the message, for logs
    envelope_sender: str | None = None  # MAIL FROM (bounces go there); None: the From address


@dataclasses.dataclass(frozen=True)
class DeliveryResult:
    outcome: Literal["sent", "temporary", "permanent"]
    detail: str = ""
    code: int | None = None
    recipient_refused: bool = False

    @property
    def is_sent(self) -> bool:
        return self.outcome == "sent"


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> DeliveryResult: ...


def build_email(message: OutgoingMessage) -> EmailMessage:
    """The MIME message: multipart/alternative with the text first and the HTML second."""
    mime = EmailMessage(policy=_POLICY)
    mime["Subject"] = message.subject
    mime["From"] = message.sender
    mime["To"] = message.recipient
    for name, value in message.headers.items():
        mime[name] = value
    # Quoted-printable, said once: left to choose, the library encodes every part twice to compare.
    mime.set_content(message.text, cte="quoted-printable")
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html", cte="quoted-printable")
    return mime


def _classify(code: int, text: bytes | str, *, recipient: bool = False) -> DeliveryResult:
    detail = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}".strip()[:500]
    if 400 <= code < 500:
        return DeliveryResult("temporary", detail, code)
    if 500 <= code < 600:
        return DeliveryResult("permanent", detail, code, recipient_refused=recipient)
    return DeliveryResult("temporary", f"unexpected reply {detail}", code)


class SmtpChannel:
    """Email through any SMTP server, with an explicit timeout.

    One connection per message, or one for a batch inside ``with channel.connection():``.
    """

    name = "email"

    def __init__(self, host: str, port: int, *, username: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout: float = SMTP_TIMEOUT_SECONDS):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls = starttls
        self.timeout = timeout
        self._keep = False
        self._open: smtplib.SMTP | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpChannel:
        return cls(settings.smtp_host, settings.smtp_port, username=settings.smtp_username,
                   password=settings.smtp_password, starttls=settings.smtp_starttls)

    @contextlib.contextmanager
    def connection(self) -> Iterator[SmtpChannel]:
        """Keep one connection for the sends inside (a batch); a failed send still closes it."""
        self._keep = True
        try:
            yield self
        finally:
            self._keep = False
            self._close(self._open)
            self._open = None

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        raw = build_email(message).as_bytes()
        envelope_sender = message.envelope_sender or parseaddr(message.sender)[1]
        smtp = self._reusable()
        ok = False
        try:
            if smtp is None:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
            smtp.sendmail(envelope_sender, [message.recipient], raw)
            ok = True
            return DeliveryResult("sent", "250 accepted", 250)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            return _classify(code, text, recipient=True)
        except smtplib.SMTPAuthenticationError as error:
            # Wrong credentials are the operator's to fix: retried, then failed, never a bounce.
            return DeliveryResult("temporary", f"authentication refused: {error.smtp_code}", error.smtp_code)
        except smtplib.SMTPResponseException as error:  # greeting, HELO, sender or data refused
            return _classify(error.smtp_code, error.smtp_error)
        except (OSError, smtplib.SMTPException) as error:  # unreachable, disconnected, timed out, TLS
            where = "" if smtp is not None else f"cannot reach {self.host}:{self.port}: "
            return DeliveryResult("temporary", f"{where}{type(error).__name__}: {error}"[:500])
        finally:
            if ok and self._keep:
                self._open = smtp
            else:
                self._close(smtp)

    def _reusable(self) -> smtplib.SMTP | None:
        """The connection kept by ``connection()``, if the server still answers on it."""
        smtp, self._open = self._open, None
        if smtp is None:
            return None
        try:
            if smtp.noop()[0] == 250:
                return smtp
        except (OSError, smtplib.SMTPException):
            pass
        self._close(smtp)
        return None

    @staticmethod
    def _close(smtp: smtplib.SMTP | None) -> None:
        # The message is accepted once DATA is answered: a failing QUIT changes nothing.
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
