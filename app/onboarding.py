"""A merchant's first run: the import, the program, the storefront widget, the first flows.

Each step is done when the thing it stands for is true, not when a page was seen:

* ``backfill``: the import of the store's history has completed (nobody marks it);
* ``program``: the merchant read the loyalty program's defaults and said they look good;
* ``widget``: the storefront widget is on. Where the platform's store runs our companion
  plugin (the connector can ``configure_storefront``), that is detected: the app wrote the
  plugin's settings. Where the widget is an app embed the merchant switches on in the theme
  (the connector gives an ``app_embed_link``), the platform does not tell us, so the merchant
  confirms it;
* ``flows``: at least one flow is on and the merchant said so (the flows come switched on).

A merchant can skip (``skipped_at``) and come back any time; ``completed_at`` is written once
every step is done. ``status`` is what the admin's Home reads for its "finish setting up" banner.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import platforms
from app.flows import definitions, triggers
from app.store.models import Onboarding, Shop
from app.store.sync_progress import progress
from app.store.types import utcnow
from app.store.upsert import insert_ignore

STEPS = ("backfill", "program", "widget", "flows")
# The steps a merchant marks, and the column each one writes.
MARKED_BY_MERCHANT = {"program": "program_reviewed_at", "widget": "widget_confirmed_at",
                      "flows": "flows_enabled_at"}

WIDGET_APP_EMBED = "app_embed"  # switched on in the theme editor; the merchant confirms
WIDGET_PLUGIN = "plugin"  # a companion plugin in the store; detected when we could configure it
WIDGET_BUILT_IN = "built_in"  # nothing to switch on


class UnknownStepError(LookupError):
    """No such onboarding step."""

    def __init__(self, name: str):
        super().__init__(f"no onboarding step {name!r} (steps: {', '.join(STEPS)})")
        self.name = name


class StepNotReadyError(ValueError):
    """A step cannot be marked done yet; the message says what to do first."""

    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


def load(session: Session, shop_id: int) -> Onboarding:
    """The shop's onboarding row, made on first use (two requests at once make one)."""
    row = session.get(Onboarding, shop_id)
    if row is None:
        now = utcnow()
        insert_ignore(session, Onboarding.__table__, [{"shop_id": shop_id, "created_at": now, "updated_at": now}],  # type: ignore[arg-type]
                      conflict=("shop_id",), returning=("shop_id",))
        row = session.get(Onboarding, shop_id)
        assert row is not None
    return row


def widget_mode(shop: Shop) -> str:
    """How the shop's storefront gets the widget, from what its platform's connector can do."""
    connector = platforms.connector(shop.platform)
    if hasattr(connector, "app_embed_link"):
        return WIDGET_APP_EMBED
    if hasattr(connector, "configure_storefront"):
        return WIDGET_PLUGIN
    return WIDGET_BUILT_IN


def widget(shop: Shop, row: Onboarding) -> dict[str, Any]:
    """The widget step: how it is switched on, the link that does it, whether we know it is on."""
    mode = widget_mode(shop)
    link = None
    detected: bool | None = None  # None: the platform cannot tell us
    if mode == WIDGET_APP_EMBED:
        link = platforms.connector(shop.platform).app_embed_link(shop.domain)  # type: ignore[attr-defined]
    elif mode == WIDGET_PLUGIN:
        detected = shop.storefront_configured_at is not None
    done = detected if detected is not None else (mode == WIDGET_BUILT_IN or row.widget_confirmed_at is not None)
    return {"mode": mode, "link": link, "detected": detected, "done": bool(done),
            "confirmed_at": _moment(row.widget_confirmed_at),
            "detected_at": _moment(shop.storefront_configured_at) if mode == WIDGET_PLUGIN else None}


def enabled_flows(session: Session, shop: Shop) -> list[str]:
    """The keys of the shop's flows that are on."""
    flows = definitions.ensure_all(session, shop.id, triggers.installed_at(shop, utcnow()))
    return [key for key, flow in flows.items() if flow.is_enabled]


def status(session: Session, shop: Shop) -> dict[str, Any]:
    """Where the shop is in its first run: each step with ``done``, the next step, skipped, completed.

    Records ``completed_at`` the first time every step is done (the caller commits).
    """
    row = load(session, shop.id)
    sync = progress(session, shop.id)
    widget_step = widget(shop, row)
    flows_on = enabled_flows(session, shop)
    done = {
        "backfill": sync["status"] == "completed",
        "program": row.program_reviewed_at is not None,
        "widget": widget_step["done"],
        "flows": row.flows_enabled_at is not None and bool(flows_on),
    }
    if all(done.values()) and row.completed_at is None:
        row.completed_at = utcnow()
        session.flush()
    steps = [
        {"name": "backfill", "done": done["backfill"], "sync_status": sync["status"],
         "processed": sync["processed"], "total": sync["total"]},
        {"name": "program", "done": done["program"], "reviewed_at": _moment(row.program_reviewed_at)},
        {"name": "widget", **widget_step},
        {"name": "flows", "done": done["flows"], "enabled_at": _moment(row.flows_enabled_at), "enabled": flows_on},
    ]
    next_step = next((name for name in STEPS if not done[name]), None)
    return {"steps": steps, "next_step": next_step, "skipped": row.skipped_at is not None,
            "skipped_at": _moment(row.skipped_at), "completed": row.completed_at is not None,
            "completed_at": _moment(row.completed_at)}


def mark(session: Session, shop: Shop, step: str) -> dict[str, Any]:
    """Mark a step done (again is harmless: the first time is kept) and return the new status.

    ``UnknownStepError`` for a name that is no step; ``StepNotReadyError`` when the step is not
    the merchant's to mark or what it stands for is not true yet.
    """
    if step not in STEPS:
        raise UnknownStepError(step)
    if step not in MARKED_BY_MERCHANT:
        raise StepNotReadyError(step, "the import finishes by itself: this step is done when it has completed")
    row = load(session, shop.id)
    if step == "widget" and widget_mode(shop) == WIDGET_PLUGIN and shop.storefront_configured_at is None:
        raise StepNotReadyError(step, "the companion plugin is not detected yet: install and activate it, "
                                      "then check again")
    if step == "flows" and not enabled_flows(session, shop):
        raise StepNotReadyError(step, "every flow is off: turn on at least one flow first")
    column = MARKED_BY_MERCHANT[step]
    if getattr(row, column) is None:
        setattr(row, column, utcnow())
        session.flush()
    return status(session, shop)


def skip(session: Session, shop: Shop) -> dict[str, Any]:
    """Put the first run aside for now (the first skip's time is kept); return the status."""
    row = load(session, shop.id)
    if row.skipped_at is None:
        row.skipped_at = utcnow()
        session.flush()
    return status(session, shop)


def resume(session: Session, shop: Shop) -> dict[str, Any]:
    """Take the first run up again where it was left; return the status."""
    row = load(session, shop.id)
    if row.skipped_at is not None:
        row.skipped_at = None
        session.flush()
    return status(session, shop)


def _moment(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
