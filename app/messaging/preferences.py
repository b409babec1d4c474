"""A shop's messaging settings: contact budget, quiet hours, transactional mail, sender, attribution, language.

The app's settings (``MESSAGING_CONTACT_BUDGET_HOURS``, ``MESSAGING_QUIET_HOURS``) are the
defaults; a shop that changed one keeps its own in ``messaging_settings``. Delivery and the flow
engine read them through ``apply``, which returns the delivery configuration for that shop.

* ``contact_budget_hours`` (1 to 168): at most one marketing email per customer in that window.
* ``quiet_hours``: ``{"start": "21:00", "end": "08:00"}`` in the shop's time zone, or null for none.
* ``transactional_email``: who gets the loyalty notices. ``all`` (every member with an address
  that is not suppressed), ``subscribed`` (only customers with email-marketing consent) or
  ``off`` (none).
* ``sender_name`` (the From name; null: the shop's name) and ``reply_to`` (null: no Reply-To).
* ``attribution_days`` (1 to 60): how long after a click an order counts for the message.
* ``language`` (``en``, ``de``, ``fr``, ``es``): the language of the templates' texts, amounts and
  dates. A shop that never chose one sends English, and its settings do not show the field
  (null: the default again).
* ``logo_url`` (null: none): an ``https://`` address of the shop's logo, shown at the top of its
  emails instead of its name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from app.messaging import budget, consent, translations
from app.store.models import MessagingSettings
from app.store.types import utcnow
from app.store.upsert import upsert

if TYPE_CHECKING:
    from app.messaging.delivery import DeliveryConfig

TRANSACTIONAL_CHOICES = consent.TRANSACTIONAL_CHOICES
ATTRIBUTION_DAYS = 5
LANGUAGES = translations.LANGUAGES
FIELDS = ("contact_budget_hours", "quiet_hours", "transactional_email", "sender_name", "reply_to",
          "attribution_days", "language", "logo_url")
MAX_LOGO_URL = 2000


class SettingsError(ValueError):
    """A refused change; ``field`` names the setting."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclasses.dataclass(frozen=True)
class Preferences:
    contact_budget_hours: float
    quiet_hours: budget.QuietHours | None
    transactional_email: str
    sender_name: str | None
    reply_to: str | None
    attribution_days: int
    updated_at: dt.datetime | None = None
    updated_by: str | None = None
    chosen_language: str | None = None  # None: the shop never chose one (English)
    logo_url: str | None = None

    @property
    def language(self) -> str:
        """The language the shop's mail is written in."""
        return self.chosen_language if self.chosen_language in LANGUAGES else translations.DEFAULT

    def describe(self) -> dict[str, Any]:
        """The settings as the admin API shows them."""
        quiet = self.quiet_hours
        described: dict[str, Any] = {
            "contact_budget_hours": self.contact_budget_hours,
            "quiet_hours": {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}"} if quiet else None,
            "transactional_email": self.transactional_email, "sender_name": self.sender_name,
            "reply_to": self.reply_to, "attribution_days": self.attribution_days, "language": self.language,
            "logo_url": self.logo_url}
        return {**described, "updated_at": self.updated_at.isoformat() if self.updated_at else None,
                "updated_by": self.updated_by}


def defaults(config: DeliveryConfig) -> Preferences:
    return Preferences(contact_budget_hours=config.contact_budget.total_seconds() / 3600,
                       quiet_hours=config.quiet_hours, transactional_email="all", sender_name=None, reply_to=None,
                       attribution_days=ATTRIBUTION_DAYS)


def load(session: Session, shop_id: int, config: DeliveryConfig) -> Preferences:
    """The shop's settings, the app's defaults where it has none."""
    row = session.get(MessagingSettings, shop_id)
    base = defaults(config)
    if row is None:
        return base
    return _read({**describe_raw(base), **(row.settings or {})}, row.updated_at, row.updated_by)


def describe_raw(preferences: Preferences) -> dict[str, Any]:
    described = preferences.describe()
    return {key: described[key] for key in FIELDS if key in described}


def _read(values: dict[str, Any], updated_at: dt.datetime | None, updated_by: str | None) -> Preferences:
    quiet = values.get("quiet_hours")
    return Preferences(
        contact_budget_hours=float(values["contact_budget_hours"]),
        quiet_hours=budget.QuietHours(dt.time.fromisoformat(quiet["start"]), dt.time.fromisoformat(quiet["end"]))
        if quiet else None,
        transactional_email=values["transactional_email"], sender_name=values.get("sender_name"),
        reply_to=values.get("reply_to"), attribution_days=int(values["attribution_days"]),
        updated_at=updated_at, updated_by=updated_by, chosen_language=values.get("language"),
        logo_url=values.get("logo_url"))


