"""Loyalty end to end through devstore on both platforms: order → points → redeem → a real code → refund."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger, rewards
from app.loyalty import program as programs
from app.store.models import Customer, LedgerEntry, LoyaltyMember, Redemption, Shop
from app.store.types import utcnow
from jobs.loyalty import request_code
from tests.conftest import API_KEY
from tests.helpers import bearer, connect_woo, install, run_jobs

# The default 14-day pending period, one reward for a single point, no tiers or challenges to
# add bonus points to the sums below.
CHEAP = {"rewards": [
    {"id": "thanks", "name": "5 off", "kind": "fixed_amount", "points": 1, "value": "5.00",
     "minimum_subtotal": "20.00", "code_days": 30}],
    "tiers": [{"name": "Member", "threshold": 0, "multiplier": "1"}], "challenges": []}


def _pending_then_spendable(shop: Shop, member: LoyaltyMember) -> ledger.Balance:
    """The order's points wait out the returns window: shown, not spendable; then the window passes."""
    session = db.session()
    waiting = ledger.balance(session, member.id)
    assert waiting.available == 0 and waiting.pending > 0
    try:
        rewards.redeem(session, shop.id, member.id, "thanks", key="too-early")
        raise AssertionError("pending points were spent")
    except ledger.LedgerError as refused:
        assert refused.status == 409 and "not enough points" in str(refused)
    session.rollback()
    # fourteen days later (the entries' window is moved, not the clock)
    session.execute(LedgerEntry.__table__.update().where(LedgerEntry.member_id == member.id)
                    .values(available_at=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    spendable = ledger.balance(session, member.id)
    assert (spendable.available, spendable.pending) == (waiting.pending, 0)
    return spendable



def _shop(platform: str) -> Shop:
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.platform == platform)).scalar_one()


def _member(shop: Shop, customer_id: str) -> LoyaltyMember:
    db.session().expire_all()
    return db.session().execute(select(LoyaltyMember).where(LoyaltyMember.shop_id == shop.id,
                                                            LoyaltyMember.customer_external_id == customer_id)
                                ).scalar_one()


def _first_customer(shop: Shop) -> str:
    return db.session().execute(select(Customer.external_id).where(Customer.shop_id == shop.id).limit(1)
                                ).scalar_one()


def _connected_woo(client, woo_store, program: dict, **history) -> tuple[Shop, str]:
    """A WooCommerce store with a generated history, connected, with these program settings."""
    woo_store.generate(seed=9, **history)
    assert connect_woo(client, woo_store).status_code == 200
    assert run_jobs() == []
    woo_store.drain_deliveries()
    shop = _shop("woocommerce")
    session = db.session()
    programs.update(session, shop.id, program, actor="test")
    session.commit()
    return shop, _first_customer(shop)


def _redeem(shop: Shop, member: LoyaltyMember, reward_id: str, key: str) -> Redemption:
    session = db.session()
    redemption = rewards.redeem(session, shop.id, member.id, reward_id, key=key)
    session.commit()
    request_code(redemption.id)
    assert run_jobs() == []
    db.session().expire_all()
    return db.session().get(Redemption, redemption.id)


