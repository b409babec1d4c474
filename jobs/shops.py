"""Jobs around a shop's install: set-up after install, token refresh, stopping on uninstall."""

from __future__ import annotations

import logging

from sqlalchemy import select

from app import installs, platforms
from app.extensions import db
from app.store.models import Shop
from app.store.types import utcnow
from connectors import base
from jobs.context import with_app
from jobs.queues import cancel, cancel_prefixed, enqueue

log = logging.getLogger(__name__)


def setup_job_id(shop_id: int) -> str:
    return f"setup-shop-{shop_id}"


@with_app
def set_up_shop(shop_id: int) -> str:
    """After install: read the shop's details, subscribe to webhooks, start the backfill."""
    from jobs.sync import start_backfill

    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.is_active:
        return "skipped"
    connector = platforms.connector(shop.platform)
    try:
        info = installs.call_with_credentials(session, shop, connector.shop_info)  # type: ignore[attr-defined]
        shop.name = info.get("name") or shop.name
        shop.currency = info.get("currency") or shop.currency
        shop.timezone = info.get("timezone") or shop.timezone
        if shop.webhooks_registered_at is None:
            _register_webhooks(session, shop, connector)
        if shop.storefront_secret and shop.storefront_configured_at is None and hasattr(connector, "configure_storefront"):
            _configure_storefront(session, shop, connector)
    except base.AuthRevokedError:
        return "reauthorize"
    from app.loyalty import program

    program.ensure(session, shop_id)  # the program starts now: earlier orders earn nothing
    session.commit()
    start_backfill(shop_id)
    log.info("shop=%s set up", shop_id)
    return "ok"


def _register_webhooks(session, shop: Shop, connector) -> None:
    url = installs.webhook_url(shop)
    if base.CAP_SHOP_WEBHOOK_SECRET in connector.capabilities:
        installs.call_with_credentials(
            session, shop, lambda c: connector.register_webhooks(c, url, secret=shop.webhook_secret))
    else:
        installs.call_with_credentials(session, shop, lambda c: connector.register_webhooks(c, url))
    shop.webhooks_registered_at = utcnow()


def _configure_storefront(session, shop: Shop, connector) -> None:
    """Hand the storefront plugin its app URL, store id and shared secret, if it is installed."""
    values = {"app_url": platforms.settings().app_url, "store_id": str(shop.id),
              "shared_secret": shop.storefront_secret or ""}
    if installs.call_with_credentials(session, shop, lambda c: connector.configure_storefront(c, values)):
        shop.storefront_configured_at = utcnow()
        log.info("shop=%s storefront plugin configured", shop.id)


@with_app
def repair_webhooks(shop_id: int) -> str:
    """Re-activate the shop's disabled webhooks and re-create missing ones (platforms that drop them)."""
    session = db.session()
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.is_active or shop.webhooks_registered_at is None:
        return "skipped"
    connector = platforms.connector(shop.platform)
    try:
        _register_webhooks(session, shop, connector)
        if shop.storefront_secret and shop.storefront_configured_at is None and hasattr(connector, "configure_storefront"):
            _configure_storefront(session, shop, connector)
    except base.AuthRevokedError:
        return "reauthorize"
    except base.RetryableError as error:
        log.warning("shop=%s webhook repair postponed: %s", shop_id, error)
        return "postponed"
    session.commit()
    return "ok"


@with_app
def repair_webhooks_all_shops() -> int:
    """Queue a webhook repair for every active shop whose platform disables webhooks (periodic)."""
    session = db.session()
    shops = session.execute(select(Shop.id, Shop.platform).where(Shop.status == "active")).all()
    queued = 0
    for shop_id, platform in shops:
        if base.CAP_WEBHOOK_REPAIR in platforms.connector(platform).capabilities:
            enqueue(repair_webhooks, shop_id, queue_name="default", job_id=f"repair-webhooks-{shop_id}")
            queued += 1
    return queued


def stop_shop_jobs(shop_id: int) -> int:
    """Remove the shop's queued and scheduled jobs (they would also stop at their first check)."""
    from jobs.sync import backfill_job_prefix, catch_up_job_id

    cancelled = cancel([setup_job_id(shop_id), catch_up_job_id(shop_id)])
    cancelled += cancel_prefixed(backfill_job_prefix(shop_id))
    log.info("shop=%s stopped %s queued jobs", shop_id, cancelled)
    return cancelled


@with_app
def refresh_expiring_tokens() -> int:
    """Refresh every active shop's access token that expires within minutes (periodic)."""
    session = db.session()
    refreshed = 0
    for shop in session.execute(select(Shop).where(Shop.status == "active")).scalars():
        before = shop.access_token_expires_at
        try:
            installs.credentials_for(session, shop)
        except base.AuthRevokedError:
            continue
        except base.RetryableError as error:
            log.warning("shop=%s token refresh postponed: %s", shop.id, error)
            continue
        if shop.access_token_expires_at != before:
            refreshed += 1
    session.commit()
    return refreshed


@with_app
def resume_unfinished_set_ups() -> int:
    """Queue the set-up of active shops installed a while ago that were never set up (periodic)."""
    import datetime as dt

    session = db.session()
    shop_ids = session.execute(
        select(Shop.id).where(Shop.status == "active", Shop.webhooks_registered_at.is_(None),
                              Shop.installed_at < utcnow() - dt.timedelta(minutes=10))
    ).scalars().all()
    for shop_id in shop_ids:
        after_install(shop_id)
    return len(shop_ids)


def after_install(shop_id: int) -> None:
    """Queue the set-up of a freshly installed shop (call after the install committed)."""
    enqueue(set_up_shop, shop_id, queue_name="default", job_id=setup_job_id(shop_id))
