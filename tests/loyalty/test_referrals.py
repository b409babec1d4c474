"""Referrals: codes and links, fraud checks with their reasons, the friend's first order, the advocate's points."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.loyalty import accrual, ledger, referrals, rewards
from app.loyalty import program as programs
from app.store.models import (
    Customer,
    LedgerEntry,
    LoyaltyEvent,
    LoyaltyMember,
    LoyaltyProgram,
    Order,
    Redemption,
    Referral,
    Refund,
    Shop,
)
from app.store.types import utcnow

NOW = utcnow().replace(microsecond=0)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


# --- factories -----------------------------------------------------------------------------


@pytest.fixture()
def started(session, shop):
    """A shop whose program (the defaults: 14 pending days, 500 points, 3 referrals per IP a day) began 90 days ago."""
    programs.ensure(session, shop.id)
    session.execute(LoyaltyProgram.__table__.update().values(created_at=NOW - 90 * DAY))
    session.commit()
    return shop


def _customer(session, shop, external_id, email, *, order_count=None):
    session.add(Customer(shop_id=shop.id, platform=shop.platform, external_id=external_id, email=email,
                         order_count=order_count))
    session.flush()


def _order(session, shop, external_id, *, email=None, customer=None, placed, total="50.00", status="paid",
           address=None, is_test=False) -> Order:
    order = Order(shop_id=shop.id, platform=shop.platform, external_id=external_id, number=f"#{external_id}",
                  customer_external_id=customer, email=email, currency="EUR", total_price=Decimal(total),
                  subtotal_price=Decimal(total), total_discounts=Decimal("0"), total_tax=Decimal("0"),
                  shipping_address_key=address, financial_status=status, is_test=is_test, tags=[],
                  discount_codes=[], source_created_at=placed, source_updated_at=placed, processed_at=placed)
    session.add(order)
    session.flush()
    return order


def _member(session, shop, customer, email) -> LoyaltyMember:
    member = LoyaltyMember(shop_id=shop.id, customer_external_id=customer, email=email)
    session.add(member)
    session.flush()
    referrals.code_for(session, member)
    return member


@pytest.fixture()
def advocate(session, started):
    """Ana, a customer with an account in the store and in the program, and her referral code."""
    _customer(session, started, "adv", "ana.lee@gmail.com")
    member = _member(session, started, "adv", "ana.lee@gmail.com")
    session.commit()
    return member


def _invite(session, shop, advocate, email, *, ip="203.0.113.5", now=None) -> Referral:
    referral = referrals.invite(session, shop.id, advocate.referral_code, email, ip=ip, now=now or NOW - 30 * DAY)
    session.commit()
    return referral


def _mirror_orders(session, shop):
    return list(session.execute(select(Order).where(Order.shop_id == shop.id).order_by(Order.id)).scalars())


def _referral_entries(session):
    return session.execute(select(LedgerEntry.member_id, LedgerEntry.cause_key, LedgerEntry.points)
                           .where(LedgerEntry.cause == "referral")).all()


# --- codes and links -----------------------------------------------------------------------


def test_a_members_code_is_made_once_from_the_unambiguous_alphabet(session, advocate):
    # given Ana's code, made on first use
    code = advocate.referral_code
    # when it is asked for again
    again = referrals.code_for(session, advocate)
    # then it is the same 8 characters, stored on the member
    assert again == code and len(code) == 8 and set(code) <= set(rewards._CODE_ALPHABET)
    session.expire_all()
    assert session.get(LoyaltyMember, advocate.id).referral_code == code


def test_a_code_another_member_holds_is_drawn_again(session, started, monkeypatch):
    # given a member holding AAAAAAAA, and a draw that gives AAAAAAAA first, then BBBBBBBB
    holder = LoyaltyMember(shop_id=started.id, customer_external_id="h", email="h@example.org",
                           referral_code="AAAAAAAA")
    newcomer = LoyaltyMember(shop_id=started.id, customer_external_id="n", email="n@example.org")
    session.add_all([holder, newcomer])
    session.commit()
    draws = itertools.chain(["A"] * 8, itertools.repeat("B"))
    monkeypatch.setattr(referrals.secrets, "choice", lambda alphabet: next(draws))
    # when the newcomer's code is made
    code = referrals.code_for(session, newcomer)
    session.commit()
    # then the taken code was refused and the next one kept; the holder keeps theirs
    assert code == "BBBBBBBB"
    session.expire_all()
    assert (session.get(LoyaltyMember, holder.id).referral_code,
            session.get(LoyaltyMember, newcomer.id).referral_code) == ("AAAAAAAA", "BBBBBBBB")


def test_the_link_points_at_the_storefront_with_the_code():
    # given a shop named by its host, and one named by its site address (kept with its scheme)
    by_host = Shop(platform="shopify", domain="ana-shop.example")
    by_address = Shop(platform="woocommerce", domain="http://127.0.0.1:8080/woo/ana")
    # then the links carry the code in cb_ref
    assert referrals.link(by_host, "ABCD2345") == "https://ana-shop.example/?cb_ref=ABCD2345"
    assert referrals.link(by_address, "ABCD2345") == "http://127.0.0.1:8080/woo/ana/?cb_ref=ABCD2345"


# --- the friend arrives --------------------------------------------------------------------


def test_a_clean_referral_is_invited_with_the_friends_welcome_code(session, started, advocate):
    # given Bea, a customer of the store with no orders yet
    _customer(session, started, "c-bea", "bea@example.org", order_count=0)
    session.commit()
    # when she arrives with Ana's code (the code typed in lower case) and gives her email
    referral = referrals.invite(session, started.id, advocate.referral_code.lower(), "  Bea@Example.ORG ",
                                ip="203.0.113.5", now=NOW - 30 * DAY)
    session.commit()
    # then the referral is invited, and Bea's member holds a welcome code with the program's terms
    assert (referral.status, referral.reasons, referral.friend_email, referral.ip, referral.advocate_id) == (
        "invited", [], "bea@example.org", "203.0.113.5", advocate.id)
    redemption = session.get(Redemption, referral.friend_redemption_id)
    friend = session.get(LoyaltyMember, referral.friend_member_id)
    assert (friend.customer_external_id, friend.email) == ("c-bea", "bea@example.org")
    assert (redemption.member_id, redemption.reward_id, redemption.points, redemption.status,
            redemption.idempotency_key) == (friend.id, "referral-friend", 0, "pending", f"referral:{referral.id}")
    assert {k: redemption.reward[k] for k in ("kind", "value", "minimum_subtotal", "code_days")} == {
        "kind": "fixed_amount", "value": "10", "minimum_subtotal": "30", "code_days": 30}
    # and no points moved for anyone
    assert session.execute(select(func.count(LedgerEntry.id))).scalar_one() == 0


def test_a_friend_without_a_customer_account_gets_a_guest_member(session, started, advocate):
    # when a friend unknown to the store is invited
    referral = _invite(session, started, advocate, "cleo@example.org")
    # then the code is for a guest member with that email
    friend = session.get(LoyaltyMember, referral.friend_member_id)
    assert (referral.status, friend.customer_external_id, friend.email) == ("invited", None, "cleo@example.org")


def test_inviting_the_same_friend_again_returns_the_first_referral(session, started, advocate):
    # given Bea invited once
    first = _invite(session, started, advocate, "bea@example.org")
    # when she (or anyone) arrives again with that email, written otherwise
    again = _invite(session, started, advocate, " BEA@example.org", ip="198.51.100.9")
    # then it is the same referral, and one welcome code
    assert again.id == first.id
    assert session.execute(select(func.count(Referral.id))).scalar_one() == 1
    assert session.execute(select(func.count(Redemption.id))).scalar_one() == 1


def test_an_unknown_code_is_404_and_a_bad_email_400_and_nothing_is_written(session, started, advocate):
    with pytest.raises(ledger.LedgerError) as unknown:
        referrals.invite(session, started.id, "ZZZZZZZZ", "bea@example.org", ip=None)
    assert (unknown.value.status, str(unknown.value)) == (404, "unknown referral code")
    for bad in ("not-an-email", "bea@", "bea@example", "a b@example.org", None, 42, "x" * 310 + "@example.org"):
        with pytest.raises(ledger.LedgerError) as invalid:
            referrals.invite(session, started.id, advocate.referral_code, bad, ip=None)
        assert invalid.value.status == 400, bad
    session.rollback()
    assert session.execute(select(func.count(Referral.id))).scalar_one() == 0


def test_a_code_of_another_shop_is_unknown(session, started, advocate):
    # given another shop
    other = Shop(platform="shopify", domain="other.example", status="active")
    session.add(other)
    session.commit()
    # then Ana's code does not work there
    with pytest.raises(ledger.LedgerError) as error:
        referrals.invite(session, other.id, advocate.referral_code, "bea@example.org", ip=None)
    assert error.value.status == 404


# --- fraud checks --------------------------------------------------------------------------


@pytest.mark.parametrize(("email", "reason"), [
    ("Ana.Lee@gmail.com", "self-referral: the friend's email is the advocate's own email"),
    ("analee+deals@googlemail.com",
     "self-referral: the friend's email reaches the advocate's own mailbox (dots or a +tag added)"),
    ("a.n.a.l.e.e@gmail.com",
     "self-referral: the friend's email reaches the advocate's own mailbox (dots or a +tag added)"),
    ("ana.lea@gmail.com", "near-duplicate email: the friend's email differs from the advocate's by one character"),
    ("naa.lee@googlemail.com",
     "near-duplicate email: the friend's email differs from the advocate's by one character"),
])
def test_self_referrals_and_near_duplicates_of_the_advocate_are_blocked(session, started, advocate, email, reason):
    # when a friend's email is Ana's own, or one edit away from it
    referral = _invite(session, started, advocate, email)
    # then the referral is blocked with that one reason, and no code is granted
    assert (referral.status, referral.reasons, referral.friend_redemption_id) == ("blocked", [reason], None)
    assert session.execute(select(func.count(Redemption.id))).scalar_one() == 0


def test_the_advocates_other_email_in_the_store_is_a_self_referral(session, started):
    # given an advocate whose member email is old and whose customer now has another
    _customer(session, started, "dan", "dan@new.example")
    dan = _member(session, started, "dan", "dan@old.example")
    session.commit()
    # when the friend's email is the customer's
    referral = _invite(session, started, dan, "dan@new.example")
    # then it is blocked as the advocate's own account
    assert (referral.status, referral.reasons) == (
        "blocked", ["self-referral: the friend's email belongs to the advocate's customer account"])


def test_the_same_domain_and_one_letter_apart_from_a_recent_referral_is_blocked(session, started, advocate):
    # given Ana referred Bob recently, and Carl 40 days ago
    bob = _invite(session, started, advocate, "bob.smith@example.org", ip=None, now=NOW - 10 * DAY)
    _invite(session, started, advocate, "carl@example.org", ip=None, now=NOW - 50 * DAY)
    # when she refers bob.smiht (a swap), bob.smith at another domain, and carl1 (one letter, but long ago)
    swapped = _invite(session, started, advocate, "bob.smiht@example.org", ip=None, now=NOW - 9 * DAY)
    elsewhere = _invite(session, started, advocate, "bob.smith@example.net", ip=None, now=NOW - 9 * DAY)
    late = _invite(session, started, advocate, "carl1@example.org", ip=None, now=NOW - 9 * DAY)
    # then only the swap is blocked, naming the referral it resembles
    assert (swapped.status, swapped.reasons) == ("blocked", [
        "near-duplicate email: the friend's email is within one character of another friend this advocate "
        f"referred in the last 30 days (referral {bob.id})"])
    assert (bob.status, elsewhere.status, late.status) == ("invited", "invited", "invited")


def test_more_referrals_than_the_limit_from_one_address_are_blocked_within_the_window(session, started, advocate):
    # given a second advocate, and three referrals from one address within a day
    eve = _member(session, started, "eve", "eve@example.net")
    session.commit()
    start = NOW - 5 * DAY
    first = [_invite(session, started, advocate, f"{name}@example.org", ip="203.0.113.5", now=start + i * HOUR)
             for i, name in enumerate(("amy", "ben", "cleo"))]
    # when a fourth comes from that address (through the other advocate), and one from another address
    fourth = _invite(session, started, eve, "dora@example.org", ip="203.0.113.5", now=start + 3 * HOUR)
    other = _invite(session, started, advocate, "finn@example.org", ip="198.51.100.7", now=start + 3 * HOUR)
    # and once the first ones are more than 24 hours old
    later = _invite(session, started, advocate, "gus@example.org", ip="203.0.113.5", now=start + 25 * HOUR)
    # then only the fourth within the window is blocked
    assert [r.status for r in first] == ["invited", "invited", "invited"]
    assert (fourth.status, fourth.reasons) == (
        "blocked", ["too many referrals from one IP address: more than 3 within 24 hours"])
    assert (other.status, later.status) == ("invited", "invited")


def test_a_friend_who_already_bought_is_not_a_new_customer(session, started, advocate):
    # given friends known to the store: one the store counts orders for, one with a guest order,
    # one whose account ordered under another email, one whose loyalty account earned on orders
    _customer(session, started, "c-ivy", "Ivy@example.org", order_count=2)
    _order(session, started, "900", email="Jon@Example.org", placed=NOW - 60 * DAY)
    _customer(session, started, "c-kim", "kim@example.org", order_count=0)
    _order(session, started, "901", customer="c-kim", email="kim.work@example.com", placed=NOW - 60 * DAY)
    leo = LoyaltyMember(shop_id=started.id, customer_external_id="c-leo", email="leo@example.org")
    session.add(leo)
    session.flush()
    program = programs.current(session, started.id)
    ledger.add_entry(session, shop_id=started.id, member_id=leo.id, points=40, cause="order", cause_key="order:x1",
                     program_version=program.version, available_at=NOW - 40 * DAY, order_external_id="x1")
    session.commit()
    # when each is referred
    found = {email: _invite(session, started, advocate, email, ip=None)
             for email in ("ivy@example.org", "jon@example.org", "kim@example.org", "leo@example.org")}
    # then each is blocked as not new, with what showed it
    assert {email: (r.status, r.reasons) for email, r in found.items()} == {
        "ivy@example.org": ("blocked", ["not a new customer: the store already counts orders for the friend's email"]),
        "jon@example.org": ("blocked", ["not a new customer: the friend placed an order before the referral"]),
        "kim@example.org": ("blocked", ["not a new customer: the friend placed an order before the referral"]),
        "leo@example.org": ("blocked", [
            "not a new customer: the friend's loyalty account already earned points on orders"]),
    }


def test_an_order_placed_after_the_referral_time_does_not_count_at_the_invite(session, started, advocate):
    # given a friend's order that the mirror holds but that was placed after the referral's moment
    _order(session, started, "902", email="mia@example.org", placed=NOW - 10 * DAY)
    session.commit()
    # when the referral is recorded as of 30 days ago
    referral = _invite(session, started, advocate, "mia@example.org")
    # then it is not blocked for it
    assert (referral.status, referral.reasons) == ("invited", [])


def test_gmail_addresses_are_one_mailbox_without_dots_and_tags():
    assert referrals.mailbox("A.n.A+x@GoogleMail.com") == "ana@gmail.com"
    assert referrals.mailbox("ana.lee+shop+2@gmail.com") == "analee@gmail.com"
    # other providers keep their dots; +tags go everywhere
    assert referrals.mailbox("ana.lee+shop@example.org") == "ana.lee@example.org"
    assert referrals.mailbox("ana.lee@example.org") != referrals.mailbox("analee@example.org")


def _distance(first: str, second: str) -> int:
    """Optimal string alignment distance, the textbook table (the oracle for within_one_edit)."""
    rows = [[i + j if i * j == 0 else 0 for j in range(len(second) + 1)] for i in range(len(first) + 1)]
    for i in range(1, len(first) + 1):
        for j in range(1, len(second) + 1):
            cost = first[i - 1] != second[j - 1]
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and first[i - 1] == second[j - 2] and first[i - 2] == second[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


@hypothesis_settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abc.", max_size=7), st.text(alphabet="abc.", max_size=7))
def test_one_edit_apart_agrees_with_the_damerau_levenshtein_distance(first, second):
    assert referrals.within_one_edit(first, second) == (_distance(first, second) <= 1)


# --- the friend's first order --------------------------------------------------------------


def test_the_friends_first_paid_order_qualifies_the_referral_once(session, started, advocate):
    # given Bea referred 30 days ago; her account is known to the store
    _customer(session, started, "c-bea", "bea@example.org", order_count=0)
    referral = _invite(session, started, advocate, "bea@example.org")
    # and her orders since: unpaid, a test, then paid (under her account, no email), then another
    _order(session, started, "2000", email="bea@example.org", placed=NOW - 25 * DAY, status="pending")
    _order(session, started, "2009", email="bea@example.org", placed=NOW - 24 * DAY, is_test=True)
    _order(session, started, "2001", customer="c-bea", placed=NOW - 20 * DAY, address="addr-bea")
    _order(session, started, "2002", email="bea@example.org", placed=NOW - 10 * DAY)
    _order(session, started, "3000", email="someone@example.org", placed=NOW - 20 * DAY)
    session.commit()
    batch = _mirror_orders(session, started)
    # when the accrual hands the batch over
    changed = referrals.on_orders(session, started.id, batch)
    session.commit()
    # then the first paid order qualifies it, spendable-after the pending period
    assert changed == 1
    assert (referral.status, referral.order_external_id, referral.qualifies_at, referral.reasons) == (
        "qualified", "2001", NOW - 20 * DAY + 14 * DAY, [])
    # and the same batch again, or a later order alone, changes nothing
    assert referrals.on_orders(session, started.id, batch) == 0
    assert referrals.on_orders(session, started.id, [o for o in batch if o.external_id == "2002"]) == 0
    session.commit()
    session.expire_all()
    again = session.get(Referral, referral.id)
    assert (again.status, again.order_external_id, again.qualifies_at) == ("qualified", "2001", NOW - 6 * DAY)


def test_the_friends_account_is_followed_after_its_email_changed(session, started, advocate):
    # given Bea invited with her account's email, which she then changed in the store
    _customer(session, started, "c-bea", "bea@example.org", order_count=0)
    referral = _invite(session, started, advocate, "bea@example.org")
    session.execute(Customer.__table__.update().where(Customer.external_id == "c-bea")
                    .values(email="bea.new@example.org"))
    # when her account orders with the new email
    _order(session, started, "2001", customer="c-bea", email="bea.new@example.org", placed=NOW - 20 * DAY)
    session.commit()
    referrals.on_orders(session, started.id, _mirror_orders(session, started))
    session.commit()
    # then it is still her first order
    assert (referral.status, referral.order_external_id) == ("qualified", "2001")


def test_orders_that_earn_nothing_do_not_qualify(session, started, advocate):
    # given a friend's orders that are unpaid, a test, or cancelled
    referral = _invite(session, started, advocate, "bea@example.org")
    _order(session, started, "2000", email="bea@example.org", placed=NOW - 25 * DAY, status="pending")
    _order(session, started, "2001", email="bea@example.org", placed=NOW - 24 * DAY, is_test=True)
    cancelled = _order(session, started, "2002", email="bea@example.org", placed=NOW - 23 * DAY)
    cancelled.cancelled_at = NOW - 22 * DAY
    session.commit()
    # when the accrual hands them over
    assert referrals.on_orders(session, started.id, _mirror_orders(session, started)) == 0
    # then the referral still waits
    assert (referral.status, referral.order_external_id, referral.qualifies_at) == ("invited", None, None)


def test_the_friends_order_to_the_advocates_shipping_address_is_blocked(session, started, advocate):
    # given Ana ordered to an address, and two friends referred
    _order(session, started, "1001", customer="adv", email="ana.lee@gmail.com", placed=NOW - 60 * DAY,
           address="addr-ana")
    bea = _invite(session, started, advocate, "bea@example.org")
    cleo = _invite(session, started, advocate, "cleo@example.org")
    # when Bea's first order ships to Ana's address, and Cleo's elsewhere
    _order(session, started, "2001", email="bea@example.org", placed=NOW - 20 * DAY, address="addr-ana")
    _order(session, started, "2002", email="cleo@example.org", placed=NOW - 20 * DAY, address="addr-cleo")
    session.commit()
    assert referrals.on_orders(session, started.id, _mirror_orders(session, started)) == 2
    session.commit()
    # then Bea's referral is blocked with the reason (the order recorded for the merchant), Cleo's qualifies
    assert (bea.status, bea.reasons, bea.order_external_id) == (
        "blocked", ["same shipping address as the advocate (the friend's order #2001)"], "2001")
    assert (cleo.status, cleo.reasons, cleo.order_external_id) == ("qualified", [], "2002")
    # and seeing the orders again adds nothing
    assert referrals.on_orders(session, started.id, _mirror_orders(session, started)) == 0
    assert bea.reasons == ["same shipping address as the advocate (the friend's order #2001)"]


def test_an_order_by_the_advocates_own_account_is_blocked(session, started, advocate):
    # given Bea referred
    referral = _invite(session, started, advocate, "bea@example.org")
    # when the first order with her email is placed from Ana's account
    _order(session, started, "2001", customer="adv", email="bea@example.org", placed=NOW - 20 * DAY)
    session.commit()
    referrals.on_orders(session, started.id, _mirror_orders(session, started))
    session.commit()
    # then it is blocked
    assert (referral.status, referral.reasons) == (
        "blocked", ["self-referral: the friend's order #2001 was placed by the advocate's customer account"])


def test_an_order_from_before_the_referral_blocks_it_and_the_merchant_can_let_it_go_on(session, started, advocate):
    # given Bea referred 30 days ago; an order of hers from 40 days ago reaches the mirror late
    referral = _invite(session, started, advocate, "bea@example.org")
    _order(session, started, "1999", email="bea@example.org", placed=NOW - 40 * DAY)
    session.commit()
    # when the accrual hands it over (twice)
    referrals.on_orders(session, started.id, _mirror_orders(session, started))
    referrals.on_orders(session, started.id, _mirror_orders(session, started))
    session.commit()
    # then the referral is blocked once for it, with no qualifying order
    reason = "not a new customer: the friend's order #1999 was placed before the referral"
    assert (referral.status, referral.reasons, referral.order_external_id) == ("blocked", [reason], None)
    # when she orders again after the referral
    _order(session, started, "2001", email="bea@example.org", placed=NOW - 20 * DAY)
    session.commit()
    referrals.on_orders(session, started.id, _mirror_orders(session, started)[-1:])
    session.commit()
    # then the order is recorded on the blocked referral, which stays blocked
    assert (referral.status, referral.order_external_id, referral.qualifies_at) == ("blocked", "2001", NOW - 6 * DAY)
    # and an approval sends it on as qualified, keeping the reasons and adding the decision
    decided = referrals.decide(session, started.id, referral.id, approve=True, actor="admin:shop",
                               reason="a returning friend, fine")
    session.commit()
    assert (decided.status, decided.reasons, decided.decided_by) == (
        "qualified", [reason, "approved by admin:shop: a returning friend, fine"], "admin:shop")
    # (the welcome code granted at the invitation is the only one)
    assert decided.decided_at is not None and decided.friend_redemption_id is not None
    assert session.execute(select(func.count(Redemption.id))).scalar_one() == 1


# --- the advocate's points -----------------------------------------------------------------


def _qualified(session, shop, advocate, email="bea@example.org", order_id="2001", placed=None):
    """A referral whose friend's paid order the accrual has priced and handed over."""
    referral = _invite(session, shop, advocate, email)
    _order(session, shop, order_id, email=email, placed=placed or NOW - 20 * DAY, total="50.00")
    session.commit()
    accrual.accrue(session, shop.id)
    referrals.on_orders(session, shop.id, _mirror_orders(session, shop))
    session.commit()
    assert referral.status == "qualified"
    return referral


