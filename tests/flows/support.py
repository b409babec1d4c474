"""Mirror records and step services for flow tests: carts, orders, customers as a connector delivers them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from app.flows import definitions, steps, triggers
from app.messaging.delivery import DeliveryConfig
from app.store import mirror
from app.store.models import FlowRun, Message
from connectors import base

HOUR = dt.timedelta(hours=1)


def cart(external_id="c-1", *, at, email="ana@example.com", customer="cust-1", lines=1, completed=None,
         total="40.00", recovery="https://shop.example/cart/recover?c=1"):
    return base.Cart(
        external_id=external_id, updated_at=at, created_at=at, currency="EUR", total_price=Decimal(total),
        completed_at=completed, email=email, customer_external_id=customer, recovery_url=recovery,
        lines=tuple(base.CartLine(f"Mug {n}", 1, Decimal("20.00"), product_external_id=f"p{n}")
                    for n in range(lines)))


def order(external_id="1001", *, at, email="ana@example.com", customer="cust-1", total="40.00", cancelled=None,
          codes=(), fulfilled=None, updated=None):
    return base.Order(
        external_id=external_id, number=f"#{external_id}", created_at=at, updated_at=updated or fulfilled or at,
        currency="EUR", fulfilled_at=fulfilled,
        total_price=Decimal(total), subtotal_price=Decimal(total), total_discounts=Decimal("0"),
        total_tax=Decimal("0"), financial_status="paid", customer_external_id=customer, email=email,
        processed_at=at, cancelled_at=cancelled, discount_codes=tuple(codes),
        line_items=(base.LineItem(f"{external_id}-1", "Mug", 1, Decimal(total), product_external_id="p0"),))


def customer(external_id="cust-1", *, email="ana@example.com", state="subscribed", at=None, first_name="Ana"):
    return base.Customer(external_id=external_id, email=email, first_name=first_name, state="enabled",
                         created_at=at, updated_at=at, email_marketing_state=state, consent_updated_at=at)


def write(session, shop, *records):
    mirror.apply_records(session, shop.id, shop.platform, records)
    session.commit()


def evaluate(session, shop, now):
    return triggers.evaluate(session, shop.id, now)


def config(settings, quiet=None, budget_hours=16) -> DeliveryConfig:
    return DeliveryConfig(app_url=settings.app_url, secret_key=settings.secret_key,
                          sender="Comeback <no-reply@comeback.test>",
                          contact_budget=dt.timedelta(hours=budget_hours), quiet_hours=quiet)


@dataclasses.dataclass
class FakeStore:
    """Stands in for the store: the orders it holds, the codes asked of it, and whether it answers."""

    orders: list[str] = dataclasses.field(default_factory=list)
    lookups: list[tuple] = dataclasses.field(default_factory=list)
    codes: list[base.DiscountSpec] = dataclasses.field(default_factory=list)
    failing: Exception | None = None

    def lookup(self, email, customer_external_id, since):
        self.lookups.append((email, customer_external_id, since))
        if self.failing is not None:
            raise self.failing
        return list(self.orders)

    def make(self, specs):
        self.codes.extend(specs)
        return [base.DiscountResult(spec.code, f"d-{spec.code}", True) for spec in specs]

    def services(self, settings, **config_options) -> steps.Services:
        return steps.Services(config=config(settings, **config_options), order_lookup=self.lookup,
                              make_discounts=self.make)


def runs_of(session, shop, flow_key=None):
    query = select(FlowRun).where(FlowRun.shop_id == shop.id)
    if flow_key:
        query = query.where(FlowRun.flow_key == flow_key)
    session.expire_all()
    return list(session.execute(query.order_by(FlowRun.id)).scalars())


def messages_of(session, shop):
    session.expire_all()
    return list(session.execute(select(Message).where(Message.shop_id == shop.id).order_by(Message.id)).scalars())


def only(session, shop, flow_key=definitions.ABANDONED_CART) -> FlowRun:
    (run,) = runs_of(session, shop, flow_key)
    return run


def set_flow(session, shop, key, **changes):
    flow = definitions.update(session, shop.id, key, changes, actor="test")
    session.commit()
    return flow
