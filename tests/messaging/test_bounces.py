"""Bounces after acceptance: VERP envelope senders, the bounce receiver over real SMTP, what each report does."""

from __future__ import annotations

import dataclasses
import smtplib
import textwrap

import pytest
from sqlalchemy import select

from app.config import ConfigurationError, load_settings
from app.messaging import bounce_server, bounces, delivery
from app.store.models import ConsentWriteback, Customer, EmailSuppression, Message
from tests.conftest import free_port
from tests.messaging.test_delivery import NOON, cart_message, reload

BOUNCES = "bounces@mail.comeback.test"


def _dsn(recipient: str, action: str, status: str, diagnostic: str, *, token: str | None = None) -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464), returning our headers when ``token``."""
    returned = f"X-Comeback-Message: {token}\nSubject: your cart\n" if token else "Subject: your cart\n"
    return textwrap.dedent(f"""\
        From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
        To: {BOUNCES}
        Subject: Undelivered Mail Returned to Sender
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"

        --B
        Content-Type: text/plain

        This is the mail system at host mx.example.net. Your message could not be delivered.

        --B
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.net
        Arrival-Date: Thu,  3 Dec 2026 11:00:05 +0000

        Final-Recipient: rfc822; {recipient}
        Original-Recipient: rfc822;{recipient}
        Action: {action}
        Status: {status}
        Diagnostic-Code: smtp; {diagnostic}

        --B
        Content-Type: text/rfc822-headers

        """).encode() + returned.encode() + b"\n--B--\n"


def _complaint(recipient: str) -> bytes:
    """An abuse report in the feedback format of RFC 5965."""
    return textwrap.dedent(f"""\
        From: feedback@isp.example
        To: {BOUNCES}
        Subject: complaint
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report; boundary="F"

        --F
        Content-Type: text/plain

        This is an email abuse report.

        --F
        Content-Type: message/feedback-report

        Feedback-Type: abuse
        User-Agent: isp-fbl/1.0
        Version: 1
        Original-Rcpt-To: {recipient}

        --F--
        """).encode()


@pytest.fixture()
def receiver(app):
    server = bounce_server.controller(app, BOUNCES, "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


def _post(receiver, rcpt: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=5) as smtp:
        smtp.sendmail("MAILER-DAEMON@mx.example.net", [rcpt], raw)


@pytest.fixture()
def sent(session, mail_shop, subscriber, smtp, channel, config):
    """A cart reminder delivered with VERP: the SMTP server saw ``bounces+<token>@…`` as MAIL FROM."""
    verp_config = dataclasses.replace(config, bounce_address=BOUNCES)
    message = cart_message(session, mail_shop)
    session.commit()
    assert delivery.deliver(session, message.id, channel, verp_config, now=NOON).status == "sent"
    return reload(session, message.id), verp_config


def test_each_message_leaves_with_its_own_envelope_sender(sent, smtp):
    message, _ = sent
    (received,) = smtp.received
    assert received.mail_from == f"bounces+{message.token}@mail.comeback.test"
    assert received.message["X-Comeback-Message"] == message.token
    assert bounces.token_of(BOUNCES, received.mail_from) == message.token
    assert bounces.token_of(BOUNCES, "bounces@mail.comeback.test") is None
    assert bounces.token_of(BOUNCES, f"other+{message.token}@mail.comeback.test") is None
    assert bounces.token_of(BOUNCES, f"bounces+{message.token}@elsewhere.test") is None


def test_a_hard_bounce_marks_the_message_and_suppresses_the_address(session, sent, receiver, mail_shop, channel):
    message, verp_config = sent
    _post(receiver, bounces.verp(BOUNCES, message.token),
          _dsn("ana@example.com", "failed", "5.1.1", "550 5.1.1 <ana@example.com>: Recipient address rejected"))
    session.expire_all()
    bounced = reload(session, message.id)
    assert bounced.status == "bounced" and "5.1.1" in bounced.reason
    suppression = session.execute(select(EmailSuppression).where(EmailSuppression.shop_id == mail_shop.id)).scalar_one()
    assert (suppression.email, suppression.reason) == ("ana@example.com", "hard_bounce")
    # the next message to the address is not sent
    later = cart_message(session, mail_shop, key="cart-2")
    session.commit()
    outcome = delivery.deliver(session, later.id, channel, verp_config, now=NOON)
    assert outcome.status == "suppressed"


def test_a_soft_bounce_is_noted_and_suppresses_nothing(session, sent, receiver, mail_shop):
    message, _ = sent
    _post(receiver, bounces.verp(BOUNCES, message.token),
          _dsn("ana@example.com", "delayed", "4.4.1", "connect to mx.example.org: Connection timed out"))
    session.expire_all()
    noted = reload(session, message.id)
    assert noted.status == "sent" and noted.last_error.startswith("delayed or soft bounce: smtp; connect")
    assert session.execute(select(EmailSuppression).where(EmailSuppression.shop_id == mail_shop.id)).first() is None


def test_a_complaint_unsubscribes_and_is_written_back(session, sent, receiver, mail_shop):
    message, _ = sent
    _post(receiver, bounces.verp(BOUNCES, message.token), _complaint("ana@example.com"))
    session.expire_all()
    suppression = session.execute(select(EmailSuppression).where(EmailSuppression.shop_id == mail_shop.id)).scalar_one()
    assert suppression.reason == "complaint"
    customer = session.execute(select(Customer).where(Customer.shop_id == mail_shop.id)).scalar_one()
    assert customer.email_marketing_state == "unsubscribed"
    pending = session.execute(select(ConsentWriteback).where(ConsentWriteback.shop_id == mail_shop.id)).scalar_one()
    assert (pending.email, pending.state, pending.status) == ("ana@example.com", "unsubscribed", "pending")


def test_the_token_in_returned_headers_is_enough(session, sent, receiver):
    message, _ = sent
    # a forwarding rule that delivers to the plain bounce address: the returned headers name the message
    _post(receiver, BOUNCES, _dsn("ana@example.com", "failed", "5.2.1", "mailbox disabled", token=message.token))
    session.expire_all()
    assert reload(session, message.id).status == "bounced"


def test_reports_that_are_not_ours_change_nothing(session, sent, receiver, mail_shop):
    message, _ = sent
    with pytest.raises(smtplib.SMTPRecipientsRefused):  # not a bounce address: refused
        _post(receiver, "postmaster@mail.comeback.test", b"Subject: hi\n\nhello\n")
    # an unknown token, a message that is no report, a report about another recipient: accepted, dropped
    _post(receiver, bounces.verp(BOUNCES, "A" * 24), _dsn("ana@example.com", "failed", "5.1.1", "no such user"))
    _post(receiver, bounces.verp(BOUNCES, message.token), b"Subject: out of office\n\nBack on Monday.\n")
    _post(receiver, bounces.verp(BOUNCES, message.token), _dsn("bob@example.com", "failed", "5.1.1", "no such user"))
    session.expire_all()
    assert reload(session, message.id).status == "sent"
    assert session.execute(select(EmailSuppression).where(EmailSuppression.shop_id == mail_shop.id)).first() is None
    assert session.execute(select(Message.status).where(Message.shop_id == mail_shop.id)).scalars().all() == ["sent"]


def test_parse_reads_the_recipient_status_and_kind():
    (report,) = bounces.parse(_dsn("Ana@Example.com", "failed", "5.7.1", "550 5.7.1 blocked by policy", token="tok12345"))
    assert (report.kind, report.recipient, report.status, report.token) == ("hard", "ana@example.com", "5.7.1",
                                                                            "tok12345")
    assert bounces.parse(b"not a message at all \xff") == []
    (complaint,) = bounces.parse(_complaint("ana@example.com"))
    assert (complaint.kind, complaint.recipient) == ("complaint", "ana@example.com")


@pytest.mark.parametrize("value", ["bounces", "bounces+x@mail.example.com", "b@localhost", "a b@mail.example.com"])
def test_a_bad_bounce_address_is_refused_at_start(value):
    with pytest.raises(ConfigurationError, match="MESSAGING_BOUNCE_ADDRESS"):
        load_settings({"MESSAGING_BOUNCE_ADDRESS": value})


def test_a_bounce_address_is_read_from_the_environment():
    settings = load_settings({"MESSAGING_BOUNCE_ADDRESS": "Bounces@Mail.Example.com", "MESSAGING_BOUNCE_PORT": "2626"})
    assert (settings.messaging_bounce_address, settings.messaging_bounce_port) == ("bounces@mail.example.com", 2626)
    assert delivery.DeliveryConfig.from_settings(settings).bounce_address == "bounces@mail.example.com"
