"""Per-shop in-memory data: collections, id sequences and sorted views."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

from .models import Checkout, Customer, Discount, Metafield, Order, Product, Variant

T = TypeVar("T")

ID_BASES = {
    "Customer": 7_100_000_000_000,
    "Order": 5_600_000_000_000,
    "LineItem": 13_900_000_000_000,
    "Product": 8_200_000_000_000,
    "ProductVariant": 44_300_000_000_000,
    "Refund": 930_000_000_000,
    "RefundLineItem": 560_000_000_000,
    "OrderTransaction": 6_700_000_000_000,
    "AbandonedCheckout": 35_000_000_000_000,
    "WebhookSubscription": 1_400_000_000_000,
    "BulkOperation": 4_500_000_000_000,
    "Shop": 61_000_000_000,
    "DiscountCodeNode": 1_470_000_000_000,
    "DiscountRedeemCode": 19_800_000_000_000,
    "Metafield": 27_300_000_000_000,
    "MediaImage": 31_900_000_000_000,
    "Fulfillment": 4_800_000_000_000,
}
DEFAULT_ORIGIN = "http://127.0.0.1:8100"

SORT_FIELDS: dict[str, Callable[[Any], tuple]] = {
    "ID": lambda o: (o.id,),
    "UPDATED_AT": lambda o: (o.updated_at, o.id),
    "CREATED_AT": lambda o: (o.created_at, o.id),
    "PROCESSED_AT": lambda o: (o.created_at, o.id),
}
_MEMBERSHIP_ONLY = {"ID", "CREATED_AT", "PROCESSED_AT"}


class Collection(Generic[T]):
    """A set of objects keyed by numeric id with cached sorted views."""

    def __init__(self) -> None:
        self.by_id: dict[int, T] = {}
        self.members_version = 0
        self.touch_version = 0
        self._views: dict[str, tuple[int, list[T], list[tuple]]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def __iter__(self) -> Iterator[T]:
        return iter(self.by_id.values())

    def get(self, object_id: int) -> Optional[T]:
        """Return the object with this id, if present."""
        return self.by_id.get(object_id)

    def add(self, obj: T) -> T:
        """Insert an object (ids must grow monotonically)."""
        self.by_id[obj.id] = obj  # type: ignore[attr-defined]
        self.members_version += 1
        self.touch_version += 1
        return obj

    def remove(self, object_id: int) -> Optional[T]:
        """Delete an object by id and return it."""
        obj = self.by_id.pop(object_id, None)
        if obj is not None:
            self.members_version += 1
            self.touch_version += 1
        return obj

    def touched(self) -> None:
        """Record that some object's updated_at changed."""
        self.touch_version += 1

    def view(self, sort_key: str) -> tuple[list[T], list[tuple]]:
        """Return (objects, sort keys) ordered ascending by sort_key."""
        version = self.members_version if sort_key in _MEMBERSHIP_ONLY else self.touch_version
        cached = self._views.get(sort_key)
        if cached and cached[0] == version:
            return cached[1], cached[2]
        keyfunc = SORT_FIELDS[sort_key]
        pairs = [(keyfunc(o), o) for o in self.by_id.values()]
        if sort_key != "ID":
            pairs.sort(key=lambda p: p[0])
        items = [p[1] for p in pairs]
        keys = [p[0] for p in pairs]
        self._views[sort_key] = (version, items, keys)
        return items, keys


@dataclass
class Subscription:
    """A webhook subscription of one app on one shop."""

    id: int
    client_id: str
    topic: str
    uri: str
    api_version: str
    created_at: int


@dataclass
class AppEmbed:
    """An app embed block switched on or off in the shop's theme, with its merchant settings."""

    client_id: str
    block: str
    enabled: bool
    settings: dict[str, Any]


@dataclass
class ThrottleSettings:
    """Leaky-bucket parameters for the shop's GraphQL clients."""

    maximum_available: float = 2000.0
    restore_rate: float = 100.0
    initial_available: Optional[float] = None


@dataclass
class ShopState:
    """Everything devstore knows about one shop; guard access with `lock`."""

    domain: str
    name: str
    currency: str = "USD"
    timezone: str = "America/New_York"
    # The storefront's language (`request.locale.iso_code` in Liquid).
    locale: str = "en"
    email: str = ""
    created_at: int = 0
    id: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    customers: Collection[Customer] = field(default_factory=Collection)
    orders: Collection[Order] = field(default_factory=Collection)
    products: Collection[Product] = field(default_factory=Collection)
    checkouts: Collection[Checkout] = field(default_factory=Collection)
    variants: dict[int, Variant] = field(default_factory=dict)
    refunds: dict[int, Any] = field(default_factory=dict)
    customers_by_email: dict[str, Customer] = field(default_factory=dict)
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    granted_scopes: dict[str, str] = field(default_factory=dict)
    bulk_ops: dict[int, Any] = field(default_factory=dict)
    buckets: dict[str, Any] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)
    order_number: int = 1000
    discounts: dict[int, Discount] = field(default_factory=dict)
    # Lower-cased code -> discount: codes are unique per shop, case-insensitively.
    discount_codes: dict[str, Discount] = field(default_factory=dict)
    metafields: dict[int, Metafield] = field(default_factory=dict)
    # (owner type, owner id, namespace, key) -> metafield.
    metafield_keys: dict[tuple[str, int, str, str], Metafield] = field(default_factory=dict)
    # (client id, block name) -> app embed, in activation order.
    app_embeds: dict[tuple[str, str], AppEmbed] = field(default_factory=dict)
    # The devstore's own base URL (where product images are served), asked when needed: a
    # server learns its port after the shop exists.
    origin: Callable[[], str] = field(default=lambda: DEFAULT_ORIGIN, repr=False, compare=False)

    def next_id(self, type_name: str) -> int:
        """Allocate the next numeric id for a GraphQL type."""
        value = self._counters.get(type_name, 0) + 1
        self._counters[type_name] = value
        return ID_BASES[type_name] + value

    def next_order_number(self) -> int:
        """Allocate the next order number (`#1001`, ...)."""
        self.order_number += 1
        return self.order_number

    def owner_metafields(self, owner_type: str, owner_id: int) -> list[Metafield]:
        """Return an owner's metafields ordered by id (creation order)."""
        return sorted((m for m in self.metafields.values()
                       if m.owner_type == owner_type and m.owner_id == owner_id),
                      key=lambda m: m.id)

    @property
    def short_name(self) -> str:
        """Return the shop handle (`example` for example.myshopify.com)."""
        return self.domain.split(".", 1)[0]