def test_shopify_order_points_redeem_code_and_refund(client, live_app, store):
    store.generate(seed=9, customers=4, products=3, orders=2)
    install(client, store)
    assert run_jobs() == []
    token = store.session_token(API_KEY)
    changed = client.put("/api/admin/loyalty/program", json=CHEAP, headers=bearer(token))
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    shop = _shop("shopify")
    customer_id = _first_customer(shop)
    order = store.control("POST", "/orders", customer_id=int(customer_id))
    store.drain_deliveries()
    assert run_jobs() == []
    member = _member(shop, customer_id)
    earned = _pending_then_spendable(shop, member)

    redemption = _redeem(shop, member, "thanks", "r-1")
    assert (redemption.status, redemption.error) == ("issued", None)
    codes = {d["code"]: d for d in store.control("GET", "/discounts")}
    issued = codes[redemption.code]
    assert (issued["value_type"], issued["amount"], issued["usage_limit"], issued["customer_ids"],
            issued["minimum_subtotal"]) == ("fixed_amount", "5.00", 1, [int(customer_id)], "20.00")
    assert ledger.balance(db.session(), member.id).available == earned.available - 1
    # The same redemption again: the same code, nothing spent twice.
    assert _redeem(shop, member, "thanks", "r-1").id == redemption.id
    assert len(store.control("GET", "/discounts")) == len(codes)

    # A full refund takes back exactly what the order earned.
    store.control("POST", f"/orders/{order['id']}/refund")
    store.drain_deliveries()
    assert run_jobs() == []
    after = ledger.balance(db.session(), member.id)
    assert after.available == -1 and after.debt == 1  # the spent point is owed, not forgotten
    causes = [cause for (cause,) in db.session().execute(
        select(LedgerEntry.cause).where(LedgerEntry.member_id == member.id).order_by(LedgerEntry.id))]
    assert causes == ["order", "redemption", "refund"]

    # The merchant sees it, and only in their own shop.
    seen = client.get(f"/api/admin/loyalty/members/{customer_id}", headers=bearer(token)).get_json()
    assert seen["balance"]["available"] == -1 and [r["code"] for r in seen["redemptions"]] == [redemption.code]


def test_woocommerce_order_points_redeem_coupon_and_refund(client, live_app, woo_store):
    shop, customer_id = _connected_woo(client, woo_store, CHEAP, customers=4, products=3, orders=2)
    order = woo_store.control("POST", "/orders", customer_id=int(customer_id))
    woo_store.drain_deliveries()
    assert run_jobs() == []
    member = _member(shop, customer_id)
    earned = _pending_then_spendable(shop, member).available
    # Lines after discounts, without tax and shipping: 1 point per unit, rounded down.
    assert earned == int(Decimal(order["total"]) - Decimal(order["total_tax"]) - Decimal(order["shipping_total"]))

    redemption = _redeem(shop, member, "thanks", "w-1")
    assert redemption.status == "issued"
    from connectors.woocommerce.client import WooClient

    with WooClient(shop.domain, shop.access_token, shop.access_secret) as rest:
        (coupon,) = rest.get("/coupons", {"code": redemption.code.lower()}).data
    assert (coupon["discount_type"], coupon["amount"], coupon["usage_limit"], coupon["minimum_amount"]) == (
        "fixed_cart", "5.00", 1, "20.00")

    # The full refund arrives as order.updated; its refunds are read, then the points reversed.
    woo_store.control("POST", f"/orders/{order['id']}/refund")
    woo_store.drain_deliveries()
    assert run_jobs() == []
    assert ledger.balance(db.session(), member.id).available == -1


VIP = {"pending_days": 0, "tiers": [{"name": "Member", "threshold": 0, "multiplier": "1"},
                                    {"name": "VIP", "threshold": 1, "multiplier": "2", "entry_points": 10}]}


def test_shopify_a_tier_reached_becomes_a_customer_tag_and_metafield(client, live_app, store):
    store.generate(seed=4, customers=3, products=2, orders=0)
    install(client, store)
    assert run_jobs() == []
    assert client.put("/api/admin/loyalty/program", json=VIP,
                      headers=bearer(store.session_token(API_KEY))).status_code == 200
    shop = _shop("shopify")
    customer_id = _first_customer(shop)
    # when the customer's first order makes them VIP
    store.control("POST", "/orders", customer_id=int(customer_id))
    store.drain_deliveries()
    assert run_jobs() == []
    member = _member(shop, customer_id)
    assert (member.tier, member.tier_written) == ("VIP", "VIP")
    # then the store shows it: the tier's tag (and no other tier's), and the tier metafield
    seen = store.control("GET", f"/customers/{customer_id}")
    tags = [tag.strip() for tag in seen["tags"].split(",") if tag.strip()]
    assert "Comeback VIP" in tags and "Comeback Member" not in tags
    assert {(m["namespace"], m["key"], m["value"]) for m in seen["metafields"]} >= {("comeback", "tier", "VIP")}
    store.drain_deliveries()  # the tag change is a customers/update webhook, as in Shopify
    assert run_jobs() == []
    assert _member(shop, customer_id).tier_written == "VIP"  # nothing left to write, nothing rewritten


