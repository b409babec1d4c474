"""Sign and verify what the Comeback WordPress plugin exchanges with the app.

The plugin (``connectors/woocommerce/wordpress-plugin/comeback``) implements the same four
formats in PHP; ``tests/fixtures/woocommerce_plugin_vectors.json`` pins both sides to the same
bytes. Every secret here is the store's shared secret (the ``comeback_shared_secret`` option).

1. Customer token: ``b64url(payload) "." b64url(HMAC(secret, payload))`` with the payload
   ``v1|<store_id>|<customer_id>|<email>|<expires>``; the storefront widget's proof of the shopper.
2. Signed request: ``X-Comeback-Signature: b64(HMAC(secret, "<timestamp>.<body>"))``.
3. Restore link: ``?comeback_restore=<cart>&expires=<t>&signature=b64url(HMAC(secret,
   "restore|<store_id>|<cart>|<t>"))``.
4. Cart event body: JSON described in the plugin's README, signed as in 2.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import logging
import re

from connectors.base import InvalidSignatureError

logger = logging.getLogger(__name__)

TOKEN_VERSION = "v1"
TOKEN_LIFETIME_SECONDS = 900
TOKEN_MAX_LIFETIME_SECONDS = 3600
REQUEST_WINDOW_SECONDS = 300
RESTORE_LIFETIME_SECONDS = 7 * 86400

STORE_HEADER = "X-Comeback-Store"
TIMESTAMP_HEADER = "X-Comeback-Timestamp"
SIGNATURE_HEADER = "X-Comeback-Signature"
RESTORE_PARAM = "comeback_restore"

# PHP's trim() default set, so that both sides normalise an e-mail address identically.
_PHP_TRIM_CHARS = " \t\n\r\0\x0b"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_DIGITS = re.compile(r"[0-9]{1,12}")
_POSITIVE_ID = re.compile(r"[1-9][0-9]{0,19}")
_CART_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerIdentity:
    """The shopper a valid customer token vouches for."""

    customer_id: str
    email: str
    expires_at: int


# --- base64 ---------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """Return URL-safe base64 without padding, as every token and link part uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Return the bytes of canonical unpadded URL-safe base64; ``ValueError`` otherwise.

    Canonical (re-encoding gives the same text) so that one payload has exactly one spelling.
    """
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _mac(secret: str, message: bytes) -> bytes:
    """Return HMAC-SHA256 of ``message`` under the UTF-8 bytes of ``secret``."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


# --- 1. customer token ------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    """Return the e-mail address trimmed (PHP ``trim`` characters) and lower-cased."""
    return email.strip(_PHP_TRIM_CHARS).lower()


def sign_customer_token(secret: str, store_id: str, customer_id: int | str, email: str, expires: int) -> str:
    """Return a customer token for the shopper; ``ValueError`` for fields the format cannot carry.

    The plugin issues these in PHP; this twin exists for the vectors, the devstore and tests.
    """
    address = normalize_email(email)
    if "|" in address:
        raise ValueError("email must not contain '|'")
    if not _POSITIVE_ID.fullmatch(str(customer_id)):
        raise ValueError("customer id must be a positive integer")
    payload = "|".join((TOKEN_VERSION, store_id, str(customer_id), address, str(int(expires)))).encode("utf-8")
    return f"{b64url_encode(payload)}.{b64url_encode(_mac(secret, payload))}"


def verify_customer_token(secret: str, store_id: str, token: str, *, now: float) -> CustomerIdentity:
    """Return the shopper a customer token vouches for; ``InvalidSignatureError`` otherwise.

    The signature is checked before any field is trusted; the lifetime is capped so that a
    leaked secret-free token cannot be replayed for long, whatever expiry it was minted with.
    """
    payload = _token_payload(secret, token)
    parts = payload.split("|")
    if len(parts) < 5:
        raise InvalidSignatureError("customer token payload is malformed")
    version, token_store, customer_id, expires = parts[0], parts[1], parts[2], parts[-1]
    email = "|".join(parts[3:-1])
    if version != TOKEN_VERSION:
        raise InvalidSignatureError("customer token has an unsupported version")
    if token_store != store_id:
        raise InvalidSignatureError("customer token was issued for another store")
    if not _DIGITS.fullmatch(expires):
        raise InvalidSignatureError("customer token expiry is malformed")
    _check_token_expiry(int(expires), now)
    if not _POSITIVE_ID.fullmatch(customer_id):
        raise InvalidSignatureError("customer token customer id is not a positive integer")
    if "|" in email:
        raise InvalidSignatureError("customer token email contains '|'")
    return CustomerIdentity(customer_id=customer_id, email=email, expires_at=int(expires))


def _token_payload(secret: str, token: str) -> str:
    """Return the decoded payload of a token whose signature matches."""
    encoded_payload, dot, encoded_mac = token.partition(".")
    if not dot or "." in encoded_mac:
        raise InvalidSignatureError("customer token is malformed")
    try:
        payload = b64url_decode(encoded_payload)
        b64url_decode(encoded_mac)
    except ValueError as exc:
        raise InvalidSignatureError("customer token is malformed") from exc
    expected = b64url_encode(_mac(secret, payload))
    if not hmac.compare_digest(expected.encode("ascii"), encoded_mac.encode("ascii")):
        raise InvalidSignatureError("customer token signature is invalid")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSignatureError("customer token payload is malformed") from exc


