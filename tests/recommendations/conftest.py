"""Recommendation fixtures: a second shop, whose orders must never reach the first one's picks."""

from __future__ import annotations

import uuid

import pytest

from app.store.models import Shop
from app.store.types import utcnow


@pytest.fixture()
def other_shop(session, shop):
    record = Shop(platform="shopify", domain=f"other-{uuid.uuid4().hex[:10]}.myshopify.com", status="active",
                  access_token="tok", installed_at=utcnow())
    session.add(record)
    session.commit()
    return record
