"""The `/_devstore/woo` control API: stores, flags, keys, live changes and deliveries."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from .. import wpjson
from ..errors import WooError

bp = Blueprint("woo_control", __name__, url_prefix="/_devstore/woo")


@bp.errorhandler(WooError)
def woo_error(exc: WooError) -> Any:
    """Answer a WooCommerce-style error raised by a shared change function."""
    return wpjson.response(exc.body(), exc.status)


from . import delivery, live, stores  # noqa: E402,F401 - registers the routes on bp
