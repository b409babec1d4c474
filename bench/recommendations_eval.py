"""Offline evaluation of ``app.recommendations``: hit-rate@5 on a time-split holdout, against popularity.

Two order histories, each ending ``--holdout-days`` after today:

* ``devstore``: devstore's seeded generator (``devstore.generator.generate``), its products,
  customers and orders turned into the connectors' neutral records. Its lines are drawn
  independently of each other from one popularity distribution, so the history has no
  co-purchase structure: this is the check that the recommender does no harm where there is
  nothing to find.
* ``baskets``: a synthetic basket model with co-purchase structure (``basket_history``):
  products in categories with a heavy-tailed popularity, each with two complements; customers
  who prefer two categories; a basket is an anchor product, often its complement, sometimes
  another product of a preferred category; a repeat order often starts from a complement of
  the previous one. The model has the structure the recommender looks for built in, so its
  figure shows that the code finds it, not what a real shop would gain.

Orders placed up to today (the cutoff) are written to the mirror through
``mirror.apply_records`` and counted with ``pairs.update``: the real tables and functions, on
SQLite (default) or PostgreSQL (``--database postgresql``). Each customer with an order before
the cutoff and one after it is a test case: the first order after the cutoff is what they
bought next. Ours is ``recommend.for_customer(customer_external_id=…, cart_product_ids=(),
limit=5)``; the popularity baseline is ``popular.popular(limit=5)``, once excluding what the
customer just bought (``recommend.just_bought``) as ours does, once as is. A hit is a case where at least one of the five
products is in the next order; hit-rate@5 is hits over cases. Both are computed in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import tempfile
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from app import create_app
from app.config import load_settings
from app.extensions import db
from app.recommendations import pairs, popular, recommend
from app.store import mirror
from app.store.models import Shop
from app.store.types import utcnow
from connectors import base

UTC = dt.timezone.utc
DAY = 86_400


def devstore_history(seed: int, customers: int, products: int, orders: int, end: int) -> tuple[list, list]:
    """Products and orders from devstore's generator, as neutral records."""
    from devstore import generator
    from devstore.shopstate import ShopState

    shop = ShopState(domain="eval.myshopify.com", name="Eval")
    generator.generate(shop, generator.GenerateSpec(seed=seed, customers=customers, products=products,
                                                    orders=orders, refund_rate=0.0, start=end - 730 * DAY, end=end))
    catalogue = [base.Product(
        external_id=str(p.id), title=p.title, handle=p.handle, status="active", updated_at=_at(p.created_at),
        created_at=_at(p.created_at), categories=(p.category,) if p.category else (),
        variants=tuple(base.Variant(str(v.id), v.title, Decimal(v.price) / 100, inventory_quantity=None)
                       for v in p.variants)) for p in shop.products]
    history = [_order(str(o.id), [str(line.variant.product.id) for line in o.line_items],
                      str(o.customer.id) if o.customer else None, o.created_at, o.cancelled_at is not None)
               for o in shop.orders]
    return catalogue, history


