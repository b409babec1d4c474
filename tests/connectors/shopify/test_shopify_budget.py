"""The cost budget is shared through Redis and estimated from the restore rate."""

from __future__ import annotations

import pytest
import redis as redis_lib

from connectors.shopify.throttle import LocalBudget, RedisBudget, ThrottleStatus, key_for
from connectors.shopify.transport import make_client


@pytest.fixture
def redis_db15():
    client = redis_lib.Redis(host="127.0.0.1", port=6379, db=15)
    created: list[str] = []
    yield client, created
    for key in created:
        client.delete(key)


def test_unknown_bucket_lets_the_first_call_through(redis_db15):
    client, created = redis_db15
    shop = "budget-unknown.myshopify.com"
    created.append(key_for(shop))
    assert RedisBudget(client).reserve(shop, 500) == 0


def test_two_workers_share_one_bucket(redis_db15):
    client, created = redis_db15
    shop = "budget-shared.myshopify.com"
    created.append(key_for(shop))
    first, second = RedisBudget(client), RedisBudget(client)
    first.update(shop, ThrottleStatus(maximum_available=1000, currently_available=300, restore_rate=50))
    assert first.reserve(shop, 200) == 0  # 300 → ~100 left
    wait = second.reserve(shop, 200)  # the other worker sees the spent points
    assert 1.5 < wait <= 2.0
    assert client.ttl(key_for(shop)) > 0


def test_local_budget_estimates_restoration():
    budget = LocalBudget()
    shop = "local.myshopify.com"
    budget.update(shop, ThrottleStatus(100, 60, 10))
    assert budget.reserve(shop, 50) == 0  # takes 50 of 60
    budget.update(shop, ThrottleStatus(100, 0, 10))
    assert 4.9 < budget.reserve(shop, 50) <= 5.0


def test_throttle_status_wait_math():
    status = ThrottleStatus(maximum_available=2000, currently_available=50, restore_rate=100)
    assert status.seconds_until(250) == 2.0
    assert status.seconds_until(40) == 0.0


def test_origin_rewrite_keeps_path_query_and_host(file_server):
    file_server.add("/admin/api/2026-10/graphql.json?x=1", b"{}")
    with make_client(file_server.url, timeout=5) as client:
        response = client.get("https://some-shop.myshopify.com/admin/api/2026-10/graphql.json?x=1")
    assert response.status_code == 200
    assert file_server.hosts[-1] == "some-shop.myshopify.com"
    assert str(response.request.url) == file_server.url + "/admin/api/2026-10/graphql.json?x=1"
