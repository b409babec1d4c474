"""The neutral records' shared helpers: the shipping address fingerprint."""

from __future__ import annotations

import hashlib

import pytest

from connectors.base import shipping_address_key

# The normalised text behind the key, spelled out: version, street, postal code, country.
MAIN_STREET = hashlib.sha256("shipping-address-v1\x1f12 main st apt 4\x1f97205\x1fus".encode()).hexdigest()


def test_the_key_is_the_sha256_of_the_normalised_address():
    assert shipping_address_key("12 Main St.", "Apt 4", "97205", "US") == MAIN_STREET
    assert MAIN_STREET == "ff7e6fbab03789c5f6e9cca5721bb57d68a89f345fe0bd75d4d43ed0352b7e61"


@pytest.mark.parametrize("parts", [
    ("12  main st", "apt 4", "97205", "us"),                  # case and doubled spaces
    ("12 Main St., Apt. #4", None, " 97205 ", "US"),          # one line instead of two, punctuation
    ("12 Main St", "\tApt\u00a04\n", "97-205", "US"),         # tabs, no-break space, a dash in the zip
    ("\uff11\uff12 Main St.", "Apt 4", "97205", "\uff35\uff33"),  # full-width digits and letters (NFKC)
])
def test_spellings_of_one_address_give_one_key(parts):
    assert shipping_address_key(*parts) == MAIN_STREET


def test_casefolding_matches_sharp_s_and_postal_codes_lose_their_spaces():
    assert shipping_address_key("Hauptstraße 5", "", "10115", "DE") == shipping_address_key(
        "HAUPTSTRASSE 5", "", "10115", "de")
    assert shipping_address_key("10 Downing St", "", "SW1A 2AA", "GB") == shipping_address_key(
        "10 downing st", "", "sw1a2aa", "gb")


@pytest.mark.parametrize("parts", [
    ("13 Main St.", "Apt 4", "97205", "US"),   # another house
    ("12 Main St.", "Apt 5", "97205", "US"),   # another flat
    ("12 Main St.", "Apt 4", "97206", "US"),   # another postal code
    ("12 Main St.", "Apt 4", "97205", "CA"),   # another country
    ("12 Main Street", "Apt 4", "97205", "US"),  # abbreviations are not expanded
])
def test_other_addresses_give_other_keys(parts):
    assert shipping_address_key(*parts) != MAIN_STREET


def test_accents_are_kept():
    assert shipping_address_key("1 Rue de l'Église", "", "75001", "FR") != shipping_address_key(
        "1 Rue de l'Eglise", "", "75001", "FR")


@pytest.mark.parametrize("parts", [
    (None, None, None, None),
    ("", "", "", ""),
    (" ", "-", "97205", "US"),   # no street line: a postal code and country are no address
])
def test_no_street_gives_no_key(parts):
    assert shipping_address_key(*parts) is None


@pytest.mark.parametrize("email,state,aware,problem", [
    ("ada@example.com", "unsubscribed", True, None),
    ('"o neil"@example.com', "subscribed", True, "email: not an email address"),  # a space: no search can hold it
    ("ada@", "unsubscribed", True, "email: not an email address"),
    (" ada@example.com", "unsubscribed", True, "email: not an email address"),
    ("ada@example.com\n", "unsubscribed", True, "email: not an email address"),
    ("ada@example.com", "not_subscribed", True, "state: must be one of subscribed, unsubscribed"),
    ("ada@example.com", "unsubscribed", False, "occurred_at: must be a timezone-aware datetime"),
])
def test_a_consent_update_is_checked_before_any_store_sees_it(email, state, aware, problem):
    import datetime as dt

    from connectors.base import ConsentUpdate, consent_problem

    at = dt.datetime(2026, 11, 30, 10, tzinfo=dt.timezone.utc if aware else None)
    assert consent_problem(ConsentUpdate(email, None, state, at)) == problem
