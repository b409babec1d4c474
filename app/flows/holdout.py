"""Holdout groups: a fixed share of each flow's eligible customers gets nothing, to measure lift.

Who is held out is a pure function of (shop, flow, customer): the SHA-256 of those, read as a
number in [0, 1), below the flow's share. The same customer is in the same group every time the
flow triggers for them (a cart today and one next month), with no table to keep, and a customer
held out of one flow is not thereby held out of the others. Raising the share only adds people
to the holdout; lowering it only releases them.
"""

from __future__ import annotations

import hashlib


def identity(customer_external_id: str | None, email: str | None) -> str | None:
    """Whom a run is about: the customer, or the address of a guest; None when neither is known."""
    if customer_external_id:
        return f"customer:{customer_external_id}"
    if email:
        return f"email:{email.strip().lower()}"
    return None


def bucket(shop_id: int, flow_key: str, who: str) -> float:
    """The customer's place in [0, 1) for this flow of this shop."""
    digest = hashlib.sha256(f"{shop_id}:{flow_key}:{who}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_held_out(shop_id: int, flow_key: str, who: str | None, share: float) -> bool:
    """Whether this customer is in the flow's holdout group (nobody is when the share is 0)."""
    if who is None or share <= 0:
        return False
    return bucket(shop_id, flow_key, who) < share
