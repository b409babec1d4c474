"""Challenges pay their bonus once with a badge; the leaderboard shows only who opted in."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.loyalty import challenges, ledger, upkeep
from app.store.models import LedgerEntry, LoyaltyMember
from tests.loyalty.support import NOW, apply_records, begin_program, order

DAY = dt.timedelta(days=1)


def _member(session, customer_id="c1"):
    return session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id == customer_id)
                           ).scalar_one()


@pytest.fixture()
def long_running(session, shop):
    """A program that began 40 days ago."""
    return begin_program(session, shop, 40)


def _challenge_bonus(session):
    return session.execute(select(LedgerEntry.points).where(LedgerEntry.cause == "challenge")).scalars().all()


def test_three_orders_in_sixty_days_earn_the_badge_and_bonus_once_the_orders_cleared(session, long_running):
    # given two orders placed 20 days ago (out of their 14-day pending period) and one today
    shop = long_running
    apply_records(session, shop, order("1", total="20.00", subtotal="20.00", placed=NOW - 20 * DAY),
                  order("2", total="20.00", subtotal="20.00", placed=NOW - 20 * DAY + dt.timedelta(minutes=1)),
                  order("3", total="20.00", subtotal="20.00", placed=NOW))
    member = _member(session)
    # then the third does not count yet: it may still be returned
    assert challenges.badges(session, member.id) == [] and _challenge_bonus(session) == []
    # when the hourly upkeep runs after its pending period
    upkeep.run(session, shop.id, now=NOW + 15 * DAY)
    assert [b["badge"] for b in challenges.badges(session, member.id)] == ["Regular"]
    assert _challenge_bonus(session) == [200]
    # and running again, or a fourth order, gives nothing more
    upkeep.run(session, shop.id, now=NOW + 16 * DAY)
    apply_records(session, shop, order("4", total="20.00", subtotal="20.00", placed=NOW + dt.timedelta(minutes=3)))
    assert challenges.evaluate(session, shop.id, [member.id], now=NOW + 40 * DAY) == 0
    assert _challenge_bonus(session) == [200]


def test_a_guest_s_orders_give_the_challenge_once_to_the_customer_who_claims_them(session, long_running):
    shop = long_running
    guest_orders = [order(str(n), total="20.00", subtotal="20.00", customer=None, email="g@example.com",
                          placed=NOW - 20 * DAY + n * dt.timedelta(minutes=1)) for n in range(3)]
    apply_records(session, shop, *guest_orders)
    upkeep.run(session, shop.id, now=NOW)
    assert _challenge_bonus(session) == []  # a guest has no badges
    # when the shopper orders with an account and that email, claiming the guest points
    apply_records(session, shop, order("9", total="5.00", subtotal="5.00", customer="c9", email="g@example.com",
                                       placed=NOW - 19 * DAY))
    upkeep.run(session, shop.id, now=NOW + DAY)
    upkeep.run(session, shop.id, now=NOW + 2 * DAY)
    assert _challenge_bonus(session) == [200]
    assert [b["badge"] for b in challenges.badges(session, _member(session, "c9").id)] == ["Regular"]


def test_an_order_cancelled_in_its_pending_period_does_not_count(session, long_running):
    shop = long_running
    apply_records(session, shop, order("1", total="20.00", subtotal="20.00", placed=NOW - 20 * DAY),
                  order("2", total="20.00", subtotal="20.00", placed=NOW - 20 * DAY + dt.timedelta(minutes=1)),
                  order("3", total="20.00", subtotal="20.00", placed=NOW))
    # when the third order is cancelled after it earned
    apply_records(session, shop, order("3", total="20.00", subtotal="20.00", placed=NOW,
                                       updated=NOW + dt.timedelta(minutes=5), cancelled=NOW + dt.timedelta(minutes=5)))
    upkeep.run(session, shop.id, now=NOW + 15 * DAY)
    assert challenges.badges(session, _member(session).id) == [] and _challenge_bonus(session) == []


def test_the_leaderboard_lists_only_members_who_opted_in_under_their_chosen_name(session, started):
    apply_records(session, started, order("1", total="300.00", subtotal="300.00", customer="c1", email="a@x.io"),
                  order("2", total="100.00", subtotal="100.00", customer="c2", email="b@x.io"),
                  order("3", total="900.00", subtotal="900.00", customer="c3", email="c@x.io"))
    challenges.set_display_name(_member(session, "c1"), "Ana  B.", True)
    challenges.set_display_name(_member(session, "c2"), "Bo", True)
    session.commit()
    board = challenges.leaderboard(session, started.id)
    # c3 earned most but did not opt in; names are what the shoppers chose, no emails
    assert [(row["rank"], row["name"]) for row in board] == [(1, "Ana B."), (2, "Bo")]
    assert board[0]["points"] > board[1]["points"]
    challenges.set_display_name(_member(session, "c1"), None, False)
    session.commit()
    assert [row["name"] for row in challenges.leaderboard(session, started.id)] == ["Bo"]
    with pytest.raises(ledger.LedgerError):
        challenges.set_display_name(_member(session, "c2"), "me@example.com", True)
