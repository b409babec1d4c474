"""Write-back and refetch of the Shopify connector against devstore, over real HTTP."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from connectors.base import (
    DISCOUNT_FIXED_AMOUNT,
    DISCOUNT_FREE_PRODUCT,
    DISCOUNT_FREE_SHIPPING,
    DISCOUNT_PERCENTAGE,
    REFETCH_ORDER_REFUNDS,
    REFETCH_PRODUCT,
    Connector,
    Credentials,
    CustomerAttributes,
    DiscountResult,
    DiscountSpec,
    Money,
    Product,
    Refetch,
    Refund,
    RefundLineItem,
    TerminalError,
    Variant,
)
from connectors.shopify import queries
from connectors.shopify.connector import ShopifyConnector

REDIRECT_URI = "https://comeback.test/auth/callback"
SCOPES = "read_customers,read_orders,read_products,write_discounts,write_customers"
STARTS = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.timezone.utc)
ENDS = dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.timezone.utc)


class Control:
    """Drive one devstore shop through /_devstore."""

    def __init__(self, url: str, shop: str):
        self.http = httpx.Client(base_url=url, timeout=30)
        self.shop = shop

    def call(self, method: str, path: str, body: dict | None = None):
        response = self.http.request(method, f"/_devstore/shops/{self.shop}{path}", json=body)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()

    def discounts(self) -> list[dict]:
        return self.call("GET", "/discounts")

    def customer(self, customer_id: str) -> dict:
        return self.call("GET", f"/customers/{customer_id}")

    def new_customer(self) -> str:
        order = self.call("POST", "/orders", {"email": f"buyer-{secrets.token_hex(3)}@example.com"})
        return str(order["customer"]["id"])

    def new_product(self, title: str = "Mug") -> dict:
        return self.call("POST", "/products", {"title": title, "variants": [
            {"title": "S", "price": "14.00"}, {"title": "L", "price": "16.00"}]})


@pytest.fixture(scope="module")
def app_keys(devstore):
    client_id, client_secret = "wb-" + secrets.token_hex(4), "secret-" + secrets.token_hex(16)
    response = httpx.post(f"{devstore.url}/_devstore/apps", json={
        "client_id": client_id, "client_secret": client_secret,
        "compliance_uri": "https://comeback.test/webhooks/compliance"}, timeout=10)
    assert response.status_code in (200, 201), response.text
    return client_id, client_secret


def _install(connector: ShopifyConnector, shop: str) -> Credentials:
    """Run OAuth: follow the authorize redirect, verify the callback, exchange the code."""
    request = connector.authorization_request(shop, REDIRECT_URI, "state-wb")
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        location = browser.get(request.url).headers["location"]
    query = dict(parse_qsl(urlsplit(location).query))
    assert connector.verify_callback(query) == shop
    return connector.exchange_code(shop, query["code"], REDIRECT_URI)


@pytest.fixture
def installed(devstore, app_keys):
    """A fresh shop with the app installed: (connector, credentials, control)."""
    shop = f"wb-{secrets.token_hex(4)}.myshopify.com"
    response = httpx.post(f"{devstore.url}/_devstore/shops", json={"domain": shop}, timeout=10)
    assert response.status_code == 201, response.text
    connector = ShopifyConnector(api_key=app_keys[0], api_secret=app_keys[1], scopes=SCOPES,
                                 api_origin=devstore.url)
    credentials = _install(connector, shop)
    control = Control(devstore.url, shop)
    yield connector, credentials, control
    control.http.close()
    connector.close()


@pytest.fixture
def calls(installed, monkeypatch):
    """Record the GraphQL documents the connector sends (they still go to devstore)."""
    connector = installed[0]
    client = connector.graphql()
    sent: list[str] = []
    real = client.execute

    def execute(credentials, query, variables=None, **kwargs):
        sent.append(query)
        return real(credentials, query, variables, **kwargs)

    monkeypatch.setattr(client, "execute", execute)
    return sent


def _stored(control: Control) -> list[dict]:
    """Return the shop's discounts without their creation times."""
    found = control.discounts()
    for discount in found:
        assert discount.pop("created_at")
        discount.pop("client_id")
    return found


def test_the_connector_still_satisfies_the_protocol(installed):
    connector, credentials, _ = installed
    assert isinstance(connector, Connector)
    uri = "https://comeback.test/webhooks/shopify"
    assert connector.register_webhooks(credentials, uri, secret="ignored") == connector.webhook_topics()


