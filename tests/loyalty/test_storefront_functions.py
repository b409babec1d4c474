"""What the widget can ask: the program, the shopper's standing, redeeming, in their currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.loyalty import ledger, rewards, storefront
from app.loyalty import program as programs
from app.store import mirror
from app.store.models import Redemption
from connectors import base
from tests.loyalty.support import NOW, apply_records, customer, order


def _present(shop, currency=None, rate=None):
    return storefront.Presentment.parse(shop, currency, rate)


def test_the_program_is_shown_in_the_shopper_s_currency_priced_in_the_shop_s(session, started):
    started.currency = "EUR"
    view = storefront.program_view(session, started, _present(started, "USD", "1.10"))
    five_off = next(r for r in view["rewards"] if r["id"] == "5-off")
    assert five_off["value"] == {"amount": "5.50", "currency": "USD", "shop_amount": "5", "shop_currency": "EUR"}
    assert view["point_value"]["amount"] == "0.01"  # 100 points per unit: one point is 0.011 USD
    assert [t["name"] for t in view["tiers"]] == ["Bronze", "Silver", "Gold"]
    assert {a["id"] for a in view["earn"]["social"]} == {"instagram-follow", "facebook-share"}
    # the shop's own currency needs no rate; bad input is refused
    assert _present(started, "EUR").rate == 1
    for currency, rate in [("usd", "1.1"), ("USD", "abc"), ("USD", "-1"), ("USD", None)]:
        with pytest.raises(ledger.LedgerError) as refused:
            _present(started, currency, rate)
        assert refused.value.status == 400


def test_a_signed_in_shopper_sees_only_their_own_standing(session, started):
    apply_records(session, started, customer("c1", email="ana@example.com"),
                  order("1", total="120.00", subtotal="120.00"),
                  customer("c2", email="bo@example.com"))
    view = storefront.member_view(session, started, "c1", _present(started))
    session.commit()
    assert view["points"]["available"] == 50 and view["points"]["pending"] == 120
    assert view["tier"]["tier"] == "Bronze" and view["tier"]["next_tier"] == "Silver"
    assert {h["cause"] for h in view["history"]} == {"signup", "order"}
    assert view["referral"]["code"] and view["referral"]["code"] in view["referral"]["link"]
    other = storefront.member_view(session, started, "c2", _present(started))
    assert other["points"]["pending"] == 0 and other["referral"]["code"] != view["referral"]["code"]
    with pytest.raises(ledger.LedgerError) as anonymous:
        storefront.member_view(session, started, "", _present(started))
    assert anonymous.value.status == 401


def test_a_variable_reward_turns_chosen_points_into_money_in_steps(session, started):
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    program = programs.current(session, started.id)
    ledger.adjust(session, started.id, member.id, 1000, key="seed", actor="t", reason="seed", program=program)
    session.commit()
    for points in (250, 50, 9000, None, "300"):
        with pytest.raises(ledger.LedgerError) as refused:
            storefront.redeem(session, started.id, "c1", "points-off", key=f"k{points}", points=points)
        assert refused.value.status == 400
    redemption = storefront.redeem(session, started.id, "c1", "points-off", key="k1", points=300)
    session.commit()
    assert (redemption.points, redemption.reward["value"]) == (300, "3.00")
    spec = rewards.discount_spec(redemption, member)
    assert (spec.kind, spec.value) == (base.DISCOUNT_FIXED_AMOUNT, Decimal("3.00"))
    assert ledger.balance(session, member.id).available == 700


def test_a_free_product_reward_is_worth_its_dearest_variant(session, started):
    mirror.apply_records(session, started.id, started.platform, [base.Product(
        external_id="p9", title="Mug", updated_at=NOW,
        variants=(base.Variant("v1", "Small", Decimal("8.00")), base.Variant("v2", "Large", Decimal("12.50"))))])
    programs.update(session, started.id, {"rewards": [
        {"id": "mug", "name": "A free mug", "kind": "free_product", "points": 400, "value": "0",
         "minimum_subtotal": None, "code_days": 30, "products": ["p9"]}]}, actor="t")
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    ledger.adjust(session, started.id, member.id, 400, key="seed", actor="t", reason="seed",
                  program=programs.current(session, started.id))
    session.commit()
    redemption = storefront.redeem(session, started.id, "c1", "mug", key="m1")
    session.commit()
    spec = rewards.discount_spec(redemption, member)
    assert (spec.kind, spec.value, spec.product_external_ids) == (base.DISCOUNT_FREE_PRODUCT, Decimal("12.50"),
                                                                   ("p9",))
    assert session.execute(select(Redemption.status)).scalar_one() == "pending"
    with pytest.raises(programs.ProgramError) as refused:
        programs.update(session, started.id, {"rewards": [
            {"id": "mug", "name": "A free mug", "kind": "free_product", "points": 400, "value": "0",
             "minimum_subtotal": None, "code_days": 30}]}, actor="t")
    assert refused.value.field == "rewards[0].products"


def test_points_owed_after_a_refund_are_shown_as_the_refund_policy_says(session, started):
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    program = programs.current(session, started.id)
    ledger.adjust(session, started.id, member.id, -30, key="owed", actor="t", reason="refund of spent points",
                  program=program, below_zero=True)
    session.commit()
    negative = storefront.member_view(session, started, "c1", _present(started))["points"]
    assert (negative["available"], negative["spendable"], negative["owed"]) == (-30, 0, 30)
    programs.update(session, started.id, {"refund_policy": "deduct_from_future"}, actor="t")
    session.commit()
    deducted = storefront.member_view(session, started, "c1", _present(started))["points"]
    assert (deducted["available"], deducted["spendable"], deducted["owed"]) == (0, 0, 30)
