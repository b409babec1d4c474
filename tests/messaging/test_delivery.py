"""Delivery to a real SMTP server: the re-check before sending, budget, quiet hours, retries, bounces."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.messaging import delivery, outbox, preferences
from app.store.models import EmailSuppression, Message
from tests.messaging.conftest import add_customer
from tests.messaging.support import CART, CONTEXTS

# Noon in Paris on a Thursday: outside quiet hours.
NOON = dt.datetime(2026, 12, 3, 11, 0, tzinfo=dt.timezone.utc)


def cart_message(session, shop, key="cart-1", **fields):
    fields.setdefault("customer_external_id", "c1")
    return outbox.create_message(session, shop.id, template="cart_reminder", dedupe_key=key, context=CART,
                                 now=NOON, **fields).message


def reload(session, message_id) -> Message:
    return session.execute(select(Message).where(Message.id == message_id)
                           .execution_options(populate_existing=True)).scalar_one()


def test_a_message_is_sent_once_with_its_parts_and_headers(session, mail_shop, subscriber, smtp, channel, config):
    # given a cart reminder for a subscribed customer
    message = cart_message(session, mail_shop)
    session.commit()
    # when it is delivered (twice: a repeated job changes nothing)
    first = delivery.deliver(session, message.id, channel, config, now=NOON)
    again = delivery.deliver(session, message.id, channel, config, now=NOON)
    # then the server received exactly one email, with both parts, to the customer, from the shop
    assert (first.status, first.changed, again.status, again.changed) == ("sent", True, "sent", False)
    assert len(smtp.received) == 1
    received = smtp.received[0]
    mail = received.message
    assert received.rcpt_tos == ["ana@example.com"] and received.mail_from == "no-reply@comeback.test"
    assert mail["To"] == "ana@example.com"
    assert str(mail["From"]) == "Caf\u00e9 Nord <no-reply@comeback.test>"
    assert mail["Subject"] == "Ana, your cart at Caf\u00e9 Nord is waiting"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "You left something behind, Ana." in text and "x 2: \u20ac12.50" in text
    assert '<td class="content" style="padding: 28px 32px 8px;' in html
    stored = reload(session, message.id)
    assert mail["Message-ID"] == stored.message_id == f"<{stored.token}.{stored.id}@comeback.test>"
    assert mail["Date"] is not None
    # and marketing mail carries the one-click unsubscribe of RFC 8058
    assert mail["List-Unsubscribe"].startswith(f"<{config.app_url}/m/u/") and mail["List-Unsubscribe"].endswith(">")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # as a plain URL on the wire (not folded into encoded words that providers would not read)
    headers = received.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert f"\r\nList-Unsubscribe: <{config.app_url}/m/u/" in headers
    assert re.search(r"\r\nList-Unsubscribe: <[^\r\n=?]+>\r\n", headers)
    assert "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in headers
    assert (stored.status, stored.sent_at, stored.attempts) == ("sent", NOON, 1)


def test_a_sent_email_shows_the_shops_logo_once_it_has_one(session, mail_shop, subscriber, smtp, channel, config):
    logo = "https://cdn.nord.example/logo.png"
    # given two cart reminders, the second delivered (a day later, after the contact budget) once the
    # shop has set its logo
    first, second = cart_message(session, mail_shop), cart_message(session, mail_shop, key="cart-2")
    session.commit()
    assert delivery.deliver(session, first.id, channel, config, now=NOON).status == "sent"
    preferences.update(session, mail_shop.id, {"logo_url": logo}, config, actor="test")
    session.commit()
    assert delivery.deliver(session, second.id, channel, config, now=NOON + dt.timedelta(days=1)).status == "sent"
    # then the first arrived with the shop's name in its header, the second with the logo named by the shop
    without, with_logo = (received.message.get_body(("html",)).get_content() for received in smtp.received)
    assert logo not in without and 'class="logo"' not in without and ">Caf\u00e9 Nord</a>" in without
    (image,) = re.findall(r'<img class="logo"[^>]*>', with_logo)
    assert f'src="{logo}"' in image and 'alt="Caf\u00e9 Nord"' in image and "max-width: 180px" in image
    # the logo is fetched from the shop's address, not sent through click tracking
    assert with_logo.count(logo) == 1


def test_transactional_mail_has_no_unsubscribe_header(session, subscriber, smtp, channel, config):
    message = outbox.create_message(session, subscriber.shop_id, template="points_earned", dedupe_key="p-1",
                                    customer_external_id="c1", context=CONTEXTS["points_earned"]).message
    session.commit()
    assert delivery.deliver(session, message.id, channel, config, now=NOON).status == "sent"
    mail = smtp.received[0].message
    assert mail["Subject"] == "You earned 1,250 points at Caf\u00e9 Nord"
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize("state", ["not_subscribed", "unsubscribed", "pending", None])
def test_marketing_without_consent_is_skipped(session, mail_shop, smtp, channel, config, state):
    add_customer(session, mail_shop, state=state)
    message = cart_message(session, mail_shop)
    session.commit()
    outcome = delivery.deliver(session, message.id, channel, config, now=NOON)
    assert outcome.status == "skipped" and outcome.reason == f"no marketing consent (state: {state or 'unknown'})"
    assert smtp.received == []


def test_marketing_to_an_address_no_customer_has_is_skipped(session, mail_shop, smtp, channel, config):
    message = outbox.create_message(session, mail_shop.id, template="win_back", dedupe_key="w",
                                    email="Stranger@Example.com", context=CONTEXTS["win_back"]).message
    session.commit()
    assert message.email == "stranger@example.com"
    assert delivery.deliver(session, message.id, channel, config, now=NOON).status == "skipped"
    assert smtp.received == []


def test_transactional_mail_follows_the_shop_setting(session, mail_shop, smtp, channel, config):
    # given a member who never subscribed to marketing
    add_customer(session, mail_shop, state="not_subscribed")
    notices = [outbox.create_message(session, mail_shop.id, template="reward_available", dedupe_key=f"r-{n}",
                                     customer_external_id="c1", context=CONTEXTS["reward_available"]).message
               for n in range(2)]
    session.commit()
    # when the shop sends loyalty notices only to subscribed customers
    preferences.update(session, mail_shop.id, {"transactional_email": "subscribed"}, config, actor="test")
    session.commit()
    # then the member's notice is not sent
    refused = delivery.deliver(session, notices[0].id, channel, config, now=NOON)
    assert refused.status == "skipped"
    assert refused.reason.startswith("the shop sends loyalty notices only to subscribed customers")
    # and once the shop sends them to all members, the next one goes
    preferences.update(session, mail_shop.id, {"transactional_email": "all"}, config, actor="test")
    session.commit()
    assert delivery.deliver(session, notices[1].id, channel, config, now=NOON).status == "sent"
    assert [r.message["Subject"] for r in smtp.received] == ["Your points are enough for 5 off your order"]


def test_a_suppressed_address_gets_nothing(session, mail_shop, subscriber, smtp, channel, config):
    session.add(EmailSuppression(shop_id=subscriber.shop_id, email="ana@example.com", reason="complaint"))
    transactional = outbox.create_message(session, subscriber.shop_id, template="tier_upgrade", dedupe_key="t",
                                          customer_external_id="c1", context=CONTEXTS["tier_upgrade"]).message
    marketing = cart_message(session, mail_shop)
    session.commit()
    for message in (transactional, marketing):
        outcome = delivery.deliver(session, message.id, channel, config, now=NOON)
        assert (outcome.status, outcome.reason) == ("suppressed", "address suppressed: complaint")
    assert smtp.received == []


def test_consent_withdrawn_after_queueing_is_seen_at_send_time(session, mail_shop, subscriber, smtp, channel, config):
    message = cart_message(session, mail_shop)
    session.commit()
    subscriber.email_marketing_state = "unsubscribed"
    session.commit()
    assert delivery.deliver(session, message.id, channel, config, now=NOON).status == "skipped"
    assert smtp.received == []


def test_a_second_marketing_email_within_16_hours_waits_for_the_budget(session, mail_shop, subscriber, smtp, channel, config):
    # given a win-back sent at noon Paris time
    first = outbox.create_message(session, subscriber.shop_id, template="win_back", dedupe_key="w",
                                  customer_external_id="c1", context=CONTEXTS["win_back"]).message
    second = cart_message(session, mail_shop)
    points = outbox.create_message(session, subscriber.shop_id, template="points_earned", dedupe_key="p",
                                   customer_external_id="c1", context=CONTEXTS["points_earned"]).message
    session.commit()
    assert delivery.deliver(session, first.id, channel, config, now=NOON).status == "sent"
    # when a cart reminder comes two hours later
    later = NOON + dt.timedelta(hours=2)
    outcome = delivery.deliver(session, second.id, channel, config, now=later)
    # then it is deferred, not dropped, to the moment the budget frees (04:00 Paris), then past quiet hours
    assert outcome.status == "deferred"
    assert outcome.not_before == dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.timezone.utc)  # 08:00 in Paris
    assert outcome.reason.startswith("contact budget: one marketing email per 16 h, then quiet hours")
    # and transactional mail is not counted
    assert delivery.deliver(session, points.id, channel, config, now=later).status == "sent"
    # and before its time a retry does nothing; at its time it goes
    assert delivery.deliver(session, second.id, channel, config, now=later + dt.timedelta(hours=3)).changed is False
    assert delivery.deliver(session, second.id, channel, config, now=outcome.not_before).status == "sent"
    assert [r.message["Subject"] for r in smtp.received] == [
        "We miss you, Ana: a gift from Caf\u00e9 Nord", "You earned 1,250 points at Caf\u00e9 Nord",
        "Ana, your cart at Caf\u00e9 Nord is waiting"]


def test_of_two_competing_marketing_emails_the_higher_priority_goes_first(session, mail_shop, subscriber, smtp, channel, config):
    # given two marketing emails due at once, the older with the lower priority
    low = cart_message(session, mail_shop, priority=1)
    high = outbox.create_message(session, subscriber.shop_id, template="win_back", dedupe_key="w", priority=5,
                                 customer_external_id="c1", context=CONTEXTS["win_back"]).message
    session.commit()
    # when the low one's delivery happens to run first, it gives way
    gave_way = delivery.deliver(session, low.id, channel, config, now=NOON)
    assert gave_way.status == "deferred" and gave_way.not_before == NOON + delivery.GIVE_WAY
    assert gave_way.reason == f"contact budget: gives way to message {high.id} (priority 5)"
    assert smtp.received == []
    # then the high one goes
    assert delivery.deliver(session, high.id, channel, config, now=NOON).status == "sent"
    # and the low one, looking again, waits the budget from the high one's sending (04:00 in Paris),
    # then the night: 08:00 in Paris
    again = delivery.deliver(session, low.id, channel, config, now=NOON + delivery.GIVE_WAY)
    assert again.status == "deferred" and again.not_before == dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.timezone.utc)
    assert delivery.deliver(session, low.id, channel, config, now=again.not_before).status == "sent"
    assert [r.message["Subject"] for r in smtp.received] == [
        "We miss you, Ana: a gift from Caf\u00e9 Nord", "Ana, your cart at Caf\u00e9 Nord is waiting"]


def test_quiet_hours_in_the_shop_time_zone_defer_to_eight_local(session, mail_shop, subscriber, smtp, channel, config):
    # given 22:30 in Paris (21:30 UTC)
    evening = dt.datetime(2026, 12, 3, 21, 30, tzinfo=dt.timezone.utc)
    message = cart_message(session, mail_shop)
    session.commit()
    outcome = delivery.deliver(session, message.id, channel, config, now=evening)
    # then the reminder waits until 08:00 Paris time (07:00 UTC), queued, not dropped
    assert outcome.status == "deferred"
    assert outcome.not_before == dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.timezone.utc)
    assert outcome.reason == "quiet hours 21:00-08:00 (Europe/Paris)"
    assert smtp.received == []
    # and the sweep finds it due at 08:00, not before
    assert message.id not in delivery.due(session, now=outcome.not_before - dt.timedelta(seconds=1))
    assert message.id in delivery.due(session, now=outcome.not_before)
    assert delivery.deliver(session, message.id, channel, config, now=outcome.not_before).status == "sent"
    assert len(smtp.received) == 1
    # and a shop elsewhere has its own night: 22:30 in Paris is 16:30 in New York
    mail_shop.timezone = "America/New_York"
    add_customer(session, mail_shop, external_id="c2", email="bob@example.com")
    other = cart_message(session, mail_shop, key="cart-2", customer_external_id="c2")
    session.commit()
    assert delivery.deliver(session, other.id, channel, config, now=evening).status == "sent"
    assert smtp.received[-1].rcpt_tos == ["bob@example.com"]


def test_a_temporary_failure_is_retried_later_and_delivered_once(session, mail_shop, subscriber, smtp, channel, config):
    # given a server that answers 451 to the first DATA
    smtp.data_replies.append("451 4.3.0 try again later")
    message = cart_message(session, mail_shop)
    session.commit()
    failed = delivery.deliver(session, message.id, channel, config, now=NOON)
    # then the message waits a minute, keeps the error, and nothing was delivered
    assert failed.status == "deferred" and failed.not_before == NOON + dt.timedelta(minutes=1)
    stored = reload(session, message.id)
    assert (stored.attempts, stored.last_error) == (1, "451 4.3.0 try again later")
    assert smtp.received == []
    # when it is due again it is delivered, once
    assert delivery.deliver(session, message.id, channel, config, now=failed.not_before).status == "sent"
    assert delivery.deliver(session, message.id, channel, config, now=failed.not_before).changed is False
    assert len(smtp.received) == 1 and reload(session, message.id).attempts == 2


def test_temporary_failures_back_off_then_fail(session, mail_shop, subscriber, smtp, channel, config):
    smtp.data_replies.extend(["421 4.7.0 busy"] * 5)
    message = cart_message(session, mail_shop)
    session.commit()
    now, waits = NOON, []
    for _ in range(4):
        outcome = delivery.deliver(session, message.id, channel, config, now=now)
        waits.append(outcome.not_before - now)
        now = outcome.not_before
    assert waits == [dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2)]
    last = delivery.deliver(session, message.id, channel, config, now=now)
    assert (last.status, last.reason) == ("failed", "gave up after 5 attempts: 421 4.7.0 busy")
    assert smtp.received == []


def test_an_unreachable_server_is_a_temporary_failure(session, mail_shop, subscriber, config):
    from app.messaging.channels import SmtpChannel
    from tests.conftest import free_port

    message = cart_message(session, mail_shop)
    session.commit()
    outcome = delivery.deliver(session, message.id, SmtpChannel("127.0.0.1", free_port(), timeout=2), config, now=NOON)
    assert outcome.status == "deferred"
    assert reload(session, message.id).last_error.startswith("cannot reach 127.0.0.1:")


def test_a_refused_recipient_fails_and_is_suppressed(session, mail_shop, subscriber, smtp, channel, config):
    # given a server that refuses the address permanently
    smtp.rcpt_replies["ana@example.com"] = "550 5.1.1 no such mailbox"
    message = cart_message(session, mail_shop)
    session.commit()
    outcome = delivery.deliver(session, message.id, channel, config, now=NOON)
    # then the message failed and the address is suppressed as a hard bounce
    assert (outcome.status, outcome.reason) == ("failed", "refused: 550 5.1.1 no such mailbox")
    suppression = session.execute(select(EmailSuppression)).scalar_one()
    assert (suppression.shop_id, suppression.email, suppression.reason) == (
        subscriber.shop_id, "ana@example.com", "hard_bounce")
    # and the next message to it is not even tried
    smtp.rcpt_replies.clear()
    later = cart_message(session, mail_shop, key="cart-2")
    session.commit()
    assert delivery.deliver(session, later.id, channel, config, now=NOON + dt.timedelta(days=2)).status == "suppressed"
    assert smtp.received == []


def test_a_permanent_refusal_of_the_message_is_not_a_bounce(session, mail_shop, subscriber, smtp, channel, config):
    smtp.data_replies.append("554 5.7.1 message refused")
    message = cart_message(session, mail_shop)
    session.commit()
    assert delivery.deliver(session, message.id, channel, config, now=NOON).status == "failed"
    assert session.execute(select(func.count()).select_from(EmailSuppression)).scalar_one() == 0


def test_the_same_dedupe_key_is_the_same_message(session, subscriber):
    first = outbox.create_message(session, subscriber.shop_id, template="cart_reminder", dedupe_key="cart:42",
                                  customer_external_id="c1", context=CART)
    second = outbox.create_message(session, subscriber.shop_id, template="cart_reminder", dedupe_key="cart:42",
                                   customer_external_id="c1", context={**CART, "first_name": "Other"})
    session.commit()
    assert (first.created, second.created) == (True, False)
    assert second.message.id == first.message.id and second.message.context["first_name"] == "Ana"
    assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 1


@pytest.mark.parametrize(("fields", "message"), [
    ({"template": "newsletter"}, "unknown template 'newsletter'"),
    ({"category": "transactional"}, "cart_reminder is marketing mail: it cannot be sent as transactional"),
    ({"category": "spam"}, "category must be one of marketing, transactional"),
    ({"email": "not an address", "customer_external_id": None}, "not an email address"),
    ({"customer_external_id": "nobody"}, "customer nobody has no email address"),
    ({"customer_external_id": None}, "give an email address or a customer_external_id"),
    ({"dedupe_key": ""}, "dedupe_key must be 1 to 191 characters"),
    ({"priority": 10_000}, "priority must be a whole number"),
    ({"not_before": dt.datetime(2026, 12, 3, 12)}, "not_before must be timezone-aware"),
    ({"context": {"items": []}}, "context.items: is required"),
])
def test_bad_input_is_refused_with_a_clear_error(session, subscriber, fields, message):
    arguments = {"template": "cart_reminder", "dedupe_key": "k", "customer_external_id": "c1", "context": CART,
                 **fields}
    with pytest.raises(outbox.MessageError, match=message.replace("(", r"\(")):
        outbox.create_message(session, subscriber.shop_id, **arguments)
    assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 0


def test_two_workers_delivering_at_once_send_once(app, session, mail_shop, subscriber, smtp, channel, config):
    # given a slow server, and two workers given the same message at the same moment
    smtp.data_delay = 0.3
    message = cart_message(session, mail_shop)
    session.commit()
    start = threading.Barrier(2)
    outcomes: list[delivery.Outcome] = []

    def work():
        with app.app_context():
            start.wait()
            try:
                outcomes.append(delivery.deliver(db.session(), message.id, channel, config, now=NOON))
            finally:
                db.session.remove()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    # then one sent it and the other found it taken
    assert sorted((o.status, o.changed) for o in outcomes) == [("sending", False), ("sent", True)]
    assert len(smtp.received) == 1


def test_two_workers_on_two_messages_to_one_customer_spend_the_budget_once(app, session, mail_shop, subscriber, smtp, channel,
                                                                          config):
    smtp.data_delay = 0.3
    messages = [cart_message(session, mail_shop, key=f"cart-{n}") for n in range(2)]
    session.commit()
    start = threading.Barrier(2)
    outcomes: list[delivery.Outcome] = []

    def work(message_id):
        with app.app_context():
            start.wait()
            try:
                outcomes.append(delivery.deliver(db.session(), message_id, channel, config, now=NOON))
            finally:
                db.session.remove()

    workers = [threading.Thread(target=work, args=(m.id,)) for m in messages]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(o.status for o in outcomes) == ["deferred", "sent"]
    assert len(smtp.received) == 1


def test_a_worker_that_died_while_sending_leaves_a_failed_message_not_a_second_email(session, mail_shop, subscriber, config):
    message = cart_message(session, mail_shop)
    session.commit()
    message.status, message.claimed_at = "sending", NOON
    session.commit()
    assert delivery.reap_interrupted(session, now=NOON + dt.timedelta(minutes=10)) == 0
    assert delivery.reap_interrupted(session, now=NOON + dt.timedelta(minutes=16)) == 1
    stored = reload(session, message.id)
    assert stored.status == "failed" and stored.reason.startswith("interrupted while sending")


def test_a_store_no_longer_connected_sends_nothing(session, mail_shop, subscriber, smtp, channel, config):
    message = cart_message(session, mail_shop)
    mail_shop.status = "uninstalled"
    session.commit()
    assert delivery.deliver(session, message.id, channel, config, now=NOON).status == "skipped"
    assert smtp.received == []
