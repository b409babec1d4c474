"""Helpers for the storefront tests: an upstream app that records requests, config parsing."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.devstore.dshelpers import CLIENT_ID, CLIENT_SECRET, SHOP

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = str(ROOT / "extensions" / "comeback-widget")
CONFIG_RE = re.compile(r'<script id="comeback-config" type="application/json">(.*?)</script>',
                       re.S)


@dataclass
class Seen:
    """One request the upstream app received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """A local app behind the app proxy: records requests, answers with `reply`."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    reply: tuple[int, list[tuple[str, str]], bytes] = (200, [("Content-Type", "text/plain")],
                                                       b"ok")
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def serve_upstream() -> tuple[Upstream, ThreadingHTTPServer]:
    """Start an upstream app on a free port."""
    state = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            with state.lock:
                state.seen.append(Seen(self.command, parts.path,
                                       parse_qsl(parts.query, keep_blank_values=True),
                                       parts.query,
                                       {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers, payload = state.reply
                delay = state.delay
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the proxy gave up waiting (the timeout test)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server API

        def log_message(self, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, args=(0.1,), daemon=True).start()
    return state, httpd


def register_app(http: httpx.Client, proxy_url: Optional[str], subpath: str = "comeback",
                 extensions: Optional[list[str]] = None) -> httpx.Response:
    """Register the test app with an app proxy and the widget extension."""
    body: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                            "extensions": [EXTENSION] if extensions is None else extensions}
    if proxy_url is not None:
        body["app_proxy"] = {"url": proxy_url, "prefix": "apps", "subpath": subpath}
    return http.post("/_devstore/apps", json=body)


def activate(http: httpx.Client, shop: str = SHOP, **body: Any) -> httpx.Response:
    """Switch the app embed on (or as told) in a shop."""
    payload = {"client_id": CLIENT_ID, "block": "app-embed", "enabled": True, **body}
    return http.post(f"/_devstore/shops/{shop}/app-embeds", json=payload)


def config_of(html: str) -> Optional[dict[str, Any]]:
    """Parse the widget config out of a page (None when there is none)."""
    match = CONFIG_RE.search(html)
    return json.loads(match.group(1)) if match else None


def storefront(base_url: str, shop: str = SHOP) -> httpx.Client:
    """A client talking to a shop's storefront (the Host header names the shop).

    It keeps no cookies: each test sends the ones it means to, as `Cookie` headers.
    """
    return httpx.Client(base_url=base_url, headers={"Host": shop}, trust_env=False, timeout=30,
                        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])))


def cookie_from(response: httpx.Response, name: str) -> str:
    """Return the value of a cookie a response sets."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")
