"""Flask app factory and an in-process threaded HTTP server for tests."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Optional

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server

from .core import DevStore
from .errors import DevstoreError
from .http import admin, control
from .http.common import error_response

log = logging.getLogger(__name__)


def create_app(config: Optional[dict[str, Any]] = None) -> Flask:
    """Create the devstore Flask app.

    Config keys (all optional): public_url, api_version, apps [{client_id, client_secret,
    compliance_uri, scopes}], shops [domain | {domain, name, currency, timezone}],
    retry_backoff, delivery_timeout, bulk_dir, code_ttl, access_token_ttl, refresh_token_ttl.
    """
    config = dict(config or {})
    app = Flask("devstore")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["devstore"] = DevStore.from_config(config)
    app.register_blueprint(admin.bp)
    app.register_blueprint(control.bp)

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

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:54321."""
        return f"http://{self.server.host}:{self.server.port}"

    @property
    def store(self) -> DevStore:
        """Return the DevStore being served."""
        return store_of(self.app)

    def stop(self) -> None:
        """Stop serving and stop background threads."""
        devstore = self.store
        with devstore.lock:
            trickles = list(devstore.trickles.values())
            devstore.trickles.clear()
        for trickle in trickles:
            trickle.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        devstore.dispatcher.stop()


def serve_in_thread(app: Optional[Flask] = None, host: str = "127.0.0.1",
                    port: int = 0) -> RunningServer:
    """Serve a devstore app with a threaded werkzeug server in a daemon thread."""
    app = app or create_app()
    server = make_server(host, port, app, threaded=True)
    devstore = store_of(app)
    if not devstore.public_url:
        devstore.public_url = f"http://{host}:{server.port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="devstore-http", daemon=True)
    thread.start()
    log.info("devstore serving on http://%s:%s", host, server.port)
    return RunningServer(app, server, thread)
