"""Shared fixtures: a real database (PostgreSQL or SQLite), a real Redis, a real devstore.

``COMEBACK_TEST_DATABASE=postgresql`` runs on the local PostgreSQL and Redis servers;
otherwise the suite runs on the embedded default (SQLite + embedded Redis) in a temp folder.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.config import load_settings
from app.extensions import db, redis_holder
from app.store.models import Base

# The published test vectors live beside the checkout (``../shared``); a verbatim copy in
# tests/fixtures/shared stands in where the checkout has no such neighbour (a bare clone).
# tests/test_vectors.py pins both to the published bytes.
_BESIDE = Path(__file__).resolve().parent.parent.parent / "shared"
VENDORED_SHARED = Path(__file__).resolve().parent / "fixtures" / "shared"
SHARED = _BESIDE if (_BESIDE / "fixtures").is_dir() else VENDORED_SHARED
API_KEY = "comeback-test-key"
API_SECRET = "comeback-test-secret-with-32-bytes-or-more"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_url() -> str:
    base = os.environ.get("COMEBACK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    name = f"comeback_test_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def devstore_certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for devstore's TLS listener (its WooCommerce stores over HTTPS)."""
    from devstore.woo.tls import make_self_signed

    return make_self_signed(str(tmp_path_factory.mktemp("devstore-tls")))


@pytest.fixture(scope="session")
def devstore(devstore_certificate):
    """A devstore served over real HTTP (and HTTPS for WooCommerce stores) for the whole run."""
    from devstore.server import create_app as create_devstore
    from devstore.server import serve_in_thread
    from devstore.woo.tls import server_context

    application = create_devstore({"woo_coalesce_seconds": 0.05, "woo_delivery_timeout": 5})
    server = serve_in_thread(application, host="127.0.0.1", port=0)
    tls = serve_in_thread(application, host="127.0.0.1", port=0, ssl_context=server_context(*devstore_certificate))
    server.tls_url = tls.url
    yield server
    tls.stop()
    server.stop()


@pytest.fixture(scope="session")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def settings_environ(tmp_path_factory, devstore, devstore_certificate, app_port) -> dict[str, str]:
    """The environment the app under test is configured from (subprocesses reuse it)."""
    instance = tmp_path_factory.mktemp("instance")
    environ = {
        "COMEBACK_INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key",
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "SHOPIFY_API_ORIGIN": devstore.url,
        "APP_URL": f"http://127.0.0.1:{app_port}",
        "TESTING": "1",
        "WEBHOOK_BATCH_SIZE": "200",
        "WOOCOMMERCE_CA_BUNDLE": devstore_certificate[0],
    }
    if os.environ.get("COMEBACK_TEST_DATABASE") == "postgresql":
        environ["DATABASE_URL"] = _postgres_url()
        # A Redis database of its own per run (tests flush it), so that two runs side by side
        # do not empty each other's queues.
        environ["REDIS_URL"] = os.environ.get("COMEBACK_TEST_REDIS", f"redis://127.0.0.1:6379/{2 + os.getpid() % 10}")
    return environ


@pytest.fixture(scope="session")
def settings(settings_environ):
    return load_settings(environ=settings_environ)


@pytest.fixture(scope="session")
def app(settings, devstore):
    application = create_app(settings=settings)
    yield from _serve_app(application, settings, devstore)
    if settings.redis_url is None:
        redis_holder.shutdown_embedded()


def _serve_app(application, settings, devstore):
    with application.app_context():
        from app.cli import run_migrations

        run_migrations()
    httpx.post(f"{devstore.url}/_devstore/apps", json={
        "client_id": API_KEY, "client_secret": API_SECRET,
        "compliance_uri": f"{settings.app_url}/webhooks/shopify",
    }, timeout=5).raise_for_status()
    yield application


@pytest.fixture(scope="session")
def live_app(app, app_port):
    """The app served over real HTTP (devstore delivers webhooks to it)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", app_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.extensions["comeback.settings"].app_url
    server.shutdown()


def _clean_database() -> None:
    assert db.engine is not None
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    for attempt in range(5):
        try:
            with db.engine.begin() as connection:
                if db.engine.dialect.name == "postgresql":
                    connection.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
                else:
                    for name in tables:
                        connection.execute(text(f"DELETE FROM {name}"))
            return
        except OperationalError as error:
            # A late delivery from the previous test (the live app writes while we empty the
            # tables) can make PostgreSQL pick the TRUNCATE as a deadlock's victim: try again.
            if "deadlock" not in str(error) or attempt == 4:
                raise
            time.sleep(0.2)


@pytest.fixture()
def app_context(app) -> Iterator[None]:
    from app.store import inbox

    with app.app_context():
        _clean_database()
        redis_holder.get().flushdb()
        inbox._shop_cache.clear()
        yield
        db.session.remove()


@pytest.fixture()
def session(app_context):
    return db.session()


@pytest.fixture()
def client(app, app_context):
    return app.test_client()


@pytest.fixture()
def shop_domain() -> str:
    return f"shop-{uuid.uuid4().hex[:10]}.myshopify.com"


@pytest.fixture()
def store(devstore, shop_domain):
    """Control of one fresh devstore shop."""
    from tests.helpers import DevstoreShop

    shop = DevstoreShop(devstore.url, shop_domain)
    shop.create()
    return shop


@pytest.fixture()
def woo_store(devstore):
    """A fresh WooCommerce store on devstore with the companion plugin installed."""
    from tests.helpers import WooStore

    store = WooStore(devstore.url, devstore.tls_url, f"shop-{uuid.uuid4().hex[:10]}")
    store.create(plugin_installed=True)
    return store


@pytest.fixture()
def shop(session, shop_domain):
    """An installed, active shop row (no store behind it: for tests that post webhooks directly)."""
    from app.store.models import Shop
    from app.store.types import utcnow

    record = Shop(platform="shopify", domain=shop_domain, status="active", access_token="tok",
                  installed_at=utcnow())
    session.add(record)
    session.commit()
    return record
