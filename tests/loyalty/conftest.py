"""Loyalty fixtures."""

from __future__ import annotations

import datetime as dt

import pytest

from app.loyalty import program as programs
from app.store.models import LoyaltyProgram
from tests.loyalty.support import NOW


@pytest.fixture()
def started(session, shop):
    """A shop whose program began a day ago."""
    programs.ensure(session, shop.id)
    session.execute(LoyaltyProgram.__table__.update().values(created_at=NOW - dt.timedelta(days=1)))
    session.commit()
    return shop
