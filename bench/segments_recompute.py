"""Benchmark: segments' full recompute for 1,000,000 customers and 5,000,000 orders, and the incremental update.

One shop (EUR, Europe/Berlin) is seeded with COPY (not timed): ``--customers`` customers (some
with tags, some subscribed, a few deleted; 15 % never ordered) and ``--orders`` orders over three
years. A buyer's order count is 1 + a negative binomial draw (shape 0.6: many one-time buyers, a
long tail of heavy repeaters), their orders spread between their first order and a dropout
moment; 5 % are guest orders with only an email (a third of them a customer's email, written in
another case), 3 % are refunded in part or in full, 1 % cancelled, 0.2 % test orders and 0.5 % in
another currency. Then, each in a process of its own so that its peak RSS is its own:

* the baseline: a plain ``SELECT customer_external_id, count(*), sum(total_price) … GROUP BY 1``
  over the shop's orders, fetched (best of 3);
* ``membership.recompute_shop`` + commit, twice: the first run fills an empty
  ``customer_metrics`` and the segments, the second is the nightly run over existing rows
  (updates, enter/leave events); per-stage seconds from ``metrics.Result.seconds``. Before each
  (not timed) the tables are vacuumed, as autovacuum would have between two nights, and checkpointed;
* the incremental path: ``--events`` single-order events for existing customers written through
  ``mirror.apply_records`` (as the inbox does), then one ``membership.refresh_shop`` + commit,
  ms per order event; then ``--singles`` times one order and its refresh (median latency).

Target: the full recompute under 60 s and 2 GB RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import time

from bench.common import PYTHON, ROOT, bench_environ

DOMAIN = "bench-segments.myshopify.com"
CUSTOMER_BASE = 7_000_000_000_000
ORDER_BASE = 4_000_000_000_000
STAGES = ("seed", "baseline", "recompute", "incremental")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _raw():
    import os

    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"])


def seed(customers: int, orders: int, seed_value: int) -> dict:
    """The shop, its customers and orders (COPY into staging tables, then INSERT … SELECT)."""
    import numpy as np

    rng = np.random.default_rng(seed_value)
    began = time.perf_counter()
    now = time.time()
    years = 3 * 365.25 * 86400
    # Buyers: 85 % of customers; each 1 + NegBin(0.6, mean mu) orders.
    guest_orders = orders // 20
    customer_orders = orders - guest_orders
    buyer = rng.random(customers) < 0.85
    buyers = int(buyer.sum())
    mu = customer_orders / buyers - 1
    shape = 0.6
    counts = np.zeros(customers, dtype=np.int64)
    counts[buyer] = 1 + rng.negative_binomial(shape, shape / (shape + mu), buyers)
    difference = customer_orders - int(counts.sum())
    if difference > 0:
        np.add.at(counts, rng.choice(np.flatnonzero(buyer), difference), 1)
    while difference < 0:
        repeaters = np.flatnonzero(counts > 1)
        take = rng.choice(repeaters, min(-difference, len(repeaters)), replace=False)
        counts[take] -= 1
        difference = customer_orders - int(counts.sum())
    first = now - rng.random(customers) * years
    lifetime = np.minimum(rng.exponential(365 * 86400.0, customers), now - first)
    who = np.repeat(np.arange(customers), counts)
    placed = first[who] + np.where(np.concatenate([[True], who[1:] != who[:-1]]), 0.0,
                                   rng.random(len(who)) * lifetime[who])
    # Guests: a third order under a customer's email (another case), the rest from a pool of addresses.
    guest_customer = np.where(rng.random(guest_orders) < 1 / 3, rng.integers(0, customers, guest_orders), -1)
    guest_address = rng.integers(0, max(1, guest_orders // 2), guest_orders)
    guest_placed = now - rng.random(guest_orders) * years
    all_who = np.concatenate([who, np.full(guest_orders, -1)])
    all_placed = np.concatenate([placed, guest_placed])
    order_of = np.argsort(all_placed, kind="stable")  # external ids in time order, as a store numbers them
    all_who, all_placed = all_who[order_of], all_placed[order_of]
    guest_kind = np.full(orders, -2)
    guest_kind[len(who):] = guest_customer
    guest_kind = guest_kind[order_of]
    guest_pool = np.zeros(orders, dtype=np.int64)
    guest_pool[len(who):] = guest_address
    guest_pool = guest_pool[order_of]
    total_cents = np.round(rng.lognormal(np.log(4500), 0.6, orders)).astype(np.int64) + 100
    roll = rng.random(orders)
    cancelled = roll < 0.01
    test = (roll >= 0.01) & (roll < 0.012)
    usd = (roll >= 0.012) & (roll < 0.017)
    refunded = rng.random(orders) < 0.03
    refund_cents = np.where(rng.random(orders) < 0.5, total_cents,
                            np.maximum(1, (total_cents * rng.random(orders)).astype(np.int64)))
    tagged = rng.random(customers)
    subscribed = rng.random(customers) < 0.4
    deleted = rng.random(customers) < 0.005
    generated = time.perf_counter() - began

    with _raw() as connection:
        shop_id = connection.execute(
            "INSERT INTO shops (platform, domain, name, currency, timezone, status, installed_at, created_at, "
            "updated_at) VALUES ('shopify', %s, 'Bench', 'EUR', 'Europe/Berlin', 'active', now(), now(), now()) "
            "RETURNING id", (DOMAIN,)).fetchone()[0]
        # Secondary indexes are built after the load (much faster than maintained row by row).
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('orders', 'customers', 'refunds') "
            "AND indexname LIKE 'ix_%%'").fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.execute("CREATE TEMPORARY TABLE stage_customers (n bigint, tags smallint, subscribed boolean, "
                           "deleted boolean, created double precision)")
        with connection.cursor() as cursor:
            with cursor.copy("COPY stage_customers FROM STDIN") as copy:
                for start in range(0, customers, 100_000):
                    stop = min(customers, start + 100_000)
                    copy.write("".join(
                        f"{n}\t{int(tagged[n] * 10)}\t{'t' if subscribed[n] else 'f'}\t{'t' if deleted[n] else 'f'}"
                        f"\t{first[n] - 86400.0:.0f}\n" for n in range(start, stop)))
        connection.execute(
            "INSERT INTO customers (shop_id, platform, external_id, email, first_name, state, tags, "
            "email_marketing_state, consent_updated_at, source_created_at, source_updated_at, deleted_at, "
            "created_at, updated_at) "
            "SELECT %(shop)s, 'shopify', (%(base)s + n)::text, 'customer' || n || '@example.com', 'C' || n, "
            "'enabled', CASE WHEN tags = 0 THEN '[\"VIP\", \"wholesale\"]'::json WHEN tags = 1 THEN '[\"newsletter\"]' "
            "WHEN tags = 2 THEN '[]' ELSE NULL END, CASE WHEN subscribed THEN 'subscribed' ELSE 'not_subscribed' END, "
            "to_timestamp(created), to_timestamp(created), to_timestamp(created), "
            "CASE WHEN deleted THEN now() END, to_timestamp(created), to_timestamp(created) "
            "FROM stage_customers ORDER BY n", {"shop": shop_id, "base": CUSTOMER_BASE})
        connection.execute("CREATE TEMPORARY TABLE stage_orders (n bigint, who bigint, guest bigint, pool bigint, "
                           "placed double precision, cents bigint, flag smallint)")
        flags = np.where(cancelled, 1, np.where(test, 2, np.where(usd, 3, 0)))
        with connection.cursor() as cursor:
            with cursor.copy("COPY stage_orders FROM STDIN") as copy:
                for start in range(0, orders, 200_000):
                    stop = min(orders, start + 200_000)
                    rows = zip(range(start, stop), all_who[start:stop].tolist(), guest_kind[start:stop].tolist(),
                               guest_pool[start:stop].tolist(), all_placed[start:stop].tolist(),
                               total_cents[start:stop].tolist(), flags[start:stop].tolist(), strict=True)
                    copy.write("".join(f"{n}\t{c}\t{g}\t{p}\t{t:.0f}\t{m}\t{f}\n" for n, c, g, p, t, m, f in rows))
        connection.execute(
            "INSERT INTO orders (shop_id, platform, external_id, number, customer_external_id, email, currency, "
            "total_price, subtotal_price, total_discounts, total_tax, financial_status, is_test, tags, "
            "discount_codes, source_created_at, source_updated_at, processed_at, cancelled_at, created_at, "
            "updated_at) "
            "SELECT %(shop)s, 'shopify', (%(base)s + n)::text, '#' || (1001 + n), "
            "CASE WHEN who >= 0 THEN (%(customer)s + who)::text END, "
            "CASE WHEN who >= 0 THEN 'customer' || who || '@example.com' "
            "     WHEN guest >= 0 THEN ' Customer' || guest || '@Example.com' "
            "     ELSE 'guest' || pool || '@example.net' END, "
            "CASE WHEN flag = 3 THEN 'USD' ELSE 'EUR' END, cents / 100.0, cents / 100.0, 0, cents / 1100.0, "
            "'paid', flag = 2, '[]', '[]', to_timestamp(placed), to_timestamp(placed), to_timestamp(placed), "
            "CASE WHEN flag = 1 THEN to_timestamp(placed + 3600) END, to_timestamp(placed), to_timestamp(placed) "
            "FROM stage_orders ORDER BY n", {"shop": shop_id, "base": ORDER_BASE, "customer": CUSTOMER_BASE})
        refund_rows = np.flatnonzero(refunded)
        with connection.cursor() as cursor:
            with cursor.copy("COPY refunds (shop_id, platform, external_id, order_external_id, amount, currency, "
                             "source_created_at, created_at) FROM STDIN") as copy:
                moments = np.minimum(all_placed[refund_rows] + 14 * 86400, now - 60)
                copy.write("".join(
                    f"{shop_id}\tshopify\t{9_000_000_000_000 + n}\t{ORDER_BASE + n}\t{refund_cents[n] / 100:.2f}\t"
                    f"{'USD' if usd[n] else 'EUR'}\t{time.strftime('%Y-%m-%d %H:%M:%S+00', time.gmtime(m))}\t"
                    f"{time.strftime('%Y-%m-%d %H:%M:%S+00', time.gmtime(m))}\n"
                    for n, m in zip(refund_rows.tolist(), moments.tolist(), strict=True)))
        for _, definition in indexes:
            connection.execute(definition)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE customers")
        connection.execute("VACUUM ANALYZE orders")
        connection.execute("VACUUM ANALYZE refunds")
        shape_figures = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE customer_external_id IS NULL), "
            "count(*) FILTER (WHERE cancelled_at IS NOT NULL), count(*) FILTER (WHERE is_test), "
            "count(*) FILTER (WHERE currency <> 'EUR'), min(processed_at), max(processed_at) FROM orders").fetchone()
        refunds_count = connection.execute("SELECT count(*) FROM refunds").fetchone()[0]
        customers_count = connection.execute("SELECT count(*) FROM customers").fetchone()[0]
    repeat = counts[counts > 0]
    return {"seconds": time.perf_counter() - began, "generate_seconds": generated, "shop_id": shop_id,
            "customers": customers_count, "orders": shape_figures[0], "guest_orders": shape_figures[1],
            "cancelled": shape_figures[2], "test": shape_figures[3], "other_currency": shape_figures[4],
            "refunds": refunds_count, "first": str(shape_figures[5]), "last": str(shape_figures[6]),
            "buyers": int(len(repeat)), "one_time_buyers": int((repeat == 1).sum()),
            "p99_orders": float(np.percentile(repeat, 99)), "max_orders": int(repeat.max())}


def baseline(repeat: int = 3) -> dict:
    """The unavoidable scan: the shop's orders grouped by customer, every group fetched."""
    times = []
    with _raw() as connection:
        shop_id = connection.execute("SELECT id FROM shops WHERE domain = %s", (DOMAIN,)).fetchone()[0]
        connection.execute("SET jit = off")
        connection.execute("SET work_mem = '64MB'")
        for _ in range(repeat):
            began = time.perf_counter()
            rows = connection.execute("SELECT customer_external_id, count(*), sum(total_price) FROM orders "
                                      "WHERE shop_id = %s GROUP BY 1", (shop_id,)).fetchall()
            times.append(time.perf_counter() - began)
    return {"seconds": min(times), "all": times, "groups": len(rows), "rss_mb": rss_mb()}


