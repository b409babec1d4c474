"""Fixtures for the Shopify connector tests: vectors, a connector and a tiny file server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from connectors.shopify.connector import ShopifyConnector
from tests.conftest import SHARED

VECTORS_PATH = SHARED / "fixtures" / "shopify_vectors.json"


@pytest.fixture(scope="session")
def vectors() -> dict:
    """Return Shopify's published test vectors, verbatim."""
    return json.loads(VECTORS_PATH.read_text())


@pytest.fixture
def connector() -> Iterator[ShopifyConnector]:
    """Return a connector with a known secret, not bound to any server."""
    instance = ShopifyConnector(api_key="client-id-123", api_secret="hush", scopes="read_orders")
    yield instance
    instance.close()


class _FileServer:
    """Serve byte blobs registered by path over real HTTP on loopback."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hosts: list[str] = []
        files, hosts = self.files, self.hosts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                hosts.append(self.headers.get("Host", ""))
                body = files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/jsonl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url + path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def file_server() -> Iterator[_FileServer]:
    """Return a loopback HTTP server serving registered files."""
    server = _FileServer()
    yield server
    server.stop()
