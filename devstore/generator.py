"""Deterministic generation of a realistic store history (no webhooks)."""

from __future__ import annotations

import itertools
import logging
import random
import time
from dataclasses import dataclass
from typing import Optional

from . import commerce, names, taxonomy
from .models import Checkout, Customer, Fulfillment, LineItem, Order, Product, ProductImage, Variant
from .shopstate import ShopState

log = logging.getLogger(__name__)

DAY = 86_400
LINE_COUNT_WEIGHTS = (30, 40, 20, 10)
QUANTITY_WEIGHTS = (80, 15, 5)


@dataclass
class GenerateSpec:
    """What to generate; times are epoch seconds."""

    seed: int = 1
    customers: int = 100
    products: int = 20
    orders: int = 300
    refund_rate: float = 0.08
    cancel_rate: float = 0.02
    checkouts: int = 0
    gift_card_rate: float = 0.0  # the share of orders a gift card pays for, in part or whole
    start: Optional[int] = None
    end: Optional[int] = None

    def window(self) -> tuple[int, int]:
        """Return (start, end), defaulting to the two years before today 00:00 UTC."""
        end = self.end if self.end is not None else int(time.time()) // DAY * DAY
        start = self.start if self.start is not None else end - 730 * DAY
        if start >= end:
            raise ValueError("start must be before end")
        return start, end


def generate(shop: ShopState, spec: GenerateSpec) -> dict[str, int]:
    """Fill the shop with generated history and return how much was created."""
    started = time.perf_counter()
    rng = random.Random(spec.seed)
    start, end = spec.window()
    with shop.lock:
        products = _products(shop, rng, spec.products, start)
        variants = [v for p in products for v in p.variants] or _all_variants(shop)
        if spec.orders and not variants:
            raise ValueError("orders need at least one product")
        customers = _customers(shop, rng, spec, start, end)
        orders = _orders(shop, rng, spec, customers, variants, start, end)
        checkouts = _checkouts(shop, rng, spec.checkouts, customers, orders, variants, start, end)
        refunds = sum(len(o.refunds) for o in orders if o.refunds)
    log.info("generated %s: %d customers, %d products, %d orders, %d refunds in %.2fs",
             shop.domain, len(customers), len(products), len(orders), refunds,
             time.perf_counter() - started)
    return {"customers": len(customers), "products": len(products), "orders": len(orders),
            "refunds": refunds, "checkouts": len(checkouts)}


def _all_variants(shop: ShopState) -> list[Variant]:
    """Return every variant already in the shop."""
    return [v for p in shop.products for v in p.variants]


def _products(shop: ShopState, rng: random.Random, count: int, start: int) -> list[Product]:
    """Create products with one to three variants each."""
    created: list[Product] = []
    handles = {p.handle for p in shop.products}
    for index in range(count):
        adjective = rng.choice(names.PRODUCT_ADJECTIVES)
        noun, product_type = rng.choice(names.PRODUCT_NOUNS)
        title = f"{adjective} {noun}"
        handle = title.lower().replace(" ", "-")
        if handle in handles:
            handle = f"{handle}-{index + 1}"
        handles.add(handle)
        created_at = start - rng.randint(DAY, 120 * DAY)
        product = Product(shop.next_id("Product"), title, handle, rng.choice(names.VENDORS),
                          product_type, (product_type.lower(),), created_at)
        # Media and category follow from the product, not the random stream: the rest of the
        # history is the same as before products had them.
        product.image = ProductImage(shop.next_id("MediaImage"), created_at, title)
        product.category = taxonomy.NOUN_CATEGORIES.get(noun)
        base = rng.choice(names.PRICE_POINTS)
        option_count = rng.choice((1, 1, 2, 3))
        options = ("Default Title",) if option_count == 1 else rng.choice(names.VARIANT_OPTIONS)
        for position in range(option_count):
            variant = Variant(shop.next_id("ProductVariant"), product, options[position],
                              f"{handle[:10].upper()}-{index + 1}-{position + 1}",
                              base + 200 * position, rng.randint(0, 400), created_at)
            product.variants.append(variant)
            shop.variants[variant.id] = variant
        shop.products.add(product)
        created.append(product)
    return created


