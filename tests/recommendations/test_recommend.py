"""Picks for a shopper: bought together (support and lift), last purchase, category, popular; exclusions."""

from __future__ import annotations

import pytest

from app.recommendations import pairs, popular, recommend
from app.store import mirror
from connectors import base
from tests.recommendations.support import catalogue, days_ago, history, order, product, write

LOOSE = recommend.Thresholds(min_pair_orders=2, min_lift=1.3, margin=0.0)


@pytest.fixture()
def counted(session, shop):
    """The hand-checked history, counted; customer ana's last order holds A and C."""
    write(shop, *catalogue(), *history(), order("ana-1", "BE", customer="ana", placed=days_ago(60)),
          order("ana-2", "AC", customer="ana", placed=days_ago(2)))
    pairs.update(session, shop.id)
    return shop


def _picks(session, shop, **arguments):
    return [(p["id"], p["reason"]) for p in recommend.for_customer(session, shop.id, **arguments)]


def test_lift_is_the_share_together_over_the_product_of_the_shares():
    # AB in 4 of 12 orders, A in 6, B in 6: (4/12) / ((6/12) (6/12))
    assert recommend.lift(4, 6, 6, 12) == pytest.approx(4 / 3)
    assert recommend.lift(0, 6, 6, 12) == 0.0
    # with a margin, the pair count is first lowered by that many standard errors: (9 - 2·3)·100 / (10·10)
    assert recommend.lift(9, 10, 10, 100, margin=2.0) == pytest.approx(3.0)


def test_the_default_thresholds_want_evidence_not_only_a_high_lift(session, counted):
    # A-B: 4 orders together, lift 1.33; A-C: 3, lift 1.5 — both too few for their lift to be sure
    assert (recommend.DEFAULT.min_pair_orders, recommend.DEFAULT.min_lift, recommend.DEFAULT.margin) == (3, 1.5, 2.0)
    assert recommend.together(session, counted.id, ["A"]) == []
    # with more orders behind them (152 orders: A 46, B 26, C 24; A-B 24, A-C 23) both are kept:
    # A-B (24 - 2·√24)·152 / (46·26) = 1.80, A-C (23 - 2·√23)·152 / (46·24) = 1.85; B is likelier after A
    write(counted, *(order(f"x{n}", basket, placed=days_ago(50)) for n, basket in enumerate(
        ["AB"] * 20 + ["AC"] * 20 + ["G"] * 100)))
    pairs.update(session, counted.id)
    assert recommend.together(session, counted.id, ["A"]) == ["B", "C"]


def test_bought_together_keeps_pairs_above_both_thresholds_best_first(session, counted):
    # 12 counted orders: A 6, B 6, C 4; AB 4 (lift 1.33), AC 3 (1.5), BC 2 (1.0), AD 1, AE 1
    assert recommend.together(session, counted.id, ["A"], recommend.Thresholds(2, 1.3, margin=0.0)) == ["B", "C"]
    # the lift threshold drops A-B (1.33 < 1.4), the support threshold drops A-C (3 < 4)
    assert recommend.together(session, counted.id, ["A"], recommend.Thresholds(2, 1.4, margin=0.0)) == ["C"]
    assert recommend.together(session, counted.id, ["A"], recommend.Thresholds(4, 1.3, margin=0.0)) == ["B"]
    assert recommend.together(session, counted.id, ["A"], recommend.Thresholds(5, 0, margin=0.0)) == []
    # from two seeds a candidate gathers both: B with A (4 orders) and with C (2); A-C joins two seeds
    assert recommend.together(session, counted.id, ["A", "C"], recommend.Thresholds(2, 0, margin=0.0)) == ["B"]
    assert recommend.together(session, counted.id, [], recommend.Thresholds(1, 0, margin=0.0)) == []


def test_the_cart_s_companions_come_first_and_the_list_is_filled_by_category_then_popular(session, counted):
    picks = _picks(session, counted, cart_product_ids=["A"], limit=5, thresholds=LOOSE)
    # B and C bought with A; D shares A's category (Mugs); then the most ordered lately, by id on ties
    assert picks == [("B", "bought_together"), ("C", "bought_together"), ("D", "popular_in_category"),
                     ("E", "popular"), ("F", "popular")]
    first = recommend.for_customer(session, counted.id, cart_product_ids=["A"], limit=1, thresholds=LOOSE)[0]
    assert first == {"id": "B", "title": "Product B", "handle": "product-b", "price": "10.0000",
                     "image_url": "https://cdn.example.com/B.png", "url": "https://shop.example.com/B",
                     "reason": "bought_together"}


