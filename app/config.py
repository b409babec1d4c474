"""Read the environment into typed settings: the only module that looks at ``os.environ``.

Two modes:

* **embedded** (the default, no settings needed): SQLite and an embedded Redis under
  ``instance/``, secrets generated once and kept in ``instance/secrets.json``.
* **production** (``COMEBACK_ENV=production``): every setting in ``REQUIRED_IN_PRODUCTION`` must
  be given; start-up fails with one message naming every missing one.

Any setting may be given in the environment in either mode.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent

REQUIRED_IN_PRODUCTION = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ENCRYPTION_KEY",
    "SHOPIFY_API_KEY",
    "SHOPIFY_API_SECRET",
    "APP_URL",
)

# Public setting names, their defaults in the embedded mode and what they mean. The README
# table is written from this list (a test keeps them in step).
SETTINGS_DOC: tuple[tuple[str, str, str], ...] = (
    ("COMEBACK_ENV", "embedded", "`embedded` (SQLite + embedded Redis) or `production`."),
    ("COMEBACK_INSTANCE_PATH", "`instance/`", "Folder for the SQLite file, the embedded Redis and generated secrets."),
    ("DATABASE_URL", "SQLite in `instance/`", "SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/comeback`."),
    ("REDIS_URL", "embedded Redis in `instance/`", "Redis for jobs, locks and the API budget, e.g. `redis://127.0.0.1:6379/0`."),
    ("SECRET_KEY", "generated once", "Signs state values and session cookies."),
    ("ENCRYPTION_KEY", "generated once", "Fernet key(s) for tokens at rest; comma-separated, newest first, to rotate."),
    ("APP_URL", "`http://127.0.0.1:5000`", "Public base URL of the app (OAuth redirect and webhook addresses)."),
    ("SHOPIFY_API_KEY", "generated demo key", "The app's client id."),
    ("SHOPIFY_API_SECRET", "generated demo secret", "The app's client secret (verifies webhooks, OAuth and session tokens)."),
    ("SHOPIFY_OLD_API_SECRET", "unset", "Previous client secret, accepted while a secret rotation rolls out."),
    ("SHOPIFY_SCOPES", "`read_customers,write_customers,read_orders,read_products,write_discounts,write_app_proxy`", "Scopes asked for at install."),
    ("SHOPIFY_API_ORIGIN", "unset", "Send Admin API and OAuth requests to this origin instead of the shop's own host (e.g. a local devstore)."),
    ("WOOCOMMERCE_ALLOW_PRIVATE_STORES", "`true` (embedded), `false` (production)", "Allow WooCommerce store URLs on private, loopback or link-local addresses (local stores, devstore). Off in production: no server-side request forgery."),
    ("WOOCOMMERCE_CA_BUNDLE", "unset", "CA bundle file to trust for WooCommerce stores with a private certificate authority."),
    ("WOOCOMMERCE_FULL_PASS_HOURS", "`6`", "How often customers of a WooCommerce store (which the API cannot filter by date) are read in full."),
    ("WEBHOOK_BATCH_SIZE", "`500`", "Inbox events applied per transaction."),
    ("CATCH_UP_INTERVAL_MINUTES", "`15`", "How often the incremental catch-up runs per shop."),
    ("DEVSTORE_PORT", "`8100`", "Port of the local devstore started by the demo command."),
    ("SMTP_HOST", "`127.0.0.1`", "SMTP server that delivers the app's email."),
    ("SMTP_PORT", "`1025` (embedded), `587` (production)", "Port of the SMTP server."),
    ("SMTP_USERNAME", "unset", "SMTP login (with `SMTP_PASSWORD`); unset: no authentication."),
    ("SMTP_PASSWORD", "unset", "SMTP password."),
    ("SMTP_STARTTLS", "`false` (embedded), `true` (production)", "Upgrade the SMTP connection with STARTTLS before logging in and sending."),
    ("SMTP_FROM", "`Comeback <no-reply@localhost>`", "Sender address of every email; the shop's name replaces the display name."),
    ("MESSAGING_CONTACT_BUDGET_HOURS", "`16`", "At most one marketing email per customer within this many hours (transactional mail does not count)."),
    ("MESSAGING_QUIET_HOURS", "`21:00-08:00`", "Local hours (shop time zone) in which marketing email waits; `off` to send at any hour."),
)

_DEFAULT_SCOPES = "read_customers,write_customers,read_orders,read_products,write_discounts,write_app_proxy"


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable app."""


