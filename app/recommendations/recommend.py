"""Pick products for one shopper: bought together, related to the last purchase, the category, popular.

The picks come from four sources, in this order, until ``limit`` are found:

1. ``bought_together``: products often in the same order as the products in the shopper's
   cart (the cart given, else the customer's open cart in the mirror);
2. ``related_to_last_purchase``: the same, from the products of the customer's last order;
3. ``popular_in_category``: best sellers (the ``CATEGORY_POOL_PER_PICK × limit`` most ordered)
   sharing a category with those products;
4. ``popular``: the shop's most ordered products lately (``popular.popular``).

A pair counts as bought together (``Thresholds``) when it was in at least ``min_pair_orders``
orders (support) and its lift, P(a and b) / (P(a) P(b)) over the counted orders, is at least
``min_lift`` even with its pair count lowered by ``margin`` standard errors: a pair of rare
products seen together a few times by chance has a high lift and no evidence behind it.
Candidates are ranked by the sum over the seeds of the confidence P(candidate | seed). The
category source fills at most ``CATEGORY_SHARE`` of the open places, so that the shop's best
sellers keep the rest. ``popular`` reads on past sold-out best sellers and then the newest
products, so the list is short only when the shop has no other product that may be shown.

A known customer's last order is their newest counted order: one under their id, or a guest
order under their email (the mirror's, or the one given), since a customer who checks out
without logging in is still the same shopper.

Never picked: what the customer just bought (their last order, and their orders of the last
``RECENT``, 30 days), what is in the cart, products deleted or not for sale (draft, archived,
scheduled, …), and products none of whose variants is available (every variant tracks stock and
has none; an untracked variant is always available).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.recommendations.popular import _available, _lowest_prices, popular
from app.store.models import Cart, Customer, LineItem, Order, Product, ProductPair, ProductStat, RecommendationCursor
from app.store.types import utcnow


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When two products count as bought together."""

    min_pair_orders: int = 3  # support: orders with both
    min_lift: float = 1.5
    # Standard errors of the pair count (√n, as for a Poisson count) taken off before the lift test.
    margin: float = 2.0


DEFAULT = Thresholds()
CATEGORY_SHARE = 0.5
# The category source looks through the shop's most ordered products, this many per place.
CATEGORY_POOL_PER_PICK = 2

BOUGHT_TOGETHER = "bought_together"
RELATED_TO_LAST_PURCHASE = "related_to_last_purchase"
POPULAR_IN_CATEGORY = "popular_in_category"
POPULAR = "popular"
# Bought within this long is "just bought": never picked, like the last order, however long ago that was.
RECENT = dt.timedelta(days=30)


def for_customer(session: Session, shop_id: int, *, customer_external_id: str | None = None,
                 email: str | None = None, cart_product_ids: Sequence[str] | None = None, limit: int = 4,
                 thresholds: Thresholds = DEFAULT) -> list[dict[str, Any]]:
    """Up to ``limit`` products for the shopper, each with the ``reason`` it was picked.

    A product is a dict like ``popular()``'s (id, title, handle, price, image_url, url).
    ``cart_product_ids`` None reads the customer's open cart from the mirror; an empty sequence
    means an empty cart. Anonymous shoppers without a cart get the popular products.
    """
    last, recent = _bought(session, shop_id, customer_external_id, email, utcnow())
    if cart_product_ids is None:
        cart = open_cart_products(session, shop_id, customer_external_id=customer_external_id, email=email)
    else:
        cart = list(dict.fromkeys(str(p) for p in cart_product_ids if p))
    excluded = set(recent) | set(cart)
    chosen: list[tuple[Product, str]] = []
    taken = set(excluded)

    def take(ranked: Iterable[str], reason: str, up_to: int = limit) -> None:
        ranked = [p for p in dict.fromkeys(ranked) if p not in taken]
        available = _available(session, shop_id, ranked)
        for product_id in ranked:
            if len(chosen) >= up_to:
                return
            if product_id in available:
                chosen.append((available[product_id], reason))
                taken.add(product_id)

    take(together(session, shop_id, cart, thresholds), BOUGHT_TOGETHER)
    take(together(session, shop_id, last, thresholds), RELATED_TO_LAST_PURCHASE)
    seeds = cart + last
    if len(chosen) < limit and seeds:
        open_places = limit - len(chosen)
        take(popular_in_categories(session, shop_id, seeds, pool=CATEGORY_POOL_PER_PICK * limit),
             POPULAR_IN_CATEGORY, up_to=len(chosen) + math.ceil(open_places * CATEGORY_SHARE))
    picks = _serialize(session, chosen)
    if len(picks) < limit:
        # popular() returns only available products and reads on until it has enough, so what
        # it cannot fill no other source could: every product it skips is taken or unavailable.
        picks += [{**p, "reason": POPULAR}
                  for p in popular(session, shop_id, limit=limit - len(picks), exclude=tuple(sorted(taken)))]
    return picks


