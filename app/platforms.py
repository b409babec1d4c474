"""Build each platform's connector once per process from the settings."""

from __future__ import annotations

from flask import current_app

from app.config import Settings
from app.extensions import redis_holder
from connectors import registry
from connectors.base import Connector

_cache: dict[tuple[int, str], Connector] = {}


def settings() -> Settings:
    """Return the running app's settings."""
    return current_app.extensions["comeback.settings"]


def connector(platform: str) -> Connector:
    """Return the connector for ``platform``; ``KeyError`` for an unknown platform."""
    current = settings()
    key = (id(current), platform)
    if key not in _cache:
        if platform not in registry.platforms():
            raise KeyError(platform)
        _cache[key] = registry.build_connector(
            platform, redis=redis_holder.client, **current.connector_settings(platform)
        )
    return _cache[key]
