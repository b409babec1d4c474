"""Registered apps, authorization codes and access/refresh tokens."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

CODE_TTL = 600
ACCESS_TTL = 3600
REFRESH_TTL = 7_776_000


@dataclass(frozen=True)
class AppProxy:
    """An app proxy: `https://<shop>/<prefix>/<subpath>/...` is forwarded to `<url>/...`."""

    url: str
    prefix: str = "apps"
    subpath: str = ""


@dataclass
class App:
    """A registered Shopify app (client), with its app proxy and theme app extensions.

    `extensions` are absolute paths of theme app extension directories (each holding a
    `shopify.extension.toml` and `blocks/`).
    """

    client_id: str
    client_secret: str
    compliance_uri: Optional[str] = None
    scopes: Optional[str] = None
    app_proxy: Optional[AppProxy] = None
    extensions: tuple[str, ...] = ()
    # Where the admin opens the embedded app (the app's "App URL"); None: not embedded.
    application_url: Optional[str] = None


@dataclass
class Grant:
    """An issued code, access token or refresh token."""

    value: str
    shop: str
    client_id: str
    scope: str
    expires_at: Optional[float]
    used: bool = False
    revoked: bool = False

    def live(self, now: float) -> bool:
        """Return whether the grant can still be used."""
        return not self.used and not self.revoked and (
            self.expires_at is None or now < self.expires_at)


@dataclass
class TokenStore:
    """Thread-safe store of apps and grants."""

    code_ttl: float = CODE_TTL
    access_ttl: int = ACCESS_TTL
    refresh_ttl: int = REFRESH_TTL
    apps: dict[str, App] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    access: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, Grant] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register_app(self, app: App) -> bool:
        """Add or update an app; return True when it is new."""
        with self.lock:
            is_new = app.client_id not in self.apps
            self.apps[app.client_id] = app
            return is_new

    def app(self, client_id: str) -> Optional[App]:
        """Return the registered app with this client id."""
        with self.lock:
            return self.apps.get(client_id)

    def issue_code(self, shop: str, client_id: str, scope: str) -> str:
        """Create a single-use authorization code."""
        grant = Grant(secrets.token_hex(16), shop, client_id, scope, time.time() + self.code_ttl)
        with self.lock:
            self.codes[grant.value] = grant
        return grant.value

    def redeem_code(self, code: str, client_id: str) -> Optional[Grant]:
        """Consume a code for this client; None when unknown, used or expired."""
        with self.lock:
            grant = self.codes.get(code)
            if grant is None or grant.client_id != client_id or not grant.live(time.time()):
                return None
            grant.used = True
            return grant

    def issue_access(self, shop: str, client_id: str, scope: str, expiring: bool) -> dict:
        """Create an access token (plus refresh token when expiring) and return the response."""
        now = time.time()
        token = Grant("shpat_" + secrets.token_hex(16), shop, client_id, scope,
                      now + self.access_ttl if expiring else None)
        body: dict = {"access_token": token.value, "scope": scope}
        with self.lock:
            self.access[token.value] = token
            if expiring:
                refresh = Grant("shprt_" + secrets.token_hex(16), shop, client_id, scope,
                                now + self.refresh_ttl)
                self.refresh[refresh.value] = refresh
                body.update(expires_in=self.access_ttl, refresh_token=refresh.value,
                            refresh_token_expires_in=self.refresh_ttl)
        return body

    def rotate_refresh(self, value: str, client_id: str) -> Optional[Grant]:
        """Consume a refresh token; None when unknown, used, revoked or expired."""
        with self.lock:
            grant = self.refresh.get(value)
            if grant is None or grant.client_id != client_id or not grant.live(time.time()):
                return None
            grant.used = True
            return grant

    def authenticate(self, value: str) -> Optional[Grant]:
        """Return the live access token grant for this value."""
        with self.lock:
            grant = self.access.get(value)
            if grant is None or not grant.live(time.time()):
                return None
            return grant

    def expire(self, shop: str) -> int:
        """Expire every access token of a shop and return how many."""
        past = time.time() - 1
        with self.lock:
            grants = [g for g in self.access.values() if g.shop == shop and g.live(past + 1)]
            for grant in grants:
                grant.expires_at = past
            return len(grants)

    def revoke(self, shop: str, client_id: str) -> int:
        """Revoke all access and refresh tokens of an app on a shop."""
        with self.lock:
            count = 0
            for grant in list(self.access.values()) + list(self.refresh.values()):
                if grant.shop == shop and grant.client_id == client_id and not grant.revoked:
                    grant.revoked = True
                    count += 1
            return count

    def is_installed(self, shop: str, client_id: str) -> bool:
        """Tell whether the app holds a token on the shop that was not revoked (uninstalled).

        An access token that merely expired still counts: the app stays installed.
        """
        with self.lock:
            return any(g.shop == shop and g.client_id == client_id and not g.revoked
                       for g in list(self.access.values()) + list(self.refresh.values()))

    def installed_clients(self, shop: str) -> set[str]:
        """Return client ids holding a live access token on the shop."""
        now = time.time()
        with self.lock:
            return {g.client_id for g in self.access.values() if g.shop == shop and g.live(now)}
