"""Background stream of live events (orders, refunds, abandoned checkouts)."""

from __future__ import annotations

import logging
import random
import threading
from typing import Optional

from . import events
from .core import DevStore
from .errors import DevstoreError
from .shopstate import ShopState

log = logging.getLogger(__name__)


class Trickle:
    """A thread that makes one live event every interval."""

    def __init__(self, store: DevStore, shop: ShopState, interval: float,
                 count: Optional[int], seed: Optional[int] = None) -> None:
        self.store = store
        self.shop = shop
        self.interval = interval
        self.count = count
        self.made = 0
        self.rng = random.Random(seed)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"devstore-trickle-{shop.domain}",
                                       daemon=True)

    def start(self) -> "Trickle":
        """Start the thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self.stopped.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)

    def status(self) -> dict:
        """Return progress as JSON."""
        return {"interval_seconds": self.interval, "count": self.count, "made": self.made,
                "running": self.thread.is_alive() and not self.stopped.is_set()}

    def _run(self) -> None:
        """Make events until stopped or count is reached."""
        while not self.stopped.wait(self.interval):
            try:
                self.step()
            except DevstoreError as exc:
                log.info("trickle step skipped: %s", exc)
            except Exception:  # noqa: BLE001 - keep the stream alive
                log.exception("trickle step failed")
            self.made += 1
            if self.count is not None and self.made >= self.count:
                return

    def step(self) -> str:
        """Make one random live event and return its kind."""
        roll = self.rng.random()
        shop = self.shop
        if roll < 0.1 and len(shop.orders):
            with shop.lock:
                recent = list(shop.orders.by_id.values())[-50:]
                candidates = [o for o in recent if o.refunded() < o.total and not o.cancelled_at]
            if candidates:
                events.refund_order(self.store, shop, self.rng.choice(candidates).id, {})
                return "refund"
        if roll < 0.25:
            events.create_checkout(self.store, shop, {})
            return "checkout"
        events.create_order(self.store, shop, {})
        return "order"
