"""`/wc/v3/settings`: the plugin's `comeback` group and the store currency."""

from __future__ import annotations

from typing import Any

from .. import wpjson
from ..context import store
from ..errors import WooError, not_found
from ..shapes.admin import SETTINGS, currency_setting, setting
from ..state import WooStore
from . import bp
from .common import BATCH_LIMIT, body


def _group(woo: WooStore) -> None:
    """Raise unless the companion plugin (and so its settings group) is installed."""
    if not woo.plugin_installed:
        raise not_found("rest_setting_setting_group_invalid", "Invalid setting group.")


def _set(woo: WooStore, setting_id: str, value: Any) -> dict:
    """Store one comeback setting and return it."""
    if setting_id not in SETTINGS:
        raise not_found("rest_setting_setting_invalid", "Invalid setting.")
    if value is not None and not isinstance(value, (str, int, float)):
        raise WooError("rest_setting_value_invalid", "An invalid setting value was passed.",
                       400)
    woo.settings[setting_id] = "" if value is None else str(value)
    return setting(woo, setting_id)


@bp.get("/wc/v3/settings")
def groups() -> Any:
    """List setting groups."""
    woo = store()
    rows = [{"id": "general", "label": "General", "description": "", "parent_id": "",
             "sub_groups": []}]
    if woo.plugin_installed:
        rows.append({"id": "comeback", "label": "Comeback", "description":
                     "Comeback customer retention.", "parent_id": "", "sub_groups": []})
    return wpjson.response(rows)


@bp.get("/wc/v3/settings/comeback")
def list_settings() -> Any:
    """List the comeback settings (the shared secret masked)."""
    woo = store()
    with woo.lock:
        _group(woo)
        return wpjson.response([setting(woo, s) for s in SETTINGS])


@bp.get("/wc/v3/settings/comeback/<id>")
def get_setting(id: str) -> Any:
    """Return one comeback setting."""
    woo = store()
    with woo.lock:
        _group(woo)
        if id not in SETTINGS:
            raise not_found("rest_setting_setting_invalid", "Invalid setting.")
        return wpjson.response(setting(woo, id))


@bp.route("/wc/v3/settings/comeback/<id>", methods=["PUT", "POST", "PATCH"])
def update_setting(id: str) -> Any:
    """Change one comeback setting."""
    woo = store()
    data = body()
    with woo.lock:
        _group(woo)
        return wpjson.response(_set(woo, id, data.get("value")))


@bp.post("/wc/v3/settings/comeback/batch")
def batch_settings() -> Any:
    """Change several comeback settings: `{update: [{id, value}]}`."""
    woo = store()
    items = body().get("update") or []
    if not isinstance(items, list):
        raise WooError("rest_invalid_param", "Invalid parameter(s): update", 400)
    if len(items) > BATCH_LIMIT:
        raise WooError("woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {BATCH_LIMIT} items for this request.", 413)
    with woo.lock:
        _group(woo)
        out = []
        for item in items:
            try:
                out.append(_set(woo, str(item.get("id")), item.get("value")))
            except WooError as exc:
                out.append({"id": item.get("id"), "error": exc.body()})
        return wpjson.response({"update": out})


@bp.get("/wc/v3/settings/general/woocommerce_currency")
def currency() -> Any:
    """Return the store currency setting."""
    return wpjson.response(currency_setting(store()))


@bp.get("/wc/v3/settings/<group>")
def unknown_group(group: str) -> Any:
    """Answer rest_setting_setting_group_invalid for groups devstore does not model."""
    raise not_found("rest_setting_setting_group_invalid", "Invalid setting group.")