def test_a_customer_never_gets_what_their_last_order_held(session, counted):
    # ana's last order is A and C: B goes with both, D shares their category
    picks = _picks(session, counted, customer_external_id="ana", cart_product_ids=[], limit=4, thresholds=LOOSE)
    assert picks == [("B", "related_to_last_purchase"), ("D", "popular_in_category"), ("E", "popular"),
                     ("F", "popular")]
    # found by email too when there is no customer id (a guest's orders)
    write(counted, order("guest-1", "AC", email="Guest@Example.com", placed=days_ago(1)))
    by_email = _picks(session, counted, email="guest@example.com", cart_product_ids=[], limit=3, thresholds=LOOSE)
    assert by_email == [("B", "related_to_last_purchase"), ("D", "popular_in_category"), ("E", "popular")]


def test_the_category_looks_only_among_the_shop_s_best_sellers(session, counted):
    # two places: among the four most ordered products (A, B, C, E) the only mugs, A and C, were bought
    assert _picks(session, counted, customer_external_id="ana", cart_product_ids=[], limit=2, thresholds=LOOSE) == [
        ("B", "related_to_last_purchase"), ("E", "popular")]


def test_the_open_cart_in_the_mirror_is_used_when_no_cart_is_given(session, counted):
    write(counted, base.Cart(external_id="cart-1", updated_at=days_ago(0.1), currency="EUR", total_price=10,
                             customer_external_id="bo", lines=(base.CartLine("Product A", 1, 10, "A"),)))
    assert _picks(session, counted, customer_external_id="bo", limit=2, thresholds=LOOSE) == [
        ("B", "bought_together"), ("C", "bought_together")]


def test_out_of_stock_draft_and_deleted_products_are_never_picked(session, counted):
    # B has no stock in any variant, C is a draft, D deleted; E has one variant sold out, one not tracked
    write(counted, product("B", stock=(0, -2)), product("C", status="draft"), product("E", stock=(0, None)))
    mirror.delete_products(session, counted.id, counted.platform, [base.Deletion("D")])
    session.commit()
    picks = _picks(session, counted, cart_product_ids=["A"], limit=4, thresholds=LOOSE)
    assert picks == [("E", "popular"), ("F", "popular"), ("G", "popular")]


def test_an_anonymous_visitor_with_an_empty_cart_gets_the_popular_products(session, counted):
    assert _picks(session, counted, limit=3) == [("A", "popular"), ("B", "popular"), ("C", "popular")]


def test_another_shop_s_counts_never_reach_the_picks(session, counted, other_shop):
    # the other shop sells the same product ids, A always with G, and F alone
    write(other_shop, *catalogue(), *(order(f"o{n}", "AG") for n in range(5)),
          *(order(f"f{n}", "F") for n in range(5)))
    pairs.update(session, other_shop.id)
    assert recommend.together(session, counted.id, ["A"], recommend.Thresholds(1, 0, margin=0.0)) == ["B", "C", "D", "E"]
    assert recommend.together(session, other_shop.id, ["A"], recommend.Thresholds(1, 0, margin=0.0)) == ["G"]
    assert _picks(session, other_shop, cart_product_ids=["A"], limit=2, thresholds=LOOSE) == [
        ("G", "bought_together"), ("F", "popular")]
    assert _picks(session, counted, cart_product_ids=["A"], limit=2, thresholds=LOOSE) == [
        ("B", "bought_together"), ("C", "bought_together")]


def test_when_the_best_sellers_are_sold_out_the_next_available_ones_fill_the_list(session, shop):
    # the three best sellers have no stock; C shares A's category among the four best sellers,
    # D (ordered once) comes after the sold-out ones in the popular ranking
    write(shop, product("A"), product("C"), product("D"), *(product(p, stock=(0,)) for p in ("B1", "B2", "B3")),
          *(order(f"{p}-{n}", (p,)) for p in ("B1", "B2", "B3") for n in range(5)),
          *(order(f"C-{n}", "C") for n in range(4)), order("A-1", "A"), order("D-1", "D"))
    pairs.update(session, shop.id)
    assert _picks(session, shop, cart_product_ids=["A"], limit=2) == [
        ("C", "popular_in_category"), ("D", "popular")]


