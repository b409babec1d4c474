"""Fixtures of the web tests."""

from __future__ import annotations

import pytest

from tests.helpers import install, run_jobs


@pytest.fixture()
def installed(client, store):
    """A devstore shop with a little history, installed through OAuth and set up."""
    store.generate(seed=4, customers=8, products=4, orders=12)
    install(client, store)
    assert run_jobs() == []
    return store
