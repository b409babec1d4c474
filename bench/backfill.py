"""Benchmark 3: backfill of 100,000 orders from devstore's bulk JSONL into PostgreSQL.

devstore runs under gunicorn (one process: its state is in memory) with a generated store; the
import runs in its own process as a worker would, and reports orders/s for the export+import
and for the import alone, plus that process's peak RSS. Targets: ≥ 5,000 orders/s, RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from urllib.parse import parse_qsl, urlsplit

import httpx

from bench.common import PYTHON, ROOT, bench_environ, free_port, start

SHOP = "bench-backfill.myshopify.com"

IMPORT = """
import json, resource, sys, time
from sqlalchemy import func, select
from app import create_app, installs, platforms
from app.extensions import db
from app.store.models import LineItem, Order, Refund, SyncRun
from connectors import base
from jobs.sync import backfill_resource

app = create_app()
with app.app_context():
    session = db.session()
    connector = platforms.connector("shopify")
    credentials = connector.exchange_code(sys.argv[1], sys.argv[2], "http://127.0.0.1/callback")
    shop = installs.store_credentials(session, "shopify", sys.argv[1], credentials)
    run = SyncRun(shop_id=shop.id, kind="backfill", resource="orders", status="pending")
    session.add(run)
    session.commit()
    run_id = run.id
    started = time.perf_counter()
    while True:
        outcome = backfill_resource(run_id)
        if outcome in ("completed", "failed", "cancelled", "done"):
            break
        if outcome == "exporting":
            time.sleep(0.2)
        elif outcome not in ("importing", "paging"):
            raise SystemExit(f"backfill step ended with {outcome!r}: {session.get(SyncRun, run_id).last_error}")
    total = time.perf_counter() - started
    session = db.session()
    run = session.get(SyncRun, run_id)
    import_seconds = (run.finished_at - run.import_started_at).total_seconds()
    counts = {name: session.execute(select(func.count()).select_from(model)).scalar_one()
              for name, model in (("orders", Order), ("line_items", LineItem), ("refunds", Refund))}
print(json.dumps({"outcome": outcome, "seconds": total, "import_seconds": import_seconds,
                  "processed": run.processed_count, "counts": counts,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    port = free_port()
    devstore_url = f"http://127.0.0.1:{port}"
    environ = bench_environ("backfill", SHOPIFY_API_ORIGIN=devstore_url)
    devstore = start([PYTHON, "-m", "gunicorn", "--workers", "1", "--threads", "8", "--bind", f"127.0.0.1:{port}",
                      "--log-level", "warning", "--timeout", "300",
                      f"devstore.server:create_app({{'public_url': '{devstore_url}'}})"],
                     environ, f"{devstore_url}/_devstore/health")
    try:
        control = httpx.Client(base_url=devstore_url, timeout=600)
        control.post("/_devstore/apps", json={"client_id": environ["SHOPIFY_API_KEY"],
                                               "client_secret": environ["SHOPIFY_API_SECRET"]}).raise_for_status()
        control.post("/_devstore/shops", json={"domain": SHOP}).raise_for_status()
        generated = control.post(f"/_devstore/shops/{SHOP}/generate", json={
            "seed": 42, "customers": args.orders // 3, "products": 200, "orders": args.orders}).json()
        # Approve the app as a merchant would; the import process exchanges the code.
        approval = control.get("/admin/oauth/authorize", params={
            "shop": SHOP, "client_id": environ["SHOPIFY_API_KEY"], "scope": "read_orders",
            "redirect_uri": "http://127.0.0.1/callback", "state": "bench"}, follow_redirects=False)
        code = dict(parse_qsl(urlsplit(approval.headers["Location"]).query))["code"]
        result = subprocess.run([PYTHON, "-c", IMPORT, SHOP, code], cwd=ROOT, env=environ, check=True,
                                capture_output=True, text=True)
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        devstore.terminate()
        devstore.wait(10)
    orders = figures["counts"]["orders"]
    print(f"store generated: {generated}")
    print(f"backfill outcome: {figures['outcome']}; orders in mirror {orders} "
          f"(line items {figures['counts']['line_items']}, refunds {figures['counts']['refunds']})")
    print(f"export + import: {figures['seconds']:.1f}s -> {orders / figures['seconds']:,.0f} orders/s")
    print(f"import alone:    {figures['import_seconds']:.1f}s -> {orders / figures['import_seconds']:,.0f} orders/s  (target >= 5,000)")
    print(f"peak RSS of the importing process: {figures['rss_mb']:.0f} MB  (target < 300 MB)")


if __name__ == "__main__":
    main()
