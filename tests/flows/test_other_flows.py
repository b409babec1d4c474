"""The other built-ins on the same engine: post-purchase, win-back, birthday and the loyalty notices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.flows import definitions, steps, triggers
from app.loyalty import events
from app.store.models import Flow, LedgerEntry, LoyaltyMember, Message
from app.store.types import utcnow
from connectors import base
from tests.flows import support
from tests.flows.support import HOUR

DAY = 24 * HOUR


def _member(session, shop, customer="cust-1", email="ana@example.com"):
    member = LoyaltyMember(shop_id=shop.id, customer_external_id=customer, email=email)
    session.add(member)
    session.commit()
    return member


def test_an_order_gets_a_thank_you_with_its_points_then_a_review_request_two_weeks_after_fulfilment(
        session, flow_shop, subscriber, t0, settings, fake_store):
    support.write(session, flow_shop, support.order(at=t0), base.Product(
        external_id="p0", title="Mug", updated_at=t0, image_url="https://cdn.example.com/mug.png",
        url="https://nord.example.com/products/mug"))
    member = _member(session, flow_shop)
    session.add(LedgerEntry(shop_id=flow_shop.id, member_id=member.id, points=40, cause="order",
                            cause_key="order:1001", order_external_id="1001", program_version=1, available_at=t0))
    session.commit()
    result = support.evaluate(session, flow_shop, t0 + dt.timedelta(minutes=1))
    run = support.only(session, flow_shop, definitions.POST_PURCHASE)
    assert [(s.step, s.at) for s in result.started] == [(0, t0 + HOUR)]
    assert (run.subject_kind, run.subject_id, run.reference_at) == ("order", "1001", t0)
    services = fake_store.services(settings)
    thanks = steps.execute(session, run.id, 0, services, now=t0 + HOUR)
    assert (thanks.status, thanks.scheduled.at) == ("sent", t0 + 14 * DAY)
    message = session.get(Message, thanks.message_id)
    assert (message.template, message.context["order_number"], message.context["points_earned"]) == (
        "thank_you", "#1001", 40)
    # when the review request's first moment comes and the order has not been fulfilled, it waits
    waiting = steps.execute(session, run.id, 1, services, now=t0 + 14 * DAY)
    assert (waiting.status, waiting.detail, waiting.scheduled.at) == (
        "postponed", "waits for the order's fulfilment", t0 + 14 * DAY + steps.FULFILMENT_RECHECK)
    # the order is fulfilled on day 3 (the store says so later): the request goes 14 days after that
    support.write(session, flow_shop, support.order(at=t0, fulfilled=t0 + 3 * DAY, updated=t0 + 15 * DAY))
    later = steps.execute(session, run.id, 1, services, now=t0 + 14 * DAY + steps.FULFILMENT_RECHECK)
    assert (later.status, later.scheduled.at) == ("postponed", t0 + 17 * DAY)
    review = steps.execute(session, run.id, 1, services, now=t0 + 17 * DAY)
    assert review.status == "sent" and review.scheduled is None  # the cross-sell step is off by default
    message = session.get(Message, review.message_id)
    # with the product's picture and page from the mirror
    assert (message.template, message.context["review_url"], message.context["products"]) == (
        "review_request", "https://" + flow_shop.domain,
        [{"name": "Mug", "image_url": "https://cdn.example.com/mug.png",
          "url": "https://nord.example.com/products/mug"}])
    assert support.only(session, flow_shop, definitions.POST_PURCHASE).state == "completed"
    assert fake_store.lookups == []  # only cart reminders ask the store


def test_a_review_request_for_an_order_never_fulfilled_is_given_up_after_sixty_days(
        session, flow_shop, subscriber, t0, settings, fake_store):
    support.write(session, flow_shop, support.order(at=t0))
    support.evaluate(session, flow_shop, t0 + dt.timedelta(minutes=1))
    run = support.only(session, flow_shop, definitions.POST_PURCHASE)
    services = fake_store.services(settings)
    assert steps.execute(session, run.id, 0, services, now=t0 + HOUR).status == "sent"
    gave_up = steps.execute(session, run.id, 1, services, now=t0 + steps.FULFILMENT_LIMIT)
    assert (gave_up.status, gave_up.detail) == ("completed", "the order was not fulfilled within 60 days")
    assert [m.template for m in support.messages_of(session, flow_shop)] == ["thank_you"]


def test_the_cross_sell_recommends_what_the_customer_did_not_buy(session, flow_shop, subscriber, t0, settings,
                                                                 fake_store):
    support.write(session, flow_shop, support.order(at=t0, fulfilled=t0), *[
        base.Product(external_id=f"p{n}", title=f"Product {n}", updated_at=t0, status="active",
                     image_url=f"https://cdn.example.com/p{n}.png", url=f"https://nord.example.com/products/p{n}",
                     variants=(base.Variant(f"v{n}", "Default", Decimal("9.50")),)) for n in range(3)])
    support.set_flow(session, flow_shop, definitions.POST_PURCHASE, steps={"2": {"enabled": True}})
    support.evaluate(session, flow_shop, t0 + dt.timedelta(minutes=1))
    run = support.only(session, flow_shop, definitions.POST_PURCHASE)
    services = fake_store.services(settings)
    for position, moment in ((0, t0 + HOUR), (1, t0 + 14 * DAY), (2, t0 + 30 * DAY)):
        assert steps.execute(session, run.id, position, services, now=moment).status == "sent", position
    cross_sell = support.messages_of(session, flow_shop)[-1]
    assert cross_sell.template == "cross_sell"
    assert cross_sell.context["bought"] == ["Mug"]
    picks = cross_sell.context["recommendations"]
    assert "p0" not in {p["url"].rsplit("/", 1)[1] for p in picks}  # the mug (p0) was bought
    assert {p["name"] for p in picks} == {"Product 1", "Product 2"}
    assert all(p["image_url"].startswith("https://cdn.example.com/") and p["price"] == "9.50" for p in picks)


def test_a_cancelled_order_ends_its_post_purchase_run(session, flow_shop, subscriber, t0):
    support.write(session, flow_shop, support.order(at=t0))
    support.evaluate(session, flow_shop, t0)
    support.write(session, flow_shop, support.order(at=t0 + HOUR, cancelled=t0 + HOUR))
    support.evaluate(session, flow_shop, t0 + HOUR)
    run = support.only(session, flow_shop, definitions.POST_PURCHASE)
    assert (run.state, run.exit_reason) == ("exited", "the order was cancelled")


def test_a_customer_who_lapses_gets_we_miss_you_with_a_code_and_an_order_ends_it(
        session, flow_shop, subscriber, t0, settings, fake_store):
    support.set_flow(session, flow_shop, definitions.WIN_BACK, trigger={"lapsed_days": 30})
    # the last order, 30 days and an hour ago (placed after the flow was on: moved back with the install)
    flow_shop.installed_at = t0 - 60 * DAY
    session.execute(Flow.__table__.update().values(enabled_since=t0 - 60 * DAY))
    session.commit()
    last = t0 - 30 * DAY - HOUR
    support.write(session, flow_shop, support.order(at=last))
    support.evaluate(session, flow_shop, t0)  # the order is old news: its post-purchase steps are all too late
    started = triggers.scan_lapsed(session, flow_shop.id, t0)
    run = support.only(session, flow_shop, definitions.WIN_BACK)
    assert [(s.run_id, s.step, s.at) for s in started] == [(run.id, 0, last + 30 * DAY)]
    assert (run.subject_kind, run.subject_id, run.trigger_key) == ("customer", "cust-1",
                                                                   f"lapse:cust-1:{last.isoformat()}")
    # scanning again finds no new lapse
    assert triggers.scan_lapsed(session, flow_shop.id, t0 + HOUR) == []
    sent = steps.execute(session, run.id, 0, fake_store.services(settings), now=t0)
    assert sent.status == "sent"
    (code,) = fake_store.codes
    assert (code.kind, code.value, code.expires_at) == ("percentage", 15, t0 + 14 * DAY)
    message = session.get(Message, sent.message_id)
    assert (message.template, message.context["coupon"]["code"], message.context["coupon"]["description"]) == (
        "win_back", code.code, "15% off")


def test_a_win_back_run_ends_when_the_customer_orders(session, flow_shop, subscriber, t0):
    support.set_flow(session, flow_shop, definitions.WIN_BACK, trigger={"lapsed_days": 30}, steps=[
        {"id": "a", "delay_hours": 0, "template": "win_back", "incentive": {
            "kind": "fixed_amount", "value": "5", "expires_hours": 72}},
        {"id": "b", "delay_hours": 72, "template": "win_back", "incentive": {
            "kind": "fixed_amount", "value": "10", "expires_hours": 72}}])
    session.execute(Flow.__table__.update().values(enabled_since=t0 - 60 * DAY))
    session.commit()
    support.write(session, flow_shop, support.order("900", at=t0 - 31 * DAY))
    triggers.scan_lapsed(session, flow_shop.id, t0)
    support.write(session, flow_shop, support.order("901", at=t0 + DAY))
    support.evaluate(session, flow_shop, t0 + DAY)
    run = support.only(session, flow_shop, definitions.WIN_BACK)
    assert (run.state, run.exit_reason) == ("exited", "purchased: order #901")


def _event(session, shop, member, kind, key, **payload):
    events.emit(session, [events.event(shop.id, kind, key, member.id, **payload)])
    session.commit()


def test_loyalty_events_start_their_notices_and_a_birthday_its_own_flow(session, flow_shop, subscriber, t0, settings,
                                                                      fake_store):
    member = _member(session, flow_shop)
    _event(session, flow_shop, member, events.POINTS_EARNED, "order:1", points=40, cause="order", order="#1001")
    _event(session, flow_shop, member, events.POINTS_EARNED, "birthday:1:2026", points=100, cause="birthday")
    _event(session, flow_shop, member, events.REWARD_AVAILABLE, "r", reward="5-off", name="5 off your order",
           points=500, spendable=520)
    _lot(session, flow_shop, member, 300, expires=dt.datetime(2027, 1, 31, 12, tzinfo=dt.timezone.utc))
    _event(session, flow_shop, member, events.POINTS_EXPIRING, "e", points=300, expires_on="2027-01-31",
           days_before=30)
    _event(session, flow_shop, member, events.TIER_CHANGED, "up", previous="Bronze", tier="Gold",
           direction="upgrade")
    _event(session, flow_shop, member, events.TIER_CHANGED, "down", previous="Gold", tier="Bronze",
           direction="downgrade")
    _event(session, flow_shop, member, events.BADGE_EARNED, "b", badge="Regular")
    now = utcnow()  # the events were written just now
    result = support.evaluate(session, flow_shop, now)
    assert len(result.started) == 5
    services = fake_store.services(settings)
    for run in support.runs_of(session, flow_shop):
        assert steps.execute(session, run.id, 0, services, now=now).status == "sent"
    sent = {m.template: (m.category, m.context) for m in support.messages_of(session, flow_shop)}
    assert sent["points_earned"] == ("transactional", {"first_name": "Ana", "rewards_url": "https://" + flow_shop.domain,
                                                       "points": 40, "balance": 300, "reason": "for your order #1001"})
    assert sent["birthday"][0] == "marketing" and sent["birthday"][1]["points"] == 100
    assert (sent["reward_available"][1]["reward_name"], sent["reward_available"][1]["points"]) == (
        "5 off your order", 500)
    assert (sent["points_expiring"][1]["points"], sent["points_expiring"][1]["expires_on"]) == (300, "2027-01-31")
    assert sent["tier_upgrade"][1]["tier"] == "Gold"
    assert sorted(sent) == ["birthday", "points_earned", "points_expiring", "reward_available", "tier_upgrade"]
    # evaluated again: nothing new
    assert support.evaluate(session, flow_shop, now + HOUR).started == []


def _lot(session, shop, member, points, *, expires, key="order:old"):
    session.add(LedgerEntry(shop_id=shop.id, member_id=member.id, points=points, cause="order", cause_key=key,
                            program_version=1, available_at=utcnow() - 30 * DAY, expires_at=expires))
    session.commit()


def test_a_points_expiring_notice_shows_what_is_left_and_none_goes_once_they_are_spent(
        session, flow_shop, subscriber, settings, fake_store):
    member = _member(session, flow_shop)
    day = dt.datetime(2027, 1, 31, 12, tzinfo=dt.timezone.utc)
    _lot(session, flow_shop, member, 300, expires=day)
    _event(session, flow_shop, member, events.POINTS_EXPIRING, "e30", points=300, expires_on="2027-01-31",
           days_before=30)
    # the member spends 120 before the notice goes: it shows the 180 still to expire
    session.add(LedgerEntry(shop_id=flow_shop.id, member_id=member.id, points=-120, cause="redemption",
                            cause_key="redeem:1", program_version=1, available_at=utcnow()))
    session.commit()
    now = utcnow()
    support.evaluate(session, flow_shop, now)
    (run,) = support.runs_of(session, flow_shop, definitions.POINTS_EXPIRING)
    assert steps.execute(session, run.id, 0, fake_store.services(settings), now=now).status == "sent"
    (message,) = support.messages_of(session, flow_shop)
    assert message.context["points"] == 180
    # the 7-day reminder comes after the rest was spent: that run ends without a message
    session.add(LedgerEntry(shop_id=flow_shop.id, member_id=member.id, points=-180, cause="redemption",
                            cause_key="redeem:2", program_version=1, available_at=utcnow()))
    session.commit()
    _event(session, flow_shop, member, events.POINTS_EXPIRING, "e7", points=300, expires_on="2027-01-31",
           days_before=7)
    later = utcnow()
    support.evaluate(session, flow_shop, later)
    second = next(r for r in support.runs_of(session, flow_shop, definitions.POINTS_EXPIRING) if r.id != run.id)
    ended = steps.execute(session, second.id, 0, fake_store.services(settings), now=later)
    assert (ended.status, ended.detail) == ("exited", "the points were spent or expired since the reminder was due")
    assert len(support.messages_of(session, flow_shop)) == 1


def test_a_transactional_notice_ignores_marketing_consent_but_not_a_suppression(session, flow_shop, t0, settings,
                                                                                fake_store):
    from app.messaging import consent

    support.write(session, flow_shop, support.customer(state="not_subscribed", at=t0 - HOUR))
    member = _member(session, flow_shop)
    _event(session, flow_shop, member, events.POINTS_EARNED, "order:1", points=40, cause="order")
    _event(session, flow_shop, member, events.POINTS_EARNED, "order:2", points=10, cause="order")
    now = utcnow()
    support.evaluate(session, flow_shop, now)
    first, second = support.runs_of(session, flow_shop)
    assert steps.execute(session, first.id, 0, fake_store.services(settings), now=now).status == "sent"
    consent.suppress(session, flow_shop.id, "ana@example.com", "complaint")
    session.commit()
    outcome = steps.execute(session, second.id, 0, fake_store.services(settings), now=now)
    assert (outcome.status, outcome.detail) == ("exited", "address suppressed: complaint")


def _repeat_buyer(session, shop, t0, orders=(200, 120, 100)):
    """cust-1's orders, days before t0: a repeat buyer who has gone quiet."""
    for number, days in enumerate(orders):
        support.write(session, shop, support.order(f"w{number}", at=t0 - days * DAY))


