"""Bought-together counts: exact on a hand-checked set, each order counted once, kept per shop."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update as sql_update

from app.recommendations import pairs
from app.store import mirror
from app.store.models import Order, RecommendationCursor
from connectors import base
from tests.recommendations.support import (
    EXPECTED_PAIRS,
    EXPECTED_STATS,
    catalogue,
    days_ago,
    history,
    order,
    orders_counted,
    pair_counts,
    stats,
    write,
)


def test_counts_products_and_pairs_of_the_orders_that_count(session, shop):
    # given the hand-checked orders and some that must not count
    write(shop, *catalogue(), *history(),
          order("c1", "AB", cancelled=True), order("t1", "AB", is_test=True),
          order("n1", (None,)), order("dup", ("F", "F", None)))
    # when the counts are updated
    counted = pairs.update(session, shop.id)
    # then every order was read, and only those that count are in the counts (a repeated product once)
    assert (counted.orders_read, counted.orders_changed, counted.more) == (14, 11, False)
    assert stats(shop) == {**EXPECTED_STATS, "F": 2}
    assert pair_counts(shop) == EXPECTED_PAIRS
    assert orders_counted(shop) == 11


def test_a_second_run_reads_nothing_and_a_redelivered_order_changes_nothing(session, shop):
    write(shop, *catalogue(), *history())
    pairs.update(session, shop.id)
    assert pairs.update(session, shop.id).orders_read == 0
    # when order 1 arrives again unchanged (a re-delivered webhook rewrites the row)
    write(shop, history()[0])
    again = pairs.update(session, shop.id)
    # then it is read once more, and counted no second time
    assert (again.orders_read, again.orders_changed) == (1, 0)
    assert (stats(shop), pair_counts(shop), orders_counted(shop)) == (EXPECTED_STATS, EXPECTED_PAIRS, 10)


def test_a_cancelled_order_is_uncounted_and_a_changed_one_counted_by_its_difference(session, shop):
    write(shop, *catalogue(), *history())
    pairs.update(session, shop.id)
    # when order 1 (ABC) is cancelled and order 2 (AB) gains C
    write(shop, order("1", "ABC", placed=days_ago(39), cancelled=True, updated=days_ago(1)),
          order("2", "ABC", placed=days_ago(38), updated=days_ago(1)))
    changed = pairs.update(session, shop.id)
    # then order 1 leaves the counts and order 2 adds only its new pairs
    assert (changed.orders_read, changed.orders_changed) == (2, 2)
    assert stats(shop) == {**EXPECTED_STATS, "A": 4, "B": 4}
    assert pair_counts(shop) == {**EXPECTED_PAIRS, ("A", "B"): 3}
    assert orders_counted(shop) == 9
    # and when order 2 is cancelled too, and the pair A-E loses its only order, that count is gone
    write(shop, order("2", "ABC", placed=days_ago(38), cancelled=True, updated=days_ago(0.5)),
          order("8", "AB", placed=days_ago(32), updated=days_ago(0.5)))
    pairs.update(session, shop.id)
    assert stats(shop) == {**EXPECTED_STATS, "A": 3, "B": 3, "C": 2, "E": 1}
    expected = {**EXPECTED_PAIRS, ("A", "B"): 2, ("A", "C"): 1, ("B", "C"): 1}
    del expected[("A", "E")], expected[("B", "E")]
    assert pair_counts(shop) == expected
    assert orders_counted(shop) == 8


def test_a_deleted_order_is_uncounted(session, shop):
    write(shop, *catalogue(), *history())
    pairs.update(session, shop.id)
    mirror.delete_orders(session, shop.id, shop.platform, [base.Deletion("9")])
    session.commit()
    pairs.update(session, shop.id)
    assert "F" not in stats(shop) and orders_counted(shop) == 9


def test_an_order_committed_late_with_an_earlier_time_is_still_counted(session, shop):
    write(shop, *catalogue(), *history())
    pairs.update(session, shop.id)
    # given an order whose row time lies five minutes behind what was already read
    write(shop, order("late", "FG"))
    cursor_time = session.get(RecommendationCursor, shop.id).orders_updated_at
    session.execute(sql_update(Order).where(Order.external_id == "late")
                    .values(updated_at=cursor_time - dt.timedelta(minutes=5)))
    session.commit()
    # when the counts are updated, then it is counted (once)
    assert pairs.update(session, shop.id).orders_changed == 1
    assert pairs.update(session, shop.id).orders_read == 0
    assert pair_counts(shop)[("F", "G")] == 1


def test_rebuilding_gives_the_same_counts_as_counting_incrementally(session, shop):
    write(shop, *catalogue(), *history()[:5])
    pairs.update(session, shop.id)
    write(shop, *history()[5:], order("1", "ABC", placed=days_ago(39), cancelled=True, updated=days_ago(1)))
    pairs.update(session, shop.id)
    incremental = (stats(shop), pair_counts(shop), orders_counted(shop))
    rebuilt = pairs.rebuild(session, shop.id)
    assert rebuilt.orders_read == 10
    assert (stats(shop), pair_counts(shop), orders_counted(shop)) == incremental
    assert incremental[1][("A", "B")] == 3


def test_batches_continue_where_the_last_one_stopped(session, shop, monkeypatch):
    monkeypatch.setattr(pairs, "BATCH", 3)
    write(shop, *catalogue(), *history())
    first = pairs.update(session, shop.id, batches=2)
    assert (first.orders_read, first.more) == (6, True)
    rest = pairs.update(session, shop.id)
    assert (rest.orders_read, rest.more) == (4, False)
    assert (stats(shop), pair_counts(shop), orders_counted(shop)) == (EXPECTED_STATS, EXPECTED_PAIRS, 10)


def test_a_basket_over_the_cap_counts_its_products_but_adds_no_pairs(session, shop, monkeypatch):
    monkeypatch.setattr(pairs, "MAX_BASKET", 2)
    write(shop, order("big", "ABC"), order("small", "AB"))
    pairs.update(session, shop.id)
    assert stats(shop) == {"A": 2, "B": 2, "C": 1}
    assert pair_counts(shop) == {("A", "B"): 1}


def test_each_shop_counts_only_its_own_orders(session, shop, other_shop):
    write(shop, *catalogue(), *history())
    write(other_shop, order("1", "FG"), order("2", "FG"))
    pairs.update(session, shop.id)
    pairs.update(session, other_shop.id)
    assert (stats(shop), pair_counts(shop), orders_counted(shop)) == (EXPECTED_STATS, EXPECTED_PAIRS, 10)
    assert (stats(other_shop), pair_counts(other_shop), orders_counted(other_shop)) == (
        {"F": 2, "G": 2}, {("F", "G"): 2}, 2)
    # a rebuild of one shop leaves the other's counts alone
    pairs.rebuild(session, other_shop.id)
    assert pair_counts(shop) == EXPECTED_PAIRS