def basket_history(seed: int, customers: int, products: int, orders: int, end: int) -> tuple[list, list]:
    """Products and orders of a basket model with complements and category preferences."""
    rng = random.Random(seed)
    categories = [f"Category {n}" for n in range(max(2, products // 10))]
    category_of = {p: categories[p % len(categories)] for p in range(products)}
    weight = [rng.paretovariate(1.2) for _ in range(products)]
    complements = {p: rng.sample([q for q in range(products) if q != p], 2) for p in range(products)}
    start = end - 730 * DAY
    catalogue = [base.Product(external_id=f"p{p}", title=f"Product {p}", handle=f"product-{p}", status="active",
                              updated_at=_at(start - DAY), created_at=_at(start - DAY),
                              categories=(category_of[p],),
                              variants=(base.Variant(f"v{p}", "Default", Decimal("20.00")),))
                 for p in range(products)]
    liking = [rng.sample(categories, 2) for _ in range(customers)]
    activity = list(itertools.accumulate(rng.paretovariate(1.5) for _ in range(customers)))
    buyers = rng.choices(range(customers), cum_weights=activity, k=orders)
    times = sorted(rng.randint(start, end) for _ in range(orders))
    previous: dict[int, list[int]] = {}
    history = []
    for number, (buyer, placed) in enumerate(zip(buyers, times, strict=True)):
        preferred = set(liking[buyer])
        scaled = [w * (4 if category_of[p] in preferred else 1) for p, w in enumerate(weight)]
        if buyer in previous and rng.random() < 0.4:
            anchor = rng.choice(complements[rng.choice(previous[buyer])])
        else:
            anchor = rng.choices(range(products), weights=scaled)[0]
        basket = [anchor]
        if rng.random() < 0.6:
            basket.append(complements[anchor][0] if rng.random() < 0.7 else complements[anchor][1])
        if rng.random() < 0.3:
            basket.append(rng.choices(range(products), weights=scaled)[0])
        if rng.random() < 0.15:
            basket.append(rng.choices(range(products), weights=weight)[0])
        basket = list(dict.fromkeys(basket))
        previous[buyer] = basket
        history.append(_order(f"o{number}", [f"p{p}" for p in basket], f"c{buyer}", placed, rng.random() < 0.02))
    return catalogue, history


def _at(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, UTC)


def _order(external_id: str, products: list[str], customer: str | None, placed: int, cancelled: bool) -> base.Order:
    lines = tuple(base.LineItem(f"{external_id}-{n}", "Line", 1, Decimal("20.00"), product_external_id=p)
                  for n, p in enumerate(products))
    return base.Order(external_id=external_id, number=external_id, created_at=_at(placed), updated_at=_at(placed),
                      currency="USD", total_price=Decimal("20.00") * len(lines),
                      subtotal_price=Decimal("20.00") * len(lines), customer_external_id=customer,
                      cancelled_at=_at(placed + 3600) if cancelled else None, line_items=lines)


def evaluate(name: str, catalogue: list, history: list, cutoff: dt.datetime, *, grid: bool) -> dict[str, Any]:
    """Write the history before ``cutoff``, count it, and score every next order after it."""
    session = db.session()
    shop = Shop(platform="shopify", domain=f"{name}.myshopify.com", status="active", installed_at=utcnow())
    session.add(shop)
    session.commit()
    train = [o for o in history if o.created_at < cutoff]
    began = time.perf_counter()
    mirror.apply_records(session, shop.id, shop.platform, catalogue)
    for start in range(0, len(train), 1000):
        mirror.apply_records(session, shop.id, shop.platform, train[start:start + 1000])
        session.commit()
    written = time.perf_counter() - began
    began = time.perf_counter()
    while pairs.update(session, shop.id).more:
        pass
    counted = time.perf_counter() - began
    seen = {o.customer_external_id for o in train if o.customer_external_id and o.cancelled_at is None}
    cases: dict[str, set[str]] = {}
    for o in sorted((o for o in history if o.created_at >= cutoff and o.cancelled_at is None),
                    key=lambda o: o.created_at):
        if o.customer_external_id in seen and o.customer_external_id not in cases:
            cases[o.customer_external_id] = {line.product_external_id for line in o.line_items}
    settings = [(recommend.DEFAULT, recommend.CATEGORY_SHARE, recommend.CATEGORY_POOL_PER_PICK)]
    if grid:
        settings += [(recommend.Thresholds(margin=margin), recommend.CATEGORY_SHARE, recommend.CATEGORY_POOL_PER_PICK)
                     for margin in (0.0, 1.0, 3.0)]
        settings += [(recommend.DEFAULT, share, per_pick) for share in (0.0, 0.5, 1.0) for per_pick in (1, 3, 100)]
    hits: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    began = time.perf_counter()
    default_share, default_pool = recommend.CATEGORY_SHARE, recommend.CATEGORY_POOL_PER_PICK
    for customer, bought in cases.items():
        just = tuple(recommend.just_bought(session, shop.id, customer_external_id=customer))
        for thresholds, share, per_pick in settings:
            recommend.CATEGORY_SHARE, recommend.CATEGORY_POOL_PER_PICK = share, per_pick
            picks = recommend.for_customer(session, shop.id, customer_external_id=customer, cart_product_ids=(),
                                           limit=5, thresholds=thresholds)
            label = (f"ours support>={thresholds.min_pair_orders} lift>={thresholds.min_lift} "
                     f"margin {thresholds.margin} category share {share} pool {per_pick}/place")
            hits[label] += any(p["id"] in bought for p in picks)
            if (thresholds, share, per_pick) == settings[0]:
                reasons.update(p["reason"] for p in picks)
        recommend.CATEGORY_SHARE, recommend.CATEGORY_POOL_PER_PICK = default_share, default_pool
        hits["popular, just bought excluded"] += any(
            p["id"] in bought for p in popular.popular(session, shop.id, limit=5, exclude=just))
        hits["popular"] += any(p["id"] in bought for p in popular.popular(session, shop.id, limit=5))
    scored = time.perf_counter() - began
    return {"history": name, "products": len(catalogue), "orders": len(history), "train_orders": len(train),
            "test_customers": len(cases), "hit_rate_at_5": {k: round(v / max(1, len(cases)), 4) for k, v in hits.items()},
            "reasons": dict(reasons), "seconds": {"write": round(written, 1), "count": round(counted, 1),
                                                   "score": round(scored, 1)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--products", type=int, default=120)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--holdout-days", type=int, default=60)
    parser.add_argument("--grid", action="store_true", help="also score other support and lift thresholds")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as instance:
        if options.database == "postgresql":
            from bench.common import bench_environ

            environ = bench_environ("recommendations")
        else:
            environ = {"COMEBACK_INSTANCE_PATH": instance, "SECRET_KEY": "bench", "SHOPIFY_API_KEY": "bench-key",
                       "SHOPIFY_API_SECRET": "bench-secret",
                       "ENCRYPTION_KEY": "x0bk1Bp6nXV2n3A2cO8Qf3kQ2F2m0v5l6kU0hY0W1tE="}
        application = create_app(settings=load_settings(environ=environ))
        with application.app_context():
            from app.cli import run_migrations

            run_migrations()
            cutoff = utcnow().replace(microsecond=0)
            end = int(cutoff.timestamp()) + options.holdout_days * DAY
            sizes = (options.seed, options.customers, options.products, options.orders, end)
            for name, make in (("devstore", devstore_history), ("baskets", basket_history)):
                result = evaluate(name, *make(*sizes), cutoff, grid=options.grid)
                print(f"{result['history']}: {result['products']} products, {result['orders']} orders "
                      f"({result['train_orders']} before the cutoff), {result['test_customers']} test customers "
                      f"on {options.database}")
                for label, rate in result["hit_rate_at_5"].items():
                    print(f"  hit-rate@5 {label:<76} {rate:.4f}")
                print(f"  our picks by reason: {result['reasons']}")
                print(f"  seconds: {result['seconds']}")
            db.session.remove()


if __name__ == "__main__":
    main()
