"""An unsubscribe is written back to the store's consent, on both platforms, through devstore over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app import installs, platforms
from app.extensions import db
from app.messaging import consent, consent_writeback
from app.store.models import ConsentWriteback, Customer, Shop
from app.store.types import utcnow
from connectors import base
from jobs.messaging import sweep_messages, write_back_consent
from tests.helpers import connect_woo, install, run_jobs


def _shop(platform: str) -> Shop:
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.platform == platform)).scalar_one()


def _unsubscribe(client, settings, shop: Shop, email: str) -> None:
    token = consent.unsubscribe_token(settings.secret_key, shop.id, email)
    response = client.post(f"/m/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200, response.get_data(as_text=True)


def _shopify_consent(store, customer_id: str) -> str:
    """The customer's consent as devstore's Shopify holds it now (not the mirror)."""
    return store.control("GET", f"/customers/{customer_id}")["email_marketing_consent"]["state"]


def _woo_consent(shop: Shop, customer_id: str) -> str | None:
    """The plugin's consent meta of the customer, read through the store's REST API."""
    connector = platforms.connector(shop.platform)
    answer = installs.call_with_credentials(
        db.session(), shop, lambda credentials: connector.client(credentials).get(f"/customers/{customer_id}"))
    return next((m["value"] for m in answer.data["meta_data"] if m["key"] == "comeback_email_consent"), None)


def _row(shop: Shop, email: str) -> ConsentWriteback:
    db.session().expire_all()
    return db.session().execute(select(ConsentWriteback).where(ConsentWriteback.shop_id == shop.id,
                                                               ConsentWriteback.email == email)).scalar_one()


def test_shopify_an_unsubscribe_reaches_the_stores_consent(client, live_app, store, settings):
    store.generate(seed=4, customers=3, products=1, orders=0)
    install(client, store)
    assert run_jobs() == []
    shop = _shop("shopify")
    customer = db.session().execute(select(Customer).where(Customer.shop_id == shop.id)
                                    .order_by(Customer.id)).scalars().first()
    store.control("POST", f"/customers/{customer.external_id}/consent", state="subscribed")
    store.drain_deliveries()
    assert run_jobs() == []
    assert _shopify_consent(store, customer.external_id) == "subscribed"
    # when the shopper unsubscribes through an email's link
    _unsubscribe(client, settings, shop, customer.email)
    assert run_jobs() == []
    # then the store has them unsubscribed too, and the row says it was written
    assert _shopify_consent(store, customer.external_id) == "unsubscribed"
    row = _row(shop, customer.email.lower())
    assert (row.status, row.customer_external_id, row.attempts) == ("written", customer.external_id, 0)
    # the store's own customers/update webhook agrees with the mirror
    store.drain_deliveries()
    assert run_jobs() == []
    db.session().expire_all()
    assert db.session().get(Customer, customer.id).email_marketing_state == "unsubscribed"


def test_shopify_a_guests_address_is_no_customer_and_is_not_tried_again(client, live_app, store, settings):
    store.generate(seed=4, customers=1, products=1, orders=0)
    install(client, store)
    assert run_jobs() == []
    shop = _shop("shopify")
    _unsubscribe(client, settings, shop, "guest-only@example.com")
    assert run_jobs() == []
    assert _row(shop, "guest-only@example.com").status == "no_customer"
    assert write_back_consent(shop.id) == {}  # nothing pending


def test_woocommerce_an_unsubscribe_reaches_the_customer_meta(client, live_app, woo_store, settings):
    woo_store.generate(seed=4, customers=1, products=1, orders=0)
    assert connect_woo(client, woo_store).status_code == 200
    assert run_jobs() == []
    person = woo_store.control("POST", "/customers", email=f"ana-{woo_store.handle}@example.com", first_name="Ana",
                               meta_data=[{"key": "comeback_email_consent", "value": "yes"}])
    woo_store.drain_deliveries()
    assert run_jobs() == []
    shop = _shop("woocommerce")
    assert _woo_consent(shop, str(person["id"])) == "yes"
    _unsubscribe(client, settings, shop, person["email"])
    assert run_jobs() == []
    assert _woo_consent(shop, str(person["id"])) == "no"
    assert _row(shop, person["email"]).status == "written"


class _Flaky:
    """A store that cannot answer the first ``failures`` calls, then writes everything."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0

    def __call__(self, updates):
        self.calls += 1
        if self.calls <= self.failures:
            raise base.RetryableError("503 from the store")
        return [base.ConsentResult(u.email, u.customer_external_id or "c9", base.CONSENT_WRITTEN) for u in updates]


