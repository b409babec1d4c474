"""WooCommerce webhook delivery: coalesced, signed, never retried, auto-disabling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx

from . import wpjson
from .state import Webhook, WooStore

log = logging.getLogger(__name__)

USER_AGENT = "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"
MAX_FAILURES = 5


def signature(secret: str, body: bytes) -> str:
    """Return base64(HMAC-SHA256(body, secret)) as in X-WC-Webhook-Signature."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Job:
    """A pending delivery of one resource to one webhook; later changes replace the payload."""

    store: WooStore
    webhook: Webhook
    payload: Any
    due: float


@dataclass
class Hookshot:
    """Queue deliveries, coalesce per (webhook, resource) and deliver from worker threads."""

    coalesce: float = 0.2
    timeout: float = 5.0
    _pending: dict[tuple, Job] = field(default_factory=dict)
    _in_flight: int = 0
    _log: list[dict[str, Any]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _thread: Optional[threading.Thread] = None
    _pool: Optional[ThreadPoolExecutor] = None
    _stopping: bool = False

    def enqueue(self, store: WooStore, webhook: Webhook, resource_id: int, payload: Any) -> None:
        """Queue a delivery, or replace the payload of one still waiting."""
        key = (store.handle, webhook.id, resource_id)
        with self._cond:
            job = self._pending.get(key)
            if job is not None:
                job.payload = payload
                return
            self._pending[key] = Job(store, webhook, payload, time.monotonic() + self.coalesce)
            self._start()
            self._cond.notify_all()

    def ping(self, store: WooStore, webhook: Webhook) -> None:
        """Send the `webhook_id=<id>` form ping in the background."""
        with self._cond:
            self._in_flight += 1
            self._start()
        assert self._pool is not None
        self._pool.submit(self._run_job, self._ping, store, webhook)

    def configure(self, coalesce: Optional[float] = None,
                  timeout: Optional[float] = None) -> dict[str, float]:
        """Change the coalescing window or the delivery timeout."""
        with self._cond:
            if coalesce is not None:
                self.coalesce = coalesce
            if timeout is not None:
                self.timeout = timeout
            return {"coalesce_seconds": self.coalesce, "timeout": self.timeout}

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is pending or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def entries(self, store: Optional[str] = None,
                topic: Optional[str] = None) -> list[dict[str, Any]]:
        """Return the delivery log, optionally filtered by store handle and topic."""
        with self._cond:
            return [dict(e) for e in self._log if (store is None or e["store"] == store)
                    and (topic is None or e["topic"] == topic)]

    def clear(self) -> None:
        """Forget the delivery log."""
        with self._cond:
            self._log.clear()

    def stop(self) -> None:
        """Stop the scheduler and the workers."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> None:
        """Start the scheduler thread and worker pool on first use; hold the condition."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(4, thread_name_prefix="devstore-woo-hook")
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._schedule, name="devstore-woo-hooks",
                                            daemon=True)
            self._thread.start()

    def _schedule(self) -> None:
        """Hand due jobs to the workers until stopped."""
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                due = [k for k, j in self._pending.items() if j.due <= now]
                jobs = [self._pending.pop(k) for k in due]
                self._in_flight += len(jobs)
                if not jobs:
                    wait = min((j.due for j in self._pending.values()), default=now + 1) - now
                    self._cond.wait(max(wait, 0.005))
                    continue
            assert self._pool is not None
            for job in jobs:
                self._pool.submit(self._run_job, self._deliver, job)

    def _run_job(self, func: Any, *args: Any) -> None:
        """Run one delivery and count it finished."""
        try:
            func(*args)
        except Exception:  # noqa: BLE001 - a broken delivery must not kill the worker
            log.exception("woo webhook delivery crashed")
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _post(self, url: str, body: bytes,
              headers: dict[str, str]) -> tuple[Optional[int], Optional[str]]:
        """POST once; return (status, error)."""
        try:
            with httpx.Client(timeout=self.timeout, trust_env=False, verify=False) as client:
                response = client.post(url, content=body, headers=headers)
            return response.status_code, None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _ping(self, store: WooStore, webhook: Webhook) -> None:
        """Deliver the activation ping (no signature, not counted as a failure)."""
        body = f"webhook_id={webhook.id}".encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "User-Agent": USER_AGENT}
        status, error = self._post(webhook.delivery_url, body, headers)
        self._record(store, webhook, "ping", None, body, headers, status, error)

    def _deliver(self, job: Job) -> None:
        """Deliver the latest payload of a job and update the webhook's failure count."""
        store, webhook = job.store, job.webhook
        with store.lock:
            if webhook.status != "active" or store.webhooks.get(webhook.id) is not webhook:
                return
            url, secret, topic = webhook.delivery_url, webhook.secret, webhook.topic
        body = wpjson.encode(job.payload)
        resource, _, event = topic.partition(".")
        delivery_id = hmac.new(store.salt.encode(), f"{webhook.id}{int(time.time())}".encode(),
                               hashlib.md5).hexdigest()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-WC-Webhook-Source": f"{store.url}/", "X-WC-Webhook-Topic": topic,
                   "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
                   "X-WC-Webhook-Signature": signature(secret, body),
                   "X-WC-Webhook-ID": str(webhook.id), "X-WC-Webhook-Delivery-ID": delivery_id}
        status, error = self._post(url, body, headers)
        ok = status is not None and 200 <= status < 300
        with store.lock:
            if ok:
                webhook.failure_count = 0
            else:
                webhook.failure_count += 1
                if webhook.failure_count >= MAX_FAILURES and webhook.status == "active":
                    webhook.status = "disabled"
                    log.warning("woo webhook %s disabled after %d failures", webhook.id,
                                webhook.failure_count)
        self._record(store, webhook, topic, delivery_id, body, headers, status, error)

    def _record(self, store: WooStore, webhook: Webhook, topic: str,
                delivery_id: Optional[str], body: bytes, headers: dict[str, str],
                status: Optional[int], error: Optional[str]) -> None:
        """Append a delivery to the log."""
        ok = status is not None and 200 <= status < 300
        entry = {"store": store.handle, "webhook_id": webhook.id, "delivery_id": delivery_id,
                 "topic": topic, "url": webhook.delivery_url, "status": status,
                 "state": "delivered" if ok else "failed", "error": error,
                 "body": body.decode(), "headers": headers, "at": time.time()}
        with self._cond:
            self._log.append(entry)
        log.info("woo webhook %s %s -> %s: %s", webhook.id, topic, webhook.delivery_url,
                 status or error)
