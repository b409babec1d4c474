"""All WooCommerce stores of one devstore server, their URLs and the webhook sender."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..cookies import new_key
from ..errors import BadRequest, NotFound
from .errors import WooError
from .hookshot import Hookshot
from .state import HANDLE_RE, LOCALE_RE, WooShopState, WooStore

log = logging.getLogger(__name__)
DEFAULT_CURRENCY = "EUR"
DEFAULT_TIMEZONE = "Europe/Berlin"


@dataclass
class WooRegistry:
    """The WooCommerce stores; store URLs are `<origin>/woo/<handle>`."""

    http_origin: Callable[[], Optional[str]] = lambda: None
    https_origin: Optional[str] = None
    require_https_callback: bool = False
    hookshot: Hookshot = field(default_factory=Hookshot)
    stores: dict[str, WooStore] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Signs the storefront session cookies (login, cart, notices); a new key per server.
    cookie_key: bytes = field(default_factory=new_key)

    @classmethod
    def from_config(cls, config: dict[str, Any],
                    http_origin: Callable[[], Optional[str]]) -> "WooRegistry":
        """Build the registry from create_app config keys (woo_https_origin, woo_stores...)."""
        registry = cls(http_origin=http_origin, https_origin=config.get("woo_https_origin"),
                       require_https_callback=bool(config.get("woo_require_https_callback")))
        registry.hookshot.coalesce = float(config.get("woo_coalesce_seconds", 0.2))
        registry.hookshot.timeout = float(config.get("woo_delivery_timeout", 5.0))
        for item in config.get("woo_stores", ()):
            if isinstance(item, str):
                registry.ensure(item)
            else:
                registry.ensure(item["handle"], item.get("name"), item.get("currency"),
                                item.get("timezone"), item.get("locale"))
        return registry

    def ensure(self, handle: str, name: Optional[str] = None, currency: Optional[str] = None,
               timezone: Optional[str] = None,
               locale: Optional[str] = None) -> tuple[WooStore, bool]:
        """Return the store for a handle, creating it if needed; also whether it is new."""
        if not isinstance(handle, str) or not HANDLE_RE.match(handle):
            raise BadRequest("handle must match [a-z0-9-]+")
        if locale is not None and not LOCALE_RE.match(locale):
            raise BadRequest(f"invalid locale {locale!r} (a WordPress locale, e.g. en_US)")
        with self.lock:
            store = self.stores.get(handle)
            created = store is None
            if store is None:
                shop = WooShopState(domain=f"woo/{handle}",
                                    name=handle.replace("-", " ").title(),
                                    currency=DEFAULT_CURRENCY, timezone=DEFAULT_TIMEZONE,
                                    email=f"admin@{handle}.example",
                                    created_at=int(time.time()) - 3 * 365 * 86_400)
                store = WooStore(handle, shop)
                self.stores[handle] = store
                log.info("created woo store %s", handle)
            if name:
                store.shop.name = name
            if currency:
                store.shop.currency = currency.upper()
            if timezone:
                store.shop.timezone = timezone
            if locale:
                store.locale = locale
            self.refresh_url(store)
            return store, created

    def get(self, handle: str) -> WooStore:
        """Return a store for the control API or raise NotFound."""
        with self.lock:
            store = self.stores.get(handle)
        if store is None:
            raise NotFound(f"unknown woo store {handle!r}")
        return store

    def site(self, handle: str) -> WooStore:
        """Return a store for its own routes or raise a WordPress-style 404."""
        with self.lock:
            store = self.stores.get(handle)
        if store is None:
            raise WooError("rest_no_route", "No site exists at this address.", 404)
        return store

    def http_url(self, handle: str) -> str:
        """Return the plain-HTTP store URL."""
        origin = (self.http_origin() or "http://127.0.0.1:8100").rstrip("/")
        return f"{origin}/woo/{handle}"

    def https_url(self, handle: str) -> Optional[str]:
        """Return the HTTPS store URL, if a TLS listener is registered."""
        return f"{self.https_origin.rstrip('/')}/woo/{handle}" if self.https_origin else None

    def refresh_url(self, store: WooStore) -> None:
        """Recompute the store's home URL: its override, else https when available."""
        store.url = (store.home_url or self.https_url(store.handle)
                     or self.http_url(store.handle)).rstrip("/")

    def set_https_origin(self, origin: Optional[str]) -> None:
        """Register (or forget) the TLS listener's origin and refresh every home URL."""
        with self.lock:
            self.https_origin = origin.rstrip("/") if origin else None
        self.refresh_all()

    def refresh_all(self) -> None:
        """Recompute every store's home URL (after the listeners are known)."""
        with self.lock:
            for store in self.stores.values():
                self.refresh_url(store)
