"""Periodic work, declared as data and registered with RQ's cron scheduler."""

from __future__ import annotations

from rq.cron import CronScheduler

from jobs.flows import flow_upkeep_all_shops, sweep_flows
from jobs.inbox import sweep_inbox
from jobs.loyalty import loyalty_upkeep_all_shops, resume_pending_redemptions
from jobs.messaging import sweep_messages
from jobs.recommendations import update_pairs_all_shops
from jobs.segmentation import recompute_due_shops
from jobs.segments import sweep_tag_write_backs
from jobs.shops import refresh_expiring_tokens, repair_webhooks_all_shops, resume_unfinished_set_ups
from jobs.sync import catch_up_all_shops, resume_stalled_backfills

# (function, queue, interval in seconds)
PERIODIC_JOBS = (
    (sweep_inbox, "events", 60),
    (refresh_expiring_tokens, "default", 600),
    (catch_up_all_shops, "default", 900),
    (resume_stalled_backfills, "default", 300),
    (resume_unfinished_set_ups, "default", 300),
    # WooCommerce disables a webhook after repeated failed deliveries and never retries: the
    # catch-up (by modification time) fills the gap, this switches the webhook back on.
    (repair_webhooks_all_shops, "default", 1800),
    (resume_pending_redemptions, "events", 300),
    # Expiry, reminders, birthdays, matured points, tier reviews (once a day), referrals.
    (loyalty_upkeep_all_shops, "default", 3600),
    # Messages deferred (quiet hours, contact budget, SMTP retries) whose delayed job was lost.
    (sweep_messages, "default", 60),
    # Flow steps whose scheduled job was lost, and shops with loyalty events not evaluated yet.
    (sweep_flows, "default", 60),
    # Customers who just lapsed (win-back).
    (flow_upkeep_all_shops, "default", 3600),
    # Every customer's figures and every segment once a day per shop (queued on the bulk queue).
    (recompute_due_shops, "default", 3600),
    # Segment tags not yet written to the store (a write that failed and waits for its retry).
    (sweep_tag_write_backs, "default", 300),
    # Bought-together counts of orders no drain counted (a backfill, a lost job).
    (update_pairs_all_shops, "default", 3600),
)


def build_scheduler(connection, catch_up_minutes: int = 15) -> CronScheduler:
    """Return a cron scheduler with every periodic job registered."""
    scheduler = CronScheduler(connection=connection)
    for func, queue_name, interval in PERIODIC_JOBS:
        if func is catch_up_all_shops:
            interval = catch_up_minutes * 60
        scheduler.register(func, queue_name=queue_name, interval=interval, result_ttl=0)
    return scheduler
