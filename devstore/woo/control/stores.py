"""Control routes for stores: create, flags, generate, stats, keys, faults, TLS origin."""

from __future__ import annotations

from typing import Any, Optional

from flask import jsonify

from ...errors import BadRequest, NotFound
from ...http.common import generate_spec, json_body, number
from .. import hooks, seed
from ..context import registry
from ..state import SETTING_IDS, Fault
from . import bp
from .summary import stats, summary

FLAGS = ("plugin_installed", "strip_authorization", "deny_auth", "refunds_endpoint",
         "gift_cards_installed")
PERMISSIONS = ("read", "write", "read_write")


def _text(body: dict, key: str) -> Optional[str]:
    """Read an optional string field."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value


@bp.post("/stores")
def create_store() -> Any:
    """Create (201) or update (200) a store."""
    body = json_body(required=True)
    reg = registry()
    store, created = reg.ensure(_text(body, "handle") or "", _text(body, "name"),
                                _text(body, "currency"), _text(body, "timezone"),
                                _text(body, "locale"))
    return jsonify(summary(reg, store)), 201 if created else 200


@bp.get("/stores")
def list_stores() -> Any:
    """List stores."""
    reg = registry()
    with reg.lock:
        stores = list(reg.stores.values())
    return jsonify([summary(reg, s) for s in stores])


@bp.get("/stores/<handle>")
def get_store(handle: str) -> Any:
    """Return a store summary."""
    reg = registry()
    return jsonify(summary(reg, reg.get(handle)))


@bp.post("/stores/<handle>")
def set_flags(handle: str) -> Any:
    """Set flags, comeback settings, home_url, admin_email, name, currency, timezone or locale."""
    reg = registry()
    store = reg.get(handle)
    body = json_body(required=True)
    for flag in FLAGS:
        if flag in body and not isinstance(body[flag], bool):
            raise BadRequest(f"{flag} must be a boolean")
    settings = body.get("settings") or {}
    if not isinstance(settings, dict) or set(settings) - set(SETTING_IDS):
        raise BadRequest(f"settings keys must be among {list(SETTING_IDS)}")
    admin_email = _text(body, "admin_email")
    reg.ensure(handle, _text(body, "name"), _text(body, "currency"), _text(body, "timezone"),
               _text(body, "locale"))
    with store.lock:
        for flag in FLAGS:
            if flag in body:
                setattr(store, flag, body[flag])
        store.settings.update({k: str(v or "") for k, v in settings.items()})
        if "home_url" in body:
            store.home_url = _text(body, "home_url")
        if "admin_email" in body:
            store.shop.email = admin_email or ""
    reg.refresh_url(store)
    return jsonify(summary(reg, store))


@bp.post("/stores/<handle>/generate")
def generate(handle: str) -> Any:
    """Generate history with the shared generator (no webhooks)."""
    store = registry().get(handle)
    spec = generate_spec(json_body(), len(store.shop.products))
    return jsonify(seed.generate(store, spec))


@bp.get("/stores/<handle>/stats")
def store_stats(handle: str) -> Any:
    """Return object counts."""
    return jsonify(stats(registry().get(handle)))


@bp.post("/stores/<handle>/keys")
def create_key(handle: str) -> Any:
    """Create an API key as WP admin would."""
    store = registry().get(handle)
    body = json_body()
    permissions = body.get("permissions", "read_write")
    if permissions not in PERMISSIONS:
        raise BadRequest(f"permissions must be one of {list(PERMISSIONS)}")
    with store.lock:
        key = store.add_key(permissions, _text(body, "description") or "devstore key")
    return jsonify({"key_id": key.key_id, "consumer_key": key.consumer_key,
                    "consumer_secret": key.consumer_secret, "permissions": key.permissions,
                    "truncated_key": key.truncated_key}), 201


@bp.delete("/stores/<handle>/keys/<int:key_id>")
def revoke_key(handle: str, key_id: int) -> Any:
    """Revoke an API key."""
    store = registry().get(handle)
    with store.lock:
        if store.keys.pop(key_id, None) is None:
            raise NotFound(f"unknown key {key_id}")
    return jsonify({"revoked": key_id})


@bp.post("/stores/<handle>/faults")
def add_fault(handle: str) -> Any:
    """Make the next matching REST requests fail with a status."""
    store = registry().get(handle)
    body = json_body(required=True)
    status = number(body, "status", None)
    if status not in (429, 500, 502, 503):
        raise BadRequest("status must be one of 429, 500, 502, 503")
    fault = Fault(status, number(body, "count", 1, minimum=1),
                  _text(body, "path_contains") or "/wp-json/wc/",
                  number(body, "retry_after", None, minimum=0))
    with store.lock:
        store.faults.append(fault)
    return jsonify({"status": fault.status, "count": fault.remaining,
                    "path_contains": fault.path_contains, "retry_after": fault.retry_after}), 201


@bp.post("/stores/<handle>/webhooks/<int:webhook_id>/disable")
def disable_webhook(handle: str, webhook_id: int) -> Any:
    """Force a webhook to disabled."""
    return jsonify(hooks.disable(registry().get(handle), webhook_id))


@bp.post("/tls")
def register_tls() -> Any:
    """Register the TLS listener: `{port, host?}` or `{origin}` (null forgets it)."""
    body = json_body(required=True)
    reg = registry()
    if "origin" in body:
        reg.set_https_origin(_text(body, "origin"))
    else:
        port = number(body, "port", None, minimum=1, maximum=65535)
        if port is None:
            raise BadRequest("port or origin is required")
        reg.set_https_origin(f"https://{_text(body, 'host') or '127.0.0.1'}:{port}")
    return jsonify({"https_origin": reg.https_origin})