def test_percentage_code_lands_with_exact_fields(installed):
    connector, credentials, control = installed
    spec = DiscountSpec(code="WELCOME10", kind=DISCOUNT_PERCENTAGE, value=Decimal("10"),
                        starts_at=STARTS, expires_at=ENDS, minimum_subtotal=Decimal("25"))
    [result] = connector.create_discounts(credentials, [spec])
    assert result.created is True and result.error is None and result.code == "WELCOME10"
    assert result.external_id.startswith("gid://shopify/DiscountCodeNode/")
    assert _stored(control) == [{
        "id": result.external_id, "type": "DiscountCodeBasic", "code": "WELCOME10",
        "title": "WELCOME10", "value_type": "percentage", "percentage": 0.1, "amount": None,
        "applies_on_each_item": False, "starts_at": "2026-11-01T09:30:00Z",
        "ends_at": "2026-12-31T23:00:00Z", "usage_limit": 1, "applies_once_per_customer": True,
        "customer_selection": "all", "customer_ids": [],
        "items": "all", "product_ids": [], "variant_ids": [],
        "combines_with": {"order_discounts": False, "product_discounts": False,
                          "shipping_discounts": False},
        "minimum_subtotal": "25.00", "minimum_quantity": None, "maximum_shipping_price": None,
        "destination": None, "applies_on_one_time_purchase": True,
        "applies_on_subscription": False,
    }]


def test_fixed_amount_code_for_one_customer(installed):
    connector, credentials, control = installed
    customer_id = control.new_customer()
    spec = DiscountSpec(code="SORRY-5", kind=DISCOUNT_FIXED_AMOUNT, value=Decimal("5"),
                        title="Sorry for the wait", starts_at=STARTS, usage_limit=None,
                        customer_external_id=customer_id, combinable=True)
    [result] = connector.create_discounts(credentials, [spec])
    assert result.created is True and result.error is None
    [stored] = _stored(control)
    assert stored["title"] == "Sorry for the wait"
    assert (stored["value_type"], stored["amount"], stored["percentage"]) == (
        "fixed_amount", "5.00", None)
    assert stored["applies_on_each_item"] is False
    assert (stored["customer_selection"], stored["customer_ids"]) == (
        "customers", [int(customer_id)])
    assert stored["combines_with"] == {"order_discounts": True, "product_discounts": True,
                                       "shipping_discounts": True}
    assert (stored["usage_limit"], stored["ends_at"], stored["minimum_subtotal"]) == (
        None, None, None)


def test_free_shipping_code(installed):
    connector, credentials, control = installed
    spec = DiscountSpec(code="SHIPFREE", kind=DISCOUNT_FREE_SHIPPING, starts_at=STARTS,
                        expires_at=ENDS, combinable=True)
    [result] = connector.create_discounts(credentials, [spec])
    assert result.created is True and result.error is None
    [stored] = _stored(control)
    assert stored == {
        "id": result.external_id, "type": "DiscountCodeFreeShipping", "code": "SHIPFREE",
        "title": "SHIPFREE", "value_type": "free_shipping", "percentage": None, "amount": None,
        "applies_on_each_item": False, "starts_at": "2026-11-01T09:30:00Z",
        "ends_at": "2026-12-31T23:00:00Z", "usage_limit": 1, "applies_once_per_customer": True,
        "customer_selection": "all", "customer_ids": [],
        "items": None, "product_ids": [], "variant_ids": [],
        "combines_with": {"order_discounts": True, "product_discounts": True,
                          "shipping_discounts": False},
        "minimum_subtotal": None, "minimum_quantity": None, "maximum_shipping_price": None,
        "destination": "all", "applies_on_one_time_purchase": True,
        "applies_on_subscription": False,
    }


def test_starts_now_when_no_start_is_given(installed):
    connector, credentials, control = installed
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    connector.create_discounts(credentials, [DiscountSpec(code="NOW", kind=DISCOUNT_PERCENTAGE,
                                                          value=Decimal("12.5"))])
    [stored] = _stored(control)
    starts = dt.datetime.fromisoformat(stored["starts_at"].replace("Z", "+00:00"))
    assert before <= starts <= dt.datetime.now(dt.timezone.utc)
    assert stored["percentage"] == 0.125