def together(session: Session, shop_id: int, seeds: Sequence[str], thresholds: Thresholds = DEFAULT) -> list[str]:
    """Products bought together with ``seeds`` (support and lift thresholds), best first."""
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        return []
    found = session.execute(select(ProductPair.product_a, ProductPair.product_b, ProductPair.orders).where(
        ProductPair.shop_id == shop_id, ProductPair.orders >= thresholds.min_pair_orders,
        or_(ProductPair.product_a.in_(seeds), ProductPair.product_b.in_(seeds)))).all()
    if not found:
        return []
    total = session.execute(select(RecommendationCursor.orders_counted)
                            .where(RecommendationCursor.shop_id == shop_id)).scalar_one_or_none() or 0
    involved = sorted({a for a, _, _ in found} | {b for _, b, _ in found})
    counts = dict(session.execute(select(ProductStat.product_external_id, ProductStat.orders).where(
        ProductStat.shop_id == shop_id, ProductStat.product_external_id.in_(involved))).all())
    seed_set = set(seeds)
    score: dict[str, float] = defaultdict(float)
    support: dict[str, int] = defaultdict(int)
    for a, b, together_orders in found:
        for seed, candidate in ((a, b), (b, a)):
            if seed not in seed_set or candidate in seed_set:
                continue
            if lift(together_orders, counts.get(seed, 0), counts.get(candidate, 0), total,
                    margin=thresholds.margin) < thresholds.min_lift:
                continue
            score[candidate] += together_orders / counts[seed]
            support[candidate] += together_orders
    return sorted(score, key=lambda c: (-score[c], -support[c], c))


def lift(together_orders: int, orders_a: int, orders_b: int, total: int, *, margin: float = 0.0) -> float:
    """P(a and b) / (P(a) P(b)) over ``total`` orders, the pair count less ``margin`` √count; 0 without counts."""
    if not (together_orders and orders_a and orders_b and total):
        return 0.0
    return (together_orders - margin * math.sqrt(together_orders)) * total / (orders_a * orders_b)


def popular_in_categories(session: Session, shop_id: int, seeds: Sequence[str], *, pool: int) -> list[str]:
    """Products among the shop's ``pool`` most ordered (all counted orders) sharing a category with ``seeds``."""
    categories = {category for (found,) in session.execute(select(Product.categories).where(
        Product.shop_id == shop_id, Product.external_id.in_(list(seeds)))) for category in (found or ())}
    if not categories:
        return []
    ranked = session.execute(select(ProductStat.product_external_id).where(ProductStat.shop_id == shop_id)
                             .order_by(ProductStat.orders.desc(), ProductStat.product_external_id)
                             .limit(pool)).scalars().all()
    of: dict[str, list[str] | None] = dict(session.execute(select(Product.external_id, Product.categories).where(
        Product.shop_id == shop_id, Product.external_id.in_(list(ranked)))).all())
    return [p for p in ranked if categories & set(of.get(p) or ())]


def last_order_products(session: Session, shop_id: int, *, customer_external_id: str | None = None,
                        email: str | None = None) -> list[str]:
    """The products of the customer's last order that counts: under their id or, as a guest, their email."""
    return _bought(session, shop_id, customer_external_id, email, None)[0]


