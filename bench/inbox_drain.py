"""Benchmark 2: inbox drain on PostgreSQL, events applied per second by one worker.

Stores N signed-and-verified order/customer events for one shop straight into the inbox (as
intake would), then times ``drain_inbox`` in one process. Target ≥ 2,000 events/s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import uuid

from sqlalchemy import create_engine, text

from bench.common import PYTHON, ROOT, bench_environ

SHOP = "bench-drain.myshopify.com"


def event_rows(shop_id: int, count: int) -> list[dict]:
    rows = []
    for n in range(count):
        if n % 5 == 4:
            topic = "customers/update"
            body = {"id": 50_000 + n % 800, "email": f"c{n % 800}@example.com", "first_name": "Cy",
                    "last_name": f"N{n}", "state": "enabled", "created_at": "2026-10-01T10:00:00+00:00",
                    "updated_at": f"2026-11-01T10:{n % 60:02d}:00+00:00"}
        else:
            topic = "orders/updated"
            order_id = 100_000 + n % 3000
            body = {"id": order_id, "name": f"#{order_id}", "email": f"c{n % 800}@example.com",
                    "created_at": "2026-11-01T10:00:00+00:00", "updated_at": f"2026-11-01T{10 + n % 10}:{n % 60:02d}:00+00:00",
                    "currency": "USD", "total_price": "30.00", "subtotal_price": "30.00", "total_discounts": "0.00",
                    "total_tax": "0.00", "financial_status": "paid", "customer": {"id": 50_000 + n % 800},
                    "line_items": [{"id": order_id * 10 + i, "product_id": 7, "variant_id": 70, "title": "Tea",
                                    "quantity": 1, "price": "15.00", "sku": "TEA"} for i in range(2)],
                    "refunds": []}
        rows.append({"shop_id": shop_id, "platform": "shopify", "delivery_key": str(uuid.uuid4()), "topic": topic,
                     "kind": "order.upsert" if topic.startswith("orders") else "customer.upsert",
                     "body": json.dumps(body).encode(), "status": "pending", "attempts": 0})
    return rows


DRAIN = """
import json, resource, sys, time
from app import create_app
from jobs.inbox import drain_inbox
app = create_app()
with app.app_context():
    started = time.perf_counter()
    totals = drain_inbox(int(sys.argv[1]))
    elapsed = time.perf_counter() - started
print(json.dumps({"elapsed": elapsed, "totals": totals,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    environ = bench_environ("drain", WEBHOOK_BATCH_SIZE="500")
    engine = create_engine(environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        shop_id = connection.execute(text(
            "INSERT INTO shops (platform, domain, status, created_at, updated_at) "
            "VALUES ('shopify', :d, 'active', now(), now()) RETURNING id"), {"d": SHOP}).scalar_one()
        rows = event_rows(shop_id, args.events)
        connection.execute(text(
            "INSERT INTO webhook_events (shop_id, platform, delivery_key, topic, kind, body, status, attempts, received_at) "
            "VALUES (:shop_id, :platform, :delivery_key, :topic, :kind, :body, :status, :attempts, now())"), rows)
    result = subprocess.run([PYTHON, "-c", DRAIN, str(shop_id)], cwd=ROOT, env=environ, check=True,
                            capture_output=True, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    with engine.connect() as connection:
        processed = connection.execute(text("SELECT count(*) FROM webhook_events WHERE status = 'processed'")).scalar_one()
        orders = connection.execute(text("SELECT count(*) FROM orders")).scalar_one()
    rate = figures["totals"]["processed"] / figures["elapsed"]
    print(f"events drained: {figures['totals']['processed']} in {figures['elapsed']:.2f}s by one worker")
    print(f"events/s per worker: {rate:,.0f}  (target >= 2,000)")
    print(f"processed rows: {processed}, distinct orders in mirror: {orders}, peak RSS {figures['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
