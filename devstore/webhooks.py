"""Webhook delivery: signed POSTs from a background thread with retries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx

log = logging.getLogger(__name__)

DEFAULT_BACKOFF = (0.2, 0.5, 1.0)


def sign(secret: str, body: bytes) -> str:
    """Return the base64 HMAC-SHA256 of a body, as in X-Shopify-Hmac-Sha256."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    """One webhook delivery (retries reuse it, so the webhook id stays the same)."""

    webhook_id: str
    event_id: str
    topic: str
    shop: str
    uri: str
    client_id: str
    secret: str
    api_version: str
    body: bytes
    triggered_at: str
    status: Optional[int] = None
    attempts: int = 0
    state: str = "queued"
    error: Optional[str] = None

    def headers(self) -> dict[str, str]:
        """Return the Shopify webhook headers for this delivery."""
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": sign(self.secret, self.body),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Event-Id": self.event_id,
            "X-Shopify-Triggered-At": self.triggered_at,
        }

    def as_log(self) -> dict[str, Any]:
        """Return the delivery as a log entry."""
        return {"webhook_id": self.webhook_id, "event_id": self.event_id, "topic": self.topic,
                "shop": self.shop, "uri": self.uri, "client_id": self.client_id,
                "status": self.status, "attempts": self.attempts, "state": self.state,
                "error": self.error, "triggered_at": self.triggered_at,
                "body": json.loads(self.body)}


@dataclass
class Dispatcher:
    """Queue and deliver webhooks; supports duplicate and shuffle modes."""

    backoff: tuple[float, ...] = DEFAULT_BACKOFF
    timeout: float = 5.0
    duplicate: bool = False
    shuffle: bool = False
    _heap: list = field(default_factory=list)
    _held: list[Delivery] = field(default_factory=list)
    _log: list[Delivery] = field(default_factory=list)
    _in_flight: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _seq: Any = field(default_factory=itertools.count)
    _thread: Optional[threading.Thread] = None
    _stopping: bool = False

    def send(self, shop: str, topic: str, uri: str, client_id: str, secret: str,
             api_version: str, payload: dict) -> str:
        """Queue a delivery (held in shuffle mode) and return its webhook id."""
        body = json.dumps(payload).encode()
        webhook_id = str(uuid.uuid4())
        event_id = str(uuid.uuid4())
        triggered = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
        copies = 2 if self.duplicate else 1
        with self._cond:
            for _ in range(copies):
                delivery = Delivery(webhook_id, event_id, topic, shop, uri, client_id, secret,
                                    api_version, body, triggered.replace("+00:00", "Z"))
                self._log.append(delivery)
                if self.shuffle:
                    delivery.state = "held"
                    self._held.append(delivery)
                else:
                    self._push(delivery, 0.0)
        log.info("webhook %s %s -> %s (%s)", topic, shop, uri, webhook_id)
        return webhook_id

    def _push(self, delivery: Delivery, delay: float) -> None:
        """Schedule a delivery attempt; call with the condition held."""
        delivery.state = "queued"
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), delivery))
        self._ensure_thread()
        self._cond.notify_all()

    def _ensure_thread(self) -> None:
        """Start the delivery thread on first use."""
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="devstore-webhooks",
                                            daemon=True)
            self._thread.start()

    def configure(self, duplicate: Optional[bool] = None, shuffle: Optional[bool] = None) -> dict:
        """Change delivery modes and return them."""
        with self._cond:
            if duplicate is not None:
                self.duplicate = duplicate
            if shuffle is not None:
                self.shuffle = shuffle
            return {"duplicate": self.duplicate, "shuffle": self.shuffle,
                    "held": len(self._held)}

    def flush(self) -> int:
        """Release held deliveries in reverse order and return how many."""
        with self._cond:
            held, self._held = self._held, []
            for delivery in reversed(held):
                self._push(delivery, 0.0)
            return len(held)

    def drain(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight; return False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def entries(self, shop: Optional[str] = None, topic: Optional[str] = None) -> list[dict]:
        """Return the delivery log, optionally filtered."""
        with self._cond:
            rows = [d for d in self._log
                    if (shop is None or d.shop == shop) and (topic is None or d.topic == topic)]
            return [d.as_log() for d in rows]

    def clear_log(self) -> None:
        """Forget delivered entries."""
        with self._cond:
            self._log = [d for d in self._log if d.state in ("queued", "held", "sending")]

    def stop(self) -> None:
        """Stop the delivery thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

    def _next(self) -> Optional[Delivery]:
        """Wait for the next due delivery; None when stopping."""
        with self._cond:
            while not self._stopping:
                if self._heap:
                    due = self._heap[0][0] - time.monotonic()
                    if due <= 0:
                        delivery = heapq.heappop(self._heap)[2]
                        self._in_flight += 1
                        delivery.state = "sending"
                        return delivery
                    self._cond.wait(due)
                else:
                    self._cond.wait(1.0)
            return None

    def _run(self) -> None:
        """Deliver queued webhooks until stopped."""
        with httpx.Client(timeout=self.timeout, trust_env=False) as client:
            while True:
                delivery = self._next()
                if delivery is None:
                    return
                try:
                    self._attempt(client, delivery)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> None:
        """Make one attempt and schedule a retry when it fails."""
        delivery.attempts += 1
        try:
            response = client.post(delivery.uri, content=delivery.body,
                                   headers=delivery.headers())
            delivery.status = response.status_code
            delivery.error = None
            ok = 200 <= response.status_code < 300
        except httpx.HTTPError as exc:
            delivery.status = None
            delivery.error = f"{type(exc).__name__}: {exc}"
            ok = False
        if ok:
            delivery.state = "delivered"
            return
        retry = delivery.attempts - 1
        with self._cond:
            if retry < len(self.backoff):
                log.info("webhook %s attempt %d failed (%s); retrying", delivery.webhook_id,
                         delivery.attempts, delivery.status or delivery.error)
                self._push(delivery, self.backoff[retry])
            else:
                log.warning("webhook %s failed after %d attempts", delivery.webhook_id,
                            delivery.attempts)
                delivery.state = "failed"
