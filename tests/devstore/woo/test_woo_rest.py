"""REST v3 collections: pagination, date filters, refunds, coupons, settings, faults."""

from __future__ import annotations


def _error(response):
    body = response.json()
    return response.status_code, body["code"], body["message"]


def test_generated_data_maps_onto_woocommerce(seeded, key):
    stats = seeded.ctl("GET", "/stats")
    assert stats["orders"] == 60 + stats["orders_checkout-draft"]
    assert stats["customers"] == 30 and stats["products"] == 8
    page = seeded.rest("GET", "/orders", key, {"per_page": 100}).json()
    assert len(page) == 60
    assert {o["status"] for o in page} <= {"processing", "completed", "refunded", "cancelled"}
    assert all(1 <= o["customer_id"] < 100 and o["number"] == str(o["id"]) for o in page)
    drafts = seeded.rest("GET", "/orders", key, {"status": "checkout-draft"})
    assert int(drafts.headers["X-WP-Total"]) == stats["orders_checkout-draft"] > 0
    both = seeded.rest("GET", "/orders", key, {"status": "checkout-draft,completed"})
    assert int(both.headers["X-WP-Total"]) == stats["orders_checkout-draft"] + stats[
        "orders_completed"]
    customers = seeded.rest("GET", "/customers", key, {"per_page": 100, "orderby": "id",
                                                       "order": "asc"}).json()
    assert [c["id"] for c in customers] == list(range(2, 32))
    assert customers[0]["role"] == "customer" and customers[0]["billing"]["email"]


