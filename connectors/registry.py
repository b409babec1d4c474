"""Map platform names to connector classes: the only place that does so."""

from __future__ import annotations

import importlib
from typing import Any

from connectors.base import Connector

# name -> "module:Class", imported on first use so that nothing loads a platform SDK early.
_CONNECTORS: dict[str, str] = {
    "shopify": "connectors.shopify.connector:ShopifyConnector",
    "woocommerce": "connectors.woocommerce.connector:WooCommerceConnector",
}


def platforms() -> tuple[str, ...]:
    """Return the names of every registered platform."""
    return tuple(_CONNECTORS)


def connector_class(platform: str) -> type[Connector]:
    """Return the connector class registered for ``platform``; ``KeyError`` if none."""
    module_name, _, class_name = _CONNECTORS[platform].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_connector(platform: str, **settings: Any) -> Connector:
    """Instantiate the connector for ``platform`` with its settings."""
    return connector_class(platform)(**settings)