def _app_session():
    from app import create_app
    from app.extensions import db

    app = create_app()
    context = app.app_context()
    context.push()
    return db.session()


def recompute() -> dict:
    import psycopg
    from sqlalchemy import func, select

    from app.segments import membership
    from app.store.models import CustomerMetrics, SegmentEvent, SegmentMember, Shop

    # Not timed: what autovacuum does between two nights (the last run's deleted rows), and a
    # checkpoint, so that each run starts from the same state rather than from the last one's leftovers.
    with _raw() as connection:
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE customer_metrics, segment_members")
        try:
            connection.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:  # a role without pg_checkpoint: only vacuumed
            pass
    session = _app_session()
    shop = session.execute(select(Shop).where(Shop.domain == DOMAIN)).scalar_one()
    rss_before = rss_mb()
    began = time.perf_counter()
    result = membership.recompute_shop(session, shop)
    done = time.perf_counter()
    session.commit()
    total = time.perf_counter() - began
    rss = rss_mb()
    seconds = dict(result.seconds)
    seconds["commit"] = time.perf_counter() - done
    segments = dict(session.execute(
        select(SegmentMember.segment_id, func.count()).group_by(SegmentMember.segment_id)).all())
    from app.store.models import Segment

    names = dict(session.execute(select(Segment.id, Segment.key)).all())
    return {"seconds": total, "stages": seconds, "rss_mb": rss, "rss_before_mb": rss_before,
            "customers": result.customers, "buyers": result.buyers, "method": result.method,
            "metrics_rows": session.execute(select(func.count()).select_from(CustomerMetrics)).scalar_one(),
            "members": {names[key]: value for key, value in segments.items()},
            "events": session.execute(select(func.count()).select_from(SegmentEvent)).scalar_one(),
            "rfm": dict(session.execute(select(CustomerMetrics.rfm_segment, func.count())
                                        .group_by(CustomerMetrics.rfm_segment)).all())}


