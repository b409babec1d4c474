"""Per-store WooCommerce state on top of a devstore ShopState with small WordPress ids."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from ..shopstate import ShopState

HANDLE_RE = re.compile(r"^[a-z0-9-]+$")
LOCALE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?(_[a-z]+)?$")
SEQUENCE_OF = {
    "Order": "post", "Refund": "post", "Product": "post", "ProductVariant": "post",
    "AbandonedCheckout": "post", "Coupon": "post",
    "LineItem": "order_item", "RefundLineItem": "order_item",
    "Customer": "user",
}
SEQUENCE_START = {"user": 1}  # user 1 is the site administrator
SETTING_IDS = ("comeback_app_url", "comeback_store_id", "comeback_shared_secret")


@dataclass
class WooShopState(ShopState):
    """A ShopState whose ids come from WordPress-like sequences (posts, order items, users)."""

    def next_id(self, type_name: str) -> int:
        """Allocate the next small id from the sequence this type lives in."""
        sequence = SEQUENCE_OF.get(type_name, type_name)
        value = self._counters.get(sequence, SEQUENCE_START.get(sequence, 0)) + 1
        self._counters[sequence] = value
        return value


@dataclass
class ApiKey:
    """A WooCommerce REST API key (woocommerce_api_keys row)."""

    key_id: int
    user_id: int
    description: str
    permissions: str
    consumer_key: str
    consumer_secret: str
    nonces: dict[str, int] = field(default_factory=dict)

    @property
    def truncated_key(self) -> str:
        """Return the last seven characters of the consumer key, as WooCommerce stores them."""
        return self.consumer_key[-7:]

    def can(self, write: bool) -> bool:
        """Tell whether the key allows reading (or writing when write)."""
        return self.permissions in ("read_write", "write" if write else "read")


@dataclass
class Webhook:
    """A WooCommerce webhook (wc_webhooks row)."""

    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    created_at: int
    updated_at: int
    failure_count: int = 0


@dataclass
class Coupon:
    """A shop_coupon post; amounts are decimal strings as WooCommerce returns them."""

    id: int
    code: str
    created_at: int
    updated_at: int
    amount: str = "0.00"
    discount_type: str = "fixed_cart"
    description: str = ""
    date_expires: Optional[int] = None
    individual_use: bool = False
    usage_limit: Optional[int] = None
    usage_limit_per_user: Optional[int] = None
    usage_count: int = 0
    free_shipping: bool = False
    product_ids: list[int] = field(default_factory=list)
    limit_usage_to_x_items: Optional[int] = None
    email_restrictions: list[str] = field(default_factory=list)
    minimum_amount: str = "0.00"
    maximum_amount: str = "0.00"
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    status: str = "publish"


@dataclass
class Fault:
    """An injected failure for the next matching REST requests."""

    status: int
    remaining: int
    path_contains: str
    retry_after: Optional[int]


def new_key_pair() -> tuple[str, str]:
    """Return a fresh (consumer_key, consumer_secret)."""
    return "ck_" + secrets.token_hex(20), "cs_" + secrets.token_hex(20)


@dataclass
class WooStore:
    """Everything devstore knows about one WooCommerce store; guard access with `lock`."""

    handle: str
    shop: WooShopState
    keys: dict[int, ApiKey] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    coupons: dict[int, Coupon] = field(default_factory=dict)
    order_status: dict[int, str] = field(default_factory=dict)
    completed_at: dict[int, int] = field(default_factory=dict)
    paid_at: dict[int, int] = field(default_factory=dict)
    trashed_from: dict[int, str] = field(default_factory=dict)
    order_meta: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    customer_meta: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    customer_roles: dict[int, str] = field(default_factory=dict)
    addresses: dict[Any, dict[str, dict[str, str]]] = field(default_factory=dict)
    extra_ids: dict[tuple, int] = field(default_factory=dict)
    terms: dict[tuple[str, str], int] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=lambda: dict.fromkeys(SETTING_IDS, ""))
    faults: list[Fault] = field(default_factory=list)
    plugin_installed: bool = False
    # The WooCommerce Gift Cards extension: orders list the cards that paid (`gift_cards`) and
    # their `total` is what is left to pay after them, as the extension computes it.
    gift_cards_installed: bool = False
    strip_authorization: bool = False
    # Stores before the store-wide refunds endpoint answer rest_no_route for /refunds.
    refunds_endpoint: bool = True
    deny_auth: bool = False
    home_url: Optional[str] = None
    # WordPress's site language (`determine_locale()`), printed as `en-US` in the widget config.
    locale: str = "en_US"
    url: str = ""
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    _seq: dict[str, int] = field(default_factory=dict)

    @property
    def lock(self) -> Any:
        """Return the store lock (the ShopState's re-entrant lock)."""
        return self.shop.lock

    def next(self, sequence: str) -> int:
        """Allocate the next id of a WooCommerce-only sequence (keys, webhooks, meta, terms)."""
        value = self._seq.get(sequence, 0) + 1
        self._seq[sequence] = value
        return value

    def item_id(self, *key: Any) -> int:
        """Return a stable order item id for a synthetic line (shipping, tax, coupon)."""
        if key not in self.extra_ids:
            self.extra_ids[key] = self.shop.next_id("LineItem")
        return self.extra_ids[key]

    def meta_id(self, *key: Any) -> int:
        """Return a stable meta id for a synthetic meta row."""
        if key not in self.extra_ids:
            self.extra_ids[key] = self.next("meta")
        return self.extra_ids[key]

    def term_id(self, taxonomy: str, name: str) -> int:
        """Return the id of a product category or tag, creating it on first use."""
        key = (taxonomy, name)
        if key not in self.terms:
            self.terms[key] = self.next("term") + 14  # a fresh site already has a few terms
        return self.terms[key]

    def payable(self, order: Any) -> int:
        """Return an order's WooCommerce `total` in cents: after gift cards, with the extension."""
        return order.total - (order.gift_card if self.gift_cards_installed else 0)

    def status_of(self, order_id: int) -> str:
        """Return an order's WooCommerce status."""
        return self.order_status.get(order_id, "processing")

    def take_fault(self, path: str) -> Optional[Fault]:
        """Consume a matching injected fault, if any."""
        for fault in self.faults:
            if fault.remaining > 0 and fault.path_contains in path:
                fault.remaining -= 1
                self.faults = [f for f in self.faults if f.remaining > 0]
                return fault
        return None

    def add_key(self, permissions: str, description: str, user_id: int = 1) -> ApiKey:
        """Create an API key."""
        consumer_key, consumer_secret = new_key_pair()
        key = ApiKey(self.next("api_key"), user_id, description, permissions, consumer_key,
                     consumer_secret)
        self.keys[key.key_id] = key
        return key

    def key_by_consumer_key(self, consumer_key: str) -> Optional[ApiKey]:
        """Find a key by its consumer key."""
        wanted = consumer_key.encode()
        return next((k for k in self.keys.values()
                     if secrets.compare_digest(k.consumer_key.encode(), wanted)), None)


def now() -> int:
    """Return the current time in whole seconds."""
    return int(time.time())


def advance(previous: int) -> int:
    """Return a modification time that is now but strictly after the previous one."""
    return max(now(), previous + 1)