def _customers(shop: ShopState, rng: random.Random, spec: GenerateSpec, start: int,
               end: int) -> list[Customer]:
    """Create customers with unique emails, ordered by signup time later."""
    existing = len(shop.customers)
    rows = []
    for index in range(spec.customers):
        first = rng.choice(names.FIRST_NAMES)
        last = rng.choice(names.LAST_NAMES)
        serial = existing + index + 1
        email = (f"{first}.{last}{serial}@{rng.choice(names.EMAIL_DOMAINS)}").lower()
        phone = f"+1{rng.randint(2_000_000_000, 9_999_999_999)}" if rng.random() < 0.6 else None
        roll = rng.random()
        marketing = "SUBSCRIBED" if roll < 0.45 else "UNSUBSCRIBED" if roll > 0.9 else "NOT_SUBSCRIBED"
        rows.append((first, last, email, phone, marketing, rng.randint(start, end)))
    return [_new_customer(shop, *row) for row in rows]


def _new_customer(shop: ShopState, first: str, last: str, email: str, phone: Optional[str],
                  marketing: str, created_at: int) -> Customer:
    """Create one customer (id assigned later in signup order)."""
    customer = Customer(0, first, last, email, phone, created_at)
    customer.marketing_state = marketing
    if marketing != "NOT_SUBSCRIBED":
        customer.consent_updated_at = created_at
    return customer


def _orders(shop: ShopState, rng: random.Random, spec: GenerateSpec,
            customers: list[Customer], variants: list[Variant], start: int,
            end: int) -> list[Order]:
    """Create orders spread over the window with a heavy-tailed buyer distribution."""
    count = spec.orders
    span = end - start
    times = sorted(start + int(span * (rng.random() ** 0.8)) for _ in range(count))
    buyer_of: list[Optional[int]] = [None] * count
    if customers:
        weights = [rng.paretovariate(1.6) - 0.85 for _ in customers]
        cumulative = list(itertools.accumulate(weights))
        buyer_of = rng.choices(range(len(customers)), cum_weights=cumulative, k=count)
        buyers_seen: set[int] = set()
        for index, buyer in enumerate(buyer_of):
            if buyer in buyers_seen:
                continue
            buyers_seen.add(buyer)
            customer = customers[buyer]
            signup = times[index] - rng.randint(0, 3 * 3600)
            if signup < customer.created_at:
                customer.created_at = customer.updated_at = signup
                if customer.consent_updated_at is not None:
                    customer.consent_updated_at = signup
    _register_customers(shop, customers)
    popularity = list(itertools.accumulate(rng.paretovariate(1.3) for _ in variants))
    variant_range = range(len(variants))
    orders: list[Order] = []
    refund_rate = spec.refund_rate
    cancel_rate = spec.cancel_rate
    recent = end - 3 * DAY
    for index in range(count):
        created_at = times[index]
        customer = customers[buyer_of[index]] if buyer_of[index] is not None else None
        line_count = rng.choices((1, 2, 3, 4), LINE_COUNT_WEIGHTS)[0]
        picked = rng.choices(variant_range, cum_weights=popularity, k=line_count)
        seen: set[int] = set()
        lines: list[LineItem] = []
        for position in picked:
            if position in seen:
                continue
            seen.add(position)
            variant = variants[position]
            quantity = rng.choices((1, 2, 3), QUANTITY_WEIGHTS)[0]
            lines.append(LineItem(shop.next_id("LineItem"), variant, quantity, variant.price))
        order = Order(shop.next_id("Order"), shop.next_order_number(), customer,
                      customer.email if customer else None, created_at, lines)
        if rng.random() < 0.12:
            code, percent = rng.choice(names.DISCOUNT_CODES)
            commerce.price_order(order, code, percent)
        else:
            commerce.price_order(order)
        if spec.gift_card_rate:
            commerce.pay_with_gift_card(order, commerce.generated_gift_card(order, spec.gift_card_rate))
        if created_at < recent:
            order.fulfillment_status = "FULFILLED"
            order.updated_at = min(end, created_at + rng.randint(3600, 3 * DAY))
        fulfilled_at = order.updated_at
        commerce.record_purchase(customer, order)
        roll = rng.random()
        if roll < cancel_rate:
            _cancel(shop, rng, order, end)
        elif roll < cancel_rate + refund_rate:
            _refund(shop, rng, order, end)
        if order.fulfillment_status == "FULFILLED":
            # Shipped in one go when it was marked fulfilled (a cancelled order never was).
            order.fulfillments = [Fulfillment(shop.next_id("Fulfillment"), order, fulfilled_at)]
        shop.orders.add(order)
        orders.append(order)
    return orders


