"""Product images, served as small real PNGs where Shopify's CDN would serve them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from .. import images
from ..errors import NotFound
from .common import store

bp = Blueprint("cdn", __name__)


@bp.get("/cdn/shops/<name>/files/<int:image_id>.png")
def product_image(name: str, image_id: int) -> Any:
    """Return the PNG of a shop's product image (404 once no live product has it)."""
    shop = store().shop(f"{name}.myshopify.com")
    with shop.lock:
        known = any(p.image is not None and p.image.id == image_id and not p.deleted
                    for p in shop.products)
    if not known:
        raise NotFound(f"image {image_id} not found")
    return Response(images.png(f"{shop.domain}/{image_id}"), 200, mimetype="image/png",
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})
