"""A webhook receiver on loopback: records every signed delivery a devstore sends it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One POST as it arrived: path, headers (original case) and the raw body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")


class WebhookReceiver:
    """Serve POSTs on a free port, answer 200 and keep them."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        deliveries, lock = self.deliveries, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def wait(self, predicate: Any, count: int = 1, timeout: float = 15.0) -> list[Delivery]:
        """Wait until ``count`` deliveries satisfy ``predicate`` and return all that do."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [d for d in self.deliveries if predicate(d)]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"only {len(found)} of {count} deliveries arrived"
            time.sleep(0.02)

    def matching(self, header: str, value: str) -> list[Delivery]:
        """Return the deliveries whose ``header`` is ``value``, in arrival order."""
        with self._lock:
            return [d for d in self.deliveries if d.header(header) == value]

    def clear(self) -> None:
        with self._lock:
            self.deliveries.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
