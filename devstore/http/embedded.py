"""The Shopify admin around an embedded app: the frame, App Bridge, and the theme editor's app embeds.

On a shop's host name (``<shop>.myshopify.com:<port>``):

* ``GET /admin/apps/<client_id>[/<path>]`` is the admin page that frames the app's App URL
  (``application_url`` of the registered app) at ``<path>``, with the parameters Shopify adds
  (``shop``, ``host``, ``embedded=1``, ``locale``, a fresh ``id_token``). The page answers the
  frame's App Bridge requests for session tokens (``postMessage``) and draws the app's
  ``<ui-nav-menu>`` links in its sidebar.
* ``GET /cdn/shopifycloud/app-bridge.js`` is App Bridge for such a frame: ``shopify.idToken()``,
  ``shopify.toast.show()``, ``shopify.config``, and the ``ui-nav-menu`` element. A browser test
  serves it in place of ``https://cdn.shopify.com/shopifycloud/app-bridge.js``.
* ``GET /admin/themes/current/editor?context=apps&activateAppId=<client_id>/<block>`` is the
  theme editor opened by an app's deep link: it shows the app embed, and its Save button
  (``POST``) switches the embed on, as the merchant's click does in the real editor.
"""

from __future__ import annotations

import base64
import html
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Blueprint, Response, redirect, request

from ..errors import BadRequest, NotFound
from ..storefront.embeds import activate
from .common import host_shop, store

bp = Blueprint("embedded_admin", __name__)

_SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><link rel="icon" href="data:,">
<style>
body {{ margin: 0; font: 13px/1.4 -apple-system, "Segoe UI", Roboto, sans-serif; background: #1a1a1a; }}
.admin {{ display: grid; grid-template-columns: 200px 1fr; grid-template-rows: 48px 1fr; height: 100vh; }}
header {{ grid-column: 1 / 3; color: #e3e3e3; display: flex; align-items: center; padding: 0 16px; gap: 8px; }}
nav {{ background: #ebebeb; padding: 12px 8px; border-top-left-radius: 12px; }}
nav a {{ display: block; padding: 4px 8px; color: #303030; text-decoration: none; border-radius: 6px; }}
nav a.app {{ font-weight: 650; }}
main {{ background: #f1f1f1; border-top-right-radius: 12px; overflow: hidden; }}
iframe {{ border: 0; width: 100%; height: 100%; display: block; }}
#toast {{ position: fixed; bottom: 24px; left: 50%; transform: translateX(-50%); background: #303030; color: #fff;
          padding: 8px 16px; border-radius: 8px; }}
</style></head>
<body><div class="admin">
<header><strong>Shopify</strong><span>{shop}</span></header>
<nav aria-label="Admin"><a href="/admin">Home</a><a href="/admin/orders">Orders</a><a href="/admin/customers">Customers</a>
<a class="app" href="/admin/apps/{client_id}">{app_name}</a><div id="app-nav"></div></nav>
<main><iframe id="app-frame" name="app-iframe" title="{app_name}" src="{src}"></iframe></main>
</div><div id="toast" hidden></div>
<script>
(function () {{
  var frame = document.getElementById("app-frame"), base = "/admin/apps/{client_id}", appUrl = {app_url};
  window.addEventListener("message", function (event) {{
    if (event.source !== frame.contentWindow) return;
    var data = event.data || {{}};
    if (data.type === "devstore:idToken") {{
      fetch(base + "/session-token", {{ method: "POST" }}).then(function (r) {{ return r.json(); }}).then(function (body) {{
        event.source.postMessage({{ type: "devstore:idToken", id: data.id, token: body.token }}, "*");
      }});
    }} else if (data.type === "devstore:nav") {{
      var nav = document.getElementById("app-nav"); nav.textContent = "";
      (data.links || []).forEach(function (item) {{
        if (item.rel === "home") return;
        var a = document.createElement("a"), path = new URL(item.href, appUrl).pathname;
        a.textContent = item.label; a.href = base + path.replace(new URL(appUrl).pathname, "");
        nav.appendChild(a);
      }});
    }} else if (data.type === "devstore:toast") {{
      var box = document.getElementById("toast"); box.textContent = data.message; box.hidden = false;
      setTimeout(function () {{ box.hidden = true; }}, 3000);
    }}
  }});
}})();
</script></body></html>"""

_APP_BRIDGE = """/* App Bridge as devstore's admin frame provides it. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var params = new URLSearchParams(location.search);
  var pending = {}, next = 0;
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    var data = event.data || {};
    if (data.type === "devstore:idToken" && pending[data.id]) { pending[data.id](data.token); delete pending[data.id]; }
  });
  function idToken() {
    return new Promise(function (resolve) {
      var id = ++next; pending[id] = resolve;
      window.parent.postMessage({ type: "devstore:idToken", id: id }, "*");
    });
  }
  window.shopify = {
    config: { apiKey: meta ? meta.content : null, shop: params.get("shop"), host: params.get("host"),
              locale: params.get("locale") || "en" },
    idToken: idToken,
    toast: { show: function (message) { window.parent.postMessage({ type: "devstore:toast", message: String(message) }, "*"); } }
  };
  if (window.customElements && !customElements.get("ui-nav-menu")) {
    customElements.define("ui-nav-menu", class extends HTMLElement {
      connectedCallback() {
        var menu = this;
        menu.style.display = "none";
        function send() {  /* once the menu's links are parsed */
          var links = Array.prototype.map.call(menu.querySelectorAll("a"), function (a) {
            return { label: a.textContent.trim(), href: a.getAttribute("href"), rel: a.getAttribute("rel") };
          });
          window.parent.postMessage({ type: "devstore:nav", links: links }, "*");
        }
        if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", send);
        else send();
      }
    });
  }
})();
"""

_EDITOR = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customize theme · App embeds</title><link rel="icon" href="data:,"></head>
<body><main><h1>App embeds</h1>
<form method="post">
<p><label><input type="checkbox" name="enabled" value="1" {checked}> {block} ({client_id})</label></p>
<button type="submit" data-devstore="save-theme">Save</button>
</form>{saved}</main></body></html>"""


def _shop_of_host() -> Any:
    domain = host_shop()
    if domain is None:
        raise NotFound("open the admin on the shop's own host name")
    return store().shop(domain)


def _app(client_id: str) -> Any:
    app = store().tokens.app(client_id)
    if app is None:
        raise NotFound(f"no app {client_id}")
    return app


def _session_token(shop: Any, app: Any) -> str:
    now = int(time.time())
    claims = {"iss": f"https://{shop.domain}/admin", "dest": f"https://{shop.domain}", "aud": app.client_id,
              "sub": "1", "exp": now + 60, "nbf": now, "iat": now, "jti": str(uuid.uuid4()), "sid": uuid.uuid4().hex}
    return jwt.encode(claims, app.client_secret, algorithm="HS256")


def host_param(domain: str) -> str:
    raw = f"admin.shopify.com/store/{domain.split('.', 1)[0]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@bp.get("/admin/apps/<client_id>")
@bp.get("/admin/apps/<client_id>/<path:rest>")
def app_frame(client_id: str, rest: str = "") -> Any:
    """The admin page that frames the app at ``rest`` (a deep link), with a fresh session token."""
    shop = _shop_of_host()
    app = _app(client_id)
    if not app.application_url:
        raise BadRequest(f"app {client_id} has no application_url: register it with one")
    query = {key: value for key, value in request.args.items() if key not in ("id_token", "shop", "host")}
    query.update({"embedded": "1", "shop": shop.domain, "host": host_param(shop.domain),
                  "locale": query.get("locale") or shop.locale, "id_token": _session_token(shop, app)})
    src = f"{app.application_url.rstrip('/')}{'/' + rest if rest else ''}?{urlencode(query)}"
    page = _SHELL.format(title=html.escape(f"Comeback · {shop.domain}"), shop=html.escape(shop.domain),
                         client_id=html.escape(client_id), app_name="Comeback", src=html.escape(src),
                         app_url=json.dumps(app.application_url))
    return Response(page, mimetype="text/html")


@bp.post("/admin/apps/<client_id>/session-token")
def frame_session_token(client_id: str) -> Any:
    """A fresh session token for the framed app (what App Bridge's ``idToken()`` resolves to)."""
    shop = _shop_of_host()
    return {"token": _session_token(shop, _app(client_id))}


@bp.get("/cdn/shopifycloud/app-bridge.js")
def app_bridge() -> Any:
    return Response(_APP_BRIDGE, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


def _activation() -> tuple[str, str]:
    if request.args.get("context") != "apps":
        raise BadRequest("the theme editor deep link needs context=apps")
    client_id, slash, block = (request.args.get("activateAppId") or "").partition("/")
    if not slash or not client_id or not block:
        raise BadRequest("activateAppId must be <client_id>/<block handle>")
    _app(client_id)
    return client_id, block


@bp.get("/admin/themes/current/editor")
def theme_editor() -> Any:
    """The theme editor at an app embed, switched on in the form (the merchant still saves)."""
    _shop_of_host()
    client_id, block = _activation()
    return Response(_EDITOR.format(block=html.escape(block), client_id=html.escape(client_id), checked="checked",
                                   saved='<p role="status">Saved</p>' if request.args.get("saved") else ""),
                    mimetype="text/html")


@bp.post("/admin/themes/current/editor")
def save_theme_editor() -> Any:
    shop = _shop_of_host()
    client_id, block = _activation()
    activate(store(), shop, {"client_id": client_id, "block": block, "enabled": request.form.get("enabled") == "1"})
    query = {key: value for key, value in request.args.items() if key != "saved"}
    return redirect(f"{request.path}?{urlencode({**query, 'saved': '1'})}", code=303)
