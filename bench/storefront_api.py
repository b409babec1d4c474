"""Benchmark 7: the storefront API under gunicorn on PostgreSQL + Redis, against a trivial baseline.

A shop with ``--members`` members (each with a few ledger entries, a tier and a redemption) is
loaded; then signed app proxy requests for ``GET /proxy/program`` (the anonymous view) and
``GET /proxy/me`` (a different signed-in member each time) are sent by concurrent clients.
Prints requests/s and p99 for each, and for a trivial Flask endpoint served the same way in the
same run (the baseline). Rate limits are raised for the run: the load is one client machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import random
import time

import httpx
from sqlalchemy import create_engine, text

from bench.common import PYTHON, bench_environ, free_port, percentile, start
from connectors.shopify.app_proxy import signature

SHOP = "bench-storefront.myshopify.com"


def proxy_url(base: str, path: str, secret: str, customer: str | None) -> str:
    from urllib.parse import urlencode

    query = urlencode({"shop": SHOP, "logged_in_customer_id": customer or "", "path_prefix": "/apps/comeback",
                       "timestamp": str(int(time.time()))})
    return f"{base}/proxy/{path}?{query}&signature={signature(query, secret)}"


def load(urls: list[str], concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    answered = 0

    def worker(chunk: list[str]) -> tuple[list[float], int]:
        local, ok = [], 0
        with httpx.Client(timeout=10) as client:
            for url in chunk:
                began = time.perf_counter()
                response = client.get(url)
                local.append(time.perf_counter() - began)
                ok += response.status_code == 200
        return local, ok

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for local, ok in pool.map(worker, [urls[i::concurrency] for i in range(concurrency)]):
            latencies.extend(local)
            answered += ok
    return len(urls) / (time.perf_counter() - began), latencies, answered


def seed(database_url: str, members: int) -> None:
    """A shop, its program, and members with order points, an adjustment and a redemption each."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        shop_id = connection.execute(text(
            "INSERT INTO shops (platform, domain, status, currency, created_at, updated_at) "
            "VALUES ('shopify', :d, 'active', 'USD', now(), now()) RETURNING id"), {"d": SHOP}).scalar_one()
    from app import create_app
    from app.extensions import db
    from app.loyalty import program as programs

    app = create_app()
    with app.app_context():
        session = db.session()
        programs.ensure(session, shop_id)
        session.commit()
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO loyalty_members (shop_id, customer_external_id, email, created_at, tier, leaderboard_opt_in, "
            "notified_spendable) SELECT :s, g::text, 'm' || g || '@example.com', now(), "
            "CASE WHEN g % 10 = 0 THEN 'Silver' ELSE NULL END, false, 0 FROM generate_series(1, :n) g"),
            {"s": shop_id, "n": members})
        connection.execute(text(
            "INSERT INTO ledger_entries (shop_id, member_id, points, cause, cause_key, order_external_id, "
            "program_version, available_at, expires_at, created_at) "
            "SELECT :s, m.id, 50 + (k * 37 + m.id) % 400, 'order', 'order:' || m.id || '-' || k, m.id || '-' || k, 1, "
            "now() - (k || ' days')::interval, now() + interval '300 days', now() - (k + 14 || ' days')::interval "
            "FROM loyalty_members m, generate_series(1, 4) k WHERE m.shop_id = :s"), {"s": shop_id})
        connection.execute(text(
            "INSERT INTO redemptions (shop_id, member_id, idempotency_key, reward_id, reward, points, code, status, "
            "attempts, expires_at, created_at) SELECT :s, m.id, 'bench-' || m.id, '5-off', "
            "'{\"name\": \"5 off\"}'::json, 500, 'CB-BENCH' || m.id, 'issued', 1, now() + interval '30 days', now() "
            "FROM loyalty_members m WHERE m.shop_id = :s"), {"s": shop_id})
        connection.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    environ = bench_environ("storefront", STOREFRONT_SHOP_RATE="100000000", STOREFRONT_SHOPPER_RATE="100000000")
    import os

    os.environ.update(environ)
    seed(environ["DATABASE_URL"], args.members)
    secret = environ["SHOPIFY_API_SECRET"]
    rng = random.Random(7)
    results = {}
    for label, target in (("baseline", "bench.trivial_app:app"), ("app", "wsgi:app")):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start([PYTHON, "-m", "gunicorn", "--workers", str(args.workers), "--threads", str(args.threads),
                        "--bind", f"127.0.0.1:{port}", "--log-level", "warning", target], environ, f"{base}/healthz")
        try:
            if label == "baseline":
                urls = [f"{base}/healthz"] * args.requests
                load(urls[:200], args.concurrency)
                results["baseline"] = load(urls, args.concurrency)
                continue
            program = [proxy_url(base, "program", secret, None) for _ in range(args.requests)]
            me = [proxy_url(base, "me", secret, str(rng.randint(1, args.members))) for _ in range(args.requests)]
            load(program[:200] + me[:200], args.concurrency)  # warm up
            results["program"] = load(program, args.concurrency)
            results["me"] = load(me, args.concurrency)
        finally:
            server.terminate()
            server.wait(10)
    base_rate, base_latencies, _ = results["baseline"]
    print(f"gunicorn {args.workers} workers x {args.threads} threads, {args.concurrency} concurrent clients, "
          f"{args.requests} requests each, {args.members:,} members")
    print(f"baseline (trivial Flask GET):   {base_rate:8.0f} req/s  p99 {percentile(base_latencies, 0.99) * 1000:6.1f} ms")
    for name in ("program", "me"):
        rate, latencies, answered = results[name]
        print(f"GET /proxy/{name:<8}              {rate:8.0f} req/s  p99 {percentile(latencies, 0.99) * 1000:6.1f} ms  "
              f"ratio {rate / base_rate:4.2f}  ({answered} of {len(latencies)} answered 200)")


if __name__ == "__main__":
    main()
