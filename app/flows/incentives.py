"""A step's incentive: a single-use, expiring code made in the store for the one shopper.

The code is derived from the app's secret and (shop, run, step), so a step tried again after a
crash asks the store for the same code, which the connectors answer as already there: one
code per step, never two. It is restricted to the customer (and address), usable once, and
expires ``expires_hours`` after the step sends.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from decimal import Decimal
from typing import Any

from connectors import base

_DESCRIPTIONS = {"percentage": "{value}% off", "fixed_amount": "{value} off", "free_shipping": "free shipping"}


def code_for(secret_key: str, shop_id: int, run_id: int, step: int) -> str:
    """``CB-`` and 10 letters and digits nobody can guess without the app's secret."""
    digest = hmac.new(secret_key.encode(), f"flow:{shop_id}:{run_id}:{step}".encode(), hashlib.sha256).digest()
    return "CB-" + base64.b32encode(digest).decode()[:10]


def spec(incentive: dict[str, Any], *, code: str, title: str, now: dt.datetime, customer_external_id: str | None,
         email: str | None) -> base.DiscountSpec:
    """The discount the store must create for this step."""
    kind = {"percentage": base.DISCOUNT_PERCENTAGE, "fixed_amount": base.DISCOUNT_FIXED_AMOUNT,
            "free_shipping": base.DISCOUNT_FREE_SHIPPING}[incentive["kind"]]
    minimum = incentive.get("minimum_subtotal")
    return base.DiscountSpec(
        code=code, kind=kind, value=Decimal(str(incentive.get("value") or "0")), title=title, starts_at=now,
        expires_at=now + dt.timedelta(hours=int(incentive["expires_hours"])), usage_limit=1,
        customer_external_id=customer_external_id, customer_email=email, combinable=False,
        minimum_subtotal=Decimal(str(minimum)) if minimum is not None else None)


def describe(incentive: dict[str, Any]) -> str:
    value = incentive.get("value")
    if value is not None:
        value = format(Decimal(str(value)).normalize(), "f")
    return _DESCRIPTIONS[incentive["kind"]].format(value=value)


def coupon(discount: base.DiscountSpec, incentive: dict[str, Any]) -> dict[str, Any]:
    """The coupon as the message shows it."""
    return {"code": discount.code, "description": describe(incentive),
            "expires_at": discount.expires_at.isoformat() if discount.expires_at else None}