def test_replaying_a_batch_creates_nothing_new(installed, calls):
    connector, credentials, control = installed
    specs = [DiscountSpec(code="REPLAY-A", kind=DISCOUNT_PERCENTAGE, value=Decimal("20")),
             DiscountSpec(code="REPLAY-B", kind=DISCOUNT_FREE_SHIPPING)]
    first = connector.create_discounts(credentials, specs)
    assert [r.created for r in first] == [True, True]
    stored_before = control.discounts()
    calls.clear()
    # Shopify's codes are case-insensitive: a different case is the same code.
    again = connector.create_discounts(credentials, [specs[0], DiscountSpec(
        code="replay-b", kind=DISCOUNT_FREE_SHIPPING)])
    assert again == [
        DiscountResult(code="REPLAY-A", external_id=first[0].external_id, created=False),
        DiscountResult(code="replay-b", external_id=first[1].external_id, created=False)]
    assert calls == [queries.DISCOUNT_BASIC_CREATE, queries.DISCOUNT_BY_CODE,
                     queries.DISCOUNT_FREE_SHIPPING_CREATE, queries.DISCOUNT_BY_CODE]
    assert control.discounts() == stored_before


@pytest.mark.parametrize("spec,error", [
    (DiscountSpec(code="P150", kind=DISCOUNT_PERCENTAGE, value=Decimal("150")),
     "value: percentage must be greater than 0 and at most 100"),
    (DiscountSpec(code="P0", kind=DISCOUNT_PERCENTAGE, value=Decimal("0")),
     "value: percentage must be greater than 0 and at most 100"),
    (DiscountSpec(code="F0", kind=DISCOUNT_FIXED_AMOUNT, value=Decimal("0")),
     "value: amount must be positive"),
    (DiscountSpec(code="F-3", kind=DISCOUNT_FIXED_AMOUNT, value=Decimal("-3")),
     "value: amount must be positive"),
    (DiscountSpec(code="F001", kind=DISCOUNT_FIXED_AMOUNT, value=Decimal("1.005")),
     "value: amount has more than 2 decimal places"),
    (DiscountSpec(code="BOGO", kind="buy_one_get_one", value=Decimal("10")),
     "kind: unknown discount kind 'buy_one_get_one'"),
    (DiscountSpec(code="", kind=DISCOUNT_PERCENTAGE, value=Decimal("10")),
     "code: must not be empty"),
    (DiscountSpec(code="X" * 256, kind=DISCOUNT_PERCENTAGE, value=Decimal("10")),
     "code: longer than 255 characters"),
    (DiscountSpec(code="LATE", kind=DISCOUNT_PERCENTAGE, value=Decimal("10"),
                  starts_at=ENDS, expires_at=STARTS),
     "expires_at: must be after starts_at"),
    (DiscountSpec(code="NAIVE", kind=DISCOUNT_PERCENTAGE, value=Decimal("10"),
                  starts_at=dt.datetime(2026, 11, 1)),
     "starts_at: must be timezone-aware"),
    (DiscountSpec(code="WHO", kind=DISCOUNT_PERCENTAGE, value=Decimal("10"),
                  customer_external_id="ada@example.com"),
     "customer_external_id: invalid id 'ada@example.com'"),
    (DiscountSpec(code="FREE", kind=DISCOUNT_FREE_PRODUCT, value=Decimal("14")),
     "product_external_ids: a free product needs at least one product or variant"),
    (DiscountSpec(code="FREE0", kind=DISCOUNT_FREE_PRODUCT, value=Decimal("0"),
                  product_external_ids=("1",)),
     "value: amount must be positive"),
    (DiscountSpec(code="FREEX", kind=DISCOUNT_FREE_PRODUCT, value=Decimal("14"),
                  variant_external_ids=("mug-s",)),
     "variant_external_ids: invalid id 'mug-s'"),
    (DiscountSpec(code="PCT-MUG", kind=DISCOUNT_PERCENTAGE, value=Decimal("10"),
                  product_external_ids=("1",)),
     "product_external_ids: only a free product discount takes products"),
])
def test_invalid_spec_gives_an_error_result_and_no_call(installed, calls, spec, error):
    connector, credentials, control = installed
    assert connector.create_discounts(credentials, [spec]) == [
        DiscountResult(code=spec.code, external_id=None, created=False, error=error)]
    assert calls == []
    assert control.discounts() == []


