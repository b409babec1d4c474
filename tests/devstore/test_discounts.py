"""Write-back over real HTTP: code discounts, codeDiscountNodeByCode, metafieldsSet and tags."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.devstore.dshelpers import SHOP, gql, subscribe

BASIC_CREATE = """
mutation($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode {
      id
      codeDiscount {
        __typename
        ... on DiscountCodeBasic {
          title status startsAt endsAt usageLimit appliesOncePerCustomer
          codes(first: 1) { nodes { code } }
          combinesWith { orderDiscounts productDiscounts shippingDiscounts }
          context {
            __typename
            ... on DiscountBuyerSelectionAll { all }
            ... on DiscountCustomers { customers { id } }
          }
          customerGets {
            value {
              __typename
              ... on DiscountPercentage { percentage }
              ... on DiscountAmount { amount { amount currencyCode } appliesOnEachItem }
            }
            items { ... on AllDiscountItems { allItems } }
          }
          minimumRequirement {
            ... on DiscountMinimumSubtotal { greaterThanOrEqualToSubtotal { amount } }
          }
        }
      }
    }
    userErrors { field message code }
  }
}"""

FREE_SHIPPING_CREATE = """
mutation($input: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {
    codeDiscountNode {
      id
      codeDiscount {
        __typename
        ... on DiscountCodeFreeShipping {
          title codes(first: 1) { nodes { code } }
          destinationSelection { ... on DiscountCountryAll { allCountries } }
          context { ... on DiscountBuyerSelectionAll { all } }
        }
      }
    }
    userErrors { field message code }
  }
}"""

BY_CODE = """
query($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id codeDiscount { ... on DiscountCodeBasic { title codes(first: 1) { nodes { code } } } }
  }
}"""

METAFIELDS_SET = """
mutation($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key value type ownerType }
    userErrors { field message code elementIndex }
  }
}"""

CUSTOMER_METAFIELDS = """
query($id: ID!) {
  customer(id: $id) {
    points: metafield(namespace: "comeback", key: "points") { value type }
    metafields(first: 10, namespace: "comeback") { nodes { key value } }
  }
}"""


def _basic(code: str, overrides: dict | None = None, **extra: Any) -> dict:
    data = {
        "title": f"Reward {code}", "code": code, "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2027-01-01T00:00:00Z", "usageLimit": 1, "appliesOncePerCustomer": True,
        "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}},
        "combinesWith": {"orderDiscounts": False, "productDiscounts": True,
                         "shippingDiscounts": False},
        "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "40.00"}},
    }
    data.update(overrides or {}, **extra)
    return data


def _discounts(http: httpx.Client) -> list[dict]:
    response = http.get(f"/_devstore/shops/{SHOP}/discounts")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def customer_gid(http: httpx.Client) -> str:
    response = http.post(f"/_devstore/shops/{SHOP}/orders", json={"email": "ada@example.com"})
    assert response.status_code == 201, response.text
    return f"gid://shopify/Customer/{response.json()['customer']['id']}"


def test_percentage_code_is_created_with_every_field(http, token):
    response = gql(http, token, BASIC_CREATE, {"input": _basic("WELCOME15")})
    body = response.json()
    payload = body["data"]["discountCodeBasicCreate"]
    assert payload["userErrors"] == []
    node = payload["codeDiscountNode"]
    assert node["id"].startswith("gid://shopify/DiscountCodeNode/")
    assert node["codeDiscount"] == {
        "__typename": "DiscountCodeBasic", "title": "Reward WELCOME15", "status": "ACTIVE",
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z", "usageLimit": 1,
        "appliesOncePerCustomer": True, "codes": {"nodes": [{"code": "WELCOME15"}]},
        "combinesWith": {"orderDiscounts": False, "productDiscounts": True,
                         "shippingDiscounts": False},
        "context": {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"},
        "customerGets": {"value": {"__typename": "DiscountPercentage", "percentage": 0.15},
                         "items": {"allItems": True}},
        "minimumRequirement": {"greaterThanOrEqualToSubtotal": {"amount": "40.00"}},
    }
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    assert body["extensions"]["cost"]["actualQueryCost"] == 10
    [stored] = _discounts(http)
    assert stored["id"] == node["id"]
    assert stored["code"] == "WELCOME15"
    assert stored["value_type"] == "percentage"
    assert stored["percentage"] == 0.15
    assert stored["minimum_subtotal"] == "40.00"
    assert stored["customer_selection"] == "all"


def test_fixed_amount_code_for_one_customer(http, token, customer_gid):
    data = _basic("SORRY5", context={"customers": {"add": [customer_gid]}},
                  customerGets={"value": {"discountAmount": {"amount": "5.00",
                                                             "appliesOnEachItem": False}},
                                "items": {"all": True}},
                  minimumRequirement=None)
    payload = gql(http, token, BASIC_CREATE, {"input": data}).json()["data"][
        "discountCodeBasicCreate"]
    assert payload["userErrors"] == []
    discount = payload["codeDiscountNode"]["codeDiscount"]
    assert discount["context"] == {"__typename": "DiscountCustomers",
                                   "customers": [{"id": customer_gid}]}
    assert discount["customerGets"]["value"] == {
        "__typename": "DiscountAmount", "amount": {"amount": "5.00", "currencyCode": "USD"},
        "appliesOnEachItem": False}
    assert discount["minimumRequirement"] is None
    [stored] = _discounts(http)
    assert stored["customer_selection"] == "customers"
    assert stored["customer_ids"] == [int(customer_gid.rsplit("/", 1)[1])]
    assert stored["amount"] == "5.00" and stored["value_type"] == "fixed_amount"


def test_free_shipping_code(http, token):
    data = {"title": "Ship free", "code": "SHIPFREE", "startsAt": "2026-01-01T00:00:00Z",
            "context": {"all": "ALL"}, "destination": {"all": True},
            "combinesWith": {"orderDiscounts": True, "productDiscounts": True}}
    payload = gql(http, token, FREE_SHIPPING_CREATE, {"input": data}).json()["data"][
        "discountCodeFreeShippingCreate"]
    assert payload["userErrors"] == []
    assert payload["codeDiscountNode"]["codeDiscount"] == {
        "__typename": "DiscountCodeFreeShipping", "title": "Ship free",
        "codes": {"nodes": [{"code": "SHIPFREE"}]},
        "destinationSelection": {"allCountries": True}, "context": {"all": "ALL"}}
    [stored] = _discounts(http)
    assert stored["type"] == "DiscountCodeFreeShipping"
    assert stored["value_type"] == "free_shipping"
    assert stored["combines_with"] == {"order_discounts": True, "product_discounts": True,
                                       "shipping_discounts": False}
    assert stored["ends_at"] is None and stored["usage_limit"] is None


def test_duplicate_code_is_taken_case_insensitively_across_kinds(http, token):
    first = gql(http, token, BASIC_CREATE, {"input": _basic("VIP20")}).json()
    first_id = first["data"]["discountCodeBasicCreate"]["codeDiscountNode"]["id"]
    again = gql(http, token, BASIC_CREATE, {"input": _basic("vip20")}).json()["data"][
        "discountCodeBasicCreate"]
    assert again == {"codeDiscountNode": None, "userErrors": [{
        "field": ["basicCodeDiscount", "code"],
        "message": "Code must be unique. Please try a different code.", "code": "TAKEN"}]}
    shipping = gql(http, token, FREE_SHIPPING_CREATE, {"input": {
        "title": "t", "code": "Vip20", "startsAt": "2026-01-01T00:00:00Z",
        "context": {"all": "ALL"}, "destination": {"all": True}}}).json()["data"][
        "discountCodeFreeShippingCreate"]
    assert shipping["userErrors"] == [{
        "field": ["freeShippingCodeDiscount", "code"],
        "message": "Code must be unique. Please try a different code.", "code": "TAKEN"}]
    assert [d["id"] for d in _discounts(http)] == [first_id]
    found = gql(http, token, BY_CODE, {"code": "vIp20"}).json()["data"]["codeDiscountNodeByCode"]
    assert found == {"id": first_id, "codeDiscount": {
        "title": "Reward VIP20", "codes": {"nodes": [{"code": "VIP20"}]}}}
    missing = gql(http, token, BY_CODE, {"code": "NOPE"}).json()["data"]
    assert missing == {"codeDiscountNodeByCode": None}


@pytest.mark.parametrize("overrides,error", [
    ({"customerGets": {"value": {"percentage": 15}, "items": {"all": True}}},
     {"field": ["basicCodeDiscount", "customerGets", "value", "percentage"],
      "message": "Value must be greater than 0.0 and less than or equal to 1.0",
      "code": "VALUE_OUTSIDE_RANGE"}),
    ({"customerGets": {"value": {"percentage": 0}, "items": {"all": True}}},
     {"field": ["basicCodeDiscount", "customerGets", "value", "percentage"],
      "message": "Value must be greater than 0.0 and less than or equal to 1.0",
      "code": "VALUE_OUTSIDE_RANGE"}),
    ({"customerGets": {"value": {"discountAmount": {"amount": "0"}}, "items": {"all": True}}},
     {"field": ["basicCodeDiscount", "customerGets", "value", "discountAmount", "amount"],
      "message": "Amount must be greater than 0", "code": "GREATER_THAN"}),
    ({"code": "  "}, {"field": ["basicCodeDiscount", "code"], "message": "Code can't be blank",
                      "code": "BLANK"}),
    ({"code": "X" * 256}, {"field": ["basicCodeDiscount", "code"],
                           "message": "Code is too long (maximum is 255 characters)",
                           "code": "TOO_LONG"}),
    ({"endsAt": "2025-06-01T00:00:00Z"},
     {"field": ["basicCodeDiscount", "endsAt"], "message": "Ends at needs to be after starts_at",
      "code": "END_DATE_BEFORE_START_DATE"}),
    ({"context": None}, {"field": ["basicCodeDiscount", "context"],
                         "message": "Context can't be blank", "code": "BLANK"}),
    ({"context": {"customers": {"add": ["gid://shopify/Customer/1"]}}},
     {"field": ["basicCodeDiscount", "context", "customers", "add", "0"],
      "message": "Customer gid://shopify/Customer/1 does not exist", "code": "INVALID"}),
    ({"usageLimit": 0}, {"field": ["basicCodeDiscount", "usageLimit"],
                         "message": "Usage limit must be greater than 0",
                         "code": "GREATER_THAN"}),
])
def test_invalid_input_is_refused_and_nothing_is_stored(http, token, overrides, error):
    payload = gql(http, token, BASIC_CREATE, {"input": _basic("BAD1", overrides)}).json()[
        "data"]["discountCodeBasicCreate"]
    assert payload == {"codeDiscountNode": None, "userErrors": [error]}
    assert _discounts(http) == []


def _metafield(owner: str, key: str, value: str, **extra: Any) -> dict:
    return {"ownerId": owner, "namespace": "comeback", "key": key, "value": value,
            "type": "single_line_text_field", **extra}


def test_metafields_set_upserts_and_reads_back(http, token, customer_gid):
    body = gql(http, token, METAFIELDS_SET, {"metafields": [
        _metafield(customer_gid, "points", "120"), _metafield(customer_gid, "tier", "gold")]}).json()
    payload = body["data"]["metafieldsSet"]
    assert payload["userErrors"] == []
    assert [(m["key"], m["value"], m["ownerType"]) for m in payload["metafields"]] == [
        ("points", "120", "CUSTOMER"), ("tier", "gold", "CUSTOMER")]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    first_id = payload["metafields"][0]["id"]
    again = gql(http, token, METAFIELDS_SET, {"metafields": [
        _metafield(customer_gid, "points", "95")]}).json()["data"]["metafieldsSet"]
    assert again["userErrors"] == [] and again["metafields"][0]["id"] == first_id
    read = gql(http, token, CUSTOMER_METAFIELDS, {"id": customer_gid}).json()["data"]["customer"]
    assert read == {"points": {"value": "95", "type": "single_line_text_field"},
                    "metafields": {"nodes": [{"key": "points", "value": "95"},
                                             {"key": "tier", "value": "gold"}]}}
    customer_id = customer_gid.rsplit("/", 1)[1]
    control = http.get(f"/_devstore/shops/{SHOP}/customers/{customer_id}").json()
    assert [(m["namespace"], m["key"], m["value"], m["type"]) for m in control["metafields"]] == [
        ("comeback", "points", "95", "single_line_text_field"),
        ("comeback", "tier", "gold", "single_line_text_field")]


def test_metafields_set_refuses_more_than_25(http, token, customer_gid):
    inputs = [_metafield(customer_gid, f"key{i}", str(i)) for i in range(26)]
    payload = gql(http, token, METAFIELDS_SET, {"metafields": inputs}).json()["data"][
        "metafieldsSet"]
    assert payload == {"metafields": None, "userErrors": [{
        "field": ["metafields"], "message": "Exceeded the maximum metafields input limit of 25.",
        "code": "LESS_THAN_OR_EQUAL_TO", "elementIndex": None}]}
    customer_id = customer_gid.rsplit("/", 1)[1]
    assert http.get(f"/_devstore/shops/{SHOP}/customers/{customer_id}").json()["metafields"] == []
    accepted = gql(http, token, METAFIELDS_SET, {"metafields": inputs[:25]}).json()["data"][
        "metafieldsSet"]
    assert accepted["userErrors"] == [] and len(accepted["metafields"]) == 25


def test_metafields_set_is_atomic_on_unknown_owner_and_bad_values(http, token, customer_gid):
    payload = gql(http, token, METAFIELDS_SET, {"metafields": [
        _metafield(customer_gid, "points", "10"),
        _metafield("gid://shopify/Customer/999", "points", "10"),
        _metafield(customer_gid, "tier", "two\nlines"),
        _metafield("gid://shopify/Order/1", "points", "10"),
    ]}).json()["data"]["metafieldsSet"]
    assert payload == {"metafields": None, "userErrors": [
        {"field": ["metafields", "1", "ownerId"], "message": "Owner does not exist.",
         "code": "INVALID", "elementIndex": 1},
        {"field": ["metafields", "2", "value"],
         "message": "Value is invalid for type single_line_text_field", "code": "INVALID_VALUE",
         "elementIndex": 2},
        {"field": ["metafields", "3", "ownerId"], "message": "Owner type is not supported",
         "code": "INVALID", "elementIndex": 3},
    ]}
    read = gql(http, token, CUSTOMER_METAFIELDS, {"id": customer_gid}).json()["data"]["customer"]
    assert read == {"points": None, "metafields": {"nodes": []}}


def test_write_mutations_need_a_valid_token(http, token):
    response = gql(http, "shpat_not-a-token", BASIC_CREATE, {"input": _basic("NOAUTH")})
    assert response.status_code == 401
    assert _discounts(http) == []


PRODUCTS_CREATE = """
mutation($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}"""

PRODUCTS_BY_CODE = """
query($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      ... on DiscountCodeBasic {
        customerGets {
          value { ... on DiscountAmount { amount { amount } appliesOnEachItem } }
          items {
            __typename
            ... on DiscountProducts {
              products(first: 5) { nodes { id title } }
              productVariants(first: 5) { nodes { id product { id } } }
            }
          }
        }
      }
    }
  }
}"""


@pytest.fixture
def catalogue(http: httpx.Client) -> list[dict]:
    """Two products of two variants each, made through the control API."""
    made = []
    for title in ("Mug", "Tee"):
        response = http.post(f"/_devstore/shops/{SHOP}/products", json={
            "title": title, "variants": [{"title": "S", "price": "12.00"},
                                         {"title": "L", "price": "14.00"}]})
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


def _entitled(code: str, items: dict) -> dict:
    return _basic(code, customerGets={
        "value": {"discountAmount": {"amount": "12.00", "appliesOnEachItem": False}},
        "items": items}, minimumRequirement=None)


def test_a_code_for_some_products_and_variants_reads_back(http, token, catalogue):
    mug, tee = catalogue
    product = f"gid://shopify/Product/{mug['id']}"
    variant = f"gid://shopify/ProductVariant/{tee['variants'][1]['id']}"
    created = gql(http, token, PRODUCTS_CREATE, {"input": _entitled("FREE-MUG", {"products": {
        "productsToAdd": [product, product], "productVariantsToAdd": [variant]}})}).json()
    payload = created["data"]["discountCodeBasicCreate"]
    assert payload["userErrors"] == []
    assert created["extensions"]["cost"]["requestedQueryCost"] == 10
    found = gql(http, token, PRODUCTS_BY_CODE, {"code": "free-mug"}).json()["data"][
        "codeDiscountNodeByCode"]
    assert found == {"id": payload["codeDiscountNode"]["id"], "codeDiscount": {"customerGets": {
        "value": {"amount": {"amount": "12.00"}, "appliesOnEachItem": False},
        "items": {"__typename": "DiscountProducts",
                  "products": {"nodes": [{"id": product, "title": "Mug"}]},
                  "productVariants": {"nodes": [{"id": variant,
                                                 "product": {"id": f"gid://shopify/Product/{tee['id']}"}}]}}}}}
    [stored] = _discounts(http)
    assert (stored["items"], stored["product_ids"], stored["variant_ids"], stored["amount"]) == (
        "products", [mug["id"]], [tee["variants"][1]["id"]], "12.00")


def test_a_code_for_every_item_says_so(http, token):
    gql(http, token, BASIC_CREATE, {"input": _basic("ALLITEMS")})
    [stored] = _discounts(http)
    assert (stored["items"], stored["product_ids"], stored["variant_ids"]) == ("all", [], [])
    found = gql(http, token, PRODUCTS_BY_CODE, {"code": "ALLITEMS"}).json()["data"]
    assert found["codeDiscountNodeByCode"]["codeDiscount"]["customerGets"]["items"] == {
        "__typename": "AllDiscountItems"}


@pytest.mark.parametrize("items,error", [
    ({"products": {"productsToAdd": ["gid://shopify/Product/999"]}},
     {"field": ["basicCodeDiscount", "customerGets", "items", "products", "productsToAdd", "0"],
      "message": "Product gid://shopify/Product/999 does not exist", "code": "INVALID"}),
    ({"products": {"productVariantsToAdd": ["gid://shopify/Product/1"]}},
     {"field": ["basicCodeDiscount", "customerGets", "items", "products", "productVariantsToAdd",
                "0"],
      "message": "Product variant gid://shopify/Product/1 does not exist", "code": "INVALID"}),
    ({"products": {}}, {"field": ["basicCodeDiscount", "customerGets", "items", "products"],
                        "message": "Products or product variants can't be blank", "code": "BLANK"}),
    ({"collections": {"add": ["gid://shopify/Collection/1"]}},
     {"field": ["basicCodeDiscount", "customerGets", "items", "collections"],
      "message": "Collections are not supported by devstore", "code": "INVALID"}),
    ({"all": True, "products": {"productsToAdd": ["gid://shopify/Product/1"]}},
     {"field": ["basicCodeDiscount", "customerGets", "items"],
      "message": "Only one of all, products or collections can be given", "code": "INVALID"}),
    ({}, {"field": ["basicCodeDiscount", "customerGets", "items"],
          "message": "Items can't be blank", "code": "BLANK"}),
])
def test_items_that_name_nothing_real_are_refused(http, token, items, error):
    payload = gql(http, token, PRODUCTS_CREATE, {"input": _entitled("NOPE", items)}).json()[
        "data"]["discountCodeBasicCreate"]
    assert payload == {"codeDiscountNode": None, "userErrors": [error]}
    assert _discounts(http) == []


def test_a_deleted_product_can_no_longer_be_entitled(http, token, catalogue):
    mug = catalogue[0]
    assert http.delete(f"/_devstore/shops/{SHOP}/products/{mug['id']}").status_code == 200
    payload = gql(http, token, PRODUCTS_CREATE, {"input": _entitled("GONE", {"products": {
        "productVariantsToAdd": [f"gid://shopify/ProductVariant/{mug['variants'][0]['id']}"]}})}
    ).json()["data"]["discountCodeBasicCreate"]
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID"]
    assert _discounts(http) == []


TAGS_ADD = """
mutation($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}"""

TAGS_REMOVE = """
mutation($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { node { id } userErrors { field message } }
}"""

CUSTOMER_TAGS = "query($id: ID!) { customer(id: $id) { tags updatedAt } }"


def _drain(http: httpx.Client) -> None:
    assert http.post("/_devstore/delivery/drain", json={"timeout": 10}).json()["drained"]


def test_tags_are_added_and_removed_as_a_customer_update(http, token, customer_gid, receiver):
    subscribe(http, token, "CUSTOMERS_UPDATE", receiver.url)
    customer_id = customer_gid.rsplit("/", 1)[1]
    before = gql(http, token, CUSTOMER_TAGS, {"id": customer_gid}).json()["data"]["customer"]
    added = gql(http, token, TAGS_ADD, {"id": customer_gid, "tags": ["Gold", "vip, early bird"]}).json()
    assert added["data"]["tagsAdd"] == {"node": {"id": customer_gid}, "userErrors": []}
    assert added["extensions"]["cost"]["requestedQueryCost"] == 10
    after = gql(http, token, CUSTOMER_TAGS, {"id": customer_gid}).json()["data"]["customer"]
    assert after["tags"] == ["Gold", "vip", "early bird"]
    assert after["updatedAt"] > before["updatedAt"]
    control = http.get(f"/_devstore/shops/{SHOP}/customers/{customer_id}").json()
    assert control["tags"] == "Gold, vip, early bird"
    removed = gql(http, token, TAGS_REMOVE, {"id": customer_gid, "tags": ["vip", "Silver"]}).json()
    assert removed["data"]["tagsRemove"] == {"node": {"id": customer_gid}, "userErrors": []}
    assert http.get(f"/_devstore/shops/{SHOP}/customers/{customer_id}").json()["tags"] == (
        "Gold, early bird")
    _drain(http)
    updates = receiver.by_topic("customers/update")
    assert [u.json()["id"] for u in updates] == [int(customer_id)] * 2
    # Since 2025-01 the customer webhooks carry no tags.
    assert all("tags" not in u.json() for u in updates)


def test_tags_already_there_or_absent_change_nothing(http, token, customer_gid, receiver):
    gql(http, token, TAGS_ADD, {"id": customer_gid, "tags": ["Gold"]})
    subscribe(http, token, "CUSTOMERS_UPDATE", receiver.url)
    before = gql(http, token, CUSTOMER_TAGS, {"id": customer_gid}).json()["data"]["customer"]
    again = gql(http, token, TAGS_ADD, {"id": customer_gid, "tags": ["Gold"]}).json()["data"]
    absent = gql(http, token, TAGS_REMOVE, {"id": customer_gid, "tags": ["Silver"]}).json()["data"]
    assert again["tagsAdd"]["userErrors"] == [] and absent["tagsRemove"]["userErrors"] == []
    assert gql(http, token, CUSTOMER_TAGS, {"id": customer_gid}).json()["data"]["customer"] == before
    _drain(http)
    assert receiver.by_topic("customers/update") == []


@pytest.mark.parametrize("mutation,field", [(TAGS_ADD, "tagsAdd"), (TAGS_REMOVE, "tagsRemove")])
@pytest.mark.parametrize("target,tags,error", [
    ("gid://shopify/Customer/999", ["Gold"], {"field": ["id"], "message": "Customer does not exist"}),
    ("gid://shopify/Order/1", ["Gold"],
     {"field": ["id"], "message": "devstore supports tags on customers only"}),
    (None, [" , "], {"field": ["tags"], "message": "Tags can't be blank"}),
    (None, ["x" * 256], {"field": ["tags"], "message": "Tag is too long (maximum is 255 characters)"}),
])
def test_tags_on_nothing_real_are_refused(http, token, customer_gid, mutation, field, target, tags, error):
    payload = gql(http, token, mutation, {"id": target or customer_gid, "tags": tags}).json()["data"][field]
    assert payload == {"node": None, "userErrors": [error]}
    read = gql(http, token, CUSTOMER_TAGS, {"id": customer_gid}).json()["data"]["customer"]
    assert read["tags"] == []
