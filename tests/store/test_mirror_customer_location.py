"""The mirror keeps where a customer's default address is; a source that cannot tell changes nothing.

The first half writes neutral records directly (below and above the PostgreSQL COPY threshold);
the second reads them from devstore through the connectors, over real HTTP, webhooks included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from app.store import mirror
from app.store.models import Customer, Shop
from connectors import base
from tests.connectors.receiver import WebhookReceiver

T0 = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
SIZES = [3, 160]  # below and above the COPY threshold on PostgreSQL, in every group of columns


@pytest.fixture()
def shop(session):
    record = Shop(platform="shopify", domain="location.myshopify.com", status="active")
    session.add(record)
    session.commit()
    return record


def customer(external_id: str, updated: dt.datetime, **fields) -> base.Customer:
    values = {"email": f"c{external_id}@example.com", "country_code": "US", "province_code": "CA"}
    values.update(fields)
    return base.Customer(external_id=external_id, updated_at=updated, **values)


def locations(session, shop_id: int) -> dict[str, tuple]:
    session.expire_all()
    rows = session.execute(select(Customer.external_id, Customer.country_code, Customer.province_code, Customer.email)
                           .where(Customer.shop_id == shop_id)).all()
    return {external_id: (country, province, email) for external_id, country, province, email in rows}


@pytest.mark.parametrize("size", SIZES)
def test_a_location_is_written_kept_when_unknown_and_cleared_when_gone(session, shop, size):
    # given customers read with their address
    assert mirror.apply_customers(session, shop.id, "shopify", [customer(str(n), T0) for n in range(size)]) == size
    session.commit()
    assert locations(session, shop.id)["1"] == ("US", "CA", "c1@example.com")
    # when newer versions arrive: a third from a source without the address (and a new email),
    # a third that moved to Ontario, a third without any address now
    later = []
    for n in range(size):
        if n % 3 == 0:
            later.append(customer(str(n), T0 + HOUR, email=f"new{n}@example.com", country_code=None,
                                  province_code=None, unknown_fields=base.CUSTOMER_OPTIONAL_FIELDS))
        elif n % 3 == 1:
            later.append(customer(str(n), T0 + HOUR, country_code="CA", province_code="ON"))
        else:
            later.append(customer(str(n), T0 + HOUR, country_code=None, province_code=None))
    assert mirror.apply_customers(session, shop.id, "shopify", later) == size
    session.commit()
    # then the unknown location stays (the rest of that customer changes), the others follow the platform
    rows = locations(session, shop.id)
    assert len(rows) == size
    assert [rows[str(n)] for n in range(size)] == [
        ("US", "CA", f"new{n}@example.com") if n % 3 == 0
        else ("CA", "ON", f"c{n}@example.com") if n % 3 == 1
        else (None, None, f"c{n}@example.com")
        for n in range(size)]


def test_a_new_customer_from_a_source_that_cannot_tell_starts_without_and_an_older_one_changes_nothing(session, shop):
    mirror.apply_customers(session, shop.id, "shopify", [
        customer("1", T0, unknown_fields=base.CUSTOMER_OPTIONAL_FIELDS)])
    session.commit()
    assert locations(session, shop.id)["1"] == (None, None, "c1@example.com")
    mirror.apply_customers(session, shop.id, "shopify", [customer("1", T0 + HOUR)])
    assert mirror.apply_customers(session, shop.id, "shopify", [customer("1", T0, country_code="FR",
                                                                         province_code=None)]) == 0
    session.commit()
    assert locations(session, shop.id)["1"] == ("US", "CA", "c1@example.com")


# --- from devstore, through the connectors ----------------------------------------------------


@pytest.fixture(scope="module")
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def _customers_paged(connector, credentials) -> dict[str, base.Customer]:
    found, cursor = {}, None
    while True:
        page = connector.fetch_page(credentials, "customers", cursor=cursor, updated_since=None)
        found.update({r.external_id: r for r in page.records if isinstance(r, base.Customer)})
        if (cursor := page.next_cursor) is None:
            return found


def _apply(session, shop_id: int, platform: str, records) -> None:
    mirror.apply_records(session, shop_id, platform, [r for r in records if isinstance(r, base.Customer)])
    session.commit()


def test_shopify_pages_bulk_and_webhooks_bring_the_location_and_a_payload_without_it_keeps_it(
        session, devstore, receiver):
    from connectors.shopify import payloads
    from tests.connectors.shopify.devstore_shop import Shop as ShopifyShop
    from tests.connectors.shopify.devstore_shop import register_app

    store = ShopifyShop(devstore, register_app(devstore, "location"), receiver, "read_customers,read_orders")
    try:
        row = Shop(platform="shopify", domain=store.domain, status="active", timezone="Europe/Paris")
        session.add(row)
        session.commit()
        customer_id = str(store.control("POST", "/orders", {"email": "lena@example.com"})["customer"]["id"])
        (created,) = store.webhooks("customers/create")
        # when the customer's default address becomes one in California
        updated = store.control("PATCH", f"/customers/{customer_id}", {"default_address": {
            "address1": "200 N Spring St", "city": "Los Angeles", "province_code": "CA", "zip": "90012",
            "country_code": "US"}})
        (webhook,) = store.webhooks("customers/update")
        # then a page, the bulk export and the webhook all say US / CA
        paged = _customers_paged(store.connector, store.credentials)[customer_id]
        exported = store.bulk("customers")[customer_id]
        (from_webhook,) = [r for r in webhook.records if isinstance(r, base.Customer)]
        assert (paged.country_code, paged.province_code, paged.unknown_fields) == ("US", "CA", frozenset())
        assert exported == paged
        assert (from_webhook.country_code, from_webhook.province_code, from_webhook.unknown_fields) == (
            "US", "CA", frozenset())
        assert updated["default_address"]["province_code"] == "CA"
        assert [a["province_code"] for a in updated["addresses"]] == ["CA"]
        # and the customers/create before it knew the address derived for the new customer
        (first,) = [r for r in created.records if isinstance(r, base.Customer)]
        assert first.unknown_fields == frozenset() and first.country_code is not None
        # given the mirror filled by the page
        _apply(session, row.id, "shopify", [paged])
        assert locations(session, row.id)[customer_id] == ("US", "CA", "lena@example.com")
        # when a newer payload without the address arrives (a new email, nothing about where)
        bare = {key: value for key, value in updated.items() if key not in ("default_address", "addresses")}
        bare.update(email="lena.new@example.com", updated_at=(dt.datetime.fromisoformat(updated["updated_at"])
                                                              + dt.timedelta(seconds=5)).isoformat())
        record = payloads.customer(bare)
        assert (record.country_code, record.province_code, record.unknown_fields) == (
            None, None, base.CUSTOMER_OPTIONAL_FIELDS)
        _apply(session, row.id, "shopify", [record])
        # then the location stays and the email changes
        assert locations(session, row.id)[customer_id] == ("US", "CA", "lena.new@example.com")
        # when the customer's address is removed, the webhook says so and the mirror forgets it
        store.control("PATCH", f"/customers/{customer_id}", {"default_address": None})
        _, removed = store.webhooks("customers/update", 2)
        (gone,) = [r for r in removed.records if isinstance(r, base.Customer)]
        assert (gone.country_code, gone.province_code, gone.unknown_fields) == (None, None, frozenset())
        _apply(session, row.id, "shopify", [dataclasses.replace(gone, updated_at=gone.updated_at + HOUR)])
        assert locations(session, row.id)[customer_id][:2] == (None, None)
    finally:
        store.close()


def test_generated_shopify_customers_live_in_several_countries(devstore, receiver):
    from tests.connectors.shopify.devstore_shop import Shop as ShopifyShop
    from tests.connectors.shopify.devstore_shop import register_app

    store = ShopifyShop(devstore, register_app(devstore, "places"), receiver, "read_customers,read_orders")
    try:
        store.control("POST", "/generate", {"seed": 3, "customers": 60, "products": 2, "orders": 0})
        found = _customers_paged(store.connector, store.credentials).values()
        countries = {c.country_code for c in found}
        assert {"US", "CA", "GB", "DE", "FR", "AU"} <= countries
        assert all(c.country_code is not None for c in found)
        assert {c.province_code for c in found if c.country_code == "US"} >= {"CA", "AZ", "HI"}
    finally:
        store.close()


def test_woocommerce_pages_and_webhooks_bring_the_location_and_a_payload_without_it_keeps_it(
        session, devstore, receiver, devstore_certificate):
    from connectors.woocommerce import mapping
    from tests.connectors.woocommerce.devstore_store import Store

    store = Store(devstore, receiver, devstore_certificate[0])
    try:
        row = Shop(platform="woocommerce", domain=store.credentials.shop_key, status="active")
        session.add(row)
        session.commit()
        # given a customer billed in California and one with only a shipping address in Sydney
        billed = str(store.control("POST", "/customers", {
            "email": "lena@example.com", "billing": {"country": "US", "state": "CA", "city": "Los Angeles"}})["id"])
        shipped = str(store.control("POST", "/customers", {
            "email": "mia@example.com", "billing": {"country": "", "state": ""},
            "shipping": {"country": "AU", "state": "NSW", "city": "Sydney"}})["id"])
        # when a page is read into the mirror
        read = store.read("customers")
        assert (read[billed].country_code, read[billed].province_code) == ("US", "CA")
        assert (read[shipped].country_code, read[shipped].province_code) == ("AU", "NSW")
        _apply(session, row.id, "woocommerce", [read[billed], read[shipped]])
        rows = locations(session, row.id)
        assert (rows[billed][:2], rows[shipped][:2]) == (("US", "CA"), ("AU", "NSW"))
        # when the billed customer moves to Ontario: the webhook says so
        store.control("PATCH", f"/customers/{billed}", {"billing": {"country": "CA", "state": "ON"}})
        store.drained()
        (event,) = store.webhooks("customer.updated")
        (moved,) = [r for r in event.records if isinstance(r, base.Customer)]
        assert (moved.country_code, moved.province_code, moved.unknown_fields) == ("CA", "ON", frozenset())
        _apply(session, row.id, "woocommerce", [moved])
        assert locations(session, row.id)[billed][:2] == ("CA", "ON")
        # when a newer payload without either address arrives, the location stays
        resource = store.rest(f"/customers/{billed}")
        bare = {key: value for key, value in resource.items() if key not in ("billing", "shipping")}
        bare["date_modified_gmt"] = (dt.datetime.fromisoformat(resource["date_modified_gmt"])
                                     + dt.timedelta(seconds=5)).isoformat()
        record = mapping.customer(bare)
        assert record.unknown_fields == base.CUSTOMER_OPTIONAL_FIELDS
        _apply(session, row.id, "woocommerce", [record])
        assert locations(session, row.id)[billed][:2] == ("CA", "ON")
    finally:
        store.close()
