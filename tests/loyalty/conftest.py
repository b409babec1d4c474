"""Loyalty fixtures."""

from __future__ import annotations

import pytest

from tests.loyalty.support import begin_program


@pytest.fixture()
def started(session, shop):
    """A shop whose program began a day ago."""
    return begin_program(session, shop, 1)