def test_the_advocate_earns_once_after_the_pending_period(session, started, advocate):
    # given Bea's first order 20 days ago: its points are spendable since 6 days ago
    referral = _qualified(session, started, advocate)
    # when referrals are settled as of 7 days ago, the period has not passed
    assert referrals.complete_due(session, started.id, now=NOW - 7 * DAY) == 0
    assert referral.status == "qualified" and _referral_entries(session) == []
    # when they are settled now, and again (the job retried, the accrual replayed)
    assert referrals.complete_due(session, started.id) == 1
    session.commit()
    assert referrals.complete_due(session, started.id) == 0
    assert referrals.on_orders(session, started.id, _mirror_orders(session, started)) == 0
    session.commit()
    # then Ana earned 500 points once, spendable now, and one event tells of it
    session.expire_all()
    referral = session.get(Referral, referral.id)
    assert referral.status == "completed" and referral.completed_at is not None
    assert _referral_entries(session) == [(advocate.id, f"referral:{referral.id}", 500)]
    # 500 for the referral, and 100 for entering Silver, which those 500 points earned reach
    assert ledger.balance(session, advocate.id).available == 600
    (event,) = session.execute(select(LoyaltyEvent).where(LoyaltyEvent.kind == "referral_completed")).scalars()
    assert (event.member_id, event.key, event.payload) == (
        advocate.id, f"referral_completed:{referral.id}",
        {"referral_id": referral.id, "points": 500})


