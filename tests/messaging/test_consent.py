"""Consent rules, suppression and the unsubscribe token, without sending anything."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.messaging import consent
from app.store.models import EmailSuppression
from app.store.types import utcnow
from tests.messaging.conftest import add_customer


def test_the_unsubscribe_token_names_shop_address_and_message_and_cannot_be_altered():
    token = consent.unsubscribe_token("secret", 7, "ana@example.com", 42)
    assert consent.read_unsubscribe_token("secret", token) == consent.UnsubscribeRequest(7, "ana@example.com", 42)
    with pytest.raises(consent.InvalidToken):
        consent.read_unsubscribe_token("another secret", token)
    # another shop's payload under this token's signature
    signature = token.rsplit(".", 1)[1]
    other_payload = consent.unsubscribe_token("secret", 8, "ana@example.com", 42).rsplit(".", 1)[0]
    with pytest.raises(consent.InvalidToken):
        consent.read_unsubscribe_token("secret", f"{other_payload}.{signature}")


@pytest.mark.parametrize("raw", ["", "ana", "ana@", "@example.com", "ana@localhost", "a b@example.com",
                                 "ana@example.com\r\nBcc: x@example.com", "<ana@example.com>"])
def test_what_is_not_an_address_is_refused(raw):
    with pytest.raises(ValueError):
        consent.normalise_email(raw)


def test_addresses_are_compared_in_lower_case():
    assert consent.normalise_email("  Ana@Example.COM ") == "ana@example.com"


@pytest.mark.parametrize(("category", "state", "transactional", "expected"), [
    ("marketing", "subscribed", "all", (True, "queued", None)),
    ("marketing", "subscribed", "off", (True, "queued", None)),
    ("marketing", "not_subscribed", "all", (False, "skipped", "no marketing consent (state: not_subscribed)")),
    ("transactional", "not_subscribed", "all", (True, "queued", None)),
    ("transactional", "not_subscribed", "off",
     (False, "skipped", "the shop sends no loyalty notices (transactional_email: off)")),
    ("transactional", "not_subscribed", "subscribed",
     (False, "skipped", "the shop sends loyalty notices only to subscribed customers (state: not_subscribed)")),
    ("transactional", "subscribed", "subscribed", (True, "queued", None)),
    ("test", "not_subscribed", "off", (True, "queued", None)),
])
def test_consent_rules(session, shop, category, state, transactional, expected):
    add_customer(session, shop, state=state)
    verdict = consent.check(session, shop.id, email="ana@example.com", category=category,
                            customer_external_id="c1", transactional=transactional)
    assert (verdict.allowed, verdict.status, verdict.reason) == expected


def test_an_erased_customer_gets_nothing_and_a_suppression_keeps_its_first_reason(session, shop):
    customer = add_customer(session, shop)
    assert consent.suppress(session, shop.id, "Ana@example.com", "hard_bounce") is True
    assert consent.suppress(session, shop.id, "ana@example.com", "unsubscribed") is False
    session.commit()
    assert session.execute(select(EmailSuppression.reason)).scalars().all() == ["hard_bounce"]
    with pytest.raises(ValueError, match="unknown suppression reason"):
        consent.suppress(session, shop.id, "ana@example.com", "annoyed")
    customer.redacted_at = utcnow()
    session.commit()
    verdict = consent.check(session, shop.id, email="bob@example.com", category="transactional",
                            customer_external_id="c1")
    assert (verdict.allowed, verdict.reason) == (False, "the customer was erased or deleted")


def test_international_domains_are_written_as_dns_knows_them_and_other_non_ascii_is_refused():
    assert consent.normalise_email("ana@b\u00fccher.example") == "ana@xn--bcher-kva.example"
    with pytest.raises(ValueError, match="non-ASCII"):
        consent.normalise_email("j\u00f6rg@example.com")
