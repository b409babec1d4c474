"""Benchmark 1: webhook intake under gunicorn on PostgreSQL + Redis, against a trivial baseline.

Prints requests/s and p99 latency for the app's intake and for a trivial Flask POST endpoint
served the same way in the same run, their ratio (target ≥ 0.5), and checks that every
acknowledged delivery was stored.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import json
import time
import uuid

import httpx
from sqlalchemy import create_engine, text

from bench.common import PYTHON, bench_environ, free_port, percentile, start

SHOP = "bench-shop.myshopify.com"


def signed(secret: str, n: int) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"id": 10_000 + n, "name": f"#{n}", "email": f"c{n}@example.com",
                       "created_at": "2026-11-01T10:00:00+00:00", "updated_at": "2026-11-01T10:00:00+00:00",
                       "currency": "USD", "total_price": "10.00", "subtotal_price": "10.00",
                       "financial_status": "paid", "line_items": [], "refunds": []}).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Shop-Domain": SHOP, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-10"}, body


def load(url: str, requests: list[tuple[dict[str, str], bytes]], concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    acknowledged = 0

    def worker(chunk):
        nonlocal acknowledged
        local = []
        ok = 0
        with httpx.Client(timeout=10) as client:
            for headers, body in chunk:
                started = time.perf_counter()
                response = client.post(url, content=body, headers=headers)
                local.append(time.perf_counter() - started)
                ok += response.status_code == 200
        return local, ok

    chunks = [requests[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for local, ok in pool.map(worker, chunks):
            latencies.extend(local)
            acknowledged += ok
    elapsed = time.perf_counter() - started
    return len(requests) / elapsed, latencies, acknowledged


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    environ = bench_environ("intake")
    engine = create_engine(environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO shops (platform, domain, status, access_token, created_at, updated_at) "
                                "VALUES ('shopify', :d, 'active', NULL, now(), now())"), {"d": SHOP})
    results = {}
    for label, target in (("baseline", "bench.trivial_app:app"), ("app", "wsgi:app")):
        port = free_port()
        server = start([PYTHON, "-m", "gunicorn", "--workers", str(args.workers), "--threads", str(args.threads),
                        "--bind", f"127.0.0.1:{port}", "--log-level", "warning", target],
                       environ, f"http://127.0.0.1:{port}/healthz")
        try:
            url = f"http://127.0.0.1:{port}/webhooks/shopify"
            warm = [signed(environ["SHOPIFY_API_SECRET"], n) for n in range(200)]
            _, _, warm_acknowledged = load(url, warm, args.concurrency)
            batch = [signed(environ["SHOPIFY_API_SECRET"], n) for n in range(args.requests)]
            rate, latencies, acknowledged = load(url, batch, args.concurrency)
            results[label] = (rate, percentile(latencies, 0.99) * 1000, warm_acknowledged + acknowledged,
                              len(batch) + len(warm))
        finally:
            server.terminate()
            server.wait(10)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM webhook_events")).scalar_one()
    base_rate, base_p99, _, _ = results["baseline"]
    rate, p99, acknowledged, sent = results["app"]
    print(f"gunicorn {args.workers} workers x {args.threads} threads, {args.concurrency} concurrent clients, "
          f"{args.requests} requests after 200 to warm up")
    print(f"baseline (trivial Flask POST): {base_rate:8.0f} req/s  p99 {base_p99:6.1f} ms")
    print(f"app webhook intake:            {rate:8.0f} req/s  p99 {p99:6.1f} ms")
    print(f"ratio app/baseline:            {rate / base_rate:8.2f}  (target >= 0.5)")
    print(f"acknowledged {acknowledged} of {sent}, stored {stored}: {'OK' if stored == acknowledged else 'MISMATCH'}")


if __name__ == "__main__":
    main()
