"""The bounce receiver: a small SMTP server for ``MESSAGING_BOUNCE_ADDRESS`` and its VERP addresses.

Point the bounce domain's MX (or a forwarding rule of the mailbox) at it; ``flask --app wsgi
bounces`` runs it. It accepts mail only for the bounce address and ``local+<token>@domain``
(anything else is refused with 550), at most ``MAX_BYTES`` a message, and hands every report to
``bounces.handle`` off the event loop. A report it cannot use is still accepted and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

from app.extensions import db
from app.messaging import bounces

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024


class BounceHandler:
    """aiosmtpd hooks: which recipients are ours, and what to do with a report."""

    def __init__(self, app: Flask, bounce_address: str):
        self.app = app
        self.address = bounce_address.lower()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802 - aiosmtpd
                          rcpt_options: list[str]) -> str:
        if address.lower() != self.address and bounces.token_of(self.address, address) is None:
            return "550 5.1.1 not a bounce address of this server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        raw = envelope.original_content or envelope.content
        tokens = [bounces.token_of(self.address, rcpt) for rcpt in envelope.rcpt_tos]
        await asyncio.get_running_loop().run_in_executor(None, self.record, raw, tokens)
        return "250 2.0.0 report received"

    def record(self, raw: bytes, tokens: list[str | None]) -> None:
        with self.app.app_context():
            session = db.session()
            try:
                for token in tokens or [None]:
                    handled = bounces.handle(session, raw, token=token)
                    for item in handled:
                        if item.outcome == bounces.COMPLAINT and item.message_id is not None:
                            self._write_back(session, item.message_id)
            except Exception:  # noqa: BLE001 - one bad report must not stop the receiver
                session.rollback()
                log.exception("bounce receiver: a report could not be recorded")
            finally:
                db.session.remove()  # executor threads are reused: each report starts clean

    @staticmethod
    def _write_back(session: Any, message_id: int) -> None:
        from redis import RedisError

        from app.store.models import Message
        from jobs.messaging import request_consent_write_back

        message = session.get(Message, message_id)
        if message is None:
            return
        shop_id = message.shop_id
        try:
            request_consent_write_back(shop_id)
        except RedisError as failure:  # the messaging sweep queues it later
            log.warning("shop=%s consent write-back not queued (%s)", shop_id, type(failure).__name__)


def controller(app: Flask, bounce_address: str, host: str, port: int) -> Controller:
    """A started-on-demand server (``.start()``/``.stop()``)."""
    return Controller(BounceHandler(app, bounce_address), hostname=host, port=port,
                      data_size_limit=MAX_BYTES)
