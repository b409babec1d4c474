"""App proxy signatures: Shopify's published vector, freshness, and what a request may not do."""

from __future__ import annotations

import pytest

from connectors.base import InvalidSignatureError, StorefrontCaller
from connectors.shopify import app_proxy


def _vector(vectors):
    (vector,) = vectors["app_proxy_signature"]
    return vector


def test_the_published_vector_signs_as_shopify_says(vectors):
    vector = _vector(vectors)
    message, received = app_proxy.signed_message(vector["query"])
    assert (message, received) == (vector["message"], None)
    assert app_proxy.signature(vector["query"], vector["secret"]) == vector["signature_hex"]


def test_a_request_signed_like_the_vector_names_its_shop_and_customer(vectors, connector):
    vector = _vector(vectors)
    query = f"{vector['query']}&signature={vector['signature_hex']}"
    caller = connector.storefront_caller(query, {}, now=1317327555 + 30)
    assert caller == StorefrontCaller(shop_key="shop-name.myshopify.com", customer_external_id="1")


def test_stale_tampered_and_ambiguous_requests_are_refused(vectors, connector):
    vector = _vector(vectors)
    signed = f"{vector['query']}&signature={vector['signature_hex']}"
    cases = {
        "stale": (signed, 1317327555 + 91),
        "from the future": (signed, 1317327555 - 91),
        "another customer": (signed.replace("logged_in_customer_id=1", "logged_in_customer_id=2"), 1317327555),
        "no signature": (vector["query"], 1317327555),
        "two signatures": (f"{signed}&signature={vector['signature_hex']}", 1317327555),
    }
    for name, (query, now) in cases.items():
        with pytest.raises(InvalidSignatureError, match=".") as refused:
            app_proxy.verify(query, (vector["secret"],), now=now)
        assert str(refused.value), name
    # a second shop parameter, signed: still refused (which shop would it be?)
    query = "shop=a.myshopify.com&shop=b.myshopify.com&timestamp=100"
    with pytest.raises(InvalidSignatureError):
        app_proxy.verify(f"{query}&signature={app_proxy.signature(query, 'hush')}", ("hush",), now=100)


def test_an_empty_customer_is_a_visitor_and_a_request_without_signature_is_not_a_proxy_one(connector):
    query = "shop=a.myshopify.com&logged_in_customer_id=&path_prefix=%2Fapps%2Fcomeback&timestamp=100"
    signed = f"{query}&signature={app_proxy.signature(query, 'hush')}"
    assert connector.storefront_caller(signed, {}, now=100) == StorefrontCaller("a.myshopify.com", None)
    assert connector.storefront_caller("shop=a.myshopify.com", {}, now=100) is None
    # the previous secret still verifies while a rotation rolls out
    assert app_proxy.verify(signed, ("new-secret", "hush"), now=100).shop == "a.myshopify.com"