def just_bought(session: Session, shop_id: int, *, customer_external_id: str | None = None,
                email: str | None = None, now: dt.datetime | None = None) -> list[str]:
    """What the customer just bought, never to be picked: their last order and their orders of ``RECENT``."""
    return _bought(session, shop_id, customer_external_id, email, now or utcnow())[1]


def _their_orders(session: Session, shop_id: int, customer_external_id: str | None,
                  email: str | None) -> list[Any] | None:
    """The conditions that select the customer's counted orders; None when nobody is named.

    With a customer id, guest orders under the customer's email in the mirror (and ``email``)
    are theirs too; without one, every order under ``email`` is. Emails are compared trimmed
    and in lower case, the expression of ``ix_orders_shop_id_email_key``.
    """
    counted = [Order.shop_id == shop_id, Order.cancelled_at.is_(None), Order.deleted_at.is_(None),
               Order.is_test.is_(False)]
    addresses = {email.strip().lower()} if email and email.strip() else set()
    order_email = func.lower(func.trim(Order.email))
    if customer_external_id:
        addresses |= {address for (address,) in session.execute(
            select(func.lower(func.trim(Customer.email))).where(
                Customer.shop_id == shop_id, Customer.external_id == customer_external_id)) if address}
        theirs = [Order.customer_external_id == customer_external_id]
        if addresses:
            guest = or_(Order.customer_external_id.is_(None), Order.customer_external_id == "")
            theirs.append(and_(guest, order_email.in_(sorted(addresses))))
        return [*counted, or_(*theirs)]
    if addresses:
        return [*counted, order_email.in_(sorted(addresses))]
    return None


def _bought(session: Session, shop_id: int, customer_external_id: str | None, email: str | None,
            now: dt.datetime | None) -> tuple[list[str], list[str]]:
    """The products of the customer's last order; given ``now``, also those of it and of their orders since ``now - RECENT``."""
    theirs = _their_orders(session, shop_id, customer_external_id, email)
    if theirs is None:
        return [], []
    last = session.execute(select(Order.id).where(*theirs).order_by(Order.source_created_at.desc(), Order.id.desc())
                           .limit(1)).scalar_one_or_none()
    if last is None:
        return [], []
    orders: Any = [last]
    if now is not None:
        orders = select(Order.id).where(*theirs, or_(Order.source_created_at >= now - RECENT, Order.id == last))
    found: dict[int, set[str]] = defaultdict(set)
    for order_id, product_id in session.execute(select(LineItem.order_id, LineItem.product_external_id).distinct()
                                                .where(LineItem.order_id.in_(orders),
                                                       LineItem.product_external_id.is_not(None))):
        found[order_id].add(cast(str, product_id))  # never NULL: the statement leaves those out
    return sorted(found[last]), sorted(set().union(*found.values()))


def open_cart_products(session: Session, shop_id: int, *, customer_external_id: str | None = None,
                       email: str | None = None) -> list[str]:
    """The products in the customer's most recent cart that did not become an order."""
    query = select(Cart.lines).where(Cart.shop_id == shop_id, Cart.completed_at.is_(None))
    if customer_external_id:
        query = query.where(Cart.customer_external_id == customer_external_id)
    elif email:
        query = query.where(func.lower(Cart.email) == email.strip().lower())
    else:
        return []
    lines = session.execute(query.order_by(Cart.source_updated_at.desc(), Cart.id.desc()).limit(1)
                            ).scalar_one_or_none()
    return list(dict.fromkeys(str(line["product_external_id"]) for line in lines or ()
                              if isinstance(line, dict) and line.get("product_external_id")))


def _serialize(session: Session, chosen: list[tuple[Product, str]]) -> list[dict[str, Any]]:
    prices = _lowest_prices(session, [p.id for p, _ in chosen])
    return [{"id": p.external_id, "title": p.title, "handle": p.handle,
             "price": str(prices[p.id]) if p.id in prices else None, "image_url": p.image_url, "url": p.url,
             "reason": reason} for p, reason in chosen]

