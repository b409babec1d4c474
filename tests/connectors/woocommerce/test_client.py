"""WooClient against a WooCommerce stand-in over real HTTP(S) that checks signatures itself.

The stand-in verifies OAuth 1.0a from RFC 5849 directly (no Authlib), reads the request body
and records every request, so each test can assert what reached the store and what did not.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.serving import make_server

from connectors.base import AuthRevokedError, RetryableError, TerminalError
from connectors.woocommerce.client import API_PREFIX, MAX_BATCH, USER_AGENT, NotFoundError, WooClient

CK = "ck_test"
CS = "cs_test"
NOW = 1_700_000_000.0

# --- an independent RFC 5849 verifier -----------------------------------------------------


def pct(value: str) -> str:
    """Percent-encode per RFC 5849 §3.6: everything but ALPHA, DIGIT, '-', '.', '_', '~'."""
    return quote(value.encode("utf-8"), safe="~")


def expected_signature(method: str, base_url: str, pairs: list[tuple[str, str]], secret: str) -> str:
    """Return the HMAC-SHA256 signature WooCommerce computes for a request."""
    encoded = sorted((pct(k), pct(v)) for k, v in pairs if k != "oauth_signature")
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    base_string = "&".join([method.upper(), pct(base_url), pct(normalized)])
    digest = hmac.new((secret + "&").encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --- the stand-in store -------------------------------------------------------------------


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    base_url: str

    @property
    def args(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def signature_ok(self) -> bool:
        args = self.args
        return (args.get("oauth_signature_method") == "HMAC-SHA256"
                and args.get("oauth_consumer_key") == CK
                and hmac.compare_digest(args.get("oauth_signature", ""),
                                        expected_signature(self.method, self.base_url, self.query, CS)))


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: object = dataclasses.field(default_factory=dict)  # bytes are sent as they are
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0


class FakeWoo:
    """Answer scripted replies in order (then ``default``), recording every request."""

    def __init__(self, ssl_context: tuple[str, str] | None = None):
        self.requests: list[Seen] = []
        self.replies: deque[Reply | Callable[[Seen], Reply]] = deque()
        self.default: Callable[[Seen], Reply] = lambda seen: Reply(body={"ok": True})
        self.scheme = "https" if ssl_context else "http"
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, ssl_context=ssl_context)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str = "") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def script(self, *replies: Reply | Callable[[Seen], Reply]) -> None:
        self.replies.extend(replies)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ, start_response):
        raw = environ["REQUEST_URI"]
        path, _, query = raw.partition("?")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        base_url = f"{environ['wsgi.url_scheme']}://{headers['host'].lower()}{path}"
        seen = Seen(environ["REQUEST_METHOD"], path, parse_qsl(query, keep_blank_values=True),
                    headers, body, base_url)
        self.requests.append(seen)
        reply = self.replies.popleft() if self.replies else self.default
        if callable(reply):
            reply = reply(seen)
        if reply.delay:
            time.sleep(reply.delay)
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        out = {"Content-Type": "application/json; charset=UTF-8", **reply.headers}
        out["Content-Length"] = str(len(payload))
        start_response(f"{reply.status} X", list(out.items()))
        return [payload]


def wc_error(status: int, code: str, message: str, **data) -> Reply:
    return Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


@pytest.fixture
def store() -> Iterator[FakeWoo]:
    server = FakeWoo()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[str, str]:
    """Return (certfile, keyfile) of a self-signed certificate for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = Path(folder, "cert.pem"), Path(folder, "key.pem")
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return str(certfile), str(keyfile)


@pytest.fixture
def tls_store(tls_files) -> Iterator[FakeWoo]:
    server = FakeWoo(ssl_context=tls_files)
    yield server
    server.stop()


