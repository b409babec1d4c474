"""The WordPress plugin's PHP and ``plugin_signing`` agree byte for byte on every format.

The vectors' expected values were generated once with the Python signer; php-cli must reproduce
them and reach the same verdict (same message) on every positive and negative case.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from connectors.base import InvalidSignatureError
from connectors.woocommerce.plugin_signing import (
    ADMIN_LINK_LIFETIME_SECONDS,
    RESTORE_LIFETIME_SECONDS,
    TOKEN_LIFETIME_SECONDS,
    CustomerIdentity,
    admin_link_signature,
    normalize_email,
    sign_customer_token,
    sign_request,
    sign_restore_link,
    verify_admin_link,
    verify_customer_token,
    verify_request,
    verify_restore_signature,
)

REPO = Path(__file__).resolve().parents[3]
PLUGIN = REPO / "connectors" / "woocommerce" / "wordpress-plugin" / "comeback"
VECTORS_PATH = REPO / "tests" / "fixtures" / "woocommerce_plugin_vectors.json"
PHP_RUNNER = PLUGIN / "tests" / "signing-vectors.php"
SECTIONS = ("customer_tokens", "customer_token_checks", "request_checks", "restore_links", "restore_checks",
            "admin_links", "admin_link_checks")
# The plugin mints admin links for a minute; the app refuses any that claims more than two.
PLUGIN_ADMIN_LINK_SECONDS = 60


def php_binary() -> str:
    """Return the php-cli path; fail (never skip) without it, since CI installs php-cli."""
    path = shutil.which("php")
    if path is None:
        pytest.fail("php-cli is required for the WordPress plugin tests (CI installs php-cli: apt-get install php-cli)")
    return path


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    """Return the shared vectors, verbatim."""
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def run_php_vectors(path: Path) -> dict[str, Any]:
    """Return what the plugin's PHP computes for the vectors file at ``path``."""
    completed = subprocess.run([php_binary(), str(PHP_RUNNER), str(path)], capture_output=True, timeout=60,
                               check=False)
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    assert completed.stderr == b""
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def php_results() -> dict[str, Any]:
    """Return the PHP results for the committed vectors."""
    return run_php_vectors(VECTORS_PATH)


def python_outcome(check: Callable[[], Any]) -> dict[str, Any]:
    """Describe a Python call the way the PHP runner describes its calls."""
    try:
        result = check()
    except (InvalidSignatureError, ValueError) as exc:
        return {"ok": False, "error": str(exc)}
    if isinstance(result, CustomerIdentity):
        return {"ok": True, "customer_id": result.customer_id, "email": result.email, "expires_at": result.expires_at}
    return {"ok": True, **(result or {})}


def python_admin_link(app_url: str, store_id: str, secret: str, email: str, locale: str, now: int) -> dict[str, str]:
    """Return the admin link the plugin must mint at ``now``: the app verifies it as minted.

    The e-mail is refused as the app would refuse it; values are encoded as PHP's rawurlencode.
    """
    expires = now + PLUGIN_ADMIN_LINK_SECONDS
    signature = admin_link_signature(secret, store_id, email, expires)
    address = verify_admin_link(secret, store_id, email, expires, signature, now=now)
    if "?" in app_url or "#" in app_url:
        raise ValueError("app url must not contain a query or a fragment")
    params = {"store": store_id, "email": address, "expires": str(expires), "signature": signature,
              **({"locale": locale} if locale else {})}
    return {"url": f"{app_url.rstrip('/')}/admin/enter?{urlencode(params, quote_via=quote)}", "signature": signature}


