"""Store URLs: normalised, and never an address we must not call (no SSRF)."""

from __future__ import annotations

import pytest

from connectors.base import InvalidShopError
from connectors.woocommerce.stores import normalize_store_url


def _public(host, port):
    return ["93.184.216.34"]


def test_store_urls_are_normalised():
    assert normalize_store_url("Shop.Example.com/", https_only=True, allow_private=False,
                               resolve=_public) == "https://shop.example.com"
    assert normalize_store_url("https://shop.example.com:8443/blog/wp-admin/", https_only=True,
                               allow_private=False, resolve=_public) == "https://shop.example.com:8443/blog"
    assert normalize_store_url("http://127.0.0.1:8100/woo/demo", https_only=False,
                               allow_private=True) == "http://127.0.0.1:8100/woo/demo"


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/", "https://10.0.0.5", "https://169.254.169.254/latest", "https://[::1]/",
    "https://[::ffff:127.0.0.1]/", "https://192.168.1.10", "https://localhost/", "https://0.0.0.0/",
    "https://metadata.internal/",
])
def test_private_loopback_and_link_local_addresses_are_refused(url):
    with pytest.raises(InvalidShopError, match="private|local name|public"):
        normalize_store_url(url, https_only=True, allow_private=False, resolve=_public)


def test_a_public_name_that_resolves_to_a_private_address_is_refused():
    with pytest.raises(InvalidShopError, match=r"169\.254\.169\.254"):
        normalize_store_url("https://evil.example", https_only=True, allow_private=False,
                            resolve=lambda host, port: ["93.184.216.34", "169.254.169.254"])


@pytest.mark.parametrize(("url", "message"), [
    ("http://shop.example.com", "must use https"),
    ("ftp://shop.example.com", "must start with https"),
    ("https://user:pw@shop.example.com", "user name or password"),
    ("https://shop.example.com/?p=1", "query or fragment"),
    ("", "empty"),
    ("https://", "no host"),
])
def test_bad_store_urls_say_what_is_wrong(url, message):
    with pytest.raises(InvalidShopError, match=message):
        normalize_store_url(url, https_only=True, allow_private=False, resolve=_public)
