"""Earning rules besides orders: signup, guest claims, birthdays, reviews, social and custom actions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.loyalty import actions, events, ledger, storefront
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyEvent, LoyaltyMember
from tests.loyalty.support import NOW, apply_records, customer, order, product


def _member(session, customer_id):
    return session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id == customer_id)
                           ).scalar_one()


def _causes(session, member_id):
    return sorted(session.execute(select(LedgerEntry.cause, LedgerEntry.points)
                                  .where(LedgerEntry.member_id == member_id)).all())


def test_an_account_opened_since_the_program_began_earns_signup_points_once(session, started):
    # given an account opened now, one opened before the program, and a checkout-only customer
    apply_records(session, started, customer("c1", email="new@example.com"),
                  customer("c2", email="old@example.com", created=NOW - dt.timedelta(days=3)),
                  customer("c3", email="guest@example.com", state="disabled"))
    # then only the new account earned, and the points are spendable at once
    assert _causes(session, _member(session, "c1").id) == [("signup", 50)]
    assert ledger.balance(session, _member(session, "c1").id).available == 50
    assert session.execute(select(LedgerEntry.member_id).distinct()).scalars().all() == [_member(session, "c1").id]
    # when the customer is updated and read again
    apply_records(session, started, customer("c1", email="new@example.com", updated=NOW + dt.timedelta(minutes=5)))
    # then nothing more is awarded, and one "points earned" event was written
    assert _causes(session, _member(session, "c1").id) == [("signup", 50)]
    kinds = session.execute(select(LoyaltyEvent.kind, LoyaltyEvent.payload)).all()
    assert [(kind, payload["cause"]) for kind, payload in kinds] == [(events.POINTS_EARNED, "signup")]


def test_guest_points_are_claimed_when_the_shopper_opens_an_account(session, started):
    # given a guest order with an email (pending points held by the guest)
    apply_records(session, started, order("2001", total="80.00", subtotal="80.00", customer=None,
                                          email="Guest@Example.com"))
    guest = session.execute(select(LoyaltyMember).where(LoyaltyMember.customer_external_id.is_(None))).scalar_one()
    assert ledger.balance(session, guest.id).pending == 80
    # when an account with that email is opened
    apply_records(session, started, customer("c7", email="guest@example.com"))
    # then the customer holds the order's points (still pending) besides the signup points
    member = _member(session, "c7")
    assert ledger.balance(session, member.id) == ledger.Balance(available=50, pending=80)
    assert ledger.balance(session, guest.id) == ledger.Balance(0, 0)


def test_a_signed_in_shopper_claims_guest_points_with_the_store_s_email(session, started):
    # given a guest order, and a customer with that email who has no account (no signup claim)
    apply_records(session, started, order("2002", total="40.00", subtotal="40.00", customer=None,
                                          email="walkin@example.com"),
                  customer("c8", email="walkin@example.com", state="disabled"))
    # when the signed-in shopper claims (the platform proved the email)
    moved = storefront.claim(session, started.id, "c8")
    session.commit()
    # then the points moved once; claiming again moves nothing
    assert moved == 40
    assert storefront.claim(session, started.id, "c8") == 0
    assert ledger.balance(session, _member(session, "c8").id).pending == 40


def test_a_birthday_earns_once_a_year_and_not_within_30_days_of_being_set(session, started):
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    today = NOW.date()
    # given a birthday set today for today
    actions.set_birthday(session, member, today.month, today.day)
    session.commit()
    # then today's run awards nothing (set less than 30 days ago)
    assert actions.birthdays(session, started.id, today) == 0
    # when it was set 31 days ago
    member.birthday_set_at = NOW - dt.timedelta(days=31)
    session.commit()
    assert actions.birthdays(session, started.id, today) == 1
    assert actions.birthdays(session, started.id, today) == 0  # the same day again: once
    session.commit()
    assert _causes(session, member.id) == [("birthday", 100)]
    # and next year it earns again
    next_year = today.replace(year=today.year + 1) if not (today.month == 2 and today.day == 29) \
        else dt.date(today.year + 1, 2, 28)
    assert actions.birthdays(session, started.id, next_year) == 1
    # an impossible date is refused
    with pytest.raises(ledger.LedgerError) as refused:
        actions.set_birthday(session, member, 2, 30)
    assert refused.value.status == 400


def test_a_29_february_birthday_is_kept_on_the_28th_in_other_years(session, started):
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    actions.set_birthday(session, member, 2, 29)
    member.birthday_set_at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    session.commit()
    assert actions.birthdays(session, started.id, dt.date(2027, 2, 27)) == 0
    assert actions.birthdays(session, started.id, dt.date(2027, 2, 28)) == 1
    assert actions.birthdays(session, started.id, dt.date(2028, 2, 28)) == 0  # a leap year: the 29th
    assert actions.birthdays(session, started.id, dt.date(2028, 2, 29)) == 1


def test_reviews_earn_once_per_product_bought_and_social_actions_once_each(session, started):
    # given a shopper who ordered products p1 and p2 (p3 exists but was not bought)
    apply_records(session, started, product("p1"), product("p2"), product("p3"),
                  order("1", total="10.00", subtotal="10.00", product="p1"),
                  order("2", total="10.00", subtotal="10.00", product="p2", placed=NOW + dt.timedelta(minutes=1)))
    member = _member(session, "c1")
    for fake in ("p3", "made-up"):
        with pytest.raises(ledger.LedgerError) as refused:
            actions.review(session, started.id, member, fake)
        assert refused.value.status == 409
    assert actions.review(session, started.id, member, "p1") is True
    assert actions.review(session, started.id, member, "p1") is False
    assert actions.review(session, started.id, member, "p2") is True
    assert actions.social(session, started.id, member, "instagram-follow") is True
    assert actions.social(session, started.id, member, "instagram-follow") is False
    with pytest.raises(ledger.LedgerError) as unknown:
        actions.social(session, started.id, member, "tiktok-dance")
    assert unknown.value.status == 404
    session.commit()
    # the first review also completed the "first review" challenge
    assert [c for c in _causes(session, member.id) if c[0] != "order"] == [
        ("challenge", 50), ("review", 25), ("review", 25), ("social", 25)]


def test_custom_actions_count_once_per_member_or_once_per_key(session, started):
    programs.update(session, started.id, {"custom_actions": [
        {"id": "survey", "name": "Answered the survey", "points": 30, "limit": "once"},
        {"id": "workshop", "name": "Came to a workshop", "points": 80, "limit": "per_key"}]}, actor="t")
    member = ledger.member_for(session, started.id, customer_external_id="c1", email="ana@example.com")
    assert actions.custom(session, started.id, member, "survey", key="a", actor="api") is True
    assert actions.custom(session, started.id, member, "survey", key="b", actor="api") is False
    assert actions.custom(session, started.id, member, "workshop", key="w1", actor="api") is True
    assert actions.custom(session, started.id, member, "workshop", key="w1", actor="api") is False
    assert actions.custom(session, started.id, member, "workshop", key="w2", actor="api") is True
    session.commit()
    assert [p for c, p in _causes(session, member.id) if c == "custom"] == [30, 80, 80]
    with pytest.raises(ledger.LedgerError):
        actions.custom(session, started.id, member, "workshop", key="", actor="api")
    with pytest.raises(programs.ProgramError) as invalid:
        programs.update(session, started.id, {"custom_actions": [
            {"id": "x", "name": "X", "points": 5, "limit": "daily"}]}, actor="t")
    assert invalid.value.field == "custom_actions[0].limit"