class Sleeps(list):
    """Record requested sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(store, sleeps) -> Iterator[WooClient]:
    """A plain-HTTP client (so OAuth 1.0a) with a fixed clock and recorded sleeps."""
    instance = WooClient(store.url(), CK, CS, sleep=sleeps, clock=lambda: NOW)
    yield instance
    instance.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- authentication -----------------------------------------------------------------------


def test_basic_auth_over_https_sends_the_exact_header(tls_store, tls_files):
    tls_store.script(Reply(body=[{"id": 7}]))
    with WooClient(tls_store.url(), CK, CS, verify=tls_files[0]) as woo:
        assert woo.auth == "basic"
        response = woo.get("/orders", params={"per_page": 5})
    assert response.data == [{"id": 7}]
    [seen] = tls_store.requests
    assert seen.headers["authorization"] == "Basic Y2tfdGVzdDpjc190ZXN0"
    assert seen.path == API_PREFIX + "/orders"
    assert seen.query == [("per_page", "5")]
    assert seen.headers["user-agent"] == USER_AGENT


def test_query_auth_over_https_sends_keys_as_parameters(tls_store, tls_files):
    with WooClient(tls_store.url(), CK, CS, auth="query", verify=tls_files[0]) as woo:
        woo.get("/customers", params={"page": 2})
    [seen] = tls_store.requests
    assert seen.query == [("page", "2"), ("consumer_key", CK), ("consumer_secret", CS)]
    assert "authorization" not in seen.headers


@pytest.mark.parametrize("auth", ["basic", "query"])
def test_keys_in_clear_over_http_are_refused(store, auth):
    with pytest.raises(ValueError, match="in clear"):
        WooClient(store.url(), CK, CS, auth=auth)
    assert store.requests == []


def test_untrusted_certificate_is_terminal_and_not_retried(tls_store, sleeps):
    with WooClient(tls_store.url(), CK, CS, sleep=sleeps) as woo, \
            pytest.raises(TerminalError, match="TLS certificate not trusted"):
        woo.get("/orders")
    assert sleeps == []
    assert tls_store.requests == []


def test_oauth1_get_with_params_is_signed_hmac_sha256(store, client):
    store.script(Reply(body=[]))
    client.get("/orders", params={"per_page": 5, "search": "a b+c/ü~%", "status": ["processing", "on-hold"],
                                  "include_meta": True, "after": None})
    [seen] = store.requests
    assert client.auth == "oauth1"
    assert seen.signature_ok
    args = seen.args
    assert args["search"] == "a b+c/ü~%"
    assert args["status"] == "processing,on-hold"
    assert args["include_meta"] == "true"
    assert "after" not in args
    assert args["oauth_timestamp"] == "1700000000"
    assert "authorization" not in seen.headers and "consumer_secret" not in args
    assert CS not in "".join(f"{k}={v}" for k, v in seen.query)


def test_the_verifier_rejects_a_wrong_secret(store):
    with WooClient(store.url(), CK, "cs_wrong", clock=lambda: NOW) as woo:
        woo.get("/orders", params={"page": 1})
    [seen] = store.requests
    assert not seen.signature_ok


@pytest.mark.parametrize(("url", "auth"), [("ftp://shop.example", "auto"), ("https://shop.example?x=1", "auto"),
                                           ("https://user:pw@shop.example", "auto"), ("https://shop.example", "jwt")])
def test_bad_store_url_or_auth_mode_is_refused(url, auth):
    with pytest.raises(ValueError):
        WooClient(url, CK, CS, auth=auth)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_oauth1_json_body_arrives_next_to_a_valid_signature(store, client, method):
    payload = {"status": "completed", "note": "Grüße & thanks", "line_items": [{"id": 1, "quantity": 2}]}
    store.script(Reply(201, {"id": 42}))
    response = client.request(method, "/orders/42", json=payload)
    assert (response.status, response.data) == (201, {"id": 42})
    [seen] = store.requests
    assert seen.method == method
    assert seen.signature_ok
    assert json.loads(seen.body) == payload
    assert int(seen.headers["content-length"]) == len(seen.body) > 0
    assert seen.headers["content-type"] == "application/json"


def test_store_url_with_a_path_and_trailing_slash(store, sleeps):
    with WooClient(store.url("/woo/demo/"), CK, CS, sleep=sleeps, clock=lambda: NOW) as woo:
        woo.get("/products/5")
    [seen] = store.requests
    assert seen.path == "/woo/demo/wp-json/wc/v3/products/5"
    assert seen.base_url == store.url("/woo/demo/wp-json/wc/v3/products/5")
    assert seen.signature_ok


def test_every_retry_is_signed_afresh(store, sleeps):
    ticks = iter([NOW, NOW + 1])
    store.script(wc_error(503, "service_unavailable", "Busy"), Reply(body={"id": 1}))
    with WooClient(store.url(), CK, CS, sleep=sleeps, clock=lambda: next(ticks)) as woo:
        assert woo.get("/orders/1").data == {"id": 1}
    first, second = store.requests
    assert first.signature_ok and second.signature_ok
    assert first.args["oauth_nonce"] != second.args["oauth_nonce"]
    assert (first.args["oauth_timestamp"], second.args["oauth_timestamp"]) == ("1700000000", "1700000001")
    assert sleeps == [0.5]


def test_root_is_fetched_without_credentials(store, client):
    store.script(Reply(body={"name": "Demo", "timezone_string": "Europe/Paris", "namespaces": ["wc/v3"]}))
    assert client.root() == {"name": "Demo", "timezone_string": "Europe/Paris", "namespaces": ["wc/v3"]}
    [seen] = store.requests
    assert seen.path == "/wp-json/"
    assert seen.query == [] and "authorization" not in seen.headers


def test_secrets_never_reach_the_log(tls_store, tls_files, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the app quiets httpx once it has been created
    caplog.set_level(logging.DEBUG, logger="httpcore")
    tls_store.script(Reply(500), Reply(502))
    with WooClient(tls_store.url(), CK, CS, auth="query", verify=tls_files[0], sleep=sleeps,
                   max_attempts=2) as woo, pytest.raises(RetryableError) as caught:
        woo.get("/orders")
    assert len(tls_store.requests) == 2
    ours = [record for record in caplog.records if record.name != "werkzeug"]  # the stand-in's own log
    assert any(record.name == "httpx" for record in ours)
    text = "\n".join(record.getMessage() for record in ours)
    assert "consumer_secret=REDACTED" in text
    assert CS not in text and CK not in text and CS not in str(caught.value)


def test_oauth_key_and_signature_are_blanked_in_httpx_logs(store, client, caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    client.get("/orders")
    [seen] = store.requests
    [line] = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert seen.signature_ok
    assert CK not in line and seen.args["oauth_signature"] not in line
    assert "oauth_signature=REDACTED" in line


# --- retries ------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_then_succeeds(store, client, sleeps):
    store.script(Reply(429, {"code": "rate_limited", "message": "Slow down"}, {"Retry-After": "3"}),
                 Reply(429, {"code": "rate_limited", "message": "Slow down"}),
                 Reply(body=[{"id": 9}]))
    assert client.get("/orders").data == [{"id": 9}]
    assert sleeps == [3.0, 1.0]
    assert len(store.requests) == 3


def test_retry_after_beyond_max_backoff_is_handed_to_the_caller(store, client, sleeps):
    store.script(Reply(429, {"code": "rate_limited", "message": "Slow down"}, {"Retry-After": "120"}))
    with pytest.raises(RetryableError, match="asked to wait 120s") as caught:
        client.get("/orders")
    assert caught.value.retry_after == 120.0
    assert sleeps == [] and len(store.requests) == 1


def test_5xx_exhausted_raises_retryable_with_the_last_backoff(store, client, sleeps):
    store.default = lambda seen: wc_error(502, "bad_gateway", "Upstream down")
    with pytest.raises(RetryableError) as caught:
        client.get("/orders")
    assert str(caught.value) == (f"store 127.0.0.1:{store.port}: GET {API_PREFIX}/orders: "
                                 "HTTP 502 bad_gateway: Upstream down after 4 attempts")
    assert caught.value.retry_after == 4.0
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(store.requests) == 4


def test_exhausted_with_retry_after_reports_it(store, sleeps):
    store.default = lambda seen: Reply(503, b"<h1>maintenance</h1>", {"Retry-After": "2"})
    with WooClient(store.url(), CK, CS, sleep=sleeps, max_attempts=3, backoff=3, max_backoff=5) as woo, \
            pytest.raises(RetryableError) as caught:
        woo.get("/orders")
    assert caught.value.retry_after == 2.0
    assert sleeps == [3.0, 5.0]  # backoff 3, then 6 capped at 5; Retry-After 2 is below both


def test_get_timeouts_are_retried(store, sleeps):
    store.script(Reply(delay=0.5), Reply(body={"id": 3}))
    with WooClient(store.url(), CK, CS, sleep=sleeps, timeout=0.2) as woo:
        assert woo.get("/orders/3").data == {"id": 3}
    assert sleeps == [0.5] and len(store.requests) == 2


def test_post_that_timed_out_is_not_repeated(store, sleeps):
    store.default = lambda seen: Reply(delay=0.5)
    with WooClient(store.url(), CK, CS, sleep=sleeps, timeout=0.2) as woo, \
            pytest.raises(RetryableError, match="ReadTimeout.*may have run it") as caught:
        woo.post("/orders", json={"status": "pending"})
    assert caught.value.retry_after == 0.5
    assert sleeps == [] and len(store.requests) == 1


def test_post_500_is_not_repeated_but_503_is(store, client, sleeps):
    store.script(wc_error(500, "internal_server_error", "Critical error"))
    with pytest.raises(RetryableError, match="may have run it"):
        client.post("/coupons", json={"code": "BACK10"})
    assert len(store.requests) == 1 and sleeps == []

    store.script(wc_error(503, "unavailable", "Busy"), Reply(201, {"id": 5}))
    assert client.post("/coupons", json={"code": "BACK10"}).data == {"id": 5}
    assert len(store.requests) == 3 and sleeps == [0.5]
    assert json.loads(store.requests[2].body) == {"code": "BACK10"}


def test_post_connect_errors_are_retried(sleeps):
    with WooClient(f"http://127.0.0.1:{closed_port()}", CK, CS, sleep=sleeps) as woo, \
            pytest.raises(RetryableError, match="cannot connect.*after 4 attempts") as caught:
        woo.post("/orders", json={"status": "pending"})
    assert sleeps == [0.5, 1.0, 2.0]
    assert caught.value.retry_after == 4.0


# --- error mapping ------------------------------------------------------------------------


def test_401_means_the_key_was_revoked(store, client, sleeps):
    store.script(wc_error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid."))
    with pytest.raises(AuthRevokedError) as caught:
        client.get("/orders")
    assert str(caught.value) == ("woocommerce_rest_authentication_error: Consumer key is invalid. "
                                 f"(GET {API_PREFIX}/orders, HTTP 401)")
    assert sleeps == [] and len(store.requests) == 1


def test_403_is_terminal(store, client):
    store.script(wc_error(403, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."))
    with pytest.raises(TerminalError) as caught:
        client.get("/customers")
    assert type(caught.value) is TerminalError
    assert str(caught.value) == ("woocommerce_rest_cannot_view: Sorry, you cannot list resources. "
                                 f"(GET {API_PREFIX}/customers, HTTP 403)")


def test_404_is_not_found(store, client):
    store.script(wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
    with pytest.raises(NotFoundError, match=r"^woocommerce_rest_shop_order_invalid_id: Invalid ID\. "):
        client.get("/orders/999")
    assert issubclass(NotFoundError, TerminalError)


def test_400_invalid_param_names_the_params(store, client, sleeps):
    store.script(wc_error(400, "rest_invalid_param", "Invalid parameter(s): status",
                          params={"status": "status is not one of pending, processing."}))
    with pytest.raises(TerminalError) as caught:
        client.put("/orders/1", json={"status": "shipped"})
    assert str(caught.value) == ("rest_invalid_param: Invalid parameter(s): status "
                                 "[status: status is not one of pending, processing.] "
                                 f"(PUT {API_PREFIX}/orders/1, HTTP 400)")
    assert sleeps == [] and len(store.requests) == 1


def test_4xx_without_a_wordpress_body_falls_back_to_an_excerpt(store, client):
    store.script(Reply(418, b"<html><body>\n  I am a teapot </body></html>", {"Content-Type": "text/html"}))
    with pytest.raises(TerminalError) as caught:
        client.get("/orders")
    assert str(caught.value) == (f"HTTP 418: <html><body> I am a teapot </body></html> "
                                 f"(GET {API_PREFIX}/orders, HTTP 418)")


def test_non_json_200_is_terminal(store, client, sleeps):
    store.script(Reply(200, b"<html><title>Security check</title></html>", {"Content-Type": "text/html"}))
    with pytest.raises(TerminalError) as caught:
        client.get("/orders")
    assert str(caught.value) == (f"store 127.0.0.1:{store.port} answered non-JSON from {API_PREFIX}/orders "
                                 "(HTTP 200, text/html): '<html><title>Security check</title></html>'")
    assert sleeps == []


def test_redirect_is_terminal_and_hides_the_query(store, client):
    store.script(Reply(301, b"", {"Location": "https://shop.example/wp-json/wc/v3/orders?oauth_signature=x"}))
    with pytest.raises(TerminalError) as caught:
        client.get("/orders")
    assert "redirected to https://shop.example/wp-json/wc/v3/orders:" in str(caught.value)
    assert "oauth_signature" not in str(caught.value)


# --- responses and batches ----------------------------------------------------------------


def test_pagination_totals_are_parsed(store, client):
    store.script(Reply(body=[{"id": 1}], headers={"X-WP-Total": "250", "X-WP-TotalPages": "3"}),
                 Reply(body=[], headers={"X-WP-Total": "many"}))
    first = client.get("/orders", params={"per_page": 100})
    assert (first.status, first.total, first.total_pages) == (200, 250, 3)
    assert first.headers["x-wp-total"] == "250"
    second = client.get("/orders")
    assert (second.total, second.total_pages) == (None, None)


def test_batch_splits_into_chunks_and_merges_in_order(store, client):
    def echo(seen: Seen) -> Reply:
        body = json.loads(seen.body)
        return Reply(body={key: [{"id": item["id"] if isinstance(item, dict) else item, "ok": True}
                                 for item in items] for key, items in body.items()})

    store.default = echo
    updates = [{"id": n, "regular_price": "9.99"} for n in range(250)]
    merged = client.batch("/products", update=updates)
    sent = [json.loads(seen.body) for seen in store.requests]
    assert [seen.path for seen in store.requests] == [API_PREFIX + "/products/batch"] * 3
    assert [seen.method for seen in store.requests] == ["POST"] * 3
    assert all(seen.signature_ok for seen in store.requests)
    assert [len(body["update"]) for body in sent] == [100, 100, 50]
    assert all(set(body) == {"update"} for body in sent)
    assert [item["id"] for item in merged["update"]] == list(range(250))
    assert merged["create"] == [] and merged["delete"] == []


def test_batch_packs_create_update_delete_within_the_limit(store, client):
    store.default = lambda seen: Reply(body={key: [{"n": len(items)}] * len(items)
                                             for key, items in json.loads(seen.body).items()})
    merged = client.batch("/coupons/", create=[{"code": f"C{n}"} for n in range(30)],
                          update=[{"id": n} for n in range(80)], delete=list(range(10)))
    sizes = [{key: len(items) for key, items in json.loads(seen.body).items()} for seen in store.requests]
    assert sizes == [{"create": 30, "update": 70}, {"update": 10, "delete": 10}]
    assert sum(sum(size.values()) for size in sizes) == 120 and max(sum(s.values()) for s in sizes) <= MAX_BATCH
    assert (len(merged["create"]), len(merged["update"]), len(merged["delete"])) == (30, 80, 10)


def test_empty_batch_sends_nothing(store, client):
    assert client.batch("/orders") == {"create": [], "update": [], "delete": []}
    assert store.requests == []


def test_close_leaves_an_injected_http_client_open(store):
    http = httpx.Client(timeout=5.0)
    woo = WooClient(store.url(), CK, CS, http=http)
    woo.get("/orders")
    woo.close()
    assert not http.is_closed
    http.close()