def test_woocommerce_a_tier_reached_becomes_customer_meta(client, live_app, woo_store):
    shop, customer_id = _connected_woo(client, woo_store, VIP, customers=3, products=2, orders=0)
    woo_store.control("POST", "/orders", customer_id=int(customer_id))
    woo_store.drain_deliveries()
    assert run_jobs() == []
    assert _member(shop, customer_id).tier_written == "VIP"
    from connectors.woocommerce.client import WooClient

    with WooClient(shop.domain, shop.access_token, shop.access_secret) as rest:
        stored = rest.get(f"/customers/{customer_id}").data
    assert {m["key"]: m["value"] for m in stored["meta_data"]}.get("comeback_tier") == "VIP"


def test_shopify_a_customer_the_store_refuses_is_skipped_but_a_shop_wide_refusal_keeps_them_all(
        client, live_app, store):
    from jobs.loyalty import request_tier_write_back

    store.generate(seed=5, customers=2, products=1, orders=0)
    install(client, store)
    assert run_jobs() == []
    shop = _shop("shopify")
    session = db.session()
    real = _first_customer(shop)
    # given two members with a tier to show: one a real customer, one the store does not know
    for customer_id in (real, "987654321"):
        session.add(LoyaltyMember(shop_id=shop.id, customer_external_id=customer_id, tier="Silver"))
    session.commit()
    request_tier_write_back(shop.id)
    assert run_jobs() == []
    # then the real one is written and the unknown one is skipped (logged), not retried forever
    written = dict(db.session().execute(select(LoyaltyMember.customer_external_id, LoyaltyMember.tier_written)
                                        .where(LoyaltyMember.shop_id == shop.id)).all())
    assert written == {real: "Silver", "987654321": "Silver"}
    assert "Comeback Silver" in store.control("GET", f"/customers/{real}")["tags"]
    # when every customer of a batch is refused, the job fails and nothing is marked written
    session = db.session()
    for customer_id in ("987654322", "987654323"):
        session.add(LoyaltyMember(shop_id=shop.id, customer_external_id=customer_id, tier="Gold"))
    session.commit()
    request_tier_write_back(shop.id)
    failures = run_jobs()
    assert failures and all(f.startswith("jobs.loyalty.write_back_tiers") for f in failures), failures
    pending = db.session().execute(select(LoyaltyMember.customer_external_id).where(
        LoyaltyMember.shop_id == shop.id, LoyaltyMember.tier_written.is_(None))).scalars().all()
    assert sorted(pending) == ["987654322", "987654323"]


def test_shopify_a_gift_card_order_earns_on_what_was_not_paid_by_gift_card(client, live_app, store):
    from app.store.models import Order

    store.generate(seed=6, customers=2, products=2, orders=0)
    install(client, store)
    assert run_jobs() == []
    assert client.put("/api/admin/loyalty/program", json={"pending_days": 0},
                      headers=bearer(store.session_token(API_KEY))).status_code == 200
    shop = _shop("shopify")
    customer_id = _first_customer(shop)
    # when an order partly paid with a 10.00 gift card arrives by webhook (which cannot tell the
    # amount), then is read in full
    from app.store.models import Variant

    # five of one item: well above the gift card whatever the generated prices (a random order
    # of one cheap item could be paid by the card alone and earn nothing)
    variant = db.session().execute(select(Variant.external_id).where(Variant.shop_id == shop.id).limit(1)).scalar_one()
    placed = store.control("POST", "/orders", customer_id=int(customer_id), gift_card="10.00",
                           line_items=[{"variant_id": int(variant), "quantity": 5}])
    store.drain_deliveries()
    assert run_jobs() == []
    db.session().expire_all()
    order = db.session().execute(select(Order).where(Order.shop_id == shop.id,
                                                     Order.external_id == str(placed["id"]))).scalar_one()
    assert (order.gift_card_amount, order.gift_card_amount_known) == (Decimal("10.00"), True)
    # then the points leave out what the gift card paid, once
    (points,) = db.session().execute(select(LedgerEntry.points).where(LedgerEntry.cause == "order")).scalars()
    assert points == int(order.subtotal_price - Decimal("10.00"))
