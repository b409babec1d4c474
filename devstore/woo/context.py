"""Request-time access to the WooCommerce registry and the addressed store."""

from __future__ import annotations

from typing import Any, Optional

from flask import Flask, current_app, g

from .hookshot import Hookshot
from .registry import WooRegistry
from .state import WooStore

EXTENSION = "devstore_woo"


def registry_of(app: Flask) -> WooRegistry:
    """Return the WooCommerce registry of a devstore app."""
    return app.extensions[EXTENSION]


def registry() -> WooRegistry:
    """Return the WooCommerce registry of the running app."""
    return registry_of(current_app)  # type: ignore[arg-type]


def hookshot() -> Hookshot:
    """Return the webhook sender."""
    return registry().hookshot


def store() -> WooStore:
    """Return the store addressed by the current request."""
    return g.woo_store


def load_store(endpoint: Optional[str], values: Optional[dict[str, Any]]) -> None:
    """Pop the `handle` URL value and load its store (a WordPress 404 when unknown)."""
    if values is not None and "handle" in values:
        g.woo_store = registry().site(values.pop("handle"))
