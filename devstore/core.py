"""The DevStore: shops, apps, tokens and webhook fan-out for one server."""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from .cookies import new_key
from .errors import BadRequest, NotFound
from .shopstate import DEFAULT_ORIGIN, ID_BASES, ShopState, Subscription
from .storefront.proxy import DEFAULT_TIMEOUT, parse_app_proxy
from .storefront.themes import check_extension
from .tokens import App, TokenStore
from .webhooks import DEFAULT_BACKOFF, Dispatcher

log = logging.getLogger(__name__)

API_VERSION = "2026-10"
SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


def normalize_domain(value: str) -> str:
    """Lower-case a shop domain, append .myshopify.com to a bare handle, drop any port."""
    domain = (value or "").strip().lower().split(":", 1)[0]
    if domain and "." not in domain:
        domain += ".myshopify.com"
    if not SHOP_DOMAIN_RE.match(domain):
        raise BadRequest(f"invalid shop domain: {value!r}")
    return domain


def app_from_config(body: dict[str, Any]) -> App:
    """Build an App from its registration fields, checking the app proxy and extensions."""
    extensions = body.get("extensions") or []
    if not isinstance(extensions, list):
        raise BadRequest("extensions must be a list of absolute directory paths")
    return App(body["client_id"], body["client_secret"], body.get("compliance_uri"),
               body.get("scopes"), parse_app_proxy(body.get("app_proxy")),
               tuple(check_extension(path) for path in extensions), body.get("application_url"))


@dataclass
class Faults:
    """Injected failures for the next Admin API requests."""

    rules: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, count: int, path_contains: Optional[str]) -> None:
        """Queue a failure rule."""
        with self.lock:
            self.rules.append({"status": status, "remaining": count,
                               "path_contains": path_contains or "graphql.json"})

    def take(self, path: str) -> Optional[int]:
        """Consume and return the status of a matching rule, if any."""
        with self.lock:
            for rule in self.rules:
                if rule["remaining"] > 0 and rule["path_contains"] in path:
                    rule["remaining"] -= 1
                    status = rule["status"]
                    self.rules = [r for r in self.rules if r["remaining"] > 0]
                    return status
        return None


@dataclass
class DevStore:
    """All state behind one devstore server."""

    public_url: Optional[str] = None
    api_version: str = API_VERSION
    tokens: TokenStore = field(default_factory=TokenStore)
    shops: dict[str, ShopState] = field(default_factory=dict)
    dispatcher: Dispatcher = field(default_factory=Dispatcher)
    faults: Faults = field(default_factory=Faults)
    bulk_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="devstore-bulk-"))
    lock: threading.RLock = field(default_factory=threading.RLock)
    trickles: dict[str, Any] = field(default_factory=dict)
    # Signs the storefront's shopper cookies; a new key per server.
    cookie_key: bytes = field(default_factory=new_key)
    proxy_timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DevStore":
        """Build a store from a create_app config dict."""
        store = cls(public_url=config.get("public_url"),
                    api_version=config.get("api_version", API_VERSION))
        store.dispatcher.backoff = tuple(config.get("retry_backoff", DEFAULT_BACKOFF))
        store.dispatcher.timeout = float(config.get("delivery_timeout", 5.0))
        if "bulk_dir" in config:
            store.bulk_dir = config["bulk_dir"]
        for key, attr in (("code_ttl", "code_ttl"), ("access_token_ttl", "access_ttl"),
                          ("refresh_token_ttl", "refresh_ttl")):
            if key in config:
                setattr(store.tokens, attr, config[key])
        store.proxy_timeout = float(config.get("app_proxy_timeout", DEFAULT_TIMEOUT))
        for app in config.get("apps", ()):
            store.tokens.register_app(app_from_config(app))
        for shop in config.get("shops", ()):
            if isinstance(shop, str):
                store.ensure_shop(shop)
            else:
                store.ensure_shop(shop["domain"], shop.get("name"), shop.get("currency"),
                                  shop.get("timezone"), shop.get("locale"))
        return store

    def ensure_shop(self, domain: str, name: Optional[str] = None,
                    currency: Optional[str] = None, timezone: Optional[str] = None,
                    locale: Optional[str] = None) -> tuple[ShopState, bool]:
        """Return the shop for a domain, creating it if needed; also whether it is new."""
        domain = normalize_domain(domain)
        if locale is not None and not LOCALE_RE.match(locale):
            raise BadRequest(f"invalid locale {locale!r} (e.g. en, pt-BR)")
        with self.lock:
            shop = self.shops.get(domain)
            created = shop is None
            if shop is None:
                handle = domain.split(".", 1)[0]
                shop = ShopState(domain=domain, name=name or handle.replace("-", " ").title(),
                                 email=f"owner@{handle}.example",
                                 created_at=int(time.time()) - 3 * 365 * 86_400,
                                 id=ID_BASES["Shop"] + len(self.shops) + 1)
                shop.origin = self.base_url
                self.shops[domain] = shop
                log.info("created shop %s", domain)
            if name:
                shop.name = name
            if currency:
                shop.currency = currency.upper()
            if timezone:
                shop.timezone = timezone
            if locale:
                shop.locale = locale
            return shop, created

    def shop(self, domain: str) -> ShopState:
        """Return an existing shop or raise NotFound."""
        try:
            key = normalize_domain(domain)
        except BadRequest as exc:
            raise NotFound(str(exc)) from exc
        with self.lock:
            shop = self.shops.get(key)
        if shop is None:
            raise NotFound(f"unknown shop {domain}")
        return shop

    def app(self, client_id: str) -> App:
        """Return a registered app or raise NotFound."""
        app = self.tokens.app(client_id or "")
        if app is None:
            raise NotFound(f"unknown app {client_id!r}")
        return app

    def base_url(self) -> str:
        """Return the public base URL used in bulk result links."""
        return (self.public_url or DEFAULT_ORIGIN).rstrip("/")

    def emit(self, shop: ShopState, topic: str, payload: dict[str, Any],
             only: Optional[list[Subscription]] = None) -> int:
        """Deliver a topic to every matching subscription on the shop."""
        with shop.lock:
            subs = only if only is not None else [
                s for s in shop.subscriptions.values() if s.topic == topic]
        sent = 0
        for sub in subs:
            app = self.tokens.app(sub.client_id)
            if app is None:
                continue
            self.dispatcher.send(shop.domain, topic, sub.uri, app.client_id, app.client_secret,
                                 sub.api_version, payload)
            sent += 1
        return sent

    def emit_compliance(self, shop: ShopState, client_id: str, topic: str,
                        payload: dict[str, Any]) -> str:
        """Deliver a compliance topic to the app's compliance URI."""
        app = self.app(client_id)
        if topic not in COMPLIANCE_TOPICS:
            raise BadRequest(f"unknown compliance topic {topic!r}")
        if not app.compliance_uri:
            raise BadRequest(f"app {client_id} has no compliance_uri")
        return self.dispatcher.send(shop.domain, topic, app.compliance_uri, app.client_id,
                                    app.client_secret, self.api_version, payload)