def test_free_product_code_is_one_units_price_off_the_entitled_items(installed, calls):
    connector, credentials, control = installed
    mug, tee = control.new_product("Mug"), control.new_product("Tee")
    customer_id = control.new_customer()
    spec = DiscountSpec(code="FREE-MUG", kind=DISCOUNT_FREE_PRODUCT, value=Decimal("14.00"),
                        title="A mug on us", starts_at=STARTS, expires_at=ENDS,
                        customer_external_id=customer_id, product_external_ids=(str(mug["id"]),),
                        variant_external_ids=(str(tee["variants"][1]["id"]),))
    [result] = connector.create_discounts(credentials, [spec])
    assert result.created is True and result.error is None
    assert calls == [queries.DISCOUNT_BASIC_CREATE]
    [stored] = _stored(control)
    assert stored == {
        "id": result.external_id, "type": "DiscountCodeBasic", "code": "FREE-MUG",
        "title": "A mug on us", "value_type": "fixed_amount", "percentage": None, "amount": "14.00",
        "applies_on_each_item": False, "starts_at": "2026-11-01T09:30:00Z",
        "ends_at": "2026-12-31T23:00:00Z", "usage_limit": 1, "applies_once_per_customer": True,
        "customer_selection": "customers", "customer_ids": [int(customer_id)],
        "items": "products", "product_ids": [mug["id"]], "variant_ids": [tee["variants"][1]["id"]],
        "combines_with": {"order_discounts": False, "product_discounts": False,
                          "shipping_discounts": False},
        "minimum_subtotal": None, "minimum_quantity": None, "maximum_shipping_price": None,
        "destination": None, "applies_on_one_time_purchase": True,
        "applies_on_subscription": False,
    }
    (again,) = connector.create_discounts(credentials, [spec])
    assert (again.created, again.external_id, again.error) == (False, result.external_id, None)


def test_free_product_of_an_unknown_product_is_refused_by_the_store(installed):
    connector, credentials, control = installed
    mug = control.new_product()
    [result] = connector.create_discounts(credentials, [DiscountSpec(
        code="GHOST-MUG", kind=DISCOUNT_FREE_PRODUCT, value=Decimal("14"),
        product_external_ids=(str(mug["id"]), "999"))])
    assert result == DiscountResult(
        code="GHOST-MUG", external_id=None, created=False,
        error="basicCodeDiscount.customerGets.items.products.productsToAdd.1: "
              "Product gid://shopify/Product/999 does not exist")
    assert control.discounts() == []


def test_a_refused_spec_does_not_stop_the_batch(installed):
    connector, credentials, control = installed
    specs = [DiscountSpec(code="BAD", kind=DISCOUNT_PERCENTAGE, value=Decimal("300")),
             DiscountSpec(code="GHOST", kind=DISCOUNT_PERCENTAGE, value=Decimal("10"),
                          customer_external_id="999"),
             DiscountSpec(code="GOOD", kind=DISCOUNT_PERCENTAGE, value=Decimal("10"))]
    results = connector.create_discounts(credentials, specs)
    assert results[:2] == [
        DiscountResult(code="BAD", external_id=None, created=False,
                       error="value: percentage must be greater than 0 and at most 100"),
        DiscountResult(code="GHOST", external_id=None, created=False,
                       error="basicCodeDiscount.context.customers.add.0: "
                             "Customer gid://shopify/Customer/999 does not exist")]
    assert results[2].created is True
    assert [d["code"] for d in control.discounts()] == ["GOOD"]


def test_customer_attributes_are_set_in_chunks_of_25(installed, calls):
    connector, credentials, control = installed
    customers = [control.new_customer() for _ in range(3)]
    updates = [CustomerAttributes(customer_external_id=customer,
                                  values=((f"attr_{n:02d}", f"{customer}-{n}"),))
               for customer in customers for n in range(10)]
    assert connector.set_customer_attributes(credentials, updates) == 30
    assert calls == [queries.METAFIELDS_SET, queries.METAFIELDS_SET]
    for customer in customers:
        metafields = control.customer(customer)["metafields"]
        assert [(m["namespace"], m["key"], m["type"], m["value"]) for m in metafields] == [
            ("comeback", f"attr_{n:02d}", "single_line_text_field", f"{customer}-{n}")
            for n in range(10)]