def test_pagination_headers_and_limits(seeded, key):
    response = seeded.rest("GET", "/orders", key, {"per_page": 25, "page": 2})
    assert response.headers["X-WP-Total"] == "60"
    assert response.headers["X-WP-TotalPages"] == "3"
    base = f"{seeded.store_https_url}/wp-json/wc/v3/orders"
    assert response.headers["Link"] == (f'<{base}?per_page=25&page=1>; rel="prev", '
                                        f'<{base}?per_page=25&page=3>; rel="next"')
    dates = [o["date_created_gmt"] for o in response.json()]
    assert len(dates) == 25 and dates == sorted(dates, reverse=True)
    past = seeded.rest("GET", "/orders", key, {"per_page": 25, "page": 9})
    assert past.status_code == 200 and past.json() == []
    for bad in (0, 101):
        rejected = seeded.rest("GET", "/orders", key, {"per_page": bad})
        assert _error(rejected) == (400, "rest_invalid_param", "Invalid parameter(s): per_page")
        assert rejected.json()["data"]["params"] == {
            "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}
    ascending = seeded.rest("GET", "/orders", key, {"orderby": "id", "order": "asc",
                                                    "per_page": 3}).json()
    assert [o["id"] for o in ascending] == sorted(o["id"] for o in ascending)


def test_modified_after_with_dates_are_gmt(woo, key):
    created = woo.ctl("POST", "/orders", {"email": "guest@example.com"}, 201)
    assert created["customer_id"] == 0 and created["billing"]["email"] == "guest@example.com"
    mark = created["date_modified_gmt"]
    since = {"modified_after": mark, "dates_are_gmt": "true"}
    assert woo.rest("GET", "/orders", key, since).json() == []
    # Without dates_are_gmt the same text is Berlin time, one or two hours earlier.
    assert [o["id"] for o in woo.rest("GET", "/orders", key,
                                      {"modified_after": mark}).json()] == [created["id"]]
    updated = woo.ctl("PATCH", f"/orders/{created['id']}", {"status": "completed"})
    assert updated["date_modified_gmt"] > mark
    found = woo.rest("GET", "/orders", key, since).json()
    assert [(o["id"], o["status"]) for o in found] == [(created["id"], "completed")]
    bad = woo.rest("GET", "/orders", key, {"modified_after": "yesterday"})
    assert _error(bad) == (400, "rest_invalid_param", "Invalid parameter(s): modified_after")


def test_customers_have_no_date_filter(seeded, key):
    future = {"modified_after": "2999-01-01T00:00:00", "dates_are_gmt": "true"}
    assert seeded.rest("GET", "/customers", key, future).headers["X-WP-Total"] == "30"
    assert seeded.rest("GET", "/orders", key, future).headers["X-WP-Total"] == "0"


def test_customer_meta_upsert_and_batch(seeded, key):
    first = seeded.rest("PUT", "/customers/2", key, json={
        "meta_data": [{"key": "_comeback_member", "value": "yes"}]}).json()
    [row] = first["meta_data"]
    assert row["key"] == "_comeback_member" and row["value"] == "yes"
    again = seeded.rest("PUT", "/customers/2", key, json={
        "meta_data": [{"key": "_comeback_member", "value": "no"}]}).json()
    assert again["meta_data"] == [{"id": row["id"], "key": "_comeback_member", "value": "no"}]
    batch = seeded.rest("POST", "/customers/batch", key, json={"update": [
        {"id": 3, "meta_data": [{"key": "tier", "value": "gold"}]}, {"id": 999}]}).json()
    assert batch["update"][0]["id"] == 3
    assert batch["update"][1] == {"id": 999, "error": {
        "code": "woocommerce_rest_invalid_id", "message": "Invalid resource ID.",
        "data": {"status": 404}}}
    too_many = seeded.rest("POST", "/customers/batch", key,
                           json={"update": [{"id": 2}] * 101})
    assert _error(too_many) == (413, "woocommerce_rest_request_entity_too_large",
                                "Unable to accept more than 100 items for this request.")


def test_refunds_carry_the_refunded_item_id(woo, key):
    product = woo.ctl("POST", "/products", {"name": "Café crème", "regular_price": "12.50"},
                      201)
    order = woo.ctl("POST", "/orders", {"email": "buyer@example.com", "line_items": [
        {"product_id": product["id"], "quantity": 3}]}, 201)
    [line] = order["line_items"]
    assert line["name"] == "Café crème" and line["price"] == 12.5 and line["total"] == "37.50"
    refund = woo.ctl("POST", f"/orders/{order['id']}/refund", {
        "line_items": [{"line_item_id": line["id"], "quantity": 1}], "reason": "Zu süß"}, 201)
    listed = woo.rest("GET", f"/orders/{order['id']}/refunds", key).json()
    assert [r["id"] for r in listed] == [refund["id"]]
    one = woo.rest("GET", f"/orders/{order['id']}/refunds/{refund['id']}", key).json()
    assert one["amount"] == "13.50" and one["reason"] == "Zu süß"
    [item] = one["line_items"]
    assert item["quantity"] == -1 and item["subtotal"] == "-12.50" and item["total"] == "-12.50"
    assert item["refund_total"] == 12.5
    assert [(m["key"], m["value"]) for m in item["meta_data"]] == [
        ("_refunded_item_id", str(line["id"]))]
    again = woo.rest("GET", f"/orders/{order['id']}", key).json()
    assert again["status"] == "processing"
    assert again["refunds"] == [{"id": refund["id"], "reason": "Zu süß", "total": "-13.50"}]
    woo.ctl("POST", f"/orders/{order['id']}/refund", {}, 201)
    assert woo.rest("GET", f"/orders/{order['id']}", key).json()["status"] == "refunded"
    missing = woo.rest("GET", "/orders/9999", key)
    assert _error(missing) == (404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")


def test_coupons_create_duplicate_and_batch(woo, key):
    created = woo.rest("POST", "/coupons", key, json={
        "code": "COMEBACK-10", "amount": "10", "discount_type": "percent",
        "individual_use": True, "usage_limit": 1, "email_restrictions": ["A@Example.com"],
        "date_expires_gmt": "2030-01-31T23:00:00"})
    assert created.status_code == 201
    body = created.json()
    assert (body["code"], body["amount"], body["discount_type"]) == (
        "comeback-10", "10.00", "percent")
    assert body["date_expires"] == "2030-02-01T00:00:00"
    assert body["date_expires_gmt"] == "2030-01-31T23:00:00"
    assert body["email_restrictions"] == ["a@example.com"] and body["usage_count"] == 0
    duplicate = woo.rest("POST", "/coupons", key, json={"code": "comeback-10"})
    assert _error(duplicate) == (400, "woocommerce_rest_coupon_code_already_exists",
                                 "The coupon code already exists")
    bad_type = woo.rest("POST", "/coupons", key, json={"code": "x", "discount_type": "bogus"})
    assert _error(bad_type)[:2] == (400, "rest_invalid_param")
    by_code = woo.rest("GET", "/coupons", key, {"code": "COMEBACK-10"}).json()
    assert [c["id"] for c in by_code] == [body["id"]]
    batch = woo.rest("POST", "/coupons/batch", key, json={
        "create": [{"code": f"b-{n}", "amount": "5"} for n in range(3)] + [{"code": "b-0"}],
        "delete": [body["id"]]}).json()
    assert [c.get("code") for c in batch["create"][:3]] == ["b-0", "b-1", "b-2"]
    assert batch["create"][3]["error"]["code"] == "woocommerce_rest_coupon_code_already_exists"
    assert batch["delete"][0]["id"] == body["id"]
    assert woo.rest("GET", f"/coupons/{body['id']}", key).status_code == 404
    limit = woo.rest("POST", "/coupons/batch", key,
                     json={"create": [{"code": f"c{n}"} for n in range(60)],
                           "delete": list(range(41))})
    assert limit.status_code == 413


def test_coupons_keep_product_ids_and_an_item_limit(woo, key):
    created = woo.rest("POST", "/coupons", key, json={
        "code": "free-mug", "discount_type": "percent", "amount": "100",
        "product_ids": [41, "43", 41, 0], "limit_usage_to_x_items": 1, "usage_limit": 1})
    assert created.status_code == 201
    body = created.json()
    # WooCommerce stores the ids as given (wp_parse_id_list), without looking them up.
    assert (body["product_ids"], body["limit_usage_to_x_items"], body["amount"]) == ([41, 43], 1, "100.00")
    assert woo.rest("GET", f"/coupons/{body['id']}", key).json()["product_ids"] == [41, 43]
    plain = woo.rest("POST", "/coupons", key, json={"code": "plain"}).json()
    assert (plain["product_ids"], plain["limit_usage_to_x_items"]) == ([], None)
    for bad, message in (({"product_ids": "41"}, "product_ids is not of type array."),
                         ({"product_ids": [41, "mug"]}, "product_ids[1] is not of type integer."),
                         ({"limit_usage_to_x_items": "one"}, "limit_usage_to_x_items is not of type integer.")):
        refused = woo.rest("POST", "/coupons", key, json={"code": "bad", **bad})
        assert _error(refused)[:2] == (400, "rest_invalid_param")
        assert refused.json()["data"]["params"] == {next(iter(bad)): message}
    assert sorted(c["code"] for c in woo.rest("GET", "/coupons", key).json()) == ["free-mug", "plain"]


def test_settings_group_requires_the_plugin(woo, key):
    missing = woo.rest("GET", "/settings/comeback", key)
    assert _error(missing) == (404, "rest_setting_setting_group_invalid",
                               "Invalid setting group.")
    woo.ctl("POST", "", {"plugin_installed": True})
    woo.rest("PUT", "/settings/comeback/comeback_app_url", key,
             json={"value": "https://app.example"})
    batch = woo.rest("POST", "/settings/comeback/batch", key, json={"update": [
        {"id": "comeback_store_id", "value": "17"},
        {"id": "comeback_shared_secret", "value": "s3cret"}]}).json()
    assert [s["value"] for s in batch["update"]] == ["17", "********"]
    listed = woo.rest("GET", "/settings/comeback", key).json()
    assert [(s["id"], s["value"]) for s in listed] == [
        ("comeback_app_url", "https://app.example"), ("comeback_store_id", "17"),
        ("comeback_shared_secret", "********")]
    assert woo.ctl("GET", "")["settings"]["comeback_shared_secret"] == "s3cret"
    currency = woo.rest("GET", "/settings/general/woocommerce_currency", key).json()
    assert currency["id"] == "woocommerce_currency" and currency["value"] == "EUR"


def test_faults_answer_429_with_retry_after(woo, key):
    woo.ctl("POST", "/faults", {"status": 429, "count": 2, "path_contains": "/orders",
                                "retry_after": 7}, 201)
    for _ in range(2):
        limited = woo.rest("GET", "/orders", key)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
        assert limited.json()["data"] == {"status": 429}
    assert woo.rest("GET", "/customers", key).status_code == 200
    assert woo.rest("GET", "/orders", key).status_code == 200
    woo.ctl("POST", "/faults", {"status": 503, "count": 1}, 201)
    assert woo.rest("GET", "/products", key).status_code == 503


def test_order_trash_restore_and_force_delete(woo, key):
    order = woo.ctl("POST", "/orders", {"email": "t@example.com"}, 201)
    trashed = woo.rest("DELETE", f"/orders/{order['id']}", key).json()
    assert trashed["status"] == "trash"
    assert woo.rest("GET", "/orders", key).json() == []
    assert len(woo.rest("GET", "/orders", key, {"status": "trash"}).json()) == 1
    assert woo.ctl("POST", f"/orders/{order['id']}/restore")["status"] == "processing"
    assert woo.rest("DELETE", f"/orders/{order['id']}", key, {"force": "true"}).status_code \
        == 200
    assert woo.rest("GET", f"/orders/{order['id']}", key).status_code == 404


def test_core_woocommerce_orders_have_no_gift_cards(woo, key):
    woo.ctl("POST", "/generate", {"seed": 2, "customers": 5, "products": 3, "orders": 30, "gift_card_rate": 1})
    page = woo.rest("GET", "/orders", key, {"per_page": 100}).json()
    assert page and all("gift_cards" not in o for o in page)
    refused = woo.control("POST", f"/stores/{woo.handle}/orders", {"email": "a@example.com", "gift_card": "5.00"})
    assert _error(refused) == (400, "rest_invalid_param", "Invalid parameter(s): gift_card")


def test_the_gift_cards_extension_lists_cards_and_lowers_the_total(woo, key):
    woo.ctl("POST", "", {"gift_cards_installed": True})
    assert woo.ctl("GET", "")["flags"]["gift_cards_installed"] is True
    product = woo.ctl("POST", "/products", {"name": "Tasse", "regular_price": "20.00"}, 201)
    # given 2 × 20.00 (+ 8 % tax + 5.99 shipping = 49.19), 15.00 of it paid by a gift card
    order = woo.ctl("POST", "/orders", {
        "email": "ana@example.com", "line_items": [{"product_id": product["id"], "quantity": 2}],
        "gift_card": "15.00", "shipping": {"address_1": "Hauptstraße 5", "postcode": "10115", "country": "DE"}}, 201)
    # then the order lists the card (its amount a number) and its total is what is left to pay
    [card] = order["gift_cards"]
    assert (card["amount"], len(card["code"]), card["code"].count("-")) == (15, 19, 3)
    assert order["total"] == "34.19"
    assert (order["shipping"]["address_1"], order["shipping"]["postcode"]) == ("Hauptstraße 5", "10115")
    assert woo.rest("GET", f"/orders/{order['id']}", key).json()["gift_cards"] == [card]
    # and a full refund gives back only what the card paid
    refund = woo.ctl("POST", f"/orders/{order['id']}/refund", {}, 201)
    assert refund["amount"] == "34.19"
    again = woo.rest("GET", f"/orders/{order['id']}", key).json()
    assert (again["status"], again["total_refunded"], again["gift_cards"]) == ("refunded", "34.19", [card])
    plain = woo.ctl("POST", "/orders", {"email": "bo@example.com"}, 201)
    assert plain["gift_cards"] == []
