"""Ways into the admin: the platform's frame with session tokens, the store's signed link, magic links."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import MagicLink, MerchantLogin
from app.store.types import utcnow
from app.web.pages import access
from tests.conftest import API_KEY, API_SECRET
from tests.pages.conftest import MERCHANT_EMAIL, admin_link, open_shopify, open_woo

PAGES = ["/admin", "/admin/onboarding", "/admin/loyalty", "/admin/flows", "/admin/segments", "/admin/customers",
         "/admin/settings"]


# --- inside the platform's admin frame --------------------------------------------------------


@pytest.fixture()
def embedded(app, client, devstore):
    return open_shopify(app, client, devstore, seed=3, customers=4, products=3, orders=5)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_in_the_frame_with_a_session_token(embedded, path):
    response = embedded.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{embedded.shop.domain} https://admin.shopify.com" in policy
    assert "default-src 'self'" in policy and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert f'<meta name="shopify-api-key" content="{API_KEY}">' in html
    # App Bridge is the first script, and every stylesheet comes before it (the body is never laid out unstyled)
    head = html[:html.index("</head>")]
    scripts = re.findall(r"<script[^>]*>", head)
    assert scripts[0].startswith('<script src="') and "app-bridge.js" in scripts[0] and "defer" not in scripts[0]
    assert head.rindex('rel="stylesheet"') < head.index(scripts[0])
    assert 'class="skin-polaris"' in html and 'data-embedded="true"' in html
    # no cookie is needed or set inside the frame
    assert "Set-Cookie" not in response.headers
    # the navigation is App Bridge's, and our links keep the frame parameters (never the token)
    assert "<ui-nav-menu>" in html
    links = re.findall(r'href="(/admin[^"]*)"', html)
    assert links and all(f"shop={embedded.shop.domain}" in href and "id_token" not in href for href in links
                         if not href.startswith("/admin/static"))


def test_a_deep_link_without_a_token_bounces_to_app_bridge(embedded):
    response = embedded.client.get("/admin/customers", query_string={"shop": embedded.shop.domain, "host": "abc"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "bounce.js" in html
    # outside the frame the bounce page sends the browser to the admin address that embeds this path
    assert re.search(rf'data-embed-url="http://{re.escape(embedded.shop.domain)}:\d+/admin/apps/{API_KEY}/customers"', html)


def test_an_expired_token_bounces_and_a_forged_one_is_refused(embedded):
    now = int(utcnow().timestamp())
    claims = {"iss": f"https://{embedded.shop.domain}/admin", "dest": f"https://{embedded.shop.domain}",
              "aud": API_KEY, "sub": "1", "exp": now - 120, "nbf": now - 200, "iat": now - 200, "jti": "j", "sid": "s"}
    expired = jwt.encode(claims, API_SECRET, algorithm="HS256")
    reloaded = embedded.client.get("/admin/flows", query_string={"shop": embedded.shop.domain, "id_token": expired})
    assert reloaded.status_code == 200 and "bounce.js" in reloaded.get_data(as_text=True)
    forged = jwt.encode({**claims, "exp": now + 60}, "someone-elses-secret-long-enough-for-hs256", algorithm="HS256")
    refused = embedded.client.get("/admin/flows", query_string={"shop": embedded.shop.domain, "id_token": forged})
    assert refused.status_code == 401 and "Reload the page" in refused.get_data(as_text=True)


def test_the_admin_speaks_the_merchants_language(embedded):
    assert ">Kunden<" in embedded.html("/admin/settings", locale="de-DE")
    assert ">Clients<" in embedded.html("/admin/settings", locale="fr")
    assert ">Customers<" in embedded.html("/admin/settings", locale="ja")


def test_static_files_are_versioned_and_cached_for_a_year(embedded):
    html = embedded.html("/admin/settings")
    css = re.search(r'href="(/admin/static/admin\.css\?v=[0-9a-f]{12})"', html).group(1)
    response = embedded.client.get(css)
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]


# --- the store's signed link and the first-party session ---------------------------------------


@pytest.fixture()
def woo(app, client, devstore, live_app):
    return open_woo(app, client, devstore, seed=3, customers=4, products=3, orders=5)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_in_the_first_party_session(woo, path):
    response = woo.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="skin-neutral"' in html and "shopify-api-key" not in html
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_signed_link_starts_a_session_and_records_the_merchant(woo, app):
    browser = app.test_client()
    entered = browser.get("/admin/enter", query_string={**admin_link(woo.shop, "Boss@Example.com "),
                                                        "next": "/admin/customers", "locale": "de_DE"})
    assert entered.status_code == 303 and entered.headers["Location"] == "/admin/customers"
    cookie = entered.headers["Set-Cookie"]
    assert "comeback_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ">Kunden<" in browser.get("/admin/customers").get_data(as_text=True)
    logins = db.session().execute(select(MerchantLogin.email).where(MerchantLogin.shop_id == woo.shop_id)).scalars()
    assert set(logins) == {MERCHANT_EMAIL, "boss@example.com"}
    # a next that leaves the admin is ignored
    again = app.test_client().get("/admin/enter", query_string={**admin_link(woo.shop), "next": "https://evil.test/"})
    assert again.headers["Location"] == "/admin/onboarding"  # a new shop starts there


@pytest.mark.parametrize("change, message", [
    ({"signature": "AAAA"}, "signature is invalid"),
    ({"expires": "1"}, None),  # re-signed below with an old expiry
    ({"email": "not-an-address"}, "email is malformed"),
    ({"store": "999999999"}, "cannot open a connected store"),
    ({"store": "abc"}, "names no store"),
    ({"store": "²"}, "names no store"),
    ({"store": "9" * 40}, "names no store"),
])
def test_bad_signed_links_are_refused_with_a_reason(woo, app, change, message):
    query = admin_link(woo.shop)
    if "expires" in change:
        query = admin_link(woo.shop, expires=int(time.time()) - 5)
        message = "has expired"
    else:
        query.update(change)
    response = app.test_client().get("/admin/enter", query_string=query)
    text = response.get_data(as_text=True)
    assert response.status_code == 403 and message in text, text
    assert "Set-Cookie" not in response.headers


def test_a_link_that_claims_to_live_long_or_uses_another_secret_is_refused(woo, app):
    far = app.test_client().get("/admin/enter", query_string=admin_link(woo.shop, expires=int(time.time()) + 3600))
    assert far.status_code == 403 and "too far in the future" in far.get_data(as_text=True)
    other = app.test_client().get("/admin/enter", query_string=admin_link(woo.shop, secret="not-the-shared-secret"))
    assert other.status_code == 403 and "signature is invalid" in other.get_data(as_text=True)


def test_without_a_session_pages_send_to_sign_in_and_apis_say_401(app):
    browser = app.test_client()
    response = browser.get("/admin/customers")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/sign-in?next=/admin/customers"
    assert browser.get("/api/admin/shop").status_code == 401


def test_api_writes_of_a_cookie_session_need_its_csrf_token(woo):
    no_token = woo.client.put("/api/admin/messaging/settings", json={"sender_name": "X"})
    assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.get_json()["error"]
    assert woo.client.get("/api/admin/shop").get_json()["domain"] == woo.shop.domain  # reads need none
    assert woo.api("GET", "/api/admin/shop").status_code == 200


def test_signing_out_ends_the_session(woo):
    page = woo.html("/admin/settings")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert woo.client.post("/admin/sign-out", data={"csrf_token": "wrong"}).status_code == 403
    assert woo.client.post("/admin/sign-out", data={"csrf_token": csrf}).status_code == 303
    assert woo.client.get("/admin/settings").status_code == 302


# --- magic links ----------------------------------------------------------------------------


def _link_in(mailbox) -> str:
    assert len(mailbox.received) == 1
    body = mailbox.received[0].message.get_content()
    return re.search(r"https?://\S+/admin/sign-in/(\S+)", body).group(0)


def test_a_magic_link_signs_in_once_to_the_shops_of_that_address(woo, app, mailbox, devstore, client):
    second = open_woo(app, client, devstore)  # the same merchant runs a second store
    browser = app.test_client()
    sent = browser.post("/admin/sign-in", data={"email": "  OWNER@example.com", "next": "/admin/flows"})
    assert sent.status_code == 200 and "is on its way" in sent.get_data(as_text=True)
    url = _link_in(mailbox)
    message = mailbox.received[0].message
    assert message["To"] == MERCHANT_EMAIL and "Comeback" in message["Subject"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    # opening the link (as a mail scanner would) does not spend it; the button does
    shown = browser.get(f"/{path}")
    assert shown.status_code == 200 and f'action="/admin/sign-in/{_token_of(mailbox.received[0])}"' in (
        shown.get_data(as_text=True))
    token = _token_of(mailbox.received[0])
    used = browser.post(f"/admin/sign-in/{token}", data={"next": "/admin/flows"})
    assert used.status_code == 303 and used.headers["Location"] == "/admin/flows"
    held = browser.get("/admin/settings").get_data(as_text=True)
    assert 'id="shop-switch"' in held and second.shop.name in held and woo.shop.name in held
    # spent
    assert app.test_client().post(f"/admin/sign-in/{token}").status_code == 410
    assert db.session().execute(select(MagicLink.used_at)).scalar_one() is not None


def test_magic_links_say_the_same_to_strangers_and_send_nothing(app, mailbox, woo):
    response = app.test_client().post("/admin/sign-in", data={"email": "stranger@example.com"})
    assert response.status_code == 200 and "is on its way" in response.get_data(as_text=True)
    assert mailbox.received == []
    assert db.session().execute(select(func.count()).select_from(MagicLink)).scalar_one() == 0
    bad = app.test_client().post("/admin/sign-in", data={"email": "nope"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)


def test_magic_links_are_capped_per_address_and_expire(app, mailbox, woo):
    for _ in range(access.MAGIC_LINKS_PER_HOUR + 2):
        app.test_client().post("/admin/sign-in", data={"email": MERCHANT_EMAIL})
    assert len(mailbox.received) == access.MAGIC_LINKS_PER_HOUR
    token = _token_of(mailbox.received[0])
    link = db.session().execute(select(MagicLink).order_by(MagicLink.id)).scalars().first()
    link.expires_at = utcnow()
    db.session().commit()
    assert app.test_client().get(f"/admin/sign-in/{token}").status_code == 410


def _token_of(received) -> str:
    body = received.message.get_content()
    return re.search(r"/admin/sign-in/([A-Za-z0-9_-]+)", body).group(1)


# --- one merchant sees only their own shops -----------------------------------------------------


def test_switching_to_a_shop_the_merchant_does_not_hold_is_404(woo, app, client, devstore):
    stranger = open_woo(app, client, devstore)
    page = woo.html("/admin/settings")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = woo.client.post("/admin/switch", data={"csrf_token": csrf, "shop_id": str(stranger.shop_id)})
    assert response.status_code == 404
    assert woo.api("GET", "/api/admin/shop").get_json()["domain"] == woo.shop.domain


def test_an_uninstalled_shop_ends_the_session(woo):
    woo.shop.status = "uninstalled"
    db.session().commit()
    assert woo.get("/admin").status_code == 302
    assert woo.client.get("/api/admin/shop").status_code == 401


# --- what a hostile page or a broken clock cannot do -----------------------------------------------


def test_a_fresh_token_that_fails_at_once_is_not_bounced_again(embedded):
    now = int(utcnow().timestamp())
    claims = {"iss": f"https://{embedded.shop.domain}/admin", "dest": f"https://{embedded.shop.domain}",
              "aud": API_KEY, "sub": "1", "exp": now + 300, "nbf": now + 120, "iat": now, "jti": "j", "sid": "s"}
    early = jwt.encode(claims, API_SECRET, algorithm="HS256")  # our clock behind the platform's
    query = {"shop": embedded.shop.domain, "id_token": early}
    first = embedded.client.get("/admin/flows", query_string=query)
    assert first.status_code == 200 and "bounce.js" in first.get_data(as_text=True)
    bounced_at = re.search(r'data-bounced-at="(\d+)"', first.get_data(as_text=True)).group(1)
    again = embedded.client.get("/admin/flows", query_string={**query, "bounced": bounced_at})
    assert again.status_code == 401 and "not valid yet" in again.get_data(as_text=True)
    # an old bounce (a reload much later) is bounced as usual
    later = embedded.client.get("/admin/flows", query_string={**query, "bounced": str(int(time.time()) - 3600)})
    assert later.status_code == 200 and "bounce.js" in later.get_data(as_text=True)


def test_a_signed_link_opens_one_session(woo, app):
    query = admin_link(woo.shop)
    assert app.test_client().get("/admin/enter", query_string=query).status_code == 303
    reused = app.test_client().get("/admin/enter", query_string=query)
    assert reused.status_code == 403 and "used already" in reused.get_data(as_text=True)


def test_someone_elses_link_replaces_the_session_instead_of_joining_it(woo, app, client, devstore):
    with woo.client.session_transaction() as stored:
        before = dict(stored["merchant"])
    stranger = open_woo(app, client, devstore)
    entered = woo.client.get("/admin/enter", query_string=admin_link(stranger.shop, "attacker@evil.test"))
    assert entered.status_code == 303
    with woo.client.session_transaction() as stored:
        after = stored["merchant"]
    assert after["shops"] == [stranger.shop_id] and after["email"] == "attacker@evil.test"
    assert after["csrf"] != before["csrf"]


def test_cookie_writes_need_the_right_csrf_token_and_the_pages_shop(woo):
    page = woo.html("/admin/settings")
    csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
    assert f'data-shop="{woo.shop_id}"' in page
    body = {"sender_name": "Nord"}
    wrong = woo.client.put("/api/admin/messaging/settings", json=body, headers={"X-CSRF-Token": "wrong"})
    assert wrong.status_code == 403
    right = woo.client.put("/api/admin/messaging/settings", json=body, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 200 and right.get_json()["sender_name"] == "Nord"
    assert right.headers["Cache-Control"] == "no-store"
    other_tab = woo.client.put("/api/admin/messaging/settings", json=body,
                               headers={"X-CSRF-Token": csrf, "X-Comeback-Shop": str(woo.shop_id + 1)})
    assert other_tab.status_code == 409 and "another tab" in other_tab.get_json()["error"]


def test_page_forms_refuse_other_sites_and_odd_input(woo, app):
    hostile = app.test_client().post("/admin/sign-in", data={"email": MERCHANT_EMAIL},
                                     headers={"Sec-Fetch-Site": "cross-site"})
    assert hostile.status_code == 403
    page = woo.html("/admin/settings")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert woo.client.post("/admin/switch", data={"csrf_token": csrf, "shop_id": "²"}).status_code == 404
    assert woo.client.post("/admin/switch", data={"csrf_token": csrf, "shop_id": str(woo.shop_id)}).status_code == 303
    for target in ("//evil.test", "/\\evil.test", "https:evil.test", "/admin\r\nX-Evil: 1"):
        entered = app.test_client().get("/admin/enter", query_string={**admin_link(woo.shop), "next": target})
        assert entered.status_code == 303 and entered.headers["Location"] == "/admin/onboarding", target


def test_the_sign_in_answer_is_the_same_for_merchants_and_strangers(app, mailbox, woo):
    known = app.test_client().post("/admin/sign-in", data={"email": MERCHANT_EMAIL}).get_data(as_text=True)
    unknown = app.test_client().post("/admin/sign-in", data={"email": "x@example.com"}).get_data(as_text=True)
    assert known.replace(MERCHANT_EMAIL, "@") == unknown.replace("x@example.com", "@")
    assert len(mailbox.received) == 1


def test_a_new_merchant_starts_at_onboarding_and_home_says_what_is_left(woo, app):
    assert "data-setup" in woo.html("/admin") and "set-up steps are done" in woo.html("/admin")
    skipped = woo.api("POST", "/api/admin/onboarding/skip")
    assert skipped.status_code == 200
    entered = app.test_client().get("/admin/enter", query_string=admin_link(woo.shop))
    assert entered.headers["Location"] == "/admin"  # put aside: Home, which still offers to continue
    assert "Continue setting up" in woo.html("/admin")


def test_after_the_oauth_install_the_merchant_lands_on_onboarding(client, store):
    from urllib.parse import urlsplit

    response = client.get("/auth/shopify/install", query_string={"shop": store.domain})
    approval = store.http.get(response.headers["Location"], follow_redirects=False)
    callback = urlsplit(approval.headers["Location"])
    landed = client.get(f"{callback.path}?{callback.query}")
    assert landed.status_code == 302 and landed.headers["Location"] == f"/admin/onboarding?shop={store.domain}"
