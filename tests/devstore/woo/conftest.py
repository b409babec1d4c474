"""Fixtures: a devstore with an HTTP and a TLS listener and one WooCommerce store."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from devstore import create_app, serve_in_thread
from devstore.woo.tls import make_self_signed, server_context
from tests.devstore.woo.wooclient import Woo


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1."""
    return make_self_signed(str(tmp_path_factory.mktemp("woo-tls")))


@pytest.fixture
def woo(certificate: tuple[str, str]) -> Iterator[Woo]:
    """Serve devstore over HTTP and HTTPS with the store `shop` (coalescing 0.05 s)."""
    app = create_app({"woo_stores": [{"handle": "shop", "name": "Café Grüße"}],
                      "woo_coalesce_seconds": 0.05, "woo_delivery_timeout": 2})
    plain = serve_in_thread(app)
    tls = serve_in_thread(app, ssl_context=server_context(*certificate))
    yield Woo(plain.url, tls.url, certificate[0])
    tls.stop()
    plain.stop()


@pytest.fixture
def key(woo: Woo) -> dict[str, Any]:
    """A read_write API key on the store."""
    return woo.key()


@pytest.fixture
def seeded(woo: Woo) -> Woo:
    """The store filled by the shared generator."""
    woo.ctl("POST", "/generate", {"seed": 7, "customers": 30, "products": 8, "orders": 60,
                                  "checkouts": 6})
    return woo