def test_customer_attributes_overwrite_previous_values(installed):
    connector, credentials, control = installed
    customer = control.new_customer()
    connector.set_customer_attributes(credentials, [CustomerAttributes(
        customer, (("points", "120"), ("tier", "silver")))])
    assert connector.set_customer_attributes(credentials, [CustomerAttributes(
        customer, (("points", "80"), ("points", "95")))]) == 1
    assert [(m["key"], m["value"]) for m in control.customer(customer)["metafields"]] == [
        ("points", "95"), ("tier", "silver")]


def test_refused_metafields_raise_and_set_nothing(installed):
    connector, credentials, control = installed
    customer = control.new_customer()
    with pytest.raises(TerminalError) as error:
        connector.set_customer_attributes(credentials, [
            CustomerAttributes(customer, (("points", "10"),)),
            CustomerAttributes("999", (("points", "10"),))])
    assert "metafields.1.ownerId: Owner does not exist." in str(error.value)
    assert control.customer(customer)["metafields"] == []


def test_bad_attribute_names_raise_before_any_call(installed, calls):
    connector, credentials, control = installed
    customer = control.new_customer()
    with pytest.raises(TerminalError):
        connector.set_customer_attributes(credentials, [
            CustomerAttributes(customer, (("points balance", "10"),))])
    assert calls == []
    assert control.customer(customer)["metafields"] == []


def test_fetch_records_reads_one_product(installed):
    connector, credentials, control = installed
    made = control.call("POST", "/products", {
        "title": "Trail Shoe", "vendor": "Acme", "product_type": "Shoes",
        "variants": [{"title": "42", "price": "89.90", "sku": "TS-42", "inventory_quantity": 3},
                     {"title": "43", "price": "91.00", "sku": "TS-43", "inventory_quantity": 0}]})
    records = connector.fetch_records(credentials, Refetch(REFETCH_PRODUCT, str(made["id"])))
    [product] = records
    assert isinstance(product, Product)
    assert (product.external_id, product.title, product.handle, product.vendor,
            product.product_type, product.status) == (
        str(made["id"]), "Trail Shoe", "trail-shoe", "Acme", "Shoes", "active")
    assert product.variants == tuple(
        Variant(external_id=str(v["id"]), title=v["title"], price=Decimal(v["price"]),
                sku=v["sku"], inventory_quantity=v["inventory_quantity"])
        for v in made["variants"])
    assert product.variants_complete is True
    control.call("DELETE", f"/products/{made['id']}")
    assert connector.fetch_records(credentials, Refetch(REFETCH_PRODUCT, str(made["id"]))) == ()


def test_fetch_records_reads_an_orders_refunds(installed):
    connector, credentials, control = installed
    order = control.call("POST", "/orders", {"email": "refunds@example.com"})
    order_id = str(order["id"])
    assert connector.fetch_records(credentials, Refetch(REFETCH_ORDER_REFUNDS, order_id)) == ()
    line = order["line_items"][0]
    refund = control.call("POST", f"/orders/{order_id}/refund", {
        "line_items": [{"line_item_id": line["id"], "quantity": 1}], "note": "damaged"})
    records = connector.fetch_records(credentials, Refetch(
        REFETCH_ORDER_REFUNDS, order_id, expected_ids=(str(refund["id"]),)))
    [line_refund] = refund["refund_line_items"]
    assert records == (Refund(
        external_id=str(refund["id"]), order_external_id=order_id,
        created_at=records[0].created_at,
        amount=Money(Decimal(refund["transactions"][0]["amount"]), "USD"), note="damaged",
        line_items=(RefundLineItem(line_item_external_id=str(line["id"]), quantity=1,
                                   subtotal=Decimal(line_refund["subtotal"])),)),)
    assert records[0].created_at == dt.datetime.fromisoformat(refund["created_at"])
    assert connector.fetch_records(credentials, Refetch(REFETCH_ORDER_REFUNDS, "12345")) == ()


def test_unknown_refetch_resource_is_terminal(installed, calls):
    connector, credentials, _ = installed
    with pytest.raises(TerminalError, match="unknown refetch resource 'customer'"):
        connector.fetch_records(credentials, Refetch("customer", "1"))
    with pytest.raises(TerminalError, match="invalid Product id"):
        connector.fetch_records(credentials, Refetch(REFETCH_PRODUCT, "not-an-id"))
    assert calls == []


