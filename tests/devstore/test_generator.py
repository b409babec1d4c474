"""Generator: determinism, realistic mix, and a 100k-order smoke run."""

from __future__ import annotations

import json
import time

import httpx

from devstore import payloads
from devstore.formats import parse_time
from devstore.generator import GenerateSpec, generate
from devstore.shopstate import ShopState
from tests.devstore.dshelpers import SHOP, gql, wait_bulk

SPEC = dict(seed=42, customers=1000, products=12, orders=1500, checkouts=60,
            start=parse_time("2024-06-01T00:00:00Z"), end=parse_time("2026-06-01T00:00:00Z"))


def _snapshot(spec: GenerateSpec) -> str:
    shop = ShopState(domain="gen.myshopify.com", name="Gen")
    generate(shop, spec)
    data = {"orders": [payloads.order(shop, o) for o in shop.orders],
            "customers": [payloads.customer(shop, c) for c in shop.customers],
            "products": [payloads.product(shop, p) for p in shop.products],
            "checkouts": [payloads.checkout(shop, c) for c in shop.checkouts]}
    return json.dumps(data, sort_keys=True)


def test_same_seed_same_data_other_seed_differs():
    first = _snapshot(GenerateSpec(**SPEC))
    assert first == _snapshot(GenerateSpec(**SPEC))
    assert first != _snapshot(GenerateSpec(**{**SPEC, "seed": 43}))


def test_generated_mix_is_realistic():
    shop = ShopState(domain="mix.myshopify.com", name="Mix")
    counts = generate(shop, GenerateSpec(**SPEC))
    assert counts["orders"] == 1500 and counts["customers"] == 1000
    assert counts["checkouts"] == 60
    orders = list(shop.orders)
    buyers = sorted((c.orders_count for c in shop.customers), reverse=True)
    assert sum(buyers) == 1500
    assert buyers[0] >= 20
    assert sum(1 for n in buyers if n == 1) > sum(1 for n in buyers if n >= 5)
    assert any(o.cancelled_at for o in orders)
    statuses = {o.financial_status for o in orders}
    assert {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"} <= statuses
    assert all(1 <= len(o.line_items) <= 4 for o in orders)
    assert all(SPEC["start"] <= o.created_at <= o.updated_at <= SPEC["end"] for o in orders)
    assert [o.created_at for o in orders] == sorted(o.created_at for o in orders)
    assert any(c.completed_at for c in shop.checkouts)
    assert any(c.completed_at is None for c in shop.checkouts)
    emails = [c.email for c in shop.customers]
    assert len(set(emails)) == len(emails)


def test_100k_orders_generate_and_bulk_smoke(http, token):
    started = time.perf_counter()
    counts = http.post(f"/_devstore/shops/{SHOP}/generate", json={
        "seed": 5, "customers": 40000, "products": 80, "orders": 100_000, "checkouts": 500},
        timeout=120).json()
    generated = time.perf_counter() - started
    assert counts["orders"] == 100_000
    started = time.perf_counter()
    query = """{ orders { edges { node { id name updatedAt displayFinancialStatus
      customer { id } totalPriceSet { shopMoney { amount currencyCode } }
      lineItems { edges { node { id quantity variant { id }
        originalUnitPriceSet { shopMoney { amount } } } } } } } } }"""
    run = gql(http, token, """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
        bulkOperation { id } userErrors { message } } }""", {"q": query}).json()
    op = wait_bulk(http, token, run["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"],
                   timeout=120)
    bulked = time.perf_counter() - started
    assert op["status"] == "COMPLETED"
    assert op["rootObjectCount"] == "100000"
    with httpx.stream("GET", op["url"], trust_env=False) as response:
        lines = sum(chunk.count(b"\n") for chunk in response.iter_bytes())
    assert str(lines) == op["objectCount"]
    print(f"\n100k orders: generate {generated:.2f}s, bulk JSONL {bulked:.2f}s "
          f"({op['objectCount']} lines, {int(op['fileSize']) / 1e6:.1f} MB)")


def test_a_gift_card_rate_pays_that_share_of_orders_and_changes_nothing_else():
    plain, gifted = ShopState(domain="a.myshopify.com", name="A"), ShopState(domain="b.myshopify.com", name="B")
    generate(plain, GenerateSpec(**SPEC))
    generate(gifted, GenerateSpec(**SPEC, gift_card_rate=0.25))
    paid = [o for o in gifted.orders if o.gift_card]
    assert all(o.gift_card == 0 for o in plain.orders)
    assert 0.2 < len(paid) / len(gifted.orders) < 0.3
    assert all(0 < o.gift_card <= o.total and o.gift_card in (2500, 5000, 10000, o.total) for o in paid)
    # the rest of the history is the one the same seed makes without gift cards
    assert [(o.id, o.total, o.financial_status, len(o.refunds or ())) for o in plain.orders] == [
        (o.id, o.total, o.financial_status, len(o.refunds or ())) for o in gifted.orders]
    # and each order ships to its buyer's address
    assert all(o.shipping_address is o.customer.default_address for o in gifted.orders)
    assert payloads.order(gifted, paid[0])["payment_gateway_names"][0] == "gift_card"
