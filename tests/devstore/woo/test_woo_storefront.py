"""Storefront pages with the plugin: widget config, customer token, coupon links, cart."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

SETTINGS = {"comeback_app_url": "https://app.example/", "comeback_store_id": "17",
            "comeback_shared_secret": "s3cret"}
LOGIN = "wordpress_logged_in_devstore"
CART = "wp_woocommerce_session_devstore"
NOTICES = "devstore_wc_notices"


def _client(woo):
    """A plain-HTTP client that keeps no cookies: tests send them as headers."""
    return httpx.Client(base_url=woo.http_base, trust_env=False, timeout=30,
                        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])))


def _get(woo, path="/", cookies=None, **params):
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    with _client(woo) as client:
        return client.get(f"/woo/{woo.handle}{path}", params=params, headers=headers)


def _page(woo, path="/", cookies=None, **params):
    response = _get(woo, path, cookies, **params)
    assert response.status_code == 200, response.text
    return response.text


def _config(html):
    match = re.search(r'<script id="comeback-config" type="application/json">(.*?)</script>',
                      html)
    return json.loads(match.group(1)) if match else None


def _cookie(response, name):
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {name} cookie")


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _links(home):
    return {"join": f"{home}/my-account/", "signIn": f"{home}/my-account/",
            "cart": f"{home}/cart/", "applyCode": f"{home}/?comeback_apply_coupon={{code}}"}


def test_no_widget_without_plugin_and_settings(woo):
    assert _config(_page(woo)) is None
    woo.ctl("POST", "", {"plugin_installed": True})
    assert _config(_page(woo)) is None


def test_guest_config_in_the_platform_neutral_format(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    guest = _page(woo)
    assert _config(guest) == {
        "api": "https://app.example/proxy", "headers": {"X-Comeback-Store": "17"},
        "signedIn": False, "locale": "en-US", "currency": "EUR", "rate": None,
        "links": _links(woo.store_https_url)}
    assert guest.index('<script src="https://app.example/widget/comeback.js" async></script>') \
        < guest.index("</body>")


def test_logged_in_config_carries_the_customer_token(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    customer = woo.ctl("POST", "/customers", {"email": "Ada@Example.com"}, 201)
    config = _config(_page(woo, customer=customer["id"]))
    assert config["signedIn"] is True
    assert set(config["headers"]) == {"X-Comeback-Store", "X-Comeback-Customer"}
    token = config["headers"]["X-Comeback-Customer"]
    payload, mac = token.split(".")
    fields = _unb64(payload).decode().split("|")
    assert fields[:4] == ["v1", "17", str(customer["id"]), "ada@example.com"]
    assert abs(int(fields[4]) - (int(time.time()) + 900)) <= 2
    expected = hmac.new(b"s3cret", _unb64(payload), hashlib.sha256).digest()
    assert _unb64(mac) == expected and "=" not in token


def test_the_login_sticks_with_a_signed_cookie_and_logout_ends_it(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    customer = woo.ctl("POST", "/customers", {"email": "ada@example.com", "first_name": "Ada"},
                       201)
    first = _get(woo, customer=customer["id"])
    header = next(h for h in first.headers.get_list("set-cookie") if h.startswith(LOGIN))
    assert "HttpOnly" in header and "SameSite=Lax" in header and f"Path=/woo/{woo.handle}/" \
        in header
    login = {LOGIN: _cookie(first, LOGIN)}
    for path in ("/", "/cart/", "/my-account/"):
        assert _config(_page(woo, path, login))["signedIn"] is True, path
    assert "Hello <strong>Ada</strong>" in _page(woo, "/my-account/", login)
    logout = _get(woo, "/my-account/customer-logout/", login)
    assert logout.status_code == 302
    assert logout.headers["location"] == f"{woo.store_https_url}/my-account/"
    assert logout.headers["set-cookie"].startswith(f"{LOGIN}=;")
    assert 'class="woocommerce-form-login"' in _page(woo, "/my-account/")


def test_a_forged_login_cookie_is_a_guest(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    ada = woo.ctl("POST", "/customers", {"email": "ada@example.com"}, 201)
    bob = woo.ctl("POST", "/customers", {"email": "bob@example.com"}, 201)
    cookie = _cookie(_get(woo, customer=ada["id"]), LOGIN)
    payload, mac = cookie.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(
        {"store": woo.handle, "v": bob["id"]}, separators=(",", ":")).encode()).rstrip(b"=")
    for bad in (f"{forged.decode()}.{mac}", f"{payload}.x", "junk"):
        config = _config(_page(woo, cookies={LOGIN: bad}))
        assert config["signedIn"] is False and "X-Comeback-Customer" not in config["headers"]


def test_apply_coupon_link_applies_it_and_redirects_to_the_cart(woo, key):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    created = woo.rest("POST", "/coupons", key, json={"code": "Welcome10", "amount": "10"})
    assert created.status_code == 201, created.text
    applied = _get(woo, comeback_apply_coupon="WELCOME10")
    assert (applied.status_code, applied.headers["location"]) == (
        302, f"{woo.store_https_url}/cart/")
    cookies = {CART: _cookie(applied, CART), NOTICES: _cookie(applied, NOTICES)}
    cart = _page(woo, "/cart/", cookies)
    assert '<p class="cart-discount" data-code="welcome10" data-valid="true">' in cart
    assert '<div class="woocommerce-message" role="alert">Coupon code applied successfully.' \
        in cart
    assert _config(cart) is not None
    # The notice is shown once; the coupon stays in the cart.
    again = _page(woo, "/cart/", {CART: cookies[CART]})
    assert "woocommerce-message" not in again and 'data-code="welcome10"' in again
    # A coupon trashed later is shown as no longer valid.
    assert woo.rest("DELETE", f"/coupons/{created.json()['id']}", key).status_code == 200
    assert 'data-code="welcome10" data-valid="false"' in _page(woo, "/cart/",
                                                               {CART: cookies[CART]})


def test_an_unknown_or_trashed_coupon_is_not_applied(woo, key):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    trashed = woo.rest("POST", "/coupons", key, json={"code": "old"}).json()
    assert woo.rest("DELETE", f"/coupons/{trashed['id']}", key).status_code == 200
    for code, shown in (("Nope<b>", "nope&lt;b&gt;"), ("OLD", "old")):
        response = _get(woo, comeback_apply_coupon=code)
        assert (response.status_code, response.headers["location"]) == (
            302, f"{woo.store_https_url}/cart/")
        cart = _page(woo, "/cart/", {CART: _cookie(response, CART),
                                     NOTICES: _cookie(response, NOTICES)})
        assert (f'<ul class="woocommerce-error" role="alert"><li>Coupon &quot;{shown}&quot; '
                f'does not exist!</li></ul>') in cart
        assert 'class="cart-discount"' not in cart


def test_without_the_plugin_the_parameter_is_ignored(woo, key):
    woo.rest("POST", "/coupons", key, json={"code": "welcome10"})
    response = _get(woo, comeback_apply_coupon="welcome10")
    assert response.status_code == 200 and CART not in response.headers.get("set-cookie", "")


def test_store_locale_and_a_home_url_with_a_query(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS, "locale": "de_DE",
                         "home_url": "https://shop.example/?lang=de"})
    page = _page(woo)
    config = _config(page)
    assert config["locale"] == "de-DE" and '<html lang="de-DE">' in page
    assert config["links"] == {
        "join": "https://shop.example/my-account/?lang=de",
        "signIn": "https://shop.example/my-account/?lang=de",
        "cart": "https://shop.example/cart/?lang=de",
        "applyCode": "https://shop.example/?lang=de&comeback_apply_coupon={code}"}
    assert woo.control("POST", f"/stores/{woo.handle}", {"locale": "de DE"}).status_code == 400
    assert woo.ctl("GET", "")["locale"] == "de_DE"


def test_config_cannot_close_the_script_element(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": {
        **SETTINGS, "comeback_store_id": "</script><b>'&\""}})
    page = _page(woo)
    raw = re.search(r'type="application/json">(.*?)</script>', page).group(1)
    assert "<" not in raw and "&" not in raw and "'" not in raw
    assert '"X-Comeback-Store":"\\u003C/script\\u003E\\u003Cb\\u003E\\u0027\\u0026\\u0022"' in raw
    assert _config(page)["headers"]["X-Comeback-Store"] == "</script><b>'&\""


def test_a_login_cookie_of_another_store_is_a_guest(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    customer = woo.ctl("POST", "/customers", {"email": "ada@example.com"}, 201)
    cookie = _cookie(_get(woo, customer=customer["id"]), LOGIN)
    assert woo.control("POST", "/stores", {"handle": "other"}).status_code == 201
    assert woo.control("POST", "/stores/other", {"plugin_installed": True,
                                                 "settings": SETTINGS}).status_code == 200
    woo.control("POST", "/stores/other/customers", {"email": "ada@example.com"})
    with _client(woo) as client:
        page = client.get("/woo/other/", headers={"Cookie": f"{LOGIN}={cookie}"})
    assert _config(page.text)["signedIn"] is False
