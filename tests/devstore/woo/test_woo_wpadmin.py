"""The plugin's wp-admin screen (WooCommerce → Comeback) and its "Open Comeback" action.

The link devstore mints is checked with the app's own verifier (``plugin_signing``): the two are
written separately, so a misreading of the format in either fails here.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from connectors.base import InvalidSignatureError
from connectors.woocommerce.plugin_signing import verify_admin_link

SECRET = "kq3V9w0Xb2YpZr7sT1uN5mA8cD4eF6gH0jK2lM9nP3Q"
SETTINGS = {"comeback_app_url": "https://app.example/", "comeback_store_id": "17",
            "comeback_shared_secret": SECRET}
PAGE = "/wp-admin/admin.php?page=comeback"
ACTION = "/wp-admin/admin-post.php?action=comeback_open"


def _connect(woo, **flags):
    return woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS, **flags})


def _get(woo, path):
    with woo.client() as client:
        return client.get(f"/woo/{woo.handle}{path}")


def _post(woo, path, form):
    with woo.client() as client:
        return client.post(f"/woo/{woo.handle}{path}", data=form)


def _nonce(html):
    return re.search(r'name="_wpnonce" value="([0-9a-f]{10})"', html).group(1)


def _open(woo):
    page = _get(woo, PAGE)
    assert page.status_code == 200, page.text
    return _post(woo, ACTION, {"_wpnonce": _nonce(page.text)})


def _params(location):
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example", "/admin/enter")
    query = parse_qs(parts.query, keep_blank_values=True)
    assert all(len(values) == 1 for values in query.values())
    return {key: values[0] for key, values in query.items()}


def test_the_connected_screen_offers_open_comeback(woo):
    # given a store whose plugin holds the three settings
    _connect(woo)
    # when the administrator opens WooCommerce → Comeback
    response = _get(woo, PAGE)
    # then the screen shows the connection and a form posting to the plugin's action
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    html = response.text
    assert "<title>Comeback ‹ Café Grüße — WordPress</title>" in html
    assert "<h1>Comeback</h1>" in html
    assert '<p class="comeback-status" data-connected="true">Connected.</p>' in html
    assert (f'<form id="comeback-open" method="post" action="/woo/{woo.handle}/wp-admin/admin-post.php'
            '?action=comeback_open">') in html
    assert '<button type="submit" class="button button-primary">Open Comeback</button>' in html
    assert SECRET not in html
    assert '<td id="comeback_shared_secret">Saved</td>' in html
    assert '<td id="comeback_store_id">17</td>' in html


def test_open_comeback_redirects_to_a_link_the_app_accepts(woo):
    # given a connected German store
    _connect(woo, locale="de_DE")
    before = int(time.time())
    # when the administrator clicks "Open Comeback"
    response = _open(woo)
    after = int(time.time())
    # then devstore redirects to the app's admin entry, signed for the store's administrator
    assert response.status_code == 302, response.text
    params = _params(response.headers["location"])
    assert list(params) == ["store", "email", "expires", "signature", "locale"]
    assert params["store"] == "17"
    assert params["email"] == f"admin@{woo.handle}.example"
    assert params["locale"] == "de_DE"
    assert before + 60 <= int(params["expires"]) <= after + 60
    assert verify_admin_link(SECRET, "17", params["email"], params["expires"], params["signature"],
                             now=time.time()) == f"admin@{woo.handle}.example"
    # and the app refuses it for another store, and once it has expired
    with pytest.raises(InvalidSignatureError, match="^admin link signature is invalid$"):
        verify_admin_link(SECRET, "18", params["email"], params["expires"], params["signature"], now=time.time())
    with pytest.raises(InvalidSignatureError, match="^admin link has expired"):
        verify_admin_link(SECRET, "17", params["email"], params["expires"], params["signature"],
                          now=int(params["expires"]))


def test_the_admin_email_knob_names_the_user_and_is_normalised(woo):
    # given an administrator whose address was typed with capitals and a space
    summary = _connect(woo, admin_email=" Owner@Shop.Example")
    assert summary["admin_email"] == " Owner@Shop.Example"
    # when they open Comeback
    params = _params(_open(woo).headers["location"])
    # then the link names the normalised address, and the app accepts it
    assert params["email"] == "owner@shop.example"
    assert params["locale"] == "en_US"
    assert verify_admin_link(SECRET, "17", params["email"], params["expires"], params["signature"],
                             now=time.time()) == "owner@shop.example"


@pytest.mark.parametrize("form", [{}, {"_wpnonce": "0123456789"}])
def test_open_comeback_without_the_nonce_is_refused(woo, form):
    _connect(woo)
    response = _post(woo, ACTION, form)
    assert response.status_code == 403
    assert "location" not in response.headers
    assert '<div class="wp-die-message">The link you followed has expired.</div>' in response.text


def test_open_comeback_without_a_usable_address_is_refused(woo):
    _connect(woo, admin_email="")
    response = _open(woo)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Your WordPress account has no usable e-mail address." in response.text


def test_an_unconnected_store_offers_connect_and_refuses_open(woo):
    # given a screen opened while connected, then the shared secret removed
    _connect(woo)
    nonce = _nonce(_get(woo, PAGE).text)
    home = woo.ctl("POST", "", {"settings": {"comeback_shared_secret": ""}})["home_url"]
    # then the screen offers "Connect to Comeback" and no "Open Comeback"
    html = _get(woo, PAGE).text
    assert '<p class="comeback-status" data-connected="false">Not connected yet.</p>' in html
    assert home == f"{woo.https_base}/woo/{woo.handle}"
    assert f'href="https://app.example/auth/woocommerce/install?store={quote(home, safe="")}"' in html
    assert "Saved" not in html
    assert "Open Comeback" not in html
    # and the action refuses, even with a good nonce
    response = _post(woo, ACTION, {"_wpnonce": nonce})
    assert response.status_code == 409
    assert "location" not in response.headers
    assert "This store is not connected to Comeback yet" in response.text


def test_without_the_plugin_there_is_no_screen_and_no_action(woo):
    response = _get(woo, PAGE)
    assert response.status_code == 403
    assert "Sorry, you are not allowed to access this page." in response.text
    assert _post(woo, ACTION, {}).status_code == 400


def test_other_admin_pages_and_actions_are_not_emulated(woo):
    _connect(woo)
    assert _get(woo, "/wp-admin/admin.php?page=wc-settings").status_code == 403
    nonce = _nonce(_get(woo, PAGE).text)
    response = _post(woo, "/wp-admin/admin-post.php?action=something_else", {"_wpnonce": nonce})
    assert response.status_code == 400
    assert "location" not in response.headers
