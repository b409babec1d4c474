"""Figures the other rooms already compute, gathered for the analytics page: points owed, flow lift."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.analytics import common
from app.flows import definitions, reports
from app.loyalty import ledger
from app.store.models import Shop


def points_liability(session: Session, shop: Shop) -> dict[str, Any]:
    """The points the shop owes its members now (pending included) and their value (``ledger.liability``)."""
    owed = ledger.liability(session, shop.id)
    return {"points": owed.points, "amount": common.amount(owed.amount), "currency": shop.currency,
            "at": owed.at.isoformat()}


def flow_lift(session: Session, shop_id: int, attribution_days: int = reports.ATTRIBUTION_DAYS) -> dict[str, Any]:
    """Every built-in flow's conversion, recipients against holdout, as ``reports.report`` measures it."""
    flows = []
    for key in definitions.KEYS:
        found = reports.report(session, shop_id, key, attribution_days=attribution_days)
        flows.append({"flow": key, "name": definitions.BUILT_INS[key].name, "runs": found["runs"],
                      "conversion": found["conversion"], "lift": found["lift"]})
    return {"attribution_days": attribution_days, "flows": flows}