def incremental(events: int, singles: int, customers: int) -> dict:
    import datetime as dt
    import random
    from decimal import Decimal

    from sqlalchemy import select

    from app.segments import membership
    from app.store import mirror
    from app.store.models import Shop
    from app.store.types import utcnow
    from connectors import base

    session = _app_session()
    shop = session.execute(select(Shop).where(Shop.domain == DOMAIN)).scalar_one()
    rng = random.Random(11)
    serial = [0]

    def order() -> base.Order:
        serial[0] += 1
        placed = utcnow()
        total = Decimal(rng.randint(1000, 20000)) / 100
        external_id = f"new-{serial[0]}"
        return base.Order(
            external_id=external_id, number=f"#{external_id}", created_at=placed, updated_at=placed,
            currency="EUR", total_price=total, subtotal_price=total, financial_status="paid",
            customer_external_id=str(CUSTOMER_BASE + rng.randrange(customers)), email=None, processed_at=placed,
            line_items=(base.LineItem(f"{external_id}-1", "Mug", 1, total),))

    began = time.perf_counter()
    for start in range(0, events, 100):  # the inbox applies events in batches
        mirror.apply_records(session, shop.id, shop.platform, [order() for _ in range(min(100, events - start))])
        session.commit()
    write_seconds = time.perf_counter() - began
    began = time.perf_counter()
    keys, more = membership.refresh_shop(session, shop)
    session.commit()
    refresh_seconds = time.perf_counter() - began
    latencies = []
    for _ in range(singles):
        mirror.apply_records(session, shop.id, shop.platform, [order()])
        session.commit()
        began = time.perf_counter()
        membership.refresh_shop(session, shop, dt.datetime.now(dt.timezone.utc))
        session.commit()
        latencies.append(time.perf_counter() - began)
    return {"events": events, "write_seconds": write_seconds, "refresh_seconds": refresh_seconds,
            "refreshed": len(keys), "more": more, "single_median": statistics.median(latencies) if latencies else None,
            "single_max": max(latencies) if latencies else None, "rss_mb": rss_mb()}


