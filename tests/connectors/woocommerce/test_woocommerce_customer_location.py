"""A customer's location from a REST v3 customer: billing, else shipping."""

from __future__ import annotations

import pytest

from connectors.base import CUSTOMER_OPTIONAL_FIELDS
from connectors.woocommerce import mapping

RESOURCE = {"id": 12, "email": "lena@example.com", "date_created_gmt": "2026-11-03T10:00:00",
            "date_modified_gmt": "2026-11-03T10:00:00"}


@pytest.mark.parametrize(("addresses", "expected"), [
    ({"billing": {"country": "US", "state": "CA"}, "shipping": {"country": "AU", "state": "NSW"}},
     ("US", "CA", frozenset())),
    ({"billing": {"country": "", "state": ""}, "shipping": {"country": "AU", "state": "NSW"}},
     ("AU", "NSW", frozenset())),
    ({"billing": {"country": "DE", "state": "DE-BY"}}, ("DE", "BY", frozenset())),  # the prefixed form
    ({"billing": {"country": "fr", "state": ""}, "shipping": {}}, ("FR", None, frozenset())),
    ({"billing": {"country": "", "state": "CA"}, "shipping": {"country": "", "state": ""}},
     (None, None, frozenset())),  # no country anywhere: no place, and the mirror is told so
    ({}, (None, None, CUSTOMER_OPTIONAL_FIELDS)),  # a resource without addresses cannot tell
])
def test_a_customer_gives_the_location_of_the_address_that_names_a_country(addresses, expected):
    record = mapping.customer({**RESOURCE, **addresses})
    assert (record.country_code, record.province_code, record.unknown_fields) == expected
