"""Product images and categories, and completion times, in the WooCommerce dialect."""

from __future__ import annotations

from devstore.images import png


def test_a_product_has_its_categories_and_a_served_image(woo, key):
    made = woo.ctl("POST", "/products", {"name": "Linen Apron", "regular_price": "24.00",
                                         "categories": ["Kitchen", "Aprons", "Kitchen"]}, 201)
    (image,) = made["images"]
    assert [c["name"] for c in made["categories"]] == ["Kitchen", "Aprons"]
    assert image["src"] == (f"{woo.store_https_url}/wp-content/uploads/{image['date_created_gmt'][:4]}/"
                            f"{image['date_created_gmt'][5:7]}/linen-apron-{image['id']}.png")
    assert (image["name"], image["alt"]) == (f"linen-apron-{image['id']}", "Linen Apron")
    assert woo.rest("GET", f"/products/{made['id']}", key).json()["images"] == [image]
    # the image answers on both listeners, as a real PNG
    path = image["src"].removeprefix(woo.https_base)
    for tls in (False, True):
        with woo.client(tls=tls) as client:
            response = client.get(path)
        assert (response.status_code, response.headers["content-type"]) == (200, "image/png")
        assert response.content == png(f"shop/{image['id']}")
    # an image removed is gone; a product with no category is Uncategorized
    changed = woo.ctl("PATCH", f"/products/{made['id']}", {"image": None, "categories": []})
    assert (changed["images"], [c["name"] for c in changed["categories"]]) == ([], ["Uncategorized"])
    with woo.client() as client:
        assert client.get(path).status_code == 404
        assert client.get(path.replace(f"-{image['id']}.png", "-999.png")).status_code == 404
    renewed = woo.ctl("PATCH", f"/products/{made['id']}", {"image": True})
    assert renewed["images"][0]["id"] != image["id"]


def test_bad_categories_or_image_are_refused(woo):
    response = woo.control("POST", "/stores/shop/products", {"name": "X", "categories": "Kitchen"})
    assert response.status_code == 400
    response = woo.control("POST", "/stores/shop/products", {"name": "X", "image": "x.png"})
    assert response.status_code == 400


def test_generated_products_have_images_and_the_generated_category(seeded, key):
    products = seeded.rest("GET", "/products", key, {"per_page": 100}).json()
    assert len(products) == 8
    assert all(len(p["images"]) == 1 and p["images"][0]["src"].endswith(".png") for p in products)
    assert all(len(p["categories"]) == 1 for p in products)


def test_date_completed_is_set_on_completion_and_kept(woo, key):
    order = woo.ctl("POST", "/orders", {"email": "ana@example.com"}, 201)
    assert order["date_completed_gmt"] is None
    completed = woo.ctl("PATCH", f"/orders/{order['id']}", {"status": "completed"})
    assert completed["date_completed_gmt"] is not None
    back = woo.ctl("PATCH", f"/orders/{order['id']}", {"status": "processing"})
    assert back["date_completed_gmt"] == completed["date_completed_gmt"]
    woo.ctl("POST", f"/orders/{order['id']}/refund", {}, 201)
    refunded = woo.rest("GET", f"/orders/{order['id']}", key).json()
    assert (refunded["status"], refunded["date_completed_gmt"]) == ("refunded", completed["date_completed_gmt"])
