"""The Shopify storefront: the widget's app embed rendered from the real extension, sign-in,
discount links and the cart."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from devstore.storefront.themes import shopify_json
from tests.devstore.dshelpers import CLIENT_ID, CLIENT_SECRET, SHOP, gql, install
from tests.devstore.storefront_helpers import activate, config_of, cookie_from, register_app, storefront

SESSION = "_devstore_customer"
LOADER = '<script src="/apps/comeback/widget/comeback.js" async></script>'
DISCOUNT_CREATE = """
mutation($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id } userErrors { field message code } } }"""


@pytest.fixture
def widget(http: httpx.Client) -> httpx.Client:
    """The app registered with the widget extension, installed, its embed switched on."""
    assert register_app(http, "https://app.example/proxy").status_code == 200
    install(http)
    response = activate(http)
    assert response.status_code == 201, response.text
    assert response.json() == {"client_id": CLIENT_ID, "block": "app-embed", "enabled": True,
                               "settings": {}}
    return http


@pytest.fixture
def shopper(server: Any) -> Iterator[httpx.Client]:
    """A storefront client on SHOP."""
    with storefront(server.url) as client:
        yield client


def _customer(http: httpx.Client, email: str, shop: str = SHOP) -> dict[str, Any]:
    response = http.post(f"/_devstore/shops/{shop}/orders", json={"email": email})
    assert response.status_code == 201, response.text
    return response.json()["customer"]


def _sign_in(shopper: httpx.Client, customer_id: int) -> str:
    response = shopper.get("/account/login", params={"customer": customer_id})
    assert (response.status_code, response.headers["location"]) == (302, "/")
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    return cookie_from(response, SESSION)


def test_a_visitor_gets_the_config_and_loader_from_the_real_embed_block(widget, shopper):
    page = shopper.get("/")
    assert page.status_code == 200
    assert config_of(page.text) == {
        "api": "/apps/comeback", "headers": {}, "signedIn": False, "locale": "en",
        "currency": "USD", "rate": None,
        "links": {"join": "/account/register", "signIn": "/account/login", "cart": "/cart",
                  "applyCode": "/discount/{code}?redirect=%2Fcart"}}
    body = page.text
    assert body.index('<script id="comeback-config"') < body.index(LOADER) < body.index("</body>")
    assert "{% schema %}" not in body and '"target": "body"' not in body
    assert '<a class="sign-in" href="/account/login">' in body


def test_a_signed_in_customer_with_the_shop_locale_and_currency(widget, shopper):
    assert widget.post("/_devstore/shops", json={"domain": SHOP, "locale": "pt-BR",
                                                 "currency": "eur"}).status_code == 200
    customer = _customer(widget, "ada@example.com")
    session = _sign_in(shopper, customer["id"])
    page = shopper.get("/", headers={"Cookie": f"{SESSION}={session}"})
    config = config_of(page.text)
    assert config == {
        "api": "/apps/comeback", "headers": {}, "signedIn": True, "locale": "pt-BR",
        "currency": "EUR", "rate": None,
        "links": {"join": "/account/register", "signIn": "/account/login", "cart": "/cart",
                  "applyCode": "/discount/{code}?redirect=%2Fcart"}}
    assert 'href="/account/logout">Sign out</a>' in page.text
    assert '<html lang="pt-BR">' in page.text
    account = shopper.get("/account", headers={"Cookie": f"{SESSION}={session}"})
    assert f'data-customer-id="{customer["id"]}"' in account.text


def test_a_forged_or_foreign_session_cookie_is_a_visitor(widget, shopper, server):
    ada = _customer(widget, "ada@example.com")
    bob = _customer(widget, "bob@example.com")
    session = _sign_in(shopper, ada["id"])
    payload, mac = session.split(".")
    forged_payload = base64.urlsafe_b64encode(f"{SHOP}|{bob['id']}".encode()).rstrip(b"=")
    for cookie in (f"{forged_payload.decode()}.{mac}", f"{payload}.AAAA", "garbage", f"{payload}."):
        page = shopper.get("/", headers={"Cookie": f"{SESSION}={cookie}"})
        assert config_of(page.text)["signedIn"] is False, cookie
    # Signed for one shop, replayed on another: a visitor there.
    assert widget.post("/_devstore/shops", json={"domain": "other-shop"}).status_code == 201
    install(widget, "other-shop.myshopify.com")
    assert activate(widget, "other-shop.myshopify.com").status_code == 201
    with storefront(server.url, "other-shop.myshopify.com") as other:
        page = other.get("/", headers={"Cookie": f"{SESSION}={session}"})
        assert config_of(page.text)["signedIn"] is False


def test_sign_in_form_logout_and_unknown_customer(widget, shopper):
    customer = _customer(widget, "ada@example.com")
    form = shopper.get("/account/login")
    assert form.status_code == 200 and 'name="customer_id"' in form.text
    assert "ada@example.com" not in form.text
    refused = shopper.post("/account/login", data={"customer_id": "12345"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    assert shopper.get("/account/login", params={"customer": "nobody@example.com"}
                       ).status_code == 401
    by_email = shopper.post("/account/login", data={"customer_id": "ADA@example.com",
                                                    "return_to": "//evil.example/"})
    assert (by_email.status_code, by_email.headers["location"]) == (302, "/")
    session = cookie_from(by_email, SESSION)
    to_cart = shopper.post("/account/login", data={"customer_id": str(customer["id"]),
                                                   "return_to": "/cart"})
    assert to_cart.headers["location"] == "/cart"
    logout = shopper.get("/account/logout", headers={"Cookie": f"{SESSION}={session}"})
    assert logout.status_code == 302
    assert logout.headers["set-cookie"].startswith(f"{SESSION}=;")
    assert "Max-Age=0" in logout.headers["set-cookie"]
    assert shopper.get("/account").headers["location"] == "/account/login"


def test_discount_link_sets_the_cookie_and_the_cart_checks_the_code(widget, shopper, token):
    created = gql(widget, token, DISCOUNT_CREATE, {"input": {
        "title": "Reward", "code": "WELCOME10", "startsAt": "2026-01-01T00:00:00Z",
        "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}}}}).json()
    assert created["data"]["discountCodeBasicCreate"]["userErrors"] == []
    applied = shopper.get("/discount/welcome10", params={"redirect": "/cart"})
    assert (applied.status_code, applied.headers["location"]) == (302, "/cart")
    code = cookie_from(applied, "discount_code")
    assert code == "welcome10"
    cart = shopper.get("/cart", headers={"Cookie": f"discount_code={code}"})
    assert '<p class="cart-discount" data-code="welcome10" data-valid="true">' in cart.text
    assert config_of(cart.text) is not None  # the embed shows on the cart by default
    unknown = shopper.get("/cart", headers={"Cookie": "discount_code=NOPE"})
    assert '<p class="cart-discount" data-code="NOPE" data-valid="false">' in unknown.text
    assert 'class="cart-discount"' not in shopper.get("/cart").text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "cart",
                                    "/\\evil.example", ""])
def test_discount_redirect_stays_on_the_shop(widget, shopper, target):
    response = shopper.get("/discount/SAVE", params={"redirect": target})
    assert (response.status_code, response.headers["location"]) == (302, "/")


def test_a_disabled_embed_or_an_uninstalled_app_renders_no_widget(widget, shopper):
    assert activate(widget, enabled=False).status_code == 200
    page = shopper.get("/").text
    assert config_of(page) is None and "comeback.js" not in page
    assert activate(widget).status_code == 200
    assert config_of(shopper.get("/").text) is not None
    assert widget.post(f"/_devstore/shops/{SHOP}/uninstall",
                       json={"client_id": CLIENT_ID}).status_code == 200
    assert config_of(shopper.get("/").text) is None
    listed = widget.get(f"/_devstore/shops/{SHOP}/app-embeds").json()
    assert listed == [{"client_id": CLIENT_ID, "block": "app-embed", "enabled": True,
                       "settings": {}}]


def test_block_settings_hide_the_widget_on_the_cart_and_from_visitors(widget, shopper):
    assert activate(widget, settings={"show_on_cart": False}).status_code == 200
    assert config_of(shopper.get("/cart").text) is None
    assert config_of(shopper.get("/").text) is not None
    assert activate(widget, settings={"show_to_visitors": False}).status_code == 200
    assert config_of(shopper.get("/").text) is None
    session = _sign_in(shopper, _customer(widget, "ada@example.com")["id"])
    assert config_of(shopper.get("/", headers={"Cookie": f"{SESSION}={session}"}).text)[
        "signedIn"] is True


def test_app_embed_control_refuses_bad_input(widget, http):
    assert activate(http, client_id="nope").status_code == 404
    assert activate(http, block="missing").status_code == 404
    assert activate(http, block="../blocks/app-embed").status_code == 404
    assert activate(http, enabled="yes").status_code == 400
    assert activate(http, settings={"colour": "red"}).status_code == 400
    assert activate(http, settings=["show_on_cart"]).status_code == 400
    assert activate(http, "unknown-shop.myshopify.com").status_code == 404
    assert http.post(f"/_devstore/shops/{SHOP}/app-embeds").status_code == 400
    assert http.post("/_devstore/shops", json={"domain": SHOP, "locale": "en US"}
                     ).status_code == 400
    # Another shop lists none of SHOP's embeds.
    assert http.post("/_devstore/shops", json={"domain": "other-shop"}).status_code == 201
    assert http.get("/_devstore/shops/other-shop.myshopify.com/app-embeds").json() == []


def test_json_filter_output_cannot_close_the_script_element(http, shopper, tmp_path: Path):
    extension = tmp_path / "ext"
    (extension / "blocks").mkdir(parents=True)
    (extension / "shopify.extension.toml").write_text('name = "t"\ntype = "theme"\n')
    (extension / "blocks" / "probe.liquid").write_text(
        '<script type="application/json" id="probe">{{ shop.name | json }}</script>'
        '{% schema %}{"name": "Probe", "target": "body", "settings": []}{% endschema %}')
    assert http.post("/_devstore/apps", json={"client_id": CLIENT_ID,
                                              "client_secret": CLIENT_SECRET,
                                              "extensions": [str(extension)]}).status_code == 200
    install(http)
    assert activate(http, block="probe").status_code == 201
    assert http.post("/_devstore/shops", json={"domain": SHOP,
                                               "name": "</script><b>Tom & Jerry's\u2028"}
                     ).status_code == 200
    page = shopper.get("/").text
    probe = page[page.index('id="probe">') + 11:page.index("</script>", page.index('id="probe"'))]
    assert probe == '"\\u003c/script\\u003e\\u003cb\\u003eTom \\u0026 Jerry\'s\\u2028"'
    assert json.loads(probe) == "</script><b>Tom & Jerry's\u2028"
    assert shopify_json({"a": [1, None, True], "b": "é"}) == '{"a":[1,null,true],"b":"é"}'


def test_an_app_block_is_not_an_embed(http, tmp_path: Path):
    extension = tmp_path / "ext"
    (extension / "blocks").mkdir(parents=True)
    (extension / "shopify.extension.toml").write_text('type = "theme"\n')
    (extension / "blocks" / "stars.liquid").write_text(
        '{% schema %}{"name": "Stars", "target": "section"}{% endschema %}')
    http.post("/_devstore/apps", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                       "extensions": [str(extension)]})
    assert activate(http, block="stars").status_code == 400


def test_home_lists_products_and_a_foreign_host_is_404(http, shopper):
    created = http.post(f"/_devstore/shops/{SHOP}/products", json={
        "title": "Linen <Shirt>", "variants": [{"title": "M", "price": "39.50"},
                                              {"title": "L", "price": "42.00"}]})
    assert created.status_code == 201, created.text
    page = shopper.get("/").text
    assert '<span class="title">Linen &lt;Shirt&gt;</span> <span class="price">39.50 USD</span>' \
        in page
    assert config_of(page) is None  # no app embed switched on
    assert http.get("/").status_code == 404
    with storefront(str(http.base_url), "nowhere.myshopify.com") as nowhere:
        assert nowhere.get("/").status_code == 404


def test_the_shop_answers_on_its_localhost_alias_and_nowhere_else(widget, server):
    # <shop>.localhost resolves to the loopback address in browsers: the demo's storefront address
    with storefront(server.url, f"{SHOP}.localhost") as alias, storefront(server.url) as own:
        page, same = alias.get("/"), own.get("/")
        assert page.status_code == 200 and LOADER in page.text
        assert config_of(page.text) == config_of(same.text)
    with storefront(server.url, "other.localhost") as stranger:
        assert stranger.get("/").status_code == 404
