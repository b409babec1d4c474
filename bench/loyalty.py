"""Benchmark 5: points accrual for 100,000 orders, and the liability query on 1,000,000 entries.

Accrual: the orders are written into the mirror first (``mirror.apply_records``, the baseline of
the same run), then one worker's accrual turns them into ledger entries, with everything it does
per batch (tier multipliers and evaluation, challenges, referrals, "points earned" events); the
figure is entries/s and its ratio to the mirror's own write rate. Liability: 1,000,000 entries are loaded with COPY,
then ``ledger.liability`` is timed now and at a past date, next to a plain count of the table
(the baseline: a scan of the same rows).
"""

from __future__ import annotations

import argparse
import json
import subprocess

from bench.common import PYTHON, ROOT, bench_environ

SCRIPT = """
import datetime as dt, io, json, random, sys, time
from decimal import Decimal
from sqlalchemy import func, select, text
from app import create_app
from app.extensions import db
from app.loyalty import accrual, ledger, program as programs
from app.store import mirror
from app.store.models import LedgerEntry, LoyaltyMember, LoyaltyProgram, Shop
from app.store.types import utcnow
from connectors import base

orders, entries = int(sys.argv[1]), int(sys.argv[2])
app = create_app()
out = {}
with app.app_context():
    session = db.session()
    shop = Shop(platform="shopify", domain="bench-loyalty.example", status="active", access_token="t",
                installed_at=utcnow())
    session.add(shop)
    session.flush()
    programs.ensure(session, shop.id)
    session.execute(LoyaltyProgram.__table__.update().values(created_at=utcnow() - dt.timedelta(days=400)))
    session.commit()
    rng = random.Random(5)
    start = utcnow() - dt.timedelta(days=365)
    records = []
    for n in range(orders):
        placed = start + dt.timedelta(seconds=n * 300)
        total = Decimal(rng.randint(1000, 20000)) / 100
        records.append(base.Order(
            external_id=str(n + 1), number=str(n + 1), created_at=placed, updated_at=placed, currency="EUR",
            total_price=total, subtotal_price=total, financial_status="paid",
            customer_external_id=str(rng.randint(1, orders // 4)), email=None, processed_at=placed,
            line_items=(base.LineItem(f"{n}-1", "Item", 1, total),)))
    began = time.perf_counter()
    for i in range(0, orders, 1000):
        mirror.apply_records(session, shop.id, shop.platform, records[i:i + 1000])
        session.commit()
    out["mirror_seconds"] = time.perf_counter() - began
    began = time.perf_counter()
    while accrual.accrue(session, shop.id, batches=1000).more:
        pass
    out["accrual_seconds"] = time.perf_counter() - began
    out["accrued_entries"] = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()

    # The liability query on a large ledger: entries of 20,000 members over two years, by COPY.
    members = [{"shop_id": shop.id, "customer_external_id": f"m{n}", "email": None, "created_at": utcnow()}
               for n in range(20000)]
    session.execute(LoyaltyMember.__table__.insert(), members)
    session.commit()
    member_ids = session.execute(select(LoyaltyMember.id).where(LoyaltyMember.customer_external_id.like("m%"))
                                 ).scalars().all()
    raw = session.connection().connection.driver_connection
    base_time = utcnow() - dt.timedelta(days=730)
    began = time.perf_counter()
    with raw.cursor() as cursor:
        with cursor.copy("COPY ledger_entries (shop_id, member_id, points, cause, cause_key, program_version, "
                         "available_at, created_at) FROM STDIN") as copy:
            for n in range(entries):
                stamp = base_time + dt.timedelta(seconds=n * 60)
                copy.write_row((shop.id, member_ids[n % len(member_ids)], rng.randint(-50, 200), "adjustment",
                                f"bench:{n}", 1, stamp, stamp))
    session.commit()
    session.execute(text("ANALYZE ledger_entries"))
    session.commit()
    out["load_seconds"] = time.perf_counter() - began
    out["ledger_rows"] = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()

    def best(fn, runs=5):
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - began)
        return min(times), value
    out["count_seconds"], _ = best(lambda: session.execute(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.shop_id == shop.id)).scalar_one())
    out["liability_now_seconds"], now = best(lambda: ledger.liability(session, shop.id))
    past = utcnow() - dt.timedelta(days=365)
    out["liability_past_seconds"], then = best(lambda: ledger.liability(session, shop.id, at=past))
    out["liability_now"] = [now.points, str(now.amount)]
    out["liability_past"] = [then.points, str(then.amount)]
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    environ = bench_environ("loyalty")
    result = subprocess.run([PYTHON, "-c", SCRIPT, str(args.orders), str(args.entries)], cwd=ROOT, env=environ,
                            check=True, capture_output=True, text=True)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    mirror_rate = args.orders / out["mirror_seconds"]
    accrual_rate = out["accrued_entries"] / out["accrual_seconds"]
    print(f"mirror write of {args.orders:,} orders (baseline): {out['mirror_seconds']:.1f}s -> {mirror_rate:,.0f} orders/s")
    print(f"accrual: {out['accrued_entries']:,} entries in {out['accrual_seconds']:.1f}s -> {accrual_rate:,.0f} entries/s "
          f"per worker (ratio to the mirror write: {accrual_rate / mirror_rate:.2f})")
    print(f"ledger loaded: {out['ledger_rows']:,} entries in {out['load_seconds']:.1f}s")
    print(f"count of the shop's entries (baseline): {out['count_seconds'] * 1000:.0f} ms")
    print(f"liability now:  {out['liability_now_seconds'] * 1000:.0f} ms (ratio {out['liability_now_seconds'] / out['count_seconds']:.2f}) "
          f"-> {out['liability_now'][0]:,} points = {out['liability_now'][1]}")
    print(f"liability a year ago: {out['liability_past_seconds'] * 1000:.0f} ms "
          f"(ratio {out['liability_past_seconds'] / out['count_seconds']:.2f}) -> {out['liability_past'][0]:,} points")


if __name__ == "__main__":
    main()
