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


@pytest.mark.parametrize("address", ["2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "::ffff:10.0.0.1",
                                     "fe80::1%eth0"])
def test_ipv6_forms_that_carry_a_private_ipv4_address_are_not_public(address):
    from connectors.woocommerce.stores import is_public_address

    assert is_public_address(address) is False


def test_the_connection_itself_goes_only_to_a_checked_public_address(devstore):
    """A name that passed the check can resolve elsewhere later (DNS rebinding): the dial is checked too."""
    import httpcore
    import httpx

    from connectors.woocommerce.client import WooClient
    from connectors.woocommerce.stores import PublicOnlyBackend

    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    backend = PublicOnlyBackend(resolve=lambda host, port: next(answers))
    with pytest.raises(httpcore.ConnectError, match="not a public address"):
        backend.connect_tcp("rebind.example", 80)  # first answer public ...
        backend.connect_tcp("rebind.example", 80)  # ... the second points inside: refused
    # The client built for public-only stores refuses a loopback store at connect time, and the
    # request never reaches it.
    seen = httpx.get(f"{devstore.url}/_devstore/woo/deliveries", timeout=5).json()
    client = WooClient(f"{devstore.url}/woo/none", "ck_x", "cs_x", public_only=True, max_attempts=1)
    with pytest.raises(InvalidShopError, match="not a public address"):
        client.get("/orders")
    client.close()
    assert httpx.get(f"{devstore.url}/_devstore/woo/deliveries", timeout=5).json() == seen