def test_a_store_that_cannot_answer_is_tried_again_later_and_a_new_unsubscribe_is_not_lost(session, shop):
    now = utcnow()
    consent.unsubscribe(session, consent.UnsubscribeRequest(shop.id, "ana@example.com", None), now=now)
    session.commit()
    flaky = _Flaky(failures=1)
    assert consent_writeback.write(session, consent_writeback.due(session, shop.id, now), flaky, now=now) == {
        "retry": 1}
    row = _row(shop, "ana@example.com")
    assert (row.status, row.attempts, row.next_attempt_at, row.last_error) == (
        "pending", 1, now + consent_writeback.RETRY_DELAYS[0], "the store could not be asked: 503 from the store")
    # not due before its moment; due at it, and then written
    assert consent_writeback.due(session, shop.id, now + dt.timedelta(minutes=4)) == []
    later = now + consent_writeback.RETRY_DELAYS[0]
    assert consent_writeback.shops_due(session, later) == [shop.id]
    assert consent_writeback.write(session, consent_writeback.due(session, shop.id, later), flaky, now=later) == {
        "written": 1}
    row = _row(shop, "ana@example.com")
    assert (row.status, row.customer_external_id, row.written_at) == ("written", "c9", later)


def test_an_unsubscribe_arriving_while_one_is_written_stays_pending(session, shop):
    now = utcnow()
    consent.unsubscribe(session, consent.UnsubscribeRequest(shop.id, "ana@example.com", None), now=now)
    session.commit()
    rows = consent_writeback.due(session, shop.id, now)

    def writer(updates):
        # meanwhile the shopper clicks another email's link: the row is requested again
        with db.engine.begin() as other:
            other.execute(ConsentWriteback.__table__.update().values(
                requested_at=now + dt.timedelta(seconds=5), status="pending"))
        return [base.ConsentResult(u.email, "c1", base.CONSENT_WRITTEN) for u in updates]

    consent_writeback.write(session, rows, writer, now=now)
    assert _row(shop, "ana@example.com").status == "pending"  # the later request is still to write


def test_a_refusal_gives_up_after_the_last_attempt(session, shop):
    now = utcnow()
    consent.unsubscribe(session, consent.UnsubscribeRequest(shop.id, "ana@example.com", None), now=now)
    session.execute(ConsentWriteback.__table__.update().values(attempts=consent_writeback.MAX_ATTEMPTS - 1))
    session.commit()

    def refuse(updates):
        return [base.ConsentResult(u.email, None, base.CONSENT_ERROR, "customer is locked") for u in updates]

    assert consent_writeback.write(session, consent_writeback.due(session, shop.id, now), refuse, now=now) == {
        "failed": 1}
    row = _row(shop, "ana@example.com")
    assert (row.status, row.last_error) == ("failed", "customer is locked")


@pytest.mark.usefixtures("app_context")
def test_the_sweep_queues_the_write_back_of_shops_with_pending_rows(session, shop, monkeypatch):
    from jobs import messaging

    queued = []
    monkeypatch.setattr(messaging, "request_consent_write_back", queued.append)
    consent.unsubscribe(session, consent.UnsubscribeRequest(shop.id, "ana@example.com", None))
    session.commit()
    sweep_messages()
    assert queued == [shop.id]
