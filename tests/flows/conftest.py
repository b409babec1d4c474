"""Flow fixtures: a shop whose flows are on (installed an hour before the test's moment), a subscriber."""

from __future__ import annotations

import datetime as dt

import pytest

from app.flows import definitions
from app.store.types import utcnow
from tests.conftest import free_port
from tests.flows import support
from tests.messaging.conftest import CapturingHandler


@pytest.fixture()
def t0():
    """The moment a test's story starts (a cart is left, an order placed): now, to the second."""
    return utcnow().replace(microsecond=0)


@pytest.fixture()
def flow_shop(session, shop, t0):
    """The shop, installed a day before ``t0``, with its built-in flows (holdouts off unless a test sets one)."""
    shop.installed_at = t0 - dt.timedelta(days=1)
    shop.name = "Nord"
    shop.currency = "EUR"
    session.commit()
    definitions.ensure_all(session, shop.id, shop.installed_at)
    for key in definitions.KEYS:
        definitions.update(session, shop.id, key, {"holdout_share": 0}, actor="test", now=shop.installed_at)
    session.commit()
    return shop


@pytest.fixture()
def subscriber(session, flow_shop, t0):
    support.write(session, flow_shop, support.customer(at=t0 - dt.timedelta(days=2)))
    return "cust-1"


@pytest.fixture()
def fake_store():
    """The store a step asks (order lookup, codes), as the test wants it to answer."""
    return support.FakeStore()


@pytest.fixture(scope="session")
def flows_smtp_server():
    from aiosmtpd.controller import Controller

    controller = Controller(CapturingHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture()
def mailbox(flows_smtp_server):
    """The flows tests' SMTP server's handler, emptied for this test."""
    handler: CapturingHandler = flows_smtp_server.handler
    handler.reset()
    yield handler
    handler.reset()


@pytest.fixture()
def channel(flows_smtp_server):
    from app.messaging.channels import SmtpChannel

    return SmtpChannel("127.0.0.1", flows_smtp_server.port, timeout=5)
