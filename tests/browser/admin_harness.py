"""The merchant's admin in real Chromium, opened the way each platform opens it.

* **Shopify**: the browser opens the shop's admin on devstore (``http://<shop>:<port>/admin/apps/
  <client id>/<path>``), which frames the app with a fresh session token; with devstore as the
  platform the pages load devstore's App Bridge (in place of Shopify's CDN copy), which gets
  tokens from the framing admin over ``postMessage``. The pages are then driven inside the
  frame: ``admin.ui`` is that frame.
* **WooCommerce**: the browser opens the plugin's screen in the store's wp-admin on devstore and
  clicks "Open Comeback", which signs a short-lived link to ``/admin/enter``; from then on the
  app's pages are opened directly with the first-party session. ``admin.ui`` is the page.

Fixtures: ``admin_browser`` (parametrized over both platforms), ``shopify_admin``, ``woo_admin``.
``admin.open("/admin/loyalty")`` navigates and returns ``admin.ui``; ``admin.axe()`` returns the
serious and critical axe-core violations of what is shown; ``admin.screenshot(name)`` writes
``admin-<platform>-<name>.png`` (to docs/screenshots with ``COMEBACK_SCREENSHOTS=1``).
``admin.view`` is the same shop as ``tests.pages.conftest.AdminView`` (database and API access).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import API_KEY, API_SECRET
from tests.pages.conftest import AdminView, open_shopify, open_woo

ROOT = Path(__file__).resolve().parent.parent.parent
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@dataclass
class AdminBrowser:
    platform: str
    tab: Any  # tests.browser.conftest.Tab
    view: AdminView
    live_app: str
    devstore_url: str
    ui: Any = None  # the frame (Shopify) or page (WooCommerce) showing the admin
    entered: bool = False

    @property
    def page(self) -> Any:
        return self.tab.page

    @property
    def shop(self) -> Any:
        return self.view.shop

    def open(self, path: str = "/admin") -> Any:
        """Open an admin page the platform's way; return what shows it (frame or page)."""
        if self.platform == "shopify":
            port = urlsplit(self.devstore_url).port
            sub = path[len("/admin"):] if path.startswith("/admin") else path
            self.page.goto(f"http://{self.shop.domain}:{port}/admin/apps/{API_KEY}{sub}")
            self.ui = self._app_frame()
        else:
            if not self.entered:
                self.enter_from_store()
            self.page.goto(f"{self.live_app}{path}")
            self.ui = self.page
        self.ui.wait_for_load_state("load")
        return self.ui

    def _app_frame(self) -> Any:
        handle = self.page.wait_for_selector("iframe#app-frame", timeout=15_000)
        frame = handle.content_frame()
        frame.wait_for_load_state("load")
        frame.wait_for_selector("main#main", timeout=15_000)
        return frame

    def enter_from_store(self) -> None:
        """WooCommerce → Comeback in the store's admin, then "Open Comeback"."""
        store = self.view.control
        self.page.goto(f"{store.url}/wp-admin/admin.php?page=comeback")
        with self.page.expect_navigation(url=lambda url: url.startswith(self.live_app)):
            self.page.get_by_role("button", name="Open Comeback").click()
        self.page.wait_for_selector("main#main", timeout=15_000)
        self.entered = True
        self.ui = self.page

    def wait_for_navigation(self) -> Any:
        """After clicking a link inside the admin: the newly loaded page (in the frame, on Shopify)."""
        self.ui.wait_for_load_state("load")
        self.ui.wait_for_selector("main#main", timeout=15_000)
        return self.ui

    def watch_refusals(self) -> list[tuple[int, str]]:
        """From now on, every answer of 400 or more the page receives (status, URL)."""
        refused: list[tuple[int, str]] = []
        self.page.on("response", lambda response: refused.append((response.status, response.url))
                     if response.status >= 400 else None)
        return refused

    def assert_clean(self, refused: list[tuple[int, str]], *, expected: tuple[int, ...] = ()) -> None:
        """No script error, and no refused load but those the test asked for (then a clean slate).

        Chromium logs every answer of 400 or more as a console error; the refusals the test
        expects (a 422 the form is meant to get) are the only ones allowed.
        """
        assert [(status, url) for status, url in refused if status not in expected] == []
        for error in self.tab.errors:
            assert error.startswith("console error: Failed to load resource: the server responded with a status of "), error
            assert int(error.split("status of ")[1].split()[0]) in expected, error
        self.tab.errors.clear()

    def script_errors(self) -> list[str]:
        """What the pages' scripts got wrong (refused loads left out), then a clean slate."""
        found = [error for error in self.tab.errors if "Failed to load resource" not in error]
        self.tab.errors.clear()
        return found

    def axe(self) -> list[dict[str, Any]]:
        """The serious and critical accessibility violations axe-core finds on the shown page."""
        self.ui.evaluate(AXE.read_text())
        found = self.ui.evaluate("""() => axe.run(document, {resultTypes: ['violations']}).then(r =>
            r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))""")
        return [v for v in found if v["impact"] in SERIOUS]

    def screenshot(self, name: str) -> Path:
        path = self.tab.shots / f"admin-{self.platform}-{name}.png"
        self.page.screenshot(path=str(path), animations="disabled", full_page=self.platform != "shopify")
        assert path.stat().st_size > 5_000, "an empty screenshot"
        return path


def register_embedded_app(devstore_url: str, live_app: str) -> None:
    httpx.post(f"{devstore_url}/_devstore/apps", json={
        "client_id": API_KEY, "client_secret": API_SECRET,
        "compliance_uri": f"{live_app}/webhooks/shopify",
        "app_proxy": {"url": f"{live_app}/proxy", "prefix": "apps", "subpath": "comeback"},
        "extensions": [str(ROOT / "extensions" / "comeback-widget")],
        "application_url": f"{live_app}/admin",
    }, timeout=5).raise_for_status()


def make_admin_browser(platform: str, tab: Any, app: Any, client: Any, devstore: Any, live_app: str,
                       **spec: Any) -> AdminBrowser:
    spec = spec or {"seed": 7, "customers": 12, "products": 6, "orders": 30}
    if platform == "shopify":
        register_embedded_app(devstore.url, live_app)
        view = open_shopify(app, client, devstore, **spec)
    else:
        view = open_woo(app, client, devstore, **spec)
    return AdminBrowser(platform, tab, view, live_app, devstore.url)


@pytest.fixture(params=["shopify", "woocommerce"])
def admin_browser(request, tab, app, client, devstore, live_app) -> Iterator[AdminBrowser]:
    yield make_admin_browser(request.param, tab, app, client, devstore, live_app)


@pytest.fixture()
def shopify_admin(tab, app, client, devstore, live_app) -> AdminBrowser:
    return make_admin_browser("shopify", tab, app, client, devstore, live_app)


@pytest.fixture()
def woo_admin(tab, app, client, devstore, live_app) -> AdminBrowser:
    return make_admin_browser("woocommerce", tab, app, client, devstore, live_app)


def page_data(ui: Any, element_id: str) -> Any:
    """The JSON a page hands its script in ``<script type="application/json" id=...>``."""
    return json.loads(ui.locator(f"#{element_id}").text_content())
