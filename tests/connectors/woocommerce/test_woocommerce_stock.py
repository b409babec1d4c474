"""A product's stock from a REST v3 product or variation: the quantity, else the status set by hand."""

from __future__ import annotations

import pytest

from connectors.woocommerce import mapping

SIMPLE = {"id": 31, "name": "Mug", "type": "simple", "status": "publish", "price": "12.00",
          "date_created_gmt": "2026-11-03T10:00:00", "date_modified_gmt": "2026-11-03T10:00:00"}


@pytest.mark.parametrize(("stock", "expected"), [
    ({"manage_stock": True, "stock_quantity": 7, "stock_status": "instock"}, 7),
    ({"manage_stock": True, "stock_quantity": 0, "stock_status": "outofstock"}, 0),
    ({"manage_stock": True, "stock_quantity": -2, "stock_status": "onbackorder"}, -2),
    # not managed: the quantity is null and the status set by hand is all there is
    ({"manage_stock": False, "stock_quantity": None, "stock_status": "outofstock"}, 0),
    ({"manage_stock": False, "stock_quantity": None, "stock_status": "instock"}, None),
    ({"manage_stock": False, "stock_quantity": None, "stock_status": "onbackorder"}, None),
    ({}, None),
])
def test_a_simple_product_s_variant_is_out_of_stock_when_marked_so_by_hand(stock, expected):
    record = mapping.product({**SIMPLE, **stock})
    assert [v.inventory_quantity for v in record.variants] == [expected]


def test_a_variation_marked_out_of_stock_by_hand_has_no_stock():
    variable = {**SIMPLE, "type": "variable", "manage_stock": False, "stock_quantity": None,
                "stock_status": "instock"}
    variations = [
        {"id": 41, "type": "variation", "price": "12.00", "attributes": [{"name": "Colour", "option": "Red"}],
         "manage_stock": False, "stock_quantity": None, "stock_status": "outofstock"},
        {"id": 42, "type": "variation", "price": "12.00", "attributes": [{"name": "Colour", "option": "Blue"}],
         "manage_stock": False, "stock_quantity": None, "stock_status": "instock"},
        {"id": 43, "type": "variation", "price": "12.00", "attributes": [{"name": "Colour", "option": "Green"}],
         "manage_stock": "parent", "stock_quantity": 3, "stock_status": "instock"},
    ]
    record = mapping.product(variable, variations)
    assert [(v.external_id, v.title, v.inventory_quantity) for v in record.variants] == [
        ("41", "Red", 0), ("42", "Blue", None), ("43", "Green", 3)]
