"""Messaging fixtures: a real SMTP server (aiosmtpd) on a free loopback port, a shop, subscribers."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import email.policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from app.messaging.budget import QuietHours
from app.messaging.channels import SmtpChannel
from app.messaging.delivery import DeliveryConfig
from app.store.models import Customer, Shop
from app.store.types import utcnow
from tests.conftest import free_port

SENDER = "Comeback <no-reply@comeback.test>"


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple  # the client's address and port: one per connection
    raw: bytes


class CapturingHandler:
    """Keeps what it accepts; answers as a test tells it to (refused recipients, failed DATA)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_replies: dict[str, str] = {}  # address -> reply, e.g. "550 5.1.1 no such user"
        self.data_replies: list[str] = []  # answered to the next DATA commands, in order, instead of 250
        self.data_delay = 0.0

    def reset(self) -> None:
        self.received.clear()
        self.rcpt_replies.clear()
        self.data_replies.clear()
        self.data_delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        if self.data_replies:
            return self.data_replies.pop(0)
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, tuple(session.peer),
                                      envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server():
    handler = CapturingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture()
def smtp(smtp_server) -> CapturingHandler:
    """The test SMTP server's handler, emptied for this test."""
    handler: CapturingHandler = smtp_server.handler
    handler.reset()
    yield handler
    handler.reset()


@pytest.fixture()
def channel(smtp_server) -> SmtpChannel:
    return SmtpChannel("127.0.0.1", smtp_server.port, timeout=5)


@pytest.fixture()
def config(settings) -> DeliveryConfig:
    """Delivery settings as the app would build them, quiet hours 21:00-08:00 and a 16 h budget."""
    return DeliveryConfig(app_url=settings.app_url, secret_key=settings.secret_key, sender=SENDER,
                          contact_budget=dt.timedelta(hours=16), quiet_hours=QuietHours())


@pytest.fixture()
def mail_app(app, settings, smtp_server, monkeypatch):
    """The app's jobs send to the test SMTP server, at any hour (quiet hours are tested with a given ``now``)."""
    configured = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                                     smtp_from=SENDER, messaging_quiet_hours="")
    monkeypatch.setitem(app.extensions, "comeback.settings", configured)
    return configured


@pytest.fixture()
def mail_shop(session, shop) -> Shop:
    shop.name = "Caf\u00e9 Nord"
    shop.currency = "EUR"
    shop.timezone = "Europe/Paris"
    session.commit()
    return shop


def add_customer(session, shop, external_id="c1", email="ana@example.com", state="subscribed", first_name="Ana"):
    customer = Customer(shop_id=shop.id, platform=shop.platform, external_id=external_id, email=email,
                        first_name=first_name, email_marketing_state=state, consent_updated_at=utcnow())
    session.add(customer)
    session.commit()
    return customer


@pytest.fixture()
def subscriber(session, mail_shop) -> Customer:
    return add_customer(session, mail_shop)


@pytest.fixture(autouse=True)
def _close_the_test_session(request):
    """End the test's own session: a request through the test client replaces the thread's session,
    and a read the test makes afterwards on the one it holds would stay open (on PostgreSQL the
    next test's TRUNCATE would wait for it)."""
    session = request.getfixturevalue("session") if "session" in request.fixturenames else None
    yield
    if session is not None:
        session.close()
