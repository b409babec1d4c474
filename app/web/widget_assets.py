"""The storefront widget's two scripts: the small loader every page loads, and the panel.

WooCommerce pages load them from ``/widget/`` (another origin than the store, hence
``Access-Control-Allow-Origin: *``: they are the same public files for everyone); Shopify pages
load them through the app proxy as ``/proxy/widget/`` (``storefront_api``). The loader names the
panel by a hash of its content, so a panel can be cached for a year and a new one is fetched
the moment it changes; the loader itself is revalidated every five minutes.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import threading
from pathlib import Path

from flask import Blueprint, Response, request

from app.web.errors import error_response

FOLDER = Path(__file__).resolve().parent / "static" / "widget"
LOADER, PANEL = "comeback.js", "panel.js"
VERSION_MARK = "__PANEL_VERSION__"
LOADER_MAX_AGE = 300
YEAR = 365 * 24 * 3600

blueprint = Blueprint("widget_assets", __name__, url_prefix="/widget")


@dataclasses.dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


_lock = threading.Lock()
_cache: dict[str, tuple[tuple[float, ...], Asset]] = {}


def _asset(name: str, body: bytes) -> Asset:
    digest = hashlib.sha256(body).hexdigest()
    return Asset(body, gzip.compress(body, 9, mtime=0), f'"{digest[:32]}"')


def assets() -> dict[str, Asset]:
    """The two scripts as served, rebuilt when a file changes on disk."""
    stamps = tuple((FOLDER / name).stat().st_mtime for name in (LOADER, PANEL))
    with _lock:
        cached = _cache.get("all")
        if cached is None or cached[0] != stamps:
            panel = _asset(PANEL, (FOLDER / PANEL).read_bytes())
            version = panel.etag.strip('"')[:16]
            loader = (FOLDER / LOADER).read_text(encoding="utf-8").replace(VERSION_MARK, version)
            _cache["all"] = (stamps, {LOADER: _asset(LOADER, loader.encode()), PANEL: panel})
        return _cache["all"][1]


def panel_version() -> str:
    return assets()[PANEL].etag.strip('"')[:16]


def serve(name: str) -> Response:
    """One of the scripts, gzipped when the browser takes it, revalidated by ETag."""
    found = assets().get(name)
    if found is None:
        return error_response(404, f"no widget file {name!r} (there are {LOADER} and {PANEL})")
    if name == PANEL and request.args.get("v") == panel_version():
        cache = f"public, max-age={YEAR}, immutable"
    else:
        cache = f"public, max-age={LOADER_MAX_AGE}"
    packed = "gzip" in (request.headers.get("Accept-Encoding") or "")
    etag = found.etag[:-1] + '-gz"' if packed else found.etag  # one tag per encoding of the same file
    if etag in [tag.strip() for tag in (request.headers.get("If-None-Match") or "").split(",")]:
        response = Response(status=304)
    elif packed:
        response = Response(found.gzipped, mimetype="text/javascript")
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(found.body, mimetype="text/javascript")
    response.headers.update({"ETag": etag, "Cache-Control": cache, "Vary": "Accept-Encoding",
                             "Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff",
                             "Cross-Origin-Resource-Policy": "cross-origin"})
    return response


@blueprint.get("/<name>")
def widget_file(name: str):
    return serve(name)
