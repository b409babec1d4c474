"""The connectors' order lookup (CAP_ORDER_LOOKUP) against devstore over real HTTP, both platforms."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from connectors import base
from tests.connectors.test_connector_contract import _shopify, _woocommerce


@pytest.fixture(params=["shopify", "woocommerce"])
def harness(request, devstore):
    made = {"shopify": _shopify, "woocommerce": _woocommerce}[request.param](devstore)
    yield made
    made.connector.close()


def _place(harness, devstore, **body) -> dict:
    """An order placed in the store (no webhook is looked at): its id, email and creation time."""
    control = httpx.Client(base_url=devstore.url, timeout=30)
    if harness.platform == "shopify":
        shop = harness.credentials.shop_key
        placed = control.post(f"/_devstore/shops/{shop}/orders", json=body)
        placed.raise_for_status()
        order = placed.json()
        return {"id": str(order["id"]), "email": order["email"], "customer": str(order["customer"]["id"]),
                "created": dt.datetime.fromisoformat(order["created_at"])}
    handle = harness.credentials.shop_key.rsplit("/", 1)[-1]
    placed = control.post(f"/_devstore/woo/stores/{handle}/orders", json=body)
    placed.raise_for_status()
    order = placed.json()
    return {"id": str(order["id"]), "email": order["billing"]["email"], "customer": str(order["customer_id"]),
            "created": dt.datetime.fromisoformat(order["date_created_gmt"]).replace(tzinfo=dt.timezone.utc)}


def _a_customer(harness) -> str:
    page = harness.connector.fetch_page(harness.credentials, "customers", cursor=None, updated_since=None)
    return next(r.external_id for r in page.records if isinstance(r, base.Customer) and r.email)


def test_both_connectors_say_they_can_look_orders_up(harness):
    assert base.CAP_ORDER_LOOKUP in harness.connector.capabilities


def test_an_order_placed_since_is_found_by_customer_and_by_address_and_not_before_or_for_others(harness, devstore):
    customer = _a_customer(harness)
    order = _place(harness, devstore, customer_id=int(customer))
    lookup = harness.connector.orders_since
    since = order["created"] - dt.timedelta(seconds=1)
    assert lookup(harness.credentials, email=None, customer_external_id=customer, since=since) == (order["id"],)
    assert lookup(harness.credentials, email=order["email"], customer_external_id=None, since=since) == (order["id"],)
    assert lookup(harness.credentials, email=order["email"].upper(), customer_external_id=customer,
                  since=order["created"]) == (order["id"],)  # the same second counts; both ways, once
    later = order["created"] + dt.timedelta(seconds=2)
    assert lookup(harness.credentials, email=order["email"], customer_external_id=customer, since=later) == ()
    assert lookup(harness.credentials, email="nobody@example.com", customer_external_id=None, since=since) == ()
    assert lookup(harness.credentials, email=None, customer_external_id=None, since=since) == ()


def test_a_guest_order_is_found_by_its_address(harness, devstore):
    order = _place(harness, devstore, email="guest-lookup@example.com")
    since = order["created"] - dt.timedelta(seconds=1)
    assert harness.connector.orders_since(harness.credentials, email="guest-lookup@example.com",
                                          customer_external_id=None, since=since) == (order["id"],)


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_an_unpaid_woocommerce_order_is_a_cart_not_a_purchase(devstore, status):
    harness = _woocommerce(devstore)
    try:
        order = _place(harness, devstore, email=f"{status}-lookup@example.com", status=status)
        since = order["created"] - dt.timedelta(seconds=1)
        assert harness.connector.orders_since(harness.credentials, email=f"{status}-lookup@example.com",
                                              customer_external_id=None, since=since) == ()
        paid = _place(harness, devstore, email=f"{status}-lookup@example.com", status="on-hold")
        assert harness.connector.orders_since(harness.credentials, email=f"{status}-lookup@example.com",
                                              customer_external_id=None, since=since) == (paid["id"],)
    finally:
        harness.connector.close()


def test_a_naive_moment_is_refused(harness):
    with pytest.raises(base.TerminalError):
        harness.connector.orders_since(harness.credentials, email="a@example.com", customer_external_id=None,
                                       since=dt.datetime(2026, 1, 1))
