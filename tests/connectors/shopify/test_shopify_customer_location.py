"""A customer's default address location from GraphQL nodes and webhook payloads."""

from __future__ import annotations

import pytest

from connectors.base import CUSTOMER_OPTIONAL_FIELDS
from connectors.shopify import mapping, payloads, queries

NODE = {"id": "gid://shopify/Customer/7", "updatedAt": "2026-11-03T10:00:00Z"}
PAYLOAD = {"id": 7, "updated_at": "2026-11-03T11:00:00+01:00"}


def test_every_customer_query_asks_for_the_default_address():
    assert "defaultAddress { countryCodeV2 provinceCode }" in queries.PAGE_QUERIES["customers"]
    assert "defaultAddress { countryCodeV2 provinceCode }" in queries.BULK_QUERIES["customers"]


@pytest.mark.parametrize(("address", "expected"), [
    ({"countryCodeV2": "US", "provinceCode": "CA"}, ("US", "CA", frozenset())),
    ({"countryCodeV2": "JP", "provinceCode": "JP-13"}, ("JP", "13", frozenset())),  # full ISO 3166-2
    ({"countryCodeV2": "FR", "provinceCode": None}, ("FR", None, frozenset())),
    ({"countryCodeV2": None, "provinceCode": "CA"}, (None, None, frozenset())),  # no country: no place
    (None, (None, None, frozenset())),  # no default address
])
def test_a_node_gives_its_default_address_location(address, expected):
    record = mapping.customer({**NODE, "defaultAddress": address})
    assert (record.country_code, record.province_code, record.unknown_fields) == expected


def test_a_node_that_was_not_asked_for_the_address_cannot_tell():
    record = mapping.customer(NODE)
    assert (record.country_code, record.province_code, record.unknown_fields) == (
        None, None, CUSTOMER_OPTIONAL_FIELDS)


@pytest.mark.parametrize(("payload", "expected"), [
    ({"default_address": {"country_code": "CA", "province_code": "ON", "city": "Toronto"}}, ("CA", "ON", frozenset())),
    ({"default_address": {"country_code": "au", "province_code": "nsw"}}, ("AU", "NSW", frozenset())),
    ({"default_address": None}, (None, None, frozenset())),
    ({"addresses": [{"country_code": "GB", "default": False}, {"country_code": "US", "province_code": "AZ",
                                                               "default": True}]}, ("US", "AZ", frozenset())),
    ({"addresses": []}, (None, None, frozenset())),  # a customer without addresses has no place
    ({}, (None, None, CUSTOMER_OPTIONAL_FIELDS)),  # a payload without the key leaves the mirror's
])
def test_a_webhook_gives_its_default_address_location(payload, expected):
    record = payloads.customer({**PAYLOAD, **payload})
    assert (record.country_code, record.province_code, record.unknown_fields) == expected


def test_a_customer_page_costs_what_queries_says(devstore):
    import httpx

    from tests.connectors.receiver import WebhookReceiver
    from tests.connectors.shopify.devstore_shop import Shop, register_app

    receiver = WebhookReceiver()
    shop = Shop(devstore, register_app(devstore, "cost"), receiver, "read_customers")
    try:
        response = httpx.post(f"{devstore.url}/admin/api/2026-10/graphql.json", timeout=30,
                              headers={"Host": shop.domain, "X-Shopify-Access-Token": shop.credentials.access_token},
                              json={"query": queries.PAGE_QUERIES["customers"],
                                    "variables": {"first": queries.PAGE_SIZES["customers"]}})
        body = response.json()
        assert "errors" not in body, body
        assert body["extensions"]["cost"]["requestedQueryCost"] == 602
    finally:
        shop.close()
        receiver.stop()
