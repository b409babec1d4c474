"""Flask app factory and an in-process threaded HTTP server for tests."""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Optional

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server

from .core import DevStore
from .errors import DevstoreError
from .http import admin, cdn, control, embedded, embeds, storefront
from .http.common import error_response
from .woo.context import registry_of
from .woo.install import install as install_woo

log = logging.getLogger(__name__)


def create_app(config: Optional[dict[str, Any]] = None) -> Flask:
    """Create the devstore Flask app.

    Config keys (all optional): public_url, api_version, apps [{client_id, client_secret,
    compliance_uri, scopes, app_proxy {url, prefix, subpath}, extensions [abs paths]}],
    shops [domain | {domain, name, currency, timezone, locale}], retry_backoff,
    delivery_timeout, bulk_dir, code_ttl, access_token_ttl, refresh_token_ttl,
    app_proxy_timeout;
    WooCommerce: woo_stores [handle | {handle, name, currency, timezone, locale}],
    woo_https_origin, woo_coalesce_seconds, woo_delivery_timeout, woo_require_https_callback.
    """
    config = dict(config or {})
    app = Flask("devstore")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    devstore = DevStore.from_config(config)
    app.extensions["devstore"] = devstore
    app.extensions["devstore_listeners"] = 0
    app.register_blueprint(admin.bp)
    app.register_blueprint(cdn.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(embeds.bp)
    app.register_blueprint(embedded.bp)
    app.register_blueprint(storefront.bp)
    install_woo(app, devstore, config)

    @app.errorhandler(DevstoreError)
    def _devstore_error(exc: DevstoreError) -> Any:
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return jsonify({"error": exc.description}), exc.code

    return app


def store_of(app: Flask) -> DevStore:
    """Return the DevStore behind a devstore Flask app."""
    return app.extensions["devstore"]


@dataclass
class RunningServer:
    """A devstore served on a real socket from a daemon thread."""

    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread
    tls: bool = False

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:54321 (https for a TLS listener)."""
        return f"{'https' if self.tls else 'http'}://{self.server.host}:{self.server.port}"

    @property
    def store(self) -> DevStore:
        """Return the DevStore being served."""
        return store_of(self.app)

    def stop(self) -> None:
        """Stop serving; the last listener of an app also stops its background threads."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.app.extensions["devstore_listeners"] -= 1
        if self.app.extensions["devstore_listeners"] > 0:
            return
        devstore = self.store
        with devstore.lock:
            trickles = list(devstore.trickles.values())
            devstore.trickles.clear()
        for trickle in trickles:
            trickle.stop()
        devstore.dispatcher.stop()
        registry_of(self.app).hookshot.stop()


def serve_in_thread(app: Optional[Flask] = None, host: str = "127.0.0.1", port: int = 0,
                    ssl_context: Optional[ssl.SSLContext] = None) -> RunningServer:
    """Serve a devstore app with a threaded werkzeug server in a daemon thread.

    With ssl_context the listener speaks TLS; the first TLS listener of an app becomes the
    https origin of its WooCommerce stores (unless woo_https_origin was configured).
    """
    app = app or create_app()
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    devstore = store_of(app)
    woo = registry_of(app)
    scheme = "https" if ssl_context is not None else "http"
    if ssl_context is not None and not woo.https_origin:
        woo.set_https_origin(f"https://{host}:{server.port}")
    elif ssl_context is None and not devstore.public_url:
        devstore.public_url = f"http://{host}:{server.port}"
    woo.refresh_all()
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name=f"devstore-{scheme}",
                              daemon=True)
    thread.start()
    app.extensions["devstore_listeners"] += 1
    log.info("devstore serving on %s://%s:%s", scheme, host, server.port)
    return RunningServer(app, server, thread, ssl_context is not None)
