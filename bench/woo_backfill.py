"""Benchmark 4: backfill of 100,000 WooCommerce orders through REST pages, next to Shopify's bulk.

devstore runs under gunicorn (one process: its state is in memory) with a generated WooCommerce
store; the import runs in its own process as a worker would: 100 orders per page (plus the
refunds of the orders that list any), OAuth 1.0a-signed as for a plain-HTTP store, into
PostgreSQL. It reports orders/s and the importing process's peak RSS, then runs the Shopify bulk
benchmark (``bench.backfill``) on the same number of orders in the same run for comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess

import httpx

from bench.common import PYTHON, ROOT, bench_environ, free_port, start

HANDLE = "bench-backfill"

IMPORT = """
import json, resource, sys, time
from sqlalchemy import func, select
from app import create_app, installs
from app.extensions import db
from app.store.models import LineItem, Order, Refund, SyncRun
from jobs.sync import backfill_resource

app = create_app()
with app.app_context():
    session = db.session()
    shop = installs.connect_with_keys(session, "woocommerce", sys.argv[1], sys.argv[2], sys.argv[3])
    session.commit()
    run = SyncRun(shop_id=shop.id, kind="backfill", resource="orders", status="pending")
    session.add(run)
    session.commit()
    run_id = run.id
    started = time.perf_counter()
    steps = 0
    while True:
        outcome = backfill_resource(run_id)
        steps += 1
        if outcome in ("completed", "failed", "cancelled", "done"):
            break
        if outcome not in ("paging", "importing"):
            raise SystemExit(f"backfill step ended with {outcome!r}: {session.get(SyncRun, run_id).last_error}")
    total = time.perf_counter() - started
    session = db.session()
    run = session.get(SyncRun, run_id)
    counts = {name: session.execute(select(func.count()).select_from(model)).scalar_one()
              for name, model in (("orders", Order), ("line_items", LineItem), ("refunds", Refund))}
print(json.dumps({"outcome": outcome, "seconds": total, "steps": steps, "processed": run.processed_count,
                  "error": run.last_error, "counts": counts,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--skip-shopify", action="store_true", help="do not run the Shopify bulk figure")
    args = parser.parse_args()
    port = free_port()
    devstore_url = f"http://127.0.0.1:{port}"
    environ = bench_environ("woo_backfill")
    devstore = start([PYTHON, "-m", "gunicorn", "--workers", "1", "--threads", "8", "--bind", f"127.0.0.1:{port}",
                      "--log-level", "warning", "--timeout", "600",
                      f"devstore.server:create_app({{'public_url': '{devstore_url}'}})"],
                     environ, f"{devstore_url}/_devstore/health")
    try:
        control = httpx.Client(base_url=devstore_url, timeout=900)
        control.post("/_devstore/woo/stores", json={"handle": HANDLE}).raise_for_status()
        generated = control.post(f"/_devstore/woo/stores/{HANDLE}/generate", json={
            "seed": 42, "customers": args.orders // 3, "products": 200, "orders": args.orders}).json()
        stats = control.get(f"/_devstore/woo/stores/{HANDLE}/stats").json()
        key = control.post(f"/_devstore/woo/stores/{HANDLE}/keys", json={"permissions": "read_write"}).json()
        result = subprocess.run([PYTHON, "-c", IMPORT, f"{devstore_url}/woo/{HANDLE}", key["consumer_key"],
                                 key["consumer_secret"]], cwd=ROOT, env=environ, check=True, capture_output=True,
                                text=True)
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        devstore.terminate()
        devstore.wait(10)
    orders = figures["counts"]["orders"]
    expected = stats["orders"] - stats.get("orders_checkout-draft", 0)
    print(f"store generated: {generated}")
    print(f"WooCommerce backfill outcome: {figures['outcome']} in {figures['steps']} steps; orders in mirror "
          f"{orders} of {expected} (line items {figures['counts']['line_items']}, refunds {figures['counts']['refunds']})")
    print(f"WooCommerce REST pages: {figures['seconds']:.1f}s -> {orders / figures['seconds']:,.0f} orders/s")
    print(f"peak RSS of the importing process: {figures['rss_mb']:.0f} MB")
    if not args.skip_shopify:
        print("-- Shopify bulk export of the same number of orders, same run (bench.backfill):", flush=True)
        subprocess.run([PYTHON, "-m", "bench.backfill", "--orders", str(args.orders)], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
