"""Fixtures for devstore tests: a served devstore, a webhook receiver, an HTTP client."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest

from devstore import create_app, serve_in_thread
from tests.devstore.dshelpers import CLIENT_ID, CLIENT_SECRET, SHOP, Received, Receiver, install


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Run a webhook receiver on a free port."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(Received(self.path, {k.lower(): v for k, v in
                                                           self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(receiver: Receiver) -> Iterator[Any]:
    """Serve a devstore with one app (compliance URI on the receiver) and one shop."""
    app = create_app({"apps": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                "compliance_uri": receiver.url + "/compliance"}],
                      "shops": [SHOP], "retry_backoff": [0.05, 0.1, 0.2]})
    running = serve_in_thread(app)
    yield running
    running.stop()


@pytest.fixture
def http(server: Any) -> Iterator[httpx.Client]:
    """An httpx client bound to the devstore."""
    with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as client:
        yield client


@pytest.fixture
def token(http: httpx.Client) -> str:
    """An expiring offline access token for the test app on SHOP."""
    return install(http)["access_token"]