def _environ_of_last_run() -> dict[str, str]:
    import os

    from cryptography.fernet import Fernet

    server = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    return {**os.environ, "DATABASE_URL": f"{server}/comeback_bench_segments_recompute",
            "REDIS_URL": os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12"), "SECRET_KEY": "bench",
            "ENCRYPTION_KEY": Fernet.generate_key().decode(), "SHOPIFY_API_KEY": "bench-key",
            "SHOPIFY_API_SECRET": "bench-secret",
            "COMEBACK_INSTANCE_PATH": str(ROOT / "instance" / "bench-segments_recompute")}


def _stage(name: str, environ: dict, *extra: str) -> dict:
    result = subprocess.run([PYTHON, "-m", "bench.segments_recompute", "--stage", name, *extra], cwd=ROOT,
                            env=environ, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"stage {name} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, help="default: 5 per customer")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--stage", choices=STAGES)
    parser.add_argument("--seed-only", action="store_true", help="create and seed the database, nothing else")
    parser.add_argument("--reuse", action="store_true", help="skip seeding: use the last run's database")
    args = parser.parse_args()
    orders = args.orders or 5 * args.customers
    if args.stage:
        if args.stage == "seed":
            out = seed(args.customers, orders, args.seed)
        elif args.stage == "baseline":
            out = baseline()
        elif args.stage == "recompute":
            out = recompute()
        else:
            out = incremental(args.events, args.singles, args.customers)
        print(json.dumps(out, default=str))
        return

    sized = ["--customers", str(args.customers), "--orders", str(orders)]
    if args.seed_only or not args.reuse:
        environ = bench_environ("segments_recompute")
        seeded = _stage("seed", environ, *sized, "--seed", str(args.seed))
        (ROOT / "instance" / "bench-segments_recompute" / "seeded.json").write_text(json.dumps(seeded))
        if args.seed_only:
            print(json.dumps(seeded))
            return
    else:  # the database of the last run, as seeded (recomputed and refreshed since): for working on the code
        environ = _environ_of_last_run()
        seeded = json.loads((ROOT / "instance" / "bench-segments_recompute" / "seeded.json").read_text())
    print(f"seeded in {seeded['seconds']:.0f}s (not timed): {seeded['customers']:,} customers "
          f"({seeded['buyers']:,} with orders, {seeded['one_time_buyers']:,} of them once; p99 "
          f"{seeded['p99_orders']:.0f} orders, max {seeded['max_orders']}), {seeded['orders']:,} orders "
          f"{seeded['first'][:10]} … {seeded['last'][:10]} ({seeded['guest_orders']:,} guest, "
          f"{seeded['cancelled']:,} cancelled, {seeded['test']:,} test, {seeded['other_currency']:,} in USD), "
          f"{seeded['refunds']:,} refunds")
    base = _stage("baseline", environ)
    print(f"baseline: SELECT customer, count(*), sum(total) GROUP BY 1 over {seeded['orders']:,} orders, "
          f"{base['groups']:,} groups fetched: {base['seconds']:.2f}s (best of 3: "
          f"{', '.join(f'{s:.2f}' for s in base['all'])})")
    for run, label in ((1, "first recompute (empty customer_metrics)"), (2, "nightly recompute (rows exist)")):
        out = _stage("recompute", environ)
        stages = ", ".join(f"{name} {value:.2f}" for name, value in out["stages"].items())
        print(f"{label}: {out['seconds']:.1f}s total (ratio to baseline {out['seconds'] / base['seconds']:.1f}), "
              f"peak RSS {out['rss_mb']:.0f} MB (after start-up {out['rss_before_mb']:.0f} MB)  "
              f"[target < 60 s, < 2048 MB]")
        print(f"  stages (s): {stages}")
        print(f"  {out['customers']:,} customers, {out['buyers']:,} buyers, CLV {out['method']}; "
              f"members {out['members']}; segment events so far {out['events']:,}")
        if run == 1:
            print(f"  RFM: {out['rfm']}")
    inc = _stage("incremental", environ, "--events", str(args.events), "--singles", str(args.singles),
                 "--customers", str(args.customers))
    print(f"incremental: {inc['events']:,} order events written through mirror.apply_records in "
          f"{inc['write_seconds']:.1f}s; refresh_shop + commit {inc['refresh_seconds'] * 1000:.0f} ms for "
          f"{inc['refreshed']:,} customers -> {inc['refresh_seconds'] * 1000 / max(inc['events'], 1):.2f} ms "
          f"per order event (more waiting: {inc['more']})")
    if inc["single_median"] is not None:
        print(f"  one order then refresh_shop + commit: median {inc['single_median'] * 1000:.0f} ms, "
              f"max {inc['single_max'] * 1000:.0f} ms over {args.singles}; peak RSS {inc['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