def test_customer_tags_are_added_and_removed_after_the_metafields(installed, calls):
    connector, credentials, control = installed
    customer = control.new_customer()
    assert connector.set_customer_attributes(credentials, [CustomerAttributes(
        customer, (("tier", "Gold"),), tags_add=("comeback-gold", "comeback-member"))]) == 1
    assert control.customer(customer)["tags"] == "comeback-gold, comeback-member"
    calls.clear()
    assert connector.set_customer_attributes(credentials, [CustomerAttributes(
        customer, (("tier", "Silver"),), tags_add=("comeback-silver",),
        tags_remove=("comeback-gold", "never-there"))]) == 1
    assert calls == [queries.METAFIELDS_SET, queries.TAGS_ADD, queries.TAGS_REMOVE]
    stored = control.customer(customer)
    assert stored["tags"] == "comeback-member, comeback-silver"
    assert [(m["key"], m["value"]) for m in stored["metafields"]] == [("tier", "Silver")]


def test_replayed_tag_changes_leave_the_same_tags(installed, calls):
    connector, credentials, control = installed
    customer = control.new_customer()
    update = CustomerAttributes(customer, (), tags_add=("comeback-gold",), tags_remove=("comeback-silver",))
    assert connector.set_customer_attributes(credentials, [update]) == 0
    updated_at = control.customer(customer)["updated_at"]
    assert connector.set_customer_attributes(credentials, [update]) == 0
    assert calls == [queries.TAGS_ADD, queries.TAGS_REMOVE] * 2
    after = control.customer(customer)
    assert (after["tags"], after["updated_at"], after["metafields"]) == ("comeback-gold", updated_at, [])


def test_a_later_update_of_the_same_tag_wins(installed, calls):
    connector, credentials, control = installed
    first, second = control.new_customer(), control.new_customer()
    connector.set_customer_attributes(credentials, [
        CustomerAttributes(first, (), tags_add=("comeback-gold", "comeback-member")),
        CustomerAttributes(second, (), tags_add=("comeback-member",)),
        CustomerAttributes(first, (), tags_remove=("comeback-gold",))])
    assert calls == [queries.TAGS_ADD, queries.TAGS_REMOVE, queries.TAGS_ADD]
    assert (control.customer(first)["tags"], control.customer(second)["tags"]) == (
        "comeback-member", "comeback-member")


@pytest.mark.parametrize("update,message", [
    (CustomerAttributes("1", (), tags_add=("gold, vip",)), "must not contain a comma"),
    (CustomerAttributes("1", (), tags_add=(" gold",)), "must not start or end with spaces"),
    (CustomerAttributes("1", (), tags_remove=("",)), "must be a non-empty string"),
    (CustomerAttributes("1", (), tags_add=("x" * 256,)), "is longer than 255 characters"),
    (CustomerAttributes("1", (), tags_add=("gold",), tags_remove=("gold",)), "both added and removed"),
    (CustomerAttributes("someone", (), tags_add=("gold",)), "invalid Customer id"),
])
def test_tags_that_shopify_would_change_raise_before_any_call(installed, calls, update, message):
    connector, credentials, control = installed
    customer = control.new_customer()
    with pytest.raises(TerminalError, match=message):
        connector.set_customer_attributes(credentials, [
            CustomerAttributes(customer, (("tier", "Gold"),), tags_add=("comeback-gold",)), update])
    assert calls == []
    assert (control.customer(customer)["tags"], control.customer(customer)["metafields"]) == ("", [])


def test_tags_of_an_unknown_customer_raise_the_stores_answer(installed):
    connector, credentials, control = installed
    with pytest.raises(TerminalError, match="tagsAdd refused: id: Customer does not exist"):
        connector.set_customer_attributes(credentials, [CustomerAttributes("999", (), tags_add=("gold",))])


def test_a_throttled_tag_change_waits_and_goes_through(installed):
    connector, credentials, control = installed
    customer = control.new_customer()
    connector.shop_info(credentials)  # devstore applies currently_available to existing buckets only
    control.call("POST", "/throttle", {"maximum_available": 1000, "restore_rate": 20, "currently_available": 0})
    started = time.monotonic()
    connector.set_customer_attributes(credentials, [CustomerAttributes(customer, (), tags_add=("comeback-gold",))])
    assert time.monotonic() - started >= 0.4
    assert control.customer(customer)["tags"] == "comeback-gold"