def python_results(vectors: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Return the Python outcome of every vector, section by section."""
    return {
        "customer_tokens": [python_outcome(lambda v=v: {"token": sign_customer_token(
            v["secret"], v["store_id"], v["customer_id"], v["email"], v["expires"])}) for v in vectors["customer_tokens"]],
        "customer_token_checks": [python_outcome(lambda v=v: verify_customer_token(
            v["secret"], v["store_id"], v["token"], now=v["now"])) for v in vectors["customer_token_checks"]],
        "request_checks": [python_outcome(lambda v=v: verify_request(
            v["secret"], timestamp=v["timestamp"], signature=v["signature"], body=v["body"].encode("utf-8"),
            now=v["now"], **({"window": v["window"]} if "window" in v else {}))) for v in vectors["request_checks"]],
        "restore_links": [python_outcome(lambda v=v: {
            "url": sign_restore_link(v["secret"], v["store_id"], v["site_url"], v["cart_token"], v["expires"]),
            "signature": parse_qs(urlsplit(sign_restore_link(
                v["secret"], v["store_id"], v["site_url"], v["cart_token"], v["expires"])).query)["signature"][0],
        }) for v in vectors["restore_links"]],
        "restore_checks": [python_outcome(lambda v=v: verify_restore_signature(
            v["secret"], v["store_id"], v["cart_token"], v["expires"], v["signature"], now=v["now"]))
            for v in vectors["restore_checks"]],
        "admin_links": [python_outcome(lambda v=v: python_admin_link(
            v["app_url"], v["store_id"], v["secret"], v["email"], v["locale"], v["now"])) for v in vectors["admin_links"]],
        "admin_link_checks": [python_outcome(lambda v=v: {"email": verify_admin_link(
            v["secret"], v["store_id"], v["email"], v["expires"], v["signature"], now=v["now"])})
            for v in vectors["admin_link_checks"]],
    }


# --- (a) Python against the vectors ------------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
def test_python_reproduces_every_expected_outcome(vectors, section):
    expected = [v["expected"] for v in vectors[section]]
    assert python_results(vectors)[section] == expected


def test_vectors_cover_positive_and_negative_cases(vectors):
    for section in SECTIONS:
        verdicts = {v["expected"]["ok"] for v in vectors[section]}
        assert verdicts == {True, False}, section


def test_python_request_signatures_match_the_vectors(vectors):
    for vector in vectors["requests"]:
        assert sign_request(vector["secret"], vector["timestamp"], vector["body"].encode("utf-8")) == \
            vector["expected_signature"], vector["name"]


def test_the_non_ascii_email_is_lower_cased_into_the_token(vectors):
    vector = next(v for v in vectors["customer_tokens"] if v["name"] == "mixed case non-ascii")
    assert vector["email"] == "José@Example.COM"
    assert vector["expected_email"] == "josé@example.com"
    identity = verify_customer_token(vector["secret"], vector["store_id"], vector["expected"]["token"],
                                     now=vector["expires"] - 1)
    assert identity == CustomerIdentity(customer_id="305", email="josé@example.com", expires_at=vector["expires"])


@pytest.mark.parametrize("name, message", [
    ("tampered payload", "customer token signature is invalid"),
    ("expired at expiry", "customer token has expired"),
    ("wrong store", "customer token was issued for another store"),
    ("too-long expiry", "customer token expires too far in the future"),
    ("wrong version", "customer token has an unsupported version"),
    ("customer id zero", "customer token customer id is not a positive integer"),
    ("email with pipe", "customer token email contains '|'"),
    ("malformed three parts", "customer token is malformed"),
])
def test_denied_customer_tokens_raise(vectors, name, message):
    vector = next(v for v in vectors["customer_token_checks"] if v["name"] == name)
    with pytest.raises(InvalidSignatureError) as caught:
        verify_customer_token(vector["secret"], vector["store_id"], vector["token"], now=vector["now"])
    assert str(caught.value) == message


@pytest.mark.parametrize("name, message", [
    ("too old", "X-Comeback-Timestamp is outside the allowed window"),
    ("re-serialised body", "X-Comeback-Signature is invalid"),
    ("missing timestamp", "missing X-Comeback-Timestamp header"),
    ("missing signature", "missing X-Comeback-Signature header"),
    ("non-numeric timestamp", "X-Comeback-Timestamp is not a unix timestamp"),
])
def test_denied_requests_raise(vectors, name, message):
    vector = next(v for v in vectors["request_checks"] if v["name"] == name)
    with pytest.raises(InvalidSignatureError) as caught:
        verify_request(vector["secret"], timestamp=vector["timestamp"], signature=vector["signature"],
                       body=vector["body"].encode("utf-8"), now=vector["now"])
    assert str(caught.value) == message


@pytest.mark.parametrize("name, message", [
    ("expired at expiry", "restore link has expired"),
    ("tampered cart token", "restore link signature is invalid"),
    ("wrong store", "restore link signature is invalid"),
    ("missing signature", "restore link signature is missing"),
    ("cart token with newline", "restore link cart token is malformed"),
    ("expiry not a number", "restore link expiry is malformed"),
])
def test_denied_restore_links_raise(vectors, name, message):
    vector = next(v for v in vectors["restore_checks"] if v["name"] == name)
    with pytest.raises(InvalidSignatureError) as caught:
        verify_restore_signature(vector["secret"], vector["store_id"], vector["cart_token"], vector["expires"],
                                 vector["signature"], now=vector["now"])
    assert str(caught.value) == message


@pytest.mark.parametrize("name, message", [
    ("expired at expiry", "admin link has expired: open Comeback again from the store's admin"),
    ("too far in the future", "admin link expires too far in the future"),
    ("tampered email", "admin link signature is invalid"),
    ("wrong store", "admin link signature is invalid"),
    ("wrong secret signature", "admin link signature is invalid"),
    ("missing signature", "admin link signature is missing"),
    ("email without at sign", "admin link email is malformed"),
    ("email with pipe", "admin link email is malformed"),
    ("missing email", "admin link email is malformed"),
    ("expiry not a number", "admin link expiry is malformed"),
    ("expiry negative", "admin link expiry is malformed"),
])
def test_denied_admin_links_raise(vectors, name, message):
    vector = next(v for v in vectors["admin_link_checks"] if v["name"] == name)
    with pytest.raises(InvalidSignatureError) as caught:
        verify_admin_link(vector["secret"], vector["store_id"], vector["email"], vector["expires"],
                          vector["signature"], now=vector["now"])
    assert str(caught.value) == message


def test_the_admin_link_carries_the_normalised_address_and_the_locale(vectors):
    vector = next(v for v in vectors["admin_links"] if v["name"] == "mixed case non-ascii")
    assert vector["email"] == " José@Example.COM\n"
    assert vector["expected"]["url"] == (
        "https://app.example/admin/enter?store=4821&email=jos%C3%A9%40example.com&expires=1767225660"
        "&signature=UXR1RTHFTKESBjlT19mt_rFKB6osM49RX7qq80cicBo&locale=fr_FR")
    query = parse_qs(urlsplit(vector["expected"]["url"]).query)
    assert verify_admin_link(vector["secret"], vector["store_id"], query["email"][0], query["expires"][0],
                             query["signature"][0], now=vector["now"] + PLUGIN_ADMIN_LINK_SECONDS - 1) == "josé@example.com"


def test_the_plugin_mints_admin_links_the_app_accepts_for_their_whole_life(vectors):
    assert PLUGIN_ADMIN_LINK_SECONDS < ADMIN_LINK_LIFETIME_SECONDS
    boundary = next(v for v in vectors["admin_link_checks"] if v["name"] == "valid at the 120 s limit")
    assert int(boundary["expires"]) - boundary["now"] == ADMIN_LINK_LIFETIME_SECONDS
    assert boundary["expected"] == {"ok": True, "email": "ana@example.com"}


def test_restore_link_with_a_query_appends_with_ampersand(vectors):
    vector = next(v for v in vectors["restore_links"] if v["name"] == "site url with a query")
    assert vector["expected"]["url"] == (
        "https://shop.example/?lang=fr&comeback_restore=Qm9vAbc_-123XyZ0987654321abcdEFG&expires=1767830400"
        "&signature=ui3X8HwVCtwK2Haepu6v3l3AcFUFGzGM2Lu_NIaU5GE")


def test_signers_refuse_what_the_format_cannot_carry():
    with pytest.raises(ValueError, match=r"^email must not contain '\|'$"):
        sign_customer_token("s", "1", 1, "a|b@example.com", 2)
    with pytest.raises(ValueError, match=r"^customer id must be a positive integer$"):
        sign_customer_token("s", "1", -1, "a@example.com", 2)
    with pytest.raises(ValueError, match=r"^site url must not contain a fragment$"):
        sign_restore_link("s", "1", "https://shop.example/#top", "abc", 2)


# --- (b) PHP against the vectors ---------------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
def test_php_reaches_the_expected_outcome_on_every_vector(vectors, php_results, section):
    assert [r["name"] for r in php_results[section]] == [v["name"] for v in vectors[section]]
    assert [r["outcome"] for r in php_results[section]] == [v["expected"] for v in vectors[section]]


@pytest.mark.parametrize("section", SECTIONS)
def test_php_and_python_agree_on_every_case(vectors, php_results, section):
    assert [r["outcome"] for r in php_results[section]] == python_results(vectors)[section]


def test_php_request_signatures_match_the_vectors(vectors, php_results):
    assert [r["signature"] for r in php_results["requests"]] == [v["expected_signature"] for v in vectors["requests"]]


def test_php_normalises_emails_like_python(vectors, php_results):
    assert [r["email"] for r in php_results["customer_tokens"]] == \
        [v["expected_email"] for v in vectors["customer_tokens"]]
    assert [r["email"] for r in php_results["admin_links"]] == \
        [normalize_email(v["email"]) for v in vectors["admin_links"]]


def test_php_cart_events_have_the_documented_shape(vectors, php_results):
    bodies = [json.loads(r["body"]) for r in php_results["cart_events"]]
    assert bodies == [v["expected"] for v in vectors["cart_events"]]
    for body in bodies:
        assert_cart_event_shape(body)


def assert_cart_event_shape(event: dict[str, Any]) -> None:
    """Check the cart event schema of the plugin README, key by key and type by type."""
    assert list(event) == ["cart_token", "updated_at", "currency", "total", "email", "consent", "customer_id",
                           "lines", "restore_url", "order_id"]
    assert isinstance(event["cart_token"], str) and isinstance(event["total"], str)
    assert time.strptime(event["updated_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert isinstance(event["consent"], bool)
    assert event["email"] is None or (event["consent"] and isinstance(event["email"], str))
    for key in ("customer_id", "order_id"):
        assert event[key] is None or (isinstance(event[key], int) and event[key] > 0)
    for line in event["lines"]:
        assert list(line) == ["product_id", "variation_id", "name", "quantity", "price"]
        assert isinstance(line["product_id"], int) and isinstance(line["quantity"], int)
        assert line["variation_id"] is None or isinstance(line["variation_id"], int)
        assert isinstance(line["name"], str) and isinstance(line["price"], str)


# --- (c) fresh tokens, both ways ---------------------------------------------------------------


def test_what_php_issues_now_verifies_in_python(vectors, php_results):
    fresh, issued = vectors["fresh"], php_results["fresh"]
    now = time.time()
    assert abs(issued["now"] - now) < 60
    identity = verify_customer_token(fresh["secret"], fresh["store_id"], issued["token"], now=now)
    assert identity == CustomerIdentity(customer_id="305", email="josé@example.com",
                                        expires_at=issued["now"] + TOKEN_LIFETIME_SECONDS)
    headers = issued["headers"]
    assert headers["X-Comeback-Store"] == fresh["store_id"]
    assert headers["X-Comeback-Timestamp"] == str(issued["now"])
    verify_request(fresh["secret"], timestamp=headers["X-Comeback-Timestamp"],
                   signature=headers["X-Comeback-Signature"], body=fresh["body"].encode("utf-8"), now=now)
    query = parse_qs(urlsplit(issued["restore_url"]).query)
    assert query["lang"] == ["fr"] and query["comeback_restore"] == [fresh["cart_token"]]
    assert query["expires"] == [str(issued["now"] + RESTORE_LIFETIME_SECONDS)]
    verify_restore_signature(fresh["secret"], fresh["store_id"], fresh["cart_token"], query["expires"][0],
                             query["signature"][0], now=now)
    with pytest.raises(InvalidSignatureError):
        verify_customer_token(fresh["secret"], "1", issued["token"], now=now)
    admin = urlsplit(issued["admin_url"])
    assert (admin.scheme, admin.netloc, admin.path) == ("https", "app.example", "/admin/enter")
    params = {key: values[0] for key, values in parse_qs(admin.query).items()}
    assert list(params) == ["store", "email", "expires", "signature", "locale"]
    assert params["store"] == fresh["store_id"] and params["locale"] == "de_DE"
    assert params["expires"] == str(issued["now"] + PLUGIN_ADMIN_LINK_SECONDS)
    assert verify_admin_link(fresh["secret"], fresh["store_id"], params["email"], params["expires"],
                             params["signature"], now=now) == "josé@example.com"


def test_what_python_issues_now_verifies_in_php(vectors, tmp_path):
    fresh = vectors["fresh"]
    secret, store, now = fresh["secret"], fresh["store_id"], int(time.time())
    token = sign_customer_token(secret, store, 77, "Zoe@Example.com", now + TOKEN_LIFETIME_SECONDS)
    body = '{"cart_token":"abc","restore_url":"https:\\/\\/shop.example\\/"}'
    signature = sign_request(secret, now, body.encode("utf-8"))
    restore = parse_qs(urlsplit(sign_restore_link(secret, store, "https://shop.example", "abc",
                                                  now + RESTORE_LIFETIME_SECONDS)).query)
    live = {section: [] for section in (*SECTIONS, "requests", "cart_events")}
    live["fresh"] = fresh
    live["customer_token_checks"] = [
        {"name": "fresh", "secret": secret, "store_id": store, "token": token, "now": None},
        {"name": "fresh, other store", "secret": secret, "store_id": "1", "token": token, "now": None}]
    live["request_checks"] = [
        {"name": "fresh", "secret": secret, "timestamp": str(now), "signature": signature, "body": body, "now": None},
        {"name": "fresh, body changed", "secret": secret, "timestamp": str(now), "signature": signature,
         "body": body.replace("\\/", "/"), "now": None}]
    live["restore_checks"] = [
        {"name": "fresh", "secret": secret, "store_id": store, "cart_token": "abc", "expires": restore["expires"][0],
         "signature": restore["signature"][0], "now": None}]
    admin_expires = str(now + PLUGIN_ADMIN_LINK_SECONDS)
    admin_signature = admin_link_signature(secret, store, "Zoe@Example.com", admin_expires)
    live["admin_link_checks"] = [
        {"name": "fresh", "secret": secret, "store_id": store, "email": "zoe@example.com", "expires": admin_expires,
         "signature": admin_signature, "now": None},
        {"name": "fresh, other store", "secret": secret, "store_id": "1", "email": "zoe@example.com",
         "expires": admin_expires, "signature": admin_signature, "now": None}]
    path = tmp_path / "live.json"
    path.write_text(json.dumps(live, ensure_ascii=False), encoding="utf-8")
    results = run_php_vectors(path)
    assert [r["outcome"] for r in results["customer_token_checks"]] == [
        {"ok": True, "customer_id": "77", "email": "zoe@example.com", "expires_at": now + TOKEN_LIFETIME_SECONDS},
        {"ok": False, "error": "customer token was issued for another store"}]
    assert [r["outcome"] for r in results["request_checks"]] == [
        {"ok": True}, {"ok": False, "error": "X-Comeback-Signature is invalid"}]
    assert [r["outcome"] for r in results["restore_checks"]] == [{"ok": True}]
    assert [r["outcome"] for r in results["admin_link_checks"]] == [
        {"ok": True, "email": "zoe@example.com"}, {"ok": False, "error": "admin link signature is invalid"}]


# --- (d) every PHP file parses ----------------------------------------------------------------


def plugin_php_files() -> list[Path]:
    """Return every .php file of the plugin."""
    return sorted(PLUGIN.rglob("*.php"))


def test_the_plugin_has_the_expected_php_files():
    names = {path.relative_to(PLUGIN).as_posix() for path in plugin_php_files()}
    assert names == {
        "comeback.php", "uninstall.php", "tests/signing-vectors.php",
        "includes/class-comeback-signing.php", "includes/class-comeback-cart-event.php",
        "includes/class-comeback-settings.php", "includes/class-comeback-widget.php",
        "includes/class-comeback-carts.php",
    }


@pytest.mark.parametrize("path", plugin_php_files(), ids=lambda path: path.relative_to(PLUGIN).as_posix())
def test_php_lint_passes(path):
    completed = subprocess.run([php_binary(), "-l", str(path)], capture_output=True, text=True, timeout=60,
                               check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.startswith("No syntax errors detected")
