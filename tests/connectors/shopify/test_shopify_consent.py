"""Email marketing consent written back to Shopify (customerEmailMarketingConsentUpdate), on devstore."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors import base
from connectors.base import ConsentResult, ConsentUpdate, CustomerConsent, TerminalError
from tests.connectors.receiver import WebhookReceiver
from tests.connectors.shopify.devstore_shop import Shop, register_app

SCOPES = "read_customers,write_customers,read_orders"
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app_keys(devstore):
    return register_app(devstore, "consent")


@pytest.fixture
def shop(devstore, app_keys, receiver):
    instance = Shop(devstore, app_keys, receiver, SCOPES)
    yield instance
    instance.close()


@pytest.fixture
def calls(shop, monkeypatch):
    """Record the (document, variables) of every GraphQL call; they still go to devstore."""
    client = shop.connector.graphql()
    sent: list[tuple[str, dict | None]] = []
    real = client.execute

    def execute(credentials, query, variables=None, **kwargs):
        sent.append((query, variables))
        return real(credentials, query, variables, **kwargs)

    monkeypatch.setattr(client, "execute", execute)
    return sent


def _customer(shop: Shop, email: str, state: str = "subscribed") -> tuple[str, dt.datetime]:
    """Create a customer (through an order) with a consent state; return its id and consent time."""
    customer_id = str(shop.control("POST", "/orders", {"email": email})["customer"]["id"])
    shop.control("POST", f"/customers/{customer_id}/consent", {"state": state})
    consent = shop.control("GET", f"/customers/{customer_id}")["email_marketing_consent"]
    return customer_id, dt.datetime.fromisoformat(consent["consent_updated_at"])


def _consent(shop: Shop, customer_id: str) -> tuple[str, dt.datetime]:
    consent = shop.control("GET", f"/customers/{customer_id}")["email_marketing_consent"]
    return consent["state"], dt.datetime.fromisoformat(consent["consent_updated_at"])


def _drained(shop: Shop) -> None:
    assert shop.http.post("/_devstore/delivery/drain", json={"timeout": 15}).status_code == 200


def _sent(shop: Shop, topic: str) -> list:
    return shop.receiver.wait(lambda d: d.header("X-Shopify-Shop-Domain") == shop.domain
                              and d.header("X-Shopify-Topic") == topic, 0)


def test_the_capability_is_offered(shop):
    assert base.CAP_CONSENT_WRITEBACK in shop.connector.capabilities


def test_an_unsubscribe_by_id_reaches_the_customer_and_sends_its_webhooks(shop):
    # given a subscribed customer
    customer_id, subscribed_at = _customer(shop, "ada@example.com")
    at = (subscribed_at + dt.timedelta(minutes=1)).astimezone(UTC)
    # when the shopper's unsubscribe is written back by id
    results = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("ada@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, at)])
    # then it is written, the customer reads back unsubscribed at that moment
    assert results == [ConsentResult("ada@example.com", customer_id, base.CONSENT_WRITTEN)]
    assert _consent(shop, customer_id) == ("unsubscribed", at)
    # and the store says so in its consent webhook (what the mirror reads) and customers/update
    (event,) = shop.webhooks("customers/email_marketing_consent_update", 2)[1:]
    assert event.records == (CustomerConsent(customer_id, "unsubscribed", at, "ada@example.com"),)
    (updated,) = shop.webhooks("customers/update")
    assert updated.records[0].external_id == customer_id


def test_an_address_without_an_id_finds_its_customer(shop, calls):
    customer_id, subscribed_at = _customer(shop, "grace@example.com")
    at = subscribed_at + dt.timedelta(seconds=30)
    results = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("Grace@Example.COM", None, base.CONSENT_UNSUBSCRIBED, at)])
    assert results == [ConsentResult("Grace@Example.COM", customer_id, base.CONSENT_WRITTEN)]
    assert _consent(shop, customer_id)[0] == "unsubscribed"
    (lookup, lookup_variables), (mutation, mutation_variables) = calls
    assert "customers(first: 5, query: $query)" in lookup
    assert lookup_variables == {"query": 'email:"Grace@Example.COM"'}
    assert mutation_variables == {"input": {
        "customerId": f"gid://shopify/Customer/{customer_id}",
        "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED",
                                  "consentUpdatedAt": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}}


def test_quotes_and_backslashes_in_an_address_stay_inside_the_search_value(shop, calls):
    email = 'o"neil\\x@example.com'
    customer_id, subscribed_at = _customer(shop, email)
    _customer(shop, "o@example.com")  # a customer the broken-out term would also match
    [result] = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate(email, None, base.CONSENT_UNSUBSCRIBED, subscribed_at + dt.timedelta(seconds=5))])
    assert result == ConsentResult(email, customer_id, base.CONSENT_WRITTEN)
    assert calls[0][1] == {"query": 'email:"o\\"neil\\\\x@example.com"'}


def test_an_address_no_customer_has_is_no_customer_and_writes_nothing(shop, calls):
    results = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("guest@example.com", None, base.CONSENT_UNSUBSCRIBED, dt.datetime.now(UTC))])
    assert results == [ConsentResult("guest@example.com", None, base.CONSENT_NO_CUSTOMER)]
    assert [query for query, _ in calls if "customerEmailMarketingConsentUpdate" in query] == []


def test_writing_the_same_state_twice_is_fine_and_changes_nothing_more(shop):
    customer_id, subscribed_at = _customer(shop, "twice@example.com")
    first = ConsentUpdate("twice@example.com", customer_id, base.CONSENT_UNSUBSCRIBED,
                          subscribed_at + dt.timedelta(seconds=10))
    again = ConsentUpdate("twice@example.com", customer_id, base.CONSENT_UNSUBSCRIBED,
                          subscribed_at + dt.timedelta(seconds=20))
    assert shop.connector.set_email_consent(shop.credentials, [first])[0].status == base.CONSENT_WRITTEN
    assert shop.connector.set_email_consent(shop.credentials, [again])[0].status == base.CONSENT_WRITTEN
    _drained(shop)
    # one change, one set of webhooks (the control's subscribe sent the first consent webhook)
    assert len(_sent(shop, "customers/email_marketing_consent_update")) == 2
    assert len(_sent(shop, "customers/update")) == 1
    assert _consent(shop, customer_id) == ("unsubscribed", first.occurred_at.astimezone(UTC))


def test_the_most_recent_decision_stands(shop):
    customer_id, subscribed_at = _customer(shop, "late@example.com", state="unsubscribed")
    earlier = subscribed_at + dt.timedelta(seconds=10)
    later = subscribed_at + dt.timedelta(seconds=20)
    # given two decisions in one batch, the newer first: the older is written first
    results = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("late@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, later),
        ConsentUpdate("late@example.com", customer_id, base.CONSENT_SUBSCRIBED, earlier)])
    assert [r.status for r in results] == [base.CONSENT_WRITTEN, base.CONSENT_WRITTEN]
    assert _consent(shop, customer_id) == ("unsubscribed", later.astimezone(UTC))
    # and a decision older than the store's record does not overturn it
    shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("late@example.com", customer_id, base.CONSENT_SUBSCRIBED, subscribed_at)])
    assert _consent(shop, customer_id) == ("unsubscribed", later.astimezone(UTC))


def test_a_customer_that_is_gone_is_looked_up_by_address(shop):
    customer_id, subscribed_at = _customer(shop, "moved@example.com")
    at = subscribed_at + dt.timedelta(seconds=10)
    results = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("moved@example.com", "7100000099999", base.CONSENT_UNSUBSCRIBED, at),
        ConsentUpdate("nobody@example.com", "7100000099998", base.CONSENT_UNSUBSCRIBED, at)])
    assert results == [ConsentResult("moved@example.com", customer_id, base.CONSENT_WRITTEN),
                       ConsentResult("nobody@example.com", None, base.CONSENT_NO_CUSTOMER)]
    assert _consent(shop, customer_id)[0] == "unsubscribed"


def test_updates_that_cannot_be_sent_are_errors_and_the_batch_goes_on(shop, calls):
    customer_id, subscribed_at = _customer(shop, "mixed@example.com")
    at = subscribed_at + dt.timedelta(seconds=10)
    results = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("mixed@example.com", customer_id, "pending", at),
        ConsentUpdate("mixed@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, dt.datetime(2026, 11, 1)),
        ConsentUpdate("not an address", None, base.CONSENT_UNSUBSCRIBED, at),
        ConsentUpdate("mixed@example.com", "gid://shopify/Order/1", base.CONSENT_UNSUBSCRIBED, at),
        ConsentUpdate("mixed@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, at)])
    assert [(r.status, r.error) for r in results] == [
        (base.CONSENT_ERROR, "state: must be one of subscribed, unsubscribed"),
        (base.CONSENT_ERROR, "occurred_at: must be a timezone-aware datetime"),
        (base.CONSENT_ERROR, "email: not an email address"),
        (base.CONSENT_ERROR, "customer_external_id: invalid id 'gid://shopify/Order/1'"),
        (base.CONSENT_WRITTEN, None)]
    assert len(calls) == 1
    assert _consent(shop, customer_id)[0] == "unsubscribed"


def test_a_customer_that_lost_its_address_is_no_customer_with_that_address(shop, calls):
    # given a customer the store took the address from
    customer_id, _ = _customer(shop, "later-removed@example.com")
    shop.control("PATCH", f"/customers/{customer_id}", {"email": None})
    # when its unsubscribe is written: the store refuses the customer, no other has the address
    [result] = shop.connector.set_email_consent(shop.credentials, [
        ConsentUpdate("later-removed@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, dt.datetime.now(UTC))])
    assert result == ConsentResult("later-removed@example.com", None, base.CONSENT_NO_CUSTOMER)
    assert [("customerEmailMarketingConsentUpdate" in query) for query, _ in calls] == [True, False]


def test_without_write_customers_the_call_fails_and_nothing_changes(devstore, app_keys, receiver):
    reader = Shop(devstore, app_keys, receiver, "read_customers,read_orders")
    try:
        customer_id, subscribed_at = _customer(reader, "scoped@example.com")
        with pytest.raises(TerminalError, match="write_customers"):
            reader.connector.set_email_consent(reader.credentials, [ConsentUpdate(
                "scoped@example.com", customer_id, base.CONSENT_UNSUBSCRIBED, subscribed_at + dt.timedelta(seconds=5))])
        assert _consent(reader, customer_id) == ("subscribed", subscribed_at)
    finally:
        reader.close()