def test_sold_out_best_sellers_never_leave_the_popular_list_short(session, shop):
    # twelve products sold better than J and have no stock left; J has 5, N was never ordered
    sold_out = [f"S{n:02d}" for n in range(12)]
    write(shop, *(product(p, stock=(0,)) for p in sold_out), product("J", stock=(5,)), product("N"),
          *(order(f"{p}-{n}", (p,)) for p in sold_out for n in range(2)), order("J-1", "J"))
    pairs.update(session, shop.id)
    assert _picks(session, shop, cart_product_ids=[], limit=4) == [("J", "popular"), ("N", "popular")]
    assert [p["id"] for p in popular.popular(session, shop.id, limit=4)] == ["J", "N"]
    assert [p["id"] for p in popular.popular(session, shop.id, limit=4, exclude=("J",))] == ["N"]


def test_a_scheduled_product_is_not_for_sale(session, counted):
    # WooCommerce's "future": published at a date still to come
    write(counted, product("A", status="future"))
    assert _picks(session, counted, limit=3) == [("B", "popular"), ("C", "popular"), ("E", "popular")]


def test_a_known_customer_s_last_order_may_be_a_guest_order_under_their_email(session, counted):
    # cleo's own order is older than the guest checkout under her mirrored email (any case, spaces)
    write(counted, base.Customer("cleo", email="Cleo@Example.com"),
          order("cleo-1", "BE", customer="cleo", placed=days_ago(5)),
          order("guest-2", "AC", email="  cleo@EXAMPLE.com ", placed=days_ago(1)),
          order("dan-1", "FG", customer="dan", email="cleo@example.com", placed=days_ago(0.5)))
    # dan's order shares the address but has a customer id: it is dan's, not cleo's
    assert recommend.last_order_products(session, counted.id, customer_external_id="cleo") == ["A", "C"]
    # a customer without a mirrored email is matched by the email the caller gives
    write(counted, order("eve-1", "BE", customer="eve", placed=days_ago(5)),
          order("guest-3", "D", email="eve@example.com", placed=days_ago(1)))
    assert recommend.last_order_products(session, counted.id, customer_external_id="eve") == ["B", "E"]
    assert recommend.last_order_products(session, counted.id, customer_external_id="eve",
                                         email=" Eve@Example.com") == ["D"]
    # B and E, of cleo's own order five days ago, are just bought too: only three products are left to show
    picks = _picks(session, counted, customer_external_id="cleo", cart_product_ids=[], limit=4, thresholds=LOOSE)
    assert picks == [("D", "popular_in_category"), ("F", "popular"), ("G", "popular")]


def test_what_a_customer_bought_in_the_last_30_days_is_never_picked(session, counted):
    # ana's last order (A, C) two days ago; before it B and E 60 days ago: still shown
    assert recommend.just_bought(session, counted.id, customer_external_id="ana") == ["A", "C"]
    # an order of 29 days ago is just bought, whatever came after it
    write(counted, order("ana-3", "BD", customer="ana", placed=days_ago(29)))
    assert recommend.just_bought(session, counted.id, customer_external_id="ana") == ["A", "B", "C", "D"]
    assert recommend.last_order_products(session, counted.id, customer_external_id="ana") == ["A", "C"]
    picks = _picks(session, counted, customer_external_id="ana", cart_product_ids=[], limit=4, thresholds=LOOSE)
    assert picks == [("E", "popular"), ("F", "popular"), ("G", "popular")]
    # a last order older than 30 days is still just bought; a cancelled order is not bought at all
    write(counted, order("bo-1", "E", customer="bo", placed=days_ago(90)),
          order("bo-2", "F", customer="bo", placed=days_ago(3), cancelled=True))
    assert recommend.just_bought(session, counted.id, customer_external_id="bo") == ["E"]
    assert recommend.just_bought(session, counted.id, customer_external_id="nobody") == []
    assert recommend.just_bought(session, counted.id) == []
