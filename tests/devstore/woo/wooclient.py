"""Test-side helpers: an OAuth 1.0a signer (RFC 5849) and a client for one woo store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import ssl
import time
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import quote, urlsplit

import httpx


def _enc(value: str) -> str:
    return quote(value, safe="-._~")


def oauth_params(method: str, url: str, consumer_key: str, consumer_secret: str,
                 query: Optional[dict[str, str]] = None, algorithm: str = "HMAC-SHA256",
                 timestamp: Optional[int] = None, nonce: Optional[str] = None) -> dict[str, str]:
    """Return query + oauth_* parameters signed per RFC 5849 section 3.4."""
    params = dict(query or {})
    params.update(oauth_consumer_key=consumer_key,
                  oauth_timestamp=str(timestamp if timestamp is not None else int(time.time())),
                  oauth_nonce=nonce or secrets.token_hex(8), oauth_signature_method=algorithm)
    parts = urlsplit(url)
    base_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
    pairs = sorted((_enc(k), _enc(v)) for k, v in params.items())
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    text = "&".join((method.upper(), _enc(base_url), _enc(normalized)))
    digest = hashlib.sha256 if algorithm == "HMAC-SHA256" else hashlib.sha1
    mac = hmac.new(f"{_enc(consumer_secret)}&".encode(), text.encode(), digest).digest()
    params["oauth_signature"] = base64.b64encode(mac).decode()
    return params


@dataclass
class Woo:
    """One served devstore with a plain and a TLS listener, and one store on it."""

    http_base: str
    https_base: str
    cafile: str
    handle: str = "shop"

    def client(self, tls: bool = False) -> httpx.Client:
        """Return a client for one listener."""
        return httpx.Client(base_url=self.https_base if tls else self.http_base,
                            trust_env=False, timeout=30,
                            verify=ssl.create_default_context(cafile=self.cafile))

    @property
    def store_url(self) -> str:
        return f"{self.http_base}/woo/{self.handle}"

    @property
    def store_https_url(self) -> str:
        return f"{self.https_base}/woo/{self.handle}"

    def control(self, method: str, path: str, json: Any = None,
                **kwargs: Any) -> httpx.Response:
        """Call /_devstore/woo<path>."""
        with self.client() as client:
            return client.request(method, f"/_devstore/woo{path}", json=json, **kwargs)

    def ctl(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        """Call the control API on this store and check the status."""
        response = self.control(method, f"/stores/{self.handle}{path}", json)
        assert response.status_code == status, response.text
        return response.json()

    def key(self, permissions: str = "read_write") -> dict[str, Any]:
        """Create an API key."""
        return self.ctl("POST", "/keys", {"permissions": permissions}, 201)

    def rest(self, method: str, path: str, key: dict[str, Any], params: Any = None,
             json: Any = None) -> httpx.Response:
        """Call the REST API over TLS with HTTP Basic auth."""
        with self.client(tls=True) as client:
            return client.request(method, f"/woo/{self.handle}/wp-json/wc/v3{path}",
                                  params=params, json=json,
                                  auth=(key["consumer_key"], key["consumer_secret"]))

    def oauth(self, method: str, path: str, key: dict[str, Any],
              query: Optional[dict[str, str]] = None, json: Any = None,
              **sign: Any) -> httpx.Response:
        """Call the REST API over plain HTTP with OAuth 1.0a query parameters."""
        url = f"{self.store_url}/wp-json/wc/v3{path}"
        params = oauth_params(method, url, key["consumer_key"], key["consumer_secret"], query,
                              **sign)
        with self.client() as client:
            return client.request(method, url, params=params, json=json)

    def drain(self) -> None:
        """Wait until webhook deliveries are done."""
        response = self.control("POST", "/delivery/drain", {"timeout": 15})
        assert response.json() == {"drained": True}
