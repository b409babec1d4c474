"""Attach the WooCommerce dialect to a devstore Flask app."""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..core import DevStore
from . import control, rest, site
from .context import EXTENSION
from .registry import WooRegistry


def install(app: Flask, devstore: DevStore, config: dict[str, Any]) -> WooRegistry:
    """Create the registry from config and register the WooCommerce blueprints."""
    registry = WooRegistry.from_config(config, lambda: devstore.public_url)
    app.extensions[EXTENSION] = registry
    app.register_blueprint(rest.bp)
    app.register_blueprint(site.bp)
    app.register_blueprint(control.bp)
    return registry