def transactional_email(session: Session, shop_id: int) -> str:
    """Who gets the shop's loyalty notices (``all`` unless the shop changed it)."""
    row = session.get(MessagingSettings, shop_id)
    value = (row.settings or {}).get("transactional_email") if row is not None else None
    return value if value in TRANSACTIONAL_CHOICES else "all"


def logo_url(session: Session, shop_id: int) -> str | None:
    """The address of the shop's logo for its emails, or None when it has none."""
    row = session.get(MessagingSettings, shop_id)
    value = (row.settings or {}).get("logo_url") if row is not None else None
    return value if isinstance(value, str) and _is_logo_url(value) else None


def _is_logo_url(value: str) -> bool:
    if len(value) > MAX_LOGO_URL or any(ord(c) <= 32 or ord(c) == 127 for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and not (parts.username or parts.password)


def apply(session: Session, shop_id: int, config: DeliveryConfig) -> DeliveryConfig:
    """The delivery configuration for this shop: its budget, quiet hours, transactional rule, sender and language."""
    preferences = load(session, shop_id, config)
    return dataclasses.replace(config, contact_budget=dt.timedelta(hours=preferences.contact_budget_hours),
                               quiet_hours=preferences.quiet_hours,
                               transactional=preferences.transactional_email,
                               sender_name=preferences.sender_name, reply_to=preferences.reply_to,
                               language=preferences.language)


def update(session: Session, shop_id: int, changes: Any, config: DeliveryConfig, *, actor: str,
           now: dt.datetime | None = None) -> Preferences:
    """Change some settings (the others stay); validated, the caller commits."""
    if not isinstance(changes, dict) or not changes:
        raise SettingsError("", f"send an object with one or more of {', '.join(FIELDS)}")
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise SettingsError(unknown[0], f"unknown setting (known: {', '.join(FIELDS)})")
    current = describe_raw(load(session, shop_id, config))
    values = {**current, **{key: _validate(key, value) for key, value in changes.items()}}
    if values.get("language", "") is None:
        del values["language"]  # null: back to the default
    now = now or utcnow()
    upsert(session, MessagingSettings.__table__,  # type: ignore[arg-type]
           [{"shop_id": shop_id, "settings": values, "updated_at": now, "updated_by": actor[:255]}],
           conflict=("shop_id",), update=("settings", "updated_at", "updated_by"), returning=())
    return _read(values, now, actor[:255])


def _validate(key: str, value: Any) -> Any:
    if key == "contact_budget_hours":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 168:
            raise SettingsError(key, "must be a number of hours from 1 to 168")
        return float(value)
    if key == "attribution_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
            raise SettingsError(key, "must be a whole number of days from 1 to 60")
        return value
    if key == "quiet_hours":
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"start", "end"}:
            raise SettingsError(key, 'must be null (no quiet hours) or {"start": "HH:MM", "end": "HH:MM"}')
        try:
            quiet = budget.QuietHours(*(dt.time.fromisoformat(str(value[end])) for end in ("start", "end")))
        except ValueError as error:
            raise SettingsError(key, f"start and end must be different times written HH:MM ({error})") from None
        return {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}"}
    if key == "transactional_email":
        if value not in TRANSACTIONAL_CHOICES:
            raise SettingsError(key, f"must be one of {', '.join(TRANSACTIONAL_CHOICES)}")
        return value
    if key == "language":
        if value is not None and value not in LANGUAGES:
            raise SettingsError(key, f"must be one of {', '.join(LANGUAGES)} (or null for the default, en)")
        return value
    if key == "sender_name":
        if value is None:
            return None
        if (not isinstance(value, str) or not value.strip() or len(value) > 80
                or any(ord(c) < 32 or c in '<>"' for c in value)):
            raise SettingsError(key, 'must be null or a name of 1 to 80 characters, without <, > or "')
        return value.strip()
    if key == "logo_url":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not _is_logo_url(value.strip()):
            raise SettingsError(key, "must be empty or an https:// address of an image")
        return value.strip()
    # reply_to
    if value is None:
        return None
    try:
        return consent.normalise_email(value)
    except ValueError as error:
        raise SettingsError(key, str(error)) from None
