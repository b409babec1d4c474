"""Sign WooCommerce REST requests with one-legged OAuth 1.0a (HMAC-SHA256, query string).

WooCommerce accepts OAuth 1.0a only as its plain-HTTP authentication: no token, the consumer
secret followed by ``&`` as the HMAC key, the oauth parameters in the query string and the
request URL without its query as the signed base URL. The request body is not signed (the
server ignores it), so a JSON body is sent as it is next to the signed URL.

Authlib's ``ClientAuth`` does the RFC 5849 work (oauth parameters, base string, rendering into
the query). Three things are adjusted here rather than in Authlib:

* ``HMAC-SHA256`` is not registered in Authlib; it is registered on a copy of the method table
  so Authlib's own ``ClientAuth`` is left as it was.
* ``ClientAuth.sign`` takes its timestamp from ``time.time`` and, through ``OAuth1Request``,
  refuses plain-HTTP URLs other than loopback (``AUTHLIB_INSECURE_TRANSPORT`` would switch
  that off for the whole process). Plain HTTP is the only place WooCommerce uses OAuth 1.0a, so
  ``QuerySigner.sign_url`` builds the same signature from Authlib's public pieces instead.
* Authlib's httpx integration signs form bodies only and sends a JSON body as empty
  (``Content-Length: 0``); signing the URL alone keeps the body out of Authlib's hands.
"""

from __future__ import annotations

import binascii
import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from authlib.common.encoding import to_bytes, to_unicode
from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.oauth1.rfc5849.client_auth import ClientAuth
from authlib.oauth1.rfc5849.parameters import prepare_request_uri_query
from authlib.oauth1.rfc5849.signature import SIGNATURE_TYPE_QUERY, generate_signature_base_string
from authlib.oauth1.rfc5849.util import escape

SIGNATURE_HMAC_SHA256 = "HMAC-SHA256"
_NONCE_LENGTH = 32


def hmac_sha256_signature(base_string: str, client_secret: str | None, token_secret: str | None) -> str:
    """Return the base64 HMAC-SHA256 of ``base_string``, keyed as RFC 5849 §3.4.2 keys HMAC-SHA1.

    The key is the encoded client secret, ``&`` and the encoded token secret (empty here).
    WooCommerce keys with the raw secret; its secrets (``cs_`` and hex) encode to themselves.
    """
    key = escape(client_secret or "") + "&" + escape(token_secret or "")
    digest = hmac.new(to_bytes(key), to_bytes(base_string), hashlib.sha256).digest()
    return to_unicode(binascii.b2a_base64(digest)[:-1])


def sign_hmac_sha256(client: ClientAuth, request: _SigningInput) -> str:
    """Sign a request with HMAC-SHA256 (the signature function registered with Authlib)."""
    base_string = generate_signature_base_string(request)
    return hmac_sha256_signature(base_string, client.client_secret, client.token_secret)


@dataclasses.dataclass(frozen=True)
class _SigningInput:
    """What Authlib's signature functions read from a request: method, URI, params, headers."""

    method: str
    uri: str
    params: list[tuple[str, str]]
    headers: Mapping[str, str]


class QuerySigner(ClientAuth):
    """Add one-legged OAuth 1.0a parameters and signature to a URL's query string.

    Each call draws a new nonce and reads the timestamp from ``clock``, so a retried request
    is signed afresh. Holds no per-request state; safe to share between threads.
    """

    SIGNATURE_METHODS = dict(ClientAuth.SIGNATURE_METHODS)

    def __init__(self, consumer_key: str, consumer_secret: str, *,
                 signature_method: str = SIGNATURE_HMAC_SHA256, clock: Callable[[], float]):
        super().__init__(consumer_key, consumer_secret, signature_method=signature_method,
                         signature_type=SIGNATURE_TYPE_QUERY)
        self._clock = clock

    def __repr__(self) -> str:
        return f"QuerySigner(method={self.signature_method!r})"

    def sign_url(self, method: str, url: str) -> str:
        """Return ``url`` with the oauth parameters and signature appended to its query.

        ``url`` must carry its query already encoded as ``application/x-www-form-urlencoded``;
        the signature covers every query parameter and the URL without its query.
        """
        nonce = generate_token(_NONCE_LENGTH)
        timestamp = str(int(self._clock()))
        oauth_params = self.get_oauth_params(nonce, timestamp)
        unsigned = prepare_request_uri_query(oauth_params, url)
        signature = self.get_oauth_signature(method, unsigned, {}, b"")
        oauth_params.append(("oauth_signature", signature))
        return prepare_request_uri_query(oauth_params, url)

    def get_oauth_signature(self, method, uri, headers, body):
        """Sign like ``ClientAuth`` does, without ``OAuth1Request`` and its HTTPS-only check."""
        sign = self.SIGNATURE_METHODS.get(self.signature_method)
        if sign is None:
            raise ValueError(f"unsupported OAuth signature method {self.signature_method!r}")
        params = url_decode(urlsplit(uri).query)
        return sign(self, _SigningInput(method.upper(), uri, params, headers or {}))


QuerySigner.register_signature_method(SIGNATURE_HMAC_SHA256, sign_hmac_sha256)
