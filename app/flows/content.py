"""What a step's message says: the template context, built from the mirror at send time.

The context is what the messaging room's templates render (``app.messaging.render``): a cart's
lines and recovery link, an order's points and recommendations, a member's points and tier.
It is built when the step goes, so a cart changed since the reminder was scheduled shows what
it holds now, with each product's picture and page from the mirror. A step's ``subject`` and
``intro`` texts travel as ``subject_override`` and ``intro``, which replace the template's own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.flows import conditions, definitions
from app.messaging import render
from app.messaging.tracking import is_web_url
from app.store.models import Customer, FlowRun, LedgerEntry, LineItem, LoyaltyMember, Product, Shop

SAMPLE: dict[str, dict[str, Any]] = {
    "cart_reminder": {"items": [{"name": "Sample product", "quantity": 1, "price": "25.00"}], "total": "25.00",
                      "recovery_url": "https://example.com/cart"},
    "thank_you": {"order_number": "#1001", "points_earned": 25,
                  "recommendations": [{"name": "Another product", "price": "18.00"}]},
    "review_request": {"review_url": "https://example.com/", "products": [{"name": "Sample product"}]},
    "cross_sell": {"bought": ["Sample product"],
                   "recommendations": [{"name": "Another product", "price": "18.00"},
                                       {"name": "A third product", "price": "9.50"}]},
    "win_back": {"coupon": {"code": "CB-SAMPLE", "description": "15% off"}},
    "birthday": {"points": 100},
    "points_earned": {"points": 120, "balance": 480},
    "reward_available": {"reward_name": "5 off your order", "points": 500, "balance": 520},
    "points_expiring": {"points": 300, "expires_on": "2027-01-31"},
    "tier_upgrade": {"tier": "Gold", "perks": ["1.5 points per unit spent"]},
}


def amount(value: Any) -> str:
    """An amount as text with two places (``40.0000`` is ``40.00``), more only when it has them."""
    number = Decimal(str(value))
    cents = number.quantize(Decimal("0.01"))
    return format(cents if cents == number else number.normalize(), "f")


def _first_name(session: Session, shop_id: int, customer_external_id: str | None) -> str | None:
    if not customer_external_id:
        return None
    return session.execute(select(Customer.first_name).where(
        Customer.shop_id == shop_id, Customer.external_id == customer_external_id)).scalar_one_or_none()


def build(session: Session, shop: Shop, run: FlowRun, flow: definitions.FlowVersion,
          step: dict[str, Any], coupon: dict[str, Any] | None = None) -> dict[str, Any]:
    """The context of ``step``'s template for this run, as it stands now."""
    template = step["template"]
    _, customer_id = conditions.recipient(session, run)
    shop_url = render.shop_url(shop)
    context: dict[str, Any] = {}
    name = _first_name(session, shop.id, customer_id)
    if name:
        context["first_name"] = name
    if template == "cart_reminder":
        cart = conditions.cart_of(session, run)
        if cart is not None:
            lines = list(cart.lines or [])[:50]
            media = product_media(session, shop.id, [line.get("product_external_id") for line in lines])
            context.update(
                items=[{"name": line.get("title") or "Item", "quantity": int(line.get("quantity") or 1),
                        "price": amount(line.get("unit_price") or "0"),
                        **media.get(str(line.get("product_external_id")), {})} for line in lines],
                total=amount(cart.total_price), currency=cart.currency, recovery_url=cart.recovery_url)
    elif template in ("thank_you", "review_request", "cross_sell"):
        order = conditions.order_of(session, run)
        lines = list(session.execute(select(LineItem.title, LineItem.product_external_id)
                                     .where(LineItem.order_id == order.id)).all()) if order else []
        if order is not None:
            context.update(order_number=order.number, currency=order.currency)
        if template in ("thank_you", "cross_sell"):
            if template == "thank_you":
                points = _order_points(session, shop.id, order.external_id) if order else 0
                if points:
                    context["points_earned"] = points
                context["rewards_url"] = shop_url
            else:
                context["bought"] = list(dict.fromkeys(title for title, _ in lines))[:3]
            from app.recommendations.recommend import for_customer

            # The run's own order starts the picks (bought together with it) and is never offered again.
            bought = [product for _, product in lines if product]
            customer_id = run.customer_external_id
            context["recommendations"] = [
                {"name": pick["title"], **({"price": amount(pick["price"])} if pick["price"] else {}),
                 **_links(pick.get("image_url"), pick.get("url"))}
                for pick in for_customer(session, shop.id, customer_external_id=customer_id,
                                         email=None if customer_id else (order.email if order else None),
                                         cart_product_ids=bought, limit=3 if template == "thank_you" else 4)]
        else:
            context["review_url"] = flow["trigger"].get("review_url") or shop_url
            media = product_media(session, shop.id, [product for _, product in lines])
            named = dict.fromkeys((title, product) for title, product in lines)
            context["products"] = [{"name": title, **media.get(str(product), {})} for title, product in named][:10]
            points = _program_value(session, shop.id, "review_points")
            if points:
                context["points"] = points
    else:
        context.update(_loyalty_context(session, shop, run, template))
    if coupon is not None:
        context["coupon"] = coupon
    if step.get("subject"):
        context["subject_override"] = step["subject"]
    if step.get("intro"):
        context["intro"] = step["intro"]
    return context