@dataclasses.dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    database_url: str
    redis_url: str | None  # None: embedded Redis under instance_path
    secret_key: str
    encryption_keys: tuple[str, ...]
    app_url: str
    shopify_api_key: str
    shopify_api_secret: str
    shopify_old_api_secret: str | None
    shopify_scopes: str
    shopify_api_origin: str | None
    webhook_batch_size: int = 500
    catch_up_interval_minutes: int = 15
    devstore_port: int = 8100
    testing: bool = False
    woocommerce_allow_private_stores: bool = True
    woocommerce_ca_bundle: str | None = None
    woocommerce_full_pass_hours: int = 6
    storefront_shop_rate: int = 1200  # storefront API requests a minute, all of a shop's shoppers
    storefront_shopper_rate: int = 120  # ... and one shopper (or visitor address)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = dataclasses.field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_from: str = "Comeback <no-reply@localhost>"
    messaging_contact_budget_hours: int = 16
    messaging_quiet_hours: str = "21:00-08:00"  # "HH:MM-HH:MM" in the shop's time zone; "" for none
    # Envelope sender (VERP: local+<message token>@domain) whose mailbox the bounce receiver serves.
    messaging_bounce_address: str | None = None
    messaging_bounce_port: int = 2525

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_redis_path(self) -> Path:
        return self.instance_path / "redis.db"

    def connector_settings(self, platform: str) -> dict[str, Any]:
        """Return the keyword arguments the platform's connector is built with."""
        if platform == "shopify":
            return {
                "api_key": self.shopify_api_key,
                "api_secret": self.shopify_api_secret,
                "old_api_secret": self.shopify_old_api_secret,
                "scopes": self.shopify_scopes,
                "api_origin": self.shopify_api_origin,
            }
        if platform == "woocommerce":
            return {
                # Plain-HTTP stores are refused in production; locally they sign with OAuth 1.0a.
                "https_only": self.is_production,
                "allow_private": self.woocommerce_allow_private_stores,
                "verify": self.woocommerce_ca_bundle or True,
                "full_pass_hours": self.woocommerce_full_pass_hours,
            }
        raise KeyError(platform)


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from error


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = str(environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _quiet_hours(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = str(environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("off", "none", "0"):
        return ""
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", raw)
    if match is None or raw[:5] == raw[6:]:
        raise ConfigurationError(f"{name} must be HH:MM-HH:MM (e.g. 21:00-08:00) or off, got {raw!r}")
    return raw


def _sender(environ: Mapping[str, str], name: str, default: str) -> str:
    from email.utils import parseaddr

    raw = str(environ.get(name) or "").strip() or default
    _display, address = parseaddr(raw)
    if "@" not in address or any(c.isspace() for c in address):
        raise ConfigurationError(f"{name} must be an email address, e.g. 'Comeback <no-reply@example.com>', got {raw!r}")
    return raw


def _bounce_address(environ: Mapping[str, str], name: str) -> str | None:
    raw = str(environ.get(name) or "").strip()
    if not raw:
        return None
    local, at, domain = raw.rpartition("@")
    if not at or not local or "." not in domain or "+" in local or any(c.isspace() or c in "<>\"" for c in raw):
        raise ConfigurationError(f"{name} must be a plain address without '+', e.g. bounces@mail.example.com, "
                                 f"got {raw!r}")
    return raw.lower()


def _generated_secrets(instance_path: Path) -> dict[str, str]:
    """Load the embedded mode's secrets, generating them on first start."""
    path = instance_path / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": "demo-" + secrets.token_hex(8),
        "SHOPIFY_API_SECRET": secrets.token_urlsafe(32),
    }
    instance_path.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=2))
    os.chmod(tmp, 0o600)
    try:
        # Two processes starting together must agree on one set: the first link wins.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return json.loads(path.read_text())


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the settings from the environment (plus explicit overrides, for tests)."""
    env_map: dict[str, Any] = dict(os.environ if environ is None else environ)
    env_map.update({k: v for k, v in (overrides or {}).items() if v is not None})
    env = (env_map.get("COMEBACK_ENV") or "embedded").strip().lower()
    if env not in ("embedded", "production"):
        raise ConfigurationError(f"COMEBACK_ENV must be 'embedded' or 'production', got {env!r}")

    instance_path = Path(env_map.get("COMEBACK_INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()

    if env == "production":
        missing = [name for name in REQUIRED_IN_PRODUCTION if not env_map.get(name)]
        if missing:
            raise ConfigurationError(
                "Comeback cannot start in production: missing settings " + ", ".join(missing)
            )
        if not str(env_map["DATABASE_URL"]).startswith("postgresql"):
            raise ConfigurationError("DATABASE_URL must be a PostgreSQL URL in production")
        generated: dict[str, str] = {}
    else:
        needs_generated = any(
            not env_map.get(name)
            for name in ("SECRET_KEY", "ENCRYPTION_KEY", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET")
        )
        generated = _generated_secrets(instance_path) if needs_generated else {}

    def value(name: str) -> str:
        return str(env_map.get(name) or generated.get(name) or "")

    database_url = value("DATABASE_URL") or f"sqlite:///{instance_path / 'comeback.sqlite3'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    encryption_keys = tuple(k.strip() for k in value("ENCRYPTION_KEY").split(",") if k.strip())
    for key in encryption_keys:
        try:
            Fernet(key)
        except ValueError as error:
            raise ConfigurationError(
                "ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated"
            ) from error

    return Settings(
        env=env,
        instance_path=instance_path,
        database_url=database_url,
        redis_url=value("REDIS_URL") or None,
        secret_key=value("SECRET_KEY"),
        encryption_keys=encryption_keys,
        app_url=(value("APP_URL") or "http://127.0.0.1:5000").rstrip("/"),
        shopify_api_key=value("SHOPIFY_API_KEY"),
        shopify_api_secret=value("SHOPIFY_API_SECRET"),
        shopify_old_api_secret=value("SHOPIFY_OLD_API_SECRET") or None,
        shopify_scopes=value("SHOPIFY_SCOPES") or _DEFAULT_SCOPES,
        shopify_api_origin=(value("SHOPIFY_API_ORIGIN") or None),
        webhook_batch_size=_int(env_map, "WEBHOOK_BATCH_SIZE", 500),
        catch_up_interval_minutes=_int(env_map, "CATCH_UP_INTERVAL_MINUTES", 15),
        devstore_port=_int(env_map, "DEVSTORE_PORT", 8100),
        testing=bool(env_map.get("TESTING")),
        woocommerce_allow_private_stores=_bool(env_map, "WOOCOMMERCE_ALLOW_PRIVATE_STORES", env != "production"),
        woocommerce_ca_bundle=value("WOOCOMMERCE_CA_BUNDLE") or None,
        woocommerce_full_pass_hours=_int(env_map, "WOOCOMMERCE_FULL_PASS_HOURS", 6),
        storefront_shop_rate=_int(env_map, "STOREFRONT_SHOP_RATE", 1200),
        storefront_shopper_rate=_int(env_map, "STOREFRONT_SHOPPER_RATE", 120),
        smtp_host=value("SMTP_HOST") or "127.0.0.1",
        smtp_port=_int(env_map, "SMTP_PORT", 587 if env == "production" else 1025),
        smtp_username=value("SMTP_USERNAME") or None,
        smtp_password=value("SMTP_PASSWORD") or None,
        smtp_starttls=_bool(env_map, "SMTP_STARTTLS", env == "production"),
        smtp_from=_sender(env_map, "SMTP_FROM", "Comeback <no-reply@localhost>"),
        messaging_contact_budget_hours=_int(env_map, "MESSAGING_CONTACT_BUDGET_HOURS", 16),
        messaging_quiet_hours=_quiet_hours(env_map, "MESSAGING_QUIET_HOURS", "21:00-08:00"),
        messaging_bounce_address=_bounce_address(env_map, "MESSAGING_BOUNCE_ADDRESS"),
        messaging_bounce_port=_int(env_map, "MESSAGING_BOUNCE_PORT", 2525),
    )