def test_win_back_on_churn_probability_starts_once_per_quiet_spell(session, flow_shop, subscriber, t0):
    from app.segments import membership
    from app.store.models import CustomerMetrics

    session.execute(Flow.__table__.update().values(enabled_since=t0 - 300 * DAY))
    session.commit()
    _repeat_buyer(session, flow_shop, t0)
    membership.recompute_shop(session, flow_shop, t0)
    session.commit()
    p_alive = session.query(CustomerMetrics.p_alive).filter_by(shop_id=flow_shop.id).scalar()
    churn = round((1 - p_alive) * 100)
    assert 5 < churn < 95  # a repeat buyer silent for 100 days: somewhere in between
    # off by default, and lapsed_days (365 here) is far away: nothing starts
    support.set_flow(session, flow_shop, definitions.WIN_BACK, trigger={"lapsed_days": 365})
    assert triggers.scan_lapsed(session, flow_shop.id, t0) == []
    # a threshold above the customer's churn probability: nothing; at or below: one run
    support.set_flow(session, flow_shop, definitions.WIN_BACK, trigger={"lapsed_days": 365,
                                                                        "churn_risk_percent": min(churn + 3, 99)})
    session.execute(Flow.__table__.update().values(enabled_since=t0 - 300 * DAY))
    session.commit()
    assert triggers.scan_lapsed(session, flow_shop.id, t0) == []
    support.set_flow(session, flow_shop, definitions.WIN_BACK, trigger={"lapsed_days": 365,
                                                                        "churn_risk_percent": max(churn - 3, 1)})
    session.execute(Flow.__table__.update().values(enabled_since=t0 - 300 * DAY))
    session.commit()
    membership.recompute_shop(session, flow_shop, t0 + HOUR)  # the next night's figures
    session.commit()
    started = triggers.scan_lapsed(session, flow_shop.id, t0 + 2 * HOUR)
    run = support.only(session, flow_shop, definitions.WIN_BACK)
    assert len(started) == 1 and run.trigger_key.startswith("churn:cust-1:")
    # the next day's figures say the same: the customer already has a win-back
    membership.recompute_shop(session, flow_shop, t0 + DAY)
    session.commit()
    assert triggers.scan_lapsed(session, flow_shop.id, t0 + DAY + HOUR) == []


