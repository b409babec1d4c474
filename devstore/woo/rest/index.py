"""The WordPress REST index (unauthenticated) and the wc/v3 namespace index."""

from __future__ import annotations

from typing import Any

from .. import timefmt, wpjson
from ..context import store
from . import bp

NAMESPACES = ["oembed/1.0", "wp/v2", "wp-site-health/v1", "wc/store/v1", "wc/v1", "wc/v2",
              "wc/v3", "wc-admin", "wc-analytics"]
ROUTES = ("orders", "orders/(?P<order_id>[\\d]+)/refunds", "customers", "customers/batch",
          "products", "products/(?P<product_id>[\\d]+)/variations", "coupons",
          "coupons/batch", "webhooks", "settings", "settings/(?P<group_id>[\\w-]+)")


def _routes() -> dict[str, Any]:
    """Return the (abbreviated) wc/v3 route table."""
    return {f"/wc/v3/{r}": {"namespace": "wc/v3", "methods": ["GET"], "endpoints": []}
            for r in ROUTES}


@bp.get("/")
def site_index() -> Any:
    """Describe the site like `GET /wp-json/`."""
    woo = store()
    tz = woo.shop.timezone
    return wpjson.response({
        "name": woo.shop.name, "description": "Just another WooCommerce store",
        "url": woo.url, "home": woo.url, "gmt_offset": timefmt.gmt_offset(tz),
        "timezone_string": tz, "page_for_posts": 0, "page_on_front": 0, "show_on_front": "posts",
        "namespaces": NAMESPACES, "authentication": [], "routes": _routes(),
        "site_logo": 0, "site_icon": 0, "site_icon_url": "",
    })


@bp.get("/wc/v3")
def namespace_index() -> Any:
    """Describe the wc/v3 namespace."""
    return wpjson.response({"namespace": "wc/v3", "routes": _routes()})
