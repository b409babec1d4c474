"""Per-request context handed to every field getter."""

from __future__ import annotations

from dataclasses import dataclass

from ..core import DevStore
from ..shopstate import ShopState


@dataclass
class Ctx:
    """Who is asking, about which shop, through which API version."""

    store: DevStore
    shop: ShopState
    client_id: str
    api_version: str
    bulk: bool = False

    @property
    def currency(self) -> str:
        """Return the shop currency code."""
        return self.shop.currency
