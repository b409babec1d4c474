"""Fire webhook topics on store changes."""

from __future__ import annotations

from typing import Any

from .hookshot import Hookshot
from .shapes.admin import HOOKS
from .state import WooStore

TOPICS = frozenset(HOOKS)


def valid_topic(topic: Any) -> bool:
    """Tell whether a webhook topic is one WooCommerce accepts."""
    return isinstance(topic, str) and (topic in TOPICS or (
        topic.startswith("action.") and len(topic) > len("action.")))


def fire(hookshot: Hookshot, store: WooStore, topic: str, resource_id: int,
         payload: Any) -> int:
    """Queue a payload for every active webhook on the topic; return how many."""
    with store.lock:
        hooks = [w for w in store.webhooks.values()
                 if w.topic == topic and w.status == "active"]
    for webhook in hooks:
        hookshot.enqueue(store, webhook, resource_id, payload)
    return len(hooks)
