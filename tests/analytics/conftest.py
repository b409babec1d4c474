"""Analytics fixtures: a devstore shop installed through OAuth with its session token, and a second one."""

from __future__ import annotations

import pytest

from tests.conftest import API_KEY
from tests.helpers import DevstoreShop, bearer, install, run_jobs


@pytest.fixture()
def admin(client, store):
    """The shop under test and its session token."""
    install(client, store)
    assert run_jobs() == []
    return store, bearer(store.session_token(API_KEY))


@pytest.fixture()
def other(client, admin, devstore):
    """Another installed shop, whose data must never appear in the first one's figures."""
    store, _ = admin
    second = DevstoreShop(devstore.url, "other-" + store.domain)
    second.create()
    install(client, second)
    assert run_jobs() == []
    return second, bearer(second.session_token(API_KEY))