def test_a_cancelled_first_order_voids_the_referral(session, started, advocate):
    # given a qualified referral whose order is then cancelled (the accrual reverses its points)
    referral = _qualified(session, started, advocate)
    order = session.execute(select(Order).where(Order.external_id == "2001")).scalar_one()
    order.cancelled_at = NOW - 2 * DAY
    order.updated_at = utcnow()
    session.commit()
    accrual.accrue(session, started.id)
    # when referrals are settled (twice)
    assert referrals.complete_due(session, started.id) == 0
    assert referrals.complete_due(session, started.id) == 0
    session.commit()
    # then it is void with the reason, and the advocate earned nothing
    assert (referral.status, referral.reasons, referral.completed_at) == (
        "void", ["void: the friend's order was cancelled"], None)
    assert _referral_entries(session) == []
    assert session.execute(select(func.count(LoyaltyEvent.id)).where(
        LoyaltyEvent.kind == "referral_completed")).scalar_one() == 0


@pytest.mark.parametrize(("refunded", "status", "reasons", "entries"), [
    ("50.00", "void", ["void: the friend's order was refunded in full"], 0),
    ("20.00", "completed", [], 1),
])
def test_a_first_order_refunded_in_full_voids_the_referral_a_partial_refund_does_not(
        session, started, advocate, refunded, status, reasons, entries):
    # given a qualified referral whose order of 50.00 is refunded (the accrual takes its points back)
    referral = _qualified(session, started, advocate)
    session.add(Refund(shop_id=started.id, platform=started.platform, external_id="r1", order_external_id="2001",
                       amount=Decimal(refunded), currency="EUR", source_created_at=NOW - 3 * DAY,
                       created_at=utcnow()))
    session.commit()
    accrual.accrue(session, started.id)
    # when referrals are settled
    referrals.complete_due(session, started.id)
    session.commit()
    # then a full refund voids it, a partial one does not
    assert (referral.status, referral.reasons) == (status, reasons)
    assert len(_referral_entries(session)) == entries


