"""Per-request context handed to every field getter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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
    # The access scopes the token was granted (None: not checked, as for internal reads).
    scopes: Optional[frozenset[str]] = None

    def has_scope(self, scope: str) -> bool:
        """Tell whether the token may use `scope` (a write scope grants its read scope too)."""
        if self.scopes is None:
            return True
        return scope in self.scopes or (scope.startswith("read_") and "write_" + scope[5:] in self.scopes)

    @property
    def currency(self) -> str:
        """Return the shop currency code."""
        return self.shop.currency