def _links(image_url: Any, url: Any) -> dict[str, str]:
    """A product's picture and page, each only when it is a web address an email can show."""
    found = {}
    for key, value in (("image_url", image_url), ("url", url)):
        if isinstance(value, str) and is_web_url(value):
            found[key] = value
    return found


def product_media(session: Session, shop_id: int, product_ids: list[Any]) -> dict[str, dict[str, str]]:
    """Picture and page of each product the mirror knows, by product id."""
    wanted = sorted({str(p) for p in product_ids if p})
    if not wanted:
        return {}
    return {external_id: _links(image_url, url) for external_id, image_url, url in session.execute(
        select(Product.external_id, Product.image_url, Product.url).where(
            Product.shop_id == shop_id, Product.external_id.in_(wanted)))}


def _order_points(session: Session, shop_id: int, order_external_id: str) -> int:
    return int(session.execute(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        LedgerEntry.shop_id == shop_id, LedgerEntry.order_external_id == order_external_id,
        LedgerEntry.cause == "order")).scalar_one())


def _program_value(session: Session, shop_id: int, name: str) -> Any:
    from app.loyalty import program as programs

    program = programs.current(session, shop_id)
    return program[name] if program else None


def _loyalty_context(session: Session, shop: Shop, run: FlowRun, template: str) -> dict[str, Any]:
    data = run.data or {}
    shop_url = render.shop_url(shop)
    context: dict[str, Any] = {"rewards_url": shop_url}
    member_id = data.get("member_id")
    balance = None
    if member_id is not None and session.get(LoyaltyMember, member_id) is not None:
        from app.loyalty import ledger

        balance = ledger.balance(session, member_id).spendable
    points = data.get("points")
    if template in ("points_earned", "birthday") and isinstance(points, int):
        context["points"] = points
        if template == "points_earned":
            if balance is not None:
                context["balance"] = balance
            if data.get("reason"):
                context["reason"] = str(data["reason"])[:200]
            elif data.get("order"):
                context["reason"] = f"for your order {data['order']}"
    elif template == "reward_available":
        context["reward_name"] = data.get("name") or data.get("reward") or "a reward"
        if isinstance(points, int):
            context["points"] = points
        spendable = data.get("spendable")
        context["balance"] = balance if balance is not None else spendable if isinstance(spendable, int) else None
        if context["balance"] is None:
            del context["balance"]
    elif template == "points_expiring":
        left = conditions.expiring_points_left(session, run)  # what is left now, not at the event
        context.update(points=left if left is not None else points if isinstance(points, int) else 0,
                       expires_on=data.get("expires_on"))
    elif template == "tier_upgrade":
        context["tier"] = data.get("tier")
        for tier in _program_value(session, shop.id, "tiers") or []:
            if tier.get("name") == data.get("tier") and tier.get("perks"):
                context["perks"] = [str(perk) for perk in tier["perks"]]
    return context
