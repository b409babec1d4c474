"""OAuth 1.0a one-legged signatures as WooCommerce checks them (RFC 5849)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Iterable, Optional
from urllib.parse import quote, unquote

ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
REQUIRED = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
            "oauth_signature_method")
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))')


def pct(value: str) -> str:
    """Percent-encode per RFC 3986 (unreserved characters kept)."""
    return quote(value, safe="")


def parse_header(header: str) -> dict[str, str]:
    """Return the oauth_* parameters of an `Authorization: OAuth ...` header."""
    if not header.startswith("OAuth "):
        return {}
    return {m.group(1): unquote(m.group(2) if m.group(2) is not None else m.group(3).strip())
            for m in _HEADER_PARAM.finditer(header)}


def base_string(method: str, base_url: str, params: Iterable[tuple[str, str]]) -> str:
    """Return METHOD & pct(base URL) & pct(sorted, encoded params without the signature)."""
    pairs = sorted((pct(k), pct(v)) for k, v in params if k != "oauth_signature")
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), pct(base_url), pct(normalized)))


def sign(method_name: str, consumer_secret: str, text: str) -> Optional[str]:
    """Return the base64 signature of a base string, or None for an unknown method."""
    digest = ALGORITHMS.get(method_name)
    if digest is None:
        return None
    key = f"{consumer_secret}&".encode()
    return base64.b64encode(hmac.new(key, text.encode(), digest).digest()).decode()