def _register_customers(shop: ShopState, customers: list[Customer]) -> None:
    """Give customers ids in signup order and add them to the shop."""
    for customer in sorted(customers, key=lambda c: c.created_at):
        customer.id = shop.next_id("Customer")
        customer.default_address = commerce.default_address(customer)
        shop.customers.add(customer)
        shop.customers_by_email[customer.email] = customer


def _cancel(shop: ShopState, rng: random.Random, order: Order, end: int) -> None:
    """Cancel an order shortly after it was placed and refund it in full."""
    at = min(end, order.created_at + rng.randint(600, 2 * DAY))
    order.cancelled_at = at
    order.fulfillment_status = "UNFULFILLED"
    commerce.add_refund(shop, order, commerce.full_refund_picks(order), order.total, at,
                        "Order canceled")
    order.updated_at = max(order.updated_at, at)


def _refund(shop: ShopState, rng: random.Random, order: Order, end: int) -> None:
    """Refund an order fully or partially some days after it was placed."""
    at = min(end, order.created_at + rng.randint(DAY, 30 * DAY))
    if rng.random() < 0.4:
        commerce.add_refund(shop, order, commerce.full_refund_picks(order), order.total, at,
                            "Customer return")
        return
    line = rng.choice(order.line_items)
    quantity = rng.randint(1, line.quantity)
    commerce.add_refund(shop, order, [(line, quantity)], None, at, "Partial return")


def _checkouts(shop: ShopState, rng: random.Random, count: int, customers: list[Customer],
               orders: list[Order], variants: list[Variant], start: int,
               end: int) -> list[Checkout]:
    """Create abandoned checkouts, about one in six later completed by an order."""
    rows = []
    for _ in range(count):
        if orders and rng.random() < 0.16:
            order = rng.choice(orders)
            created_at = max(start, order.created_at - rng.randint(300, 2 * DAY))
            rows.append((created_at, order.customer, order, None))
        else:
            customer = rng.choice(customers) if customers else None
            picks = rng.choices(variants, k=rng.randint(1, 3)) if variants else []
            rows.append((rng.randint(start, end), customer, None, picks))
    rows.sort(key=lambda r: r[0])
    created = []
    for created_at, customer, order, picks in rows:
        if order is not None:
            lines = [LineItem(shop.next_id("LineItem"), li.variant, li.quantity, li.price)
                     for li in order.line_items]
        else:
            lines = [LineItem(shop.next_id("LineItem"), v, 1, v.price) for v in picks]
        token = f"{rng.getrandbits(128):032x}"
        checkout = Checkout(shop.next_id("AbandonedCheckout"), token, customer,
                            customer.email if customer else None, created_at, lines)
        if order is not None:
            checkout.completed_at = checkout.updated_at = order.created_at
            checkout.order = order
            order.checkout = checkout
        else:
            checkout.updated_at = min(end, created_at + rng.randint(60, 3600))
        shop.checkouts.add(checkout)
        created.append(checkout)
    return created