def test_a_first_order_that_earned_nothing_is_judged_by_its_refunds(session, started, advocate):
    # given a qualified referral whose order has no points in the ledger (the accrual has not priced it)
    referral = _invite(session, started, advocate, "bea@example.org")
    _order(session, started, "2001", email="bea@example.org", placed=NOW - 20 * DAY)
    session.add(Refund(shop_id=started.id, platform=started.platform, external_id="r1", order_external_id="2001",
                       amount=Decimal("50.00"), currency="EUR", source_created_at=NOW - 3 * DAY,
                       created_at=utcnow()))
    session.commit()
    referrals.on_orders(session, started.id, _mirror_orders(session, started))
    # when referrals are settled
    referrals.complete_due(session, started.id)
    session.commit()
    # then the full refund in the mirror voids it
    assert (referral.status, referral.reasons) == ("void", ["void: the friend's order was refunded in full"])


# --- the merchant's decisions --------------------------------------------------------------


def test_approving_a_blocked_referral_grants_the_friends_code_once(session, started, advocate):
    # given a referral blocked as a near-duplicate
    referral = _invite(session, started, advocate, "ana.lea@gmail.com")
    assert referral.status == "blocked"
    # when the merchant approves it
    referrals.decide(session, started.id, referral.id, approve=True, actor="admin:shop", reason=None)
    session.commit()
    # then it is invited with a welcome code; the reasons stay and the decision is added
    assert (referral.status, referral.reasons, referral.decided_by) == ("invited", [
        "near-duplicate email: the friend's email differs from the advocate's by one character",
        "approved by admin:shop"], "admin:shop")
    assert session.get(Redemption, referral.friend_redemption_id).reward_id == "referral-friend"
    # and a second decision is refused, changing nothing
    with pytest.raises(ledger.LedgerError) as error:
        referrals.decide(session, started.id, referral.id, approve=False, actor="admin:shop", reason="no")
    assert (error.value.status, str(error.value)) == (
        409, "only a blocked referral can be approved or rejected; this one is invited")
    session.rollback()
    assert session.get(Referral, referral.id).status == "invited"
    assert session.execute(select(func.count(Redemption.id))).scalar_one() == 1


