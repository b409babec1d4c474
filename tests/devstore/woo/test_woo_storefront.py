"""The storefront page with the plugin's widget config and customer token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

SETTINGS = {"comeback_app_url": "https://app.example/", "comeback_store_id": "17",
            "comeback_shared_secret": "s3cret"}


def _page(woo, **params):
    with woo.client() as client:
        response = client.get(f"/woo/{woo.handle}/", params=params)
    assert response.status_code == 200
    return response.text


def _config(html):
    match = re.search(r'<script id="comeback-config" type="application/json">(.*?)</script>',
                      html)
    return json.loads(match.group(1)) if match else None


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_no_widget_without_plugin_and_settings(woo):
    assert _config(_page(woo)) is None
    woo.ctl("POST", "", {"plugin_installed": True})
    assert _config(_page(woo)) is None


def test_widget_config_and_customer_token(woo):
    woo.ctl("POST", "", {"plugin_installed": True, "settings": SETTINGS})
    customer = woo.ctl("POST", "/customers", {"email": "Ada@Example.com"}, 201)
    guest = _page(woo)
    assert _config(guest) == {"appUrl": "https://app.example", "storeId": "17",
                              "locale": "en_US", "currency": "EUR", "customerToken": None}
    assert guest.index('<script src="https://app.example/widget/comeback.js" async></script>') \
        < guest.index("</body>")
    token = _config(_page(woo, customer=customer["id"]))["customerToken"]
    payload, mac = token.split(".")
    fields = _unb64(payload).decode().split("|")
    assert fields[:4] == ["v1", "17", str(customer["id"]), "ada@example.com"]
    assert abs(int(fields[4]) - (int(time.time()) + 900)) <= 2
    expected = hmac.new(b"s3cret", _unb64(payload), hashlib.sha256).digest()
    assert _unb64(mac) == expected and "=" not in token
