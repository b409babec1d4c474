"""When a marketing step may send: the contact budget and quiet hours, looked at before the message exists.

The messaging room decides at delivery (``app.messaging.delivery``) and defers a message that
must wait. A cart reminder deferred for hours would then be sent on what was true when it was
written: so the flow looks first, with the same rule (the room's ``budget.earliest_send`` over
the recipient's last marketing email), and moves the step to the moment it may go. The step
then runs at that moment and re-checks everything there. Delivery still has the last word
(another flow's message may take the budget in between; it then defers, and sends once).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.messaging import budget, preferences, zones
from app.messaging.delivery import DeliveryConfig
from app.store.models import Message, Shop


def send_wait(session: Session, shop: Shop, email: str, config: DeliveryConfig,
              now: dt.datetime) -> tuple[dt.datetime, str] | None:
    """When a marketing email to ``email`` may go at the earliest and why it waits; None: now."""
    config = preferences.apply(session, shop.id, config)
    same = (Message.shop_id == shop.id, Message.email == email, Message.category == "marketing")
    last = session.execute(select(func.max(Message.sent_at)).where(*same, Message.status == "sent")).scalar_one()
    if session.execute(select(Message.id).where(*same, Message.status == "sending").limit(1)).first():
        last = now
    return budget.earliest_send(now, last_marketing_at=last, window=config.contact_budget,
                                timezone=zones.recipient_zone(session, shop, customer_external_id=None, email=email),
                                quiet=config.quiet_hours)