def test_rejecting_a_blocked_referral_grants_nothing(session, started, advocate):
    referral = _invite(session, started, advocate, "ana.lee+1@gmail.com")
    referrals.decide(session, started.id, referral.id, approve=False, actor="admin:shop", reason=" her own ")
    session.commit()
    assert (referral.status, referral.reasons[-1], referral.friend_redemption_id) == (
        "rejected", "rejected by admin:shop: her own", None)
    assert session.execute(select(func.count(Redemption.id))).scalar_one() == 0
    # a rejected referral's friend ordering changes nothing
    _order(session, started, "2001", email="ana.lee+1@gmail.com", placed=NOW - 20 * DAY)
    session.commit()
    assert referrals.on_orders(session, started.id, _mirror_orders(session, started)) == 0
    assert referral.status == "rejected"


def test_the_listing_filters_by_status_and_pages_newest_first(session, started, advocate):
    made = [_invite(session, started, advocate, email)
            for email in ("amy@example.org", "ana.lee@gmail.com", "ben@example.org", "ana.lee+2@gmail.com")]
    assert [r.id for r in referrals.listing(session, started.id)] == [r.id for r in reversed(made)]
    assert [r.id for r in referrals.listing(session, started.id, "blocked")] == [made[3].id, made[1].id]
    assert [r.id for r in referrals.listing(session, started.id, limit=2, before_id=made[2].id)] == [
        made[1].id, made[0].id]
    for bad in ({"status": "nope"}, {"limit": 0}, {"limit": 101}):
        with pytest.raises(ledger.LedgerError) as error:
            referrals.listing(session, started.id, **bad)
        assert error.value.status == 400
