"""`/wc/v3/webhooks`."""

from __future__ import annotations

from typing import Any

from flask import request

from .. import hooks, lookup, wpjson
from ..context import hookshot, store
from ..errors import WooError
from ..shapes.admin import webhook as shape
from . import bp
from .common import batch, body, force
from .listing import Window, including, paged
from .params import Params


@bp.get("/wc/v3/webhooks")
def list_webhooks() -> Any:
    """List webhooks, optionally by status."""
    woo = store()
    params = Params(request.args)
    window = Window(params)
    status = params.enum("status", ("all",) + hooks.STATUSES, "all")
    orderby = params.enum("orderby", ("date", "id", "title"), "date")
    include, exclude = params.ids("include"), params.ids("exclude")
    params.check()
    keys = {"date": lambda w: (w.created_at, w.id), "id": lambda w: w.id,
            "title": lambda w: (w.name, w.id)}
    with woo.lock:
        rows = [w for w in woo.webhooks.values() if (status == "all" or w.status == status)
                and including(include, exclude, w.id)]
        return paged(rows, window, lambda w: shape(woo, w), keys[orderby])


@bp.post("/wc/v3/webhooks")
def create_webhook() -> Any:
    """Create a webhook (pinged when active)."""
    return wpjson.response(hooks.create(hookshot(), store(), body()), 201)


@bp.get("/wc/v3/webhooks/<id>")
def get_webhook(id: str) -> Any:
    """Return one webhook."""
    woo = store()
    with woo.lock:
        return wpjson.response(shape(woo, lookup.webhook(woo, id)))


@bp.route("/wc/v3/webhooks/<id>", methods=["PUT", "POST", "PATCH"])
def update_webhook(id: str) -> Any:
    """Update a webhook (re-activate with status=active)."""
    return wpjson.response(hooks.update(hookshot(), store(), id, body()))


@bp.delete("/wc/v3/webhooks/<id>")
def delete_webhook(id: str) -> Any:
    """Delete a webhook; force=true is required as webhooks have no trash."""
    if not force():
        raise WooError("woocommerce_rest_trash_not_supported",
                       "Webhooks do not support trashing.", 501)
    return wpjson.response(hooks.delete(store(), id))


@bp.post("/wc/v3/webhooks/batch")
def batch_webhooks() -> Any:
    """Create, update and delete up to 100 webhooks."""
    woo, sender = store(), hookshot()
    return wpjson.response(batch(lambda item: hooks.create(sender, woo, item),
                                 lambda wid, item: hooks.update(sender, woo, wid, item),
                                 lambda wid: hooks.delete(woo, wid)))