def _check_token_expiry(expires: int, now: float) -> None:
    """Reject a token that has expired or claims to live longer than the cap."""
    if expires <= now:
        raise InvalidSignatureError("customer token has expired")
    if expires > now + TOKEN_MAX_LIFETIME_SECONDS:
        raise InvalidSignatureError("customer token expires too far in the future")


# --- 2. signed server-to-server request -------------------------------------------------------


def sign_request(secret: str, timestamp: int | str, body: bytes) -> str:
    """Return the ``X-Comeback-Signature`` value for a request body sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return base64.b64encode(_mac(secret, message)).decode("ascii")


def verify_request(secret: str, *, timestamp: str | None, signature: str | None, body: bytes, now: float,
                   window: int = REQUEST_WINDOW_SECONDS) -> None:
    """Accept a signed plugin request or raise ``InvalidSignatureError``.

    ``body`` must be the raw bytes received: the plugin signs its JSON as encoded (escaped
    slashes, ``\\u`` escapes or raw UTF-8), so re-serialising would break the signature.
    """
    if not timestamp:
        raise InvalidSignatureError("missing X-Comeback-Timestamp header")
    if not signature:
        raise InvalidSignatureError("missing X-Comeback-Signature header")
    if not _DIGITS.fullmatch(timestamp):
        raise InvalidSignatureError("X-Comeback-Timestamp is not a unix timestamp")
    if abs(int(timestamp) - now) > window:
        logger.debug("plugin request is %.0f s away from our clock (window %d s)", int(timestamp) - now, window)
        raise InvalidSignatureError("X-Comeback-Timestamp is outside the allowed window")
    expected = sign_request(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        raise InvalidSignatureError("X-Comeback-Signature is invalid")


# --- 3. cart-restore link ---------------------------------------------------------------------


def restore_signature(secret: str, store_id: str, cart_token: str, expires: int | str) -> str:
    """Return the ``signature`` parameter of a restore link."""
    message = f"restore|{store_id}|{cart_token}|{expires}".encode("utf-8")
    return b64url_encode(_mac(secret, message))


def sign_restore_link(secret: str, store_id: str, site_url: str, cart_token: str, expires: int) -> str:
    """Return the link that restores ``cart_token`` on the store until ``expires``.

    A ``site_url`` with a query already (``?lang=fr``) gets the parameters appended with ``&``;
    otherwise they go after ``<site_url>/?``. No value needs percent-encoding: all are base64url
    or digits.
    """
    if not _CART_TOKEN.fullmatch(cart_token):
        raise ValueError("cart token must match [A-Za-z0-9_-]{1,64}")
    stamp = str(int(expires))
    query = (f"{RESTORE_PARAM}={cart_token}&expires={stamp}"
             f"&signature={restore_signature(secret, store_id, cart_token, stamp)}")
    return f"{_with_query_separator(site_url)}{query}"


def _with_query_separator(site_url: str) -> str:
    """Return ``site_url`` ready for parameters to be appended."""
    if "#" in site_url:
        raise ValueError("site url must not contain a fragment")
    if "?" not in site_url:
        return site_url.rstrip("/") + "/?"
    if site_url.endswith(("?", "&")):
        return site_url
    return site_url + "&"


def verify_restore_signature(secret: str, store_id: str, cart_token: str, expires: str | int,
                             signature: str | None, *, now: float) -> None:
    """Accept the parameters of a restore link or raise ``InvalidSignatureError``."""
    if not _CART_TOKEN.fullmatch(cart_token):
        raise InvalidSignatureError("restore link cart token is malformed")
    stamp = str(expires)
    if not _DIGITS.fullmatch(stamp):
        raise InvalidSignatureError("restore link expiry is malformed")
    if not signature:
        raise InvalidSignatureError("restore link signature is missing")
    expected = restore_signature(secret, store_id, cart_token, stamp)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        raise InvalidSignatureError("restore link signature is invalid")
    if int(stamp) <= now:
        raise InvalidSignatureError("restore link has expired")


# --- 5. admin link ----------------------------------------------------------------------------

ADMIN_LINK_LIFETIME_SECONDS = 120


def admin_link_signature(secret: str, store_id: str, email: str, expires: int | str) -> str:
    """Return the ``signature`` of the link the plugin's admin page opens Comeback with."""
    message = f"admin|{store_id}|{normalize_email(email)}|{expires}".encode("utf-8")
    return b64url_encode(_mac(secret, message))


def verify_admin_link(secret: str, store_id: str, email: str, expires: str | int, signature: str | None,
                      *, now: float) -> str:
    """Return the (normalised) address of the store user a signed admin link vouches for.

    The link is short-lived: it must expire within ``ADMIN_LINK_LIFETIME_SECONDS`` of ``now``,
    whatever expiry it claims, so a link copied out of a browser history cannot be reused.
    """
    address = normalize_email(email or "")
    if not address or "|" in address or "@" not in address:
        raise InvalidSignatureError("admin link email is malformed")
    stamp = str(expires)
    if not _DIGITS.fullmatch(stamp):
        raise InvalidSignatureError("admin link expiry is malformed")
    if not signature:
        raise InvalidSignatureError("admin link signature is missing")
    expected = admin_link_signature(secret, store_id, address, stamp)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        raise InvalidSignatureError("admin link signature is invalid")
    if int(stamp) <= now:
        raise InvalidSignatureError("admin link has expired: open Comeback again from the store's admin")
    if int(stamp) > now + ADMIN_LINK_LIFETIME_SECONDS:
        raise InvalidSignatureError("admin link expires too far in the future")
    return address