def test_win_back_when_a_customer_enters_a_segment(session, flow_shop, subscriber, t0):
    from app.segments import membership

    session.execute(Flow.__table__.update().values(enabled_since=t0 - 300 * DAY))
    session.commit()
    support.write(session, flow_shop, support.order("s0", at=t0 - 100 * DAY))
    membership.recompute_shop(session, flow_shop, t0 - 20 * DAY)  # not at risk yet (80 days)
    session.commit()
    support.set_flow(session, flow_shop, definitions.WIN_BACK, trigger={"lapsed_days": 365, "segment": "at_risk"})
    session.execute(Flow.__table__.update().values(enabled_since=t0 - 300 * DAY))
    session.commit()
    assert triggers.scan_lapsed(session, flow_shop.id, t0 - 20 * DAY) == []
    # 183 days after the order the customer enters at_risk (no order in 182 days): an event, a run
    membership.recompute_shop(session, flow_shop, t0 + 83 * DAY)
    session.commit()
    started = triggers.scan_lapsed(session, flow_shop.id, t0 + 83 * DAY + HOUR)
    run = support.only(session, flow_shop, definitions.WIN_BACK)
    assert len(started) == 1 and run.trigger_key.startswith("segment:at_risk:")
    # the event is read once
    assert triggers.scan_lapsed(session, flow_shop.id, t0 + 83 * DAY + 2 * HOUR) == []


def test_the_win_back_triggers_refuse_bad_settings(session, flow_shop):
    import pytest

    for trigger, field in (({"lapsed_days": 90, "churn_risk_percent": 100}, "trigger.churn_risk_percent"),
                           ({"lapsed_days": 90, "churn_risk_percent": 0.5}, "trigger.churn_risk_percent"),
                           ({"lapsed_days": 90, "segment": 7}, "trigger.segment")):
        with pytest.raises(definitions.FlowError) as error:
            definitions.update(session, flow_shop.id, definitions.WIN_BACK, {"trigger": trigger}, actor="test")
        assert error.value.field == field
