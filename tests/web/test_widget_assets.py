"""The widget's scripts as served, its look from the program, and who may call the API cross-origin."""

from __future__ import annotations

import gzip
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.loyalty import program as programs
from app.loyalty import widget
from app.store.models import Shop
from tests.conftest import API_SECRET
from tests.helpers import bearer, connect_woo, proxy_query, run_jobs


def test_the_loader_names_the_panel_it_goes_with_and_is_revalidated(client):
    loader = client.get("/widget/comeback.js")
    assert loader.status_code == 200 and loader.mimetype == "text/javascript"
    assert loader.headers["Cache-Control"] == "public, max-age=300"
    assert loader.headers["Access-Control-Allow-Origin"] == "*"
    body = loader.get_data(as_text=True)
    assert "__PANEL_VERSION__" not in body
    version = re.search(r"panel\.js\?v=([0-9a-f]{16})", body).group(1)
    panel = client.get(f"/widget/panel.js?v={version}")
    assert panel.status_code == 200 and "immutable" in panel.headers["Cache-Control"]
    # a loader cached from before a release asks for an old panel: it gets the new one, briefly cached
    old = client.get("/widget/panel.js?v=0000000000000000")
    assert old.get_data() == panel.get_data() and old.headers["Cache-Control"] == "public, max-age=300"
    assert client.get("/widget/comeback.js", headers={"If-None-Match": loader.headers["ETag"]}).status_code == 304
    packed = client.get("/widget/comeback.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(packed.get_data()).decode() == body
    # each encoding has its own tag, as a cache between needs
    assert packed.headers["ETag"] != loader.headers["ETag"]
    assert client.get("/widget/comeback.js", headers={"Accept-Encoding": "gzip",
                                                      "If-None-Match": packed.headers["ETag"]}).status_code == 304
    missing = client.get("/widget/other.js")
    assert missing.status_code == 404 and "comeback.js" in missing.get_json()["error"]


def test_through_the_app_proxy_the_scripts_need_the_store_s_signature(client, installed):
    assert client.get("/proxy/widget/comeback.js").status_code == 401
    signed = client.get(f"/proxy/widget/comeback.js?{proxy_query(installed.domain, secret=API_SECRET)}")
    assert signed.status_code == 200
    assert signed.get_data() == client.get("/widget/comeback.js").get_data()


def test_the_widget_look_comes_from_the_program_and_stays_readable(session, shop):
    programs.update(session, shop.id, {"widget": {"primary_color": "#FFCC00", "launcher_label": "Club"}}, actor="t")
    programs.update(session, shop.id, {"widget": {"position": "bottom-left"}}, actor="t")
    session.commit()
    settings = programs.current(session, shop.id)["widget"]
    # a change of one field keeps the others
    assert (settings["primary_color"], settings["launcher_label"], settings["position"]) == (
        "#ffcc00", "Club", "bottom-left")
    shown = widget.view(settings)
    assert shown["primary_text"] == "#1a1a1a" and shown["text_color"] == "#1a1a1a"
    for colour in ("#777777", "#808080", "#2e6b57", "#0000ff", "#ff0000", "#00ff00", "#ffffff", "#000000"):
        assert widget.contrast(colour, widget.readable_on(colour)) >= 4.5, colour


@pytest.mark.parametrize("change, field", [
    ({"primary_color": "red"}, "widget.primary_color"),
    ({"position": "top"}, "widget.position"),
    ({"launcher_label": "x" * 31}, "widget.launcher_label"),
    ({"enabled": "yes"}, "widget.enabled"),
    ({"logo": "x"}, "widget.logo"),
])
def test_a_widget_look_it_cannot_show_is_refused(session, shop, change, field):
    with pytest.raises(programs.ProgramError) as refused:
        programs.update(session, shop.id, {"widget": change}, actor="t")
    assert refused.value.field == field


def test_the_admin_api_says_what_is_wrong_with_a_colour(client, installed):
    from tests.conftest import API_KEY

    token = installed.session_token(API_KEY)
    answer = client.put("/api/admin/loyalty/program", json={"widget": {"background_color": "#12345"}},
                        headers=bearer(token))
    assert answer.status_code == 422 and "widget.background_color" in answer.get_json()["error"]
    shown = client.get(f"/proxy/program?{proxy_query(installed.domain, secret=API_SECRET)}").get_json()["widget"]
    assert shown["background_color"] == "#ffffff" and shown["enabled"] is True


def test_only_the_store_s_own_pages_may_call_its_api_across_origins(client, live_app, woo_store):
    woo_store.generate(seed=3, customers=2, products=2, orders=1)
    assert connect_woo(client, woo_store).status_code == 200
    assert run_jobs() == []
    shop = db.session().execute(select(Shop).where(Shop.platform == "woocommerce")).scalar_one()
    origin = re.match(r"https?://[^/]+", shop.domain).group(0)
    preflight = client.options("/proxy/me", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-comeback-store, x-comeback-customer"})
    assert preflight.status_code == 204
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-comeback-store", "x-comeback-customer", "content-type"} <= allowed
    store = {"X-Comeback-Store": str(shop.id)}
    own = client.get("/proxy/program", headers={**store, "Origin": origin})
    assert own.status_code == 200 and own.headers["Access-Control-Allow-Origin"] == origin
    assert {"Origin", "X-Comeback-Store"} <= set(own.headers["Vary"].replace(" ", "").split(","))
    # named by a header, the program stays out of shared caches (some ignore Vary)
    assert own.headers["Cache-Control"] == "private, max-age=60"
    # the same site with or without www
    scheme, host = origin.split("://")
    twin = f"{scheme}://www.{host}"
    assert client.get("/proxy/program", headers={**store, "Origin": twin}).headers[
        "Access-Control-Allow-Origin"] == twin
    # a refused token is still readable by the store's own page (so the widget can show the visitor view)
    expired = client.get("/proxy/me", headers={**store, "Origin": origin, "X-Comeback-Customer": "junk"})
    assert expired.status_code == 401 and expired.headers["Access-Control-Allow-Origin"] == origin
    other = client.get("/proxy/program", headers={**store, "Origin": "https://elsewhere.example"})
    assert other.status_code == 403 and "elsewhere.example" in other.get_json()["error"]
    assert "Access-Control-Allow-Origin" not in other.headers
    # a server-side caller sends no Origin at all and is judged by its proof alone
    assert client.get("/proxy/program", headers=store).status_code == 200
