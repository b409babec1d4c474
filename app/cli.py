"""Command-line entry points: ``flask --app wsgi <command>``."""

from __future__ import annotations

import logging
import threading
import time

import click
from flask import Flask, current_app

from app.extensions import db, redis_holder

log = logging.getLogger(__name__)


def register_commands(app: Flask) -> None:
    app.cli.add_command(migrate_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(sync_progress_command)
    app.cli.add_command(bounces_command)


def run_migrations() -> None:
    """Bring the database schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    from app.config import PROJECT_ROOT

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    assert db.engine is not None
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@click.command("migrate")
def migrate_command() -> None:
    """Apply database migrations."""
    run_migrations()
    click.echo("database is at the newest migration")


def _cron_loop(stop: threading.Event, catch_up_minutes: int) -> None:
    from jobs.cron import build_scheduler

    connection = redis_holder.get()
    scheduler = build_scheduler(connection, catch_up_minutes)
    # One cron per deployment: the holder of the lock enqueues, other workers stand by.
    lock = connection.lock("cb:lock:cron", timeout=30)
    while not stop.is_set():
        try:
            if lock.owned() or lock.acquire(blocking=False):
                lock.reacquire()
                scheduler.enqueue_jobs()
        except Exception:  # noqa: BLE001 - the loop must outlive a Redis hiccup
            log.exception("cron tick failed")
        stop.wait(5)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--cron/--no-cron", default=True, help="Also enqueue the periodic jobs.")
def worker_command(burst: bool, cron: bool) -> None:
    """Run a worker on the events, default and bulk queues (in that order), with the scheduler."""
    from rq import Worker

    from jobs.context import use_app
    from jobs.queues import QUEUE_NAMES, queue

    use_app(current_app._get_current_object())  # type: ignore[attr-defined]
    settings = current_app.extensions["comeback.settings"]
    stop = threading.Event()
    if cron:
        threading.Thread(target=_cron_loop, args=(stop, settings.catch_up_interval_minutes),
                         daemon=True, name="cron").start()
    worker = Worker([queue(name) for name in QUEUE_NAMES], connection=redis_holder.get())
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
    finally:
        stop.set()


@click.command("sync-progress")
@click.argument("shop_domain")
@click.option("--watch/--once", default=True, help="Keep redrawing until the backfill ends.")
def sync_progress_command(shop_domain: str, watch: bool) -> None:
    """Show a shop's backfill progress as a bar with counts and ETA."""
    from app.store.models import Shop
    from app.store.sync_progress import progress

    session = db.session()
    idle_until = time.monotonic() + 60  # a backfill queued a moment ago may not have begun
    while True:
        shop = session.query(Shop).filter(Shop.domain == shop_domain).one_or_none()
        if shop is None:
            raise click.ClickException(f"no shop {shop_domain!r}")
        report = progress(session, shop.id)
        if report["status"] == "idle" and watch and time.monotonic() < idle_until:
            session.expire_all()
            time.sleep(1)
            continue
        for item in report["resources"]:
            width = 30
            filled = int(width * (item["percent"] or 0) / 100)
            eta = f" ETA {item['eta_seconds']:.0f}s" if item["eta_seconds"] is not None else ""
            click.echo(f"{item['resource']:<10} [{'#' * filled}{'.' * (width - filled)}] "
                       f"{item['percent'] or 0:5.1f}% {item['processed']}/{item['total'] or '?'} "
                       f"{item['status']}{eta}")
        if report["status"] == "idle":
            click.echo(f"no backfill for {shop_domain} yet")
        if not watch or report["status"] in ("completed", "failed", "cancelled", "idle"):
            return
        click.echo("")
        session.expire_all()
        time.sleep(2)


@click.command("bounces")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default MESSAGING_BOUNCE_PORT, 2525).")
def bounces_command(host: str, port: int | None) -> None:
    """Receive bounces and complaints for MESSAGING_BOUNCE_ADDRESS over SMTP until stopped."""
    from app.messaging.bounce_server import controller

    settings = current_app.extensions["comeback.settings"]
    if not settings.messaging_bounce_address:
        raise click.ClickException("set MESSAGING_BOUNCE_ADDRESS (e.g. bounces@mail.example.com) first")
    server = controller(current_app._get_current_object(), settings.messaging_bounce_address, host,  # type: ignore[attr-defined]
                        port or settings.messaging_bounce_port)
    server.start()
    click.echo(f"receiving bounces for {settings.messaging_bounce_address} on {host}:{server.port}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
