"""Through the jobs and the app: queue, deliver to a real SMTP server, click, open, unsubscribe, erase."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from app.messaging import consent, outbox
from app.store import privacy
from app.store.models import ConsentWriteback, Customer, EmailSuppression, Message, MessageClick, Shop
from app.store.types import utcnow
from jobs.messaging import deliver_job_id, enqueue_message, sweep_messages
from jobs.queues import queue
from tests.helpers import run_jobs
from tests.messaging.conftest import add_customer
from tests.messaging.support import CART, CONTEXTS


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def send_cart(session, shop, key="cart-1", customer="c1"):
    message = enqueue_message(session, shop.id, template="cart_reminder", dedupe_key=key, context=CART,
                              customer_external_id=customer)
    assert run_jobs() == []
    return session.execute(select(Message).where(Message.id == message.id)
                           .execution_options(populate_existing=True)).scalar_one()


def counts(session, *models) -> list[int]:
    return [session.execute(select(func.count()).select_from(model)).scalar_one() for model in models]


def test_a_queued_message_is_delivered_by_its_job(session, mail_app, mail_shop, subscriber, smtp):
    message = send_cart(session, mail_shop)
    assert message.status == "sent" and message.sent_at is not None
    assert [r.rcpt_tos for r in smtp.received] == [["ana@example.com"]]
    # and enqueueing the same dedupe key again sends nothing more
    again = enqueue_message(session, mail_shop.id, template="cart_reminder", dedupe_key="cart-1", context=CART,
                            customer_external_id="c1")
    assert run_jobs() == [] and again.id == message.id and len(smtp.received) == 1


def test_tracked_links_redirect_to_the_original_and_record_the_first_click(client, session, mail_app, mail_shop,
                                                                          subscriber, smtp):
    message = send_cart(session, mail_shop)
    html = smtp.received[0].message.get_body(("html",)).get_content()
    button = re.search(r'<a class="button" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert button.startswith(f"{mail_app.app_url}/m/c/{message.token}?u=")
    # when the customer clicks the button
    response = client.get(path_of(button))
    # then the app redirects to where the link pointed, and notes the click
    assert response.status_code == 302
    assert response.headers["Location"] == "https://nord.example.com/cart/recover?token=abc&step=2"
    first = session.execute(select(Message.clicked_at, Message.opened_at).where(Message.id == message.id)).one()
    assert first.clicked_at is not None and first.opened_at == first.clicked_at
    # and a second click is kept as a click, the first stays the first
    assert client.get(path_of(button)).status_code == 302
    clicks = session.execute(select(MessageClick.url, MessageClick.shop_id)).all()
    assert clicks == [("https://nord.example.com/cart/recover?token=abc&step=2", mail_shop.id)] * 2
    assert session.execute(select(Message.clicked_at).where(Message.id == message.id)).scalar_one() == first.clicked_at


def test_the_open_pixel_records_the_first_open(client, session, mail_app, mail_shop, subscriber, smtp):
    message = send_cart(session, mail_shop)
    html = smtp.received[0].message.get_body(("html",)).get_content()
    pixel = re.search(r'<img src="([^"]+\.gif)" width="1" height="1"', html).group(1)
    assert pixel == f"{mail_app.app_url}/m/o/{message.token}.gif"
    response = client.get(path_of(pixel))
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert response.data.startswith(b"GIF89a") and response.headers["Cache-Control"].startswith("no-store")
    opened = session.execute(select(Message.opened_at).where(Message.id == message.id)).scalar_one()
    assert opened is not None
    client.get(path_of(pixel))
    assert session.execute(select(Message.opened_at).where(Message.id == message.id)).scalar_one() == opened


def test_bad_tracking_links_are_refused(client, session, mail_app, mail_shop, subscriber, smtp):
    message = send_cart(session, mail_shop)
    html = smtp.received[0].message.get_body(("html",)).get_content()
    link = re.search(r'<a class="button" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    signed = link.split("?u=", 1)[1]
    # an altered destination, a signature moved to another message, no signature at all
    for path in (f"/m/c/{message.token}?u={signed[:-3]}abc", f"/m/c/another-token?u={signed}",
                 f"/m/c/{message.token}", f"/m/c/{message.token}?u=https://evil.example.com"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "not valid" in response.get_json()["error"]
    assert counts(session, MessageClick) == [0]
    assert session.execute(select(Message.clicked_at).where(Message.id == message.id)).scalar_one() is None
    assert client.get("/m/o/no-such-token.gif").status_code == 404


def test_one_click_unsubscribe_stops_marketing_and_notes_the_write_back(client, session, mail_app, mail_shop,
                                                                       subscriber, smtp):
    message = send_cart(session, mail_shop)
    header = smtp.received[0].message["List-Unsubscribe"]
    url = header.strip("<>")
    assert smtp.received[0].message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = smtp.received[0].message.get_body(("html",)).get_content()
    assert f'href="{url}"' in html  # the footer link is the same one
    # a GET (a mail scanner, a link preview) only asks
    page = client.get(path_of(url))
    assert page.status_code == 200 and b'<form method="post">' in page.data and b"a**@example.com" in page.data
    assert counts(session, EmailSuppression, ConsentWriteback) == [0, 0]
    assert session.get(Customer, subscriber.id).email_marketing_state == "subscribed"
    # when the mail client posts the one-click unsubscribe
    response = client.post(path_of(url), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    # then the address is suppressed, the local consent withdrawn, and a write-back waits for the store
    assert response.status_code == 200 and b"You are unsubscribed" in response.data
    suppression = session.execute(select(EmailSuppression)).scalar_one()
    assert (suppression.shop_id, suppression.email, suppression.reason) == (mail_shop.id, "ana@example.com",
                                                                            "unsubscribed")
    customer = session.execute(select(Customer).where(Customer.id == subscriber.id)
                               .execution_options(populate_existing=True)).scalar_one()
    assert customer.email_marketing_state == "unsubscribed"
    writeback = session.execute(select(ConsentWriteback)).scalar_one()
    assert (writeback.shop_id, writeback.email, writeback.customer_external_id, writeback.state, writeback.status) == (
        mail_shop.id, "ana@example.com", "c1", "unsubscribed", "pending")
    # and posting again changes nothing more
    assert client.post(path_of(url)).status_code == 200
    assert counts(session, EmailSuppression, ConsentWriteback) == [1, 1]
    # and later marketing mail is suppressed, not sent
    customer.email_marketing_state = "subscribed"  # even if the store still says subscribed
    session.commit()
    later = send_cart(session, mail_shop, key="cart-2")
    assert (later.status, later.reason) == ("suppressed", "address suppressed: unsubscribed")
    assert len(smtp.received) == 1 and message.id != later.id


def test_a_forged_or_altered_unsubscribe_token_is_refused(client, session, mail_app, mail_shop, subscriber):
    good = consent.unsubscribe_token(mail_app.secret_key, mail_shop.id, "ana@example.com", None)
    forged = consent.unsubscribe_token("not-our-secret", mail_shop.id, "ana@example.com", None)
    for token in (forged, good[:-4] + "AAAA", "garbage"):
        for method in (client.get, client.post):
            response = method(f"/m/u/{token}")
            assert response.status_code == 400 and b"This link does not work" in response.data
    assert counts(session, EmailSuppression, ConsentWriteback) == [0, 0]
    assert session.get(Customer, subscriber.id).email_marketing_state == "subscribed"


def test_an_unsubscribe_names_its_shop_only(client, session, mail_app, mail_shop, subscriber):
    # given the same address is a subscriber of another shop too
    other = Shop(platform="shopify", domain="other.example.com", status="active", installed_at=utcnow())
    session.add(other)
    session.commit()
    add_customer(session, other, external_id="o1")
    # when it unsubscribes from the first shop
    token = consent.unsubscribe_token(mail_app.secret_key, mail_shop.id, "ana@example.com", None)
    assert client.post(f"/m/u/{token}").status_code == 200
    # then the other shop may still mail it
    assert session.execute(select(EmailSuppression.shop_id)).scalars().all() == [mail_shop.id]
    assert session.execute(select(Customer.email_marketing_state).where(Customer.shop_id == other.id)).scalar_one() \
        == "subscribed"
    # and a token for a shop that does not exist is a 404
    missing = consent.unsubscribe_token(mail_app.secret_key, 999_999, "ana@example.com", None)
    assert client.get(f"/m/u/{missing}").status_code == 404
    assert client.post(f"/m/u/{missing}").status_code == 404


def test_a_temporary_failure_reschedules_the_job_for_the_retry(session, mail_app, mail_shop, subscriber, smtp):
    smtp.data_replies.append("451 4.3.0 try again later")
    message = enqueue_message(session, mail_shop.id, template="cart_reminder", dedupe_key="c", context=CART,
                              customer_external_id="c1")
    from jobs.messaging import deliver_message

    assert deliver_message(message.id) == "deferred"
    stored = session.execute(select(Message).where(Message.id == message.id)
                             .execution_options(populate_existing=True)).scalar_one()
    registry = ScheduledJobRegistry(queue=queue("default"))
    job_id = deliver_job_id(message.id, stored.not_before)
    assert job_id in registry.get_job_ids()
    assert registry.get_scheduled_time(job_id).replace(microsecond=0) == stored.not_before.replace(microsecond=0)
    # and run before its time (tests run scheduled jobs at once) the job leaves the message waiting
    assert run_jobs() == []
    assert session.execute(select(Message.status).where(Message.id == message.id)).scalar_one() == "deferred"
    assert smtp.received == []


def test_the_sweep_queues_due_messages_whose_job_was_lost(session, mail_app, mail_shop, subscriber, smtp):
    # given a message written while Redis was away (no job queued)
    message = outbox.create_message(session, mail_shop.id, template="points_expiring", dedupe_key="e",
                                    customer_external_id="c1", context=CONTEXTS["points_expiring"]).message
    session.commit()
    assert run_jobs() == [] and smtp.received == []
    # when the periodic sweep runs
    assert sweep_messages() == 1
    assert run_jobs() == []
    # then it is delivered
    assert session.execute(select(Message.status).where(Message.id == message.id)).scalar_one() == "sent"
    assert smtp.received[0].message["Subject"] == "300 of your points expire on 15 January 2027"


def test_a_batch_is_delivered_over_one_connection_closed_after_a_failure(session, mail_app, mail_shop, smtp):
    from jobs.messaging import deliver_messages

    # given five customers, the third of whom the server refuses
    ids = []
    for n in range(5):
        add_customer(session, mail_shop, external_id=f"b{n}", email=f"b{n}@example.com")
        ids.append(outbox.create_message(session, mail_shop.id, template="tier_upgrade", dedupe_key=f"t{n}",
                                         customer_external_id=f"b{n}", context=CONTEXTS["tier_upgrade"]).message.id)
    session.commit()
    smtp.rcpt_replies["b2@example.com"] = "550 5.1.1 no such mailbox"
    # when one job delivers them all
    assert deliver_messages(ids) == {"sent": 4, "failed": 1}
    # then the first two share a connection, the refusal closes it, the last two share a new one
    peers = [r.peer for r in smtp.received]
    assert [r.rcpt_tos for r in smtp.received] == [[f"b{n}@example.com"] for n in (0, 1, 3, 4)]
    assert peers[0] == peers[1] and peers[2] == peers[3] and peers[1] != peers[2]
    # and delivering the same batch again sends nothing more
    assert deliver_messages(ids) == {"sent": 4, "failed": 1} and len(smtp.received) == 4


def test_erasing_a_customer_anonymises_their_messages_and_forgets_their_address(client, session, mail_app, mail_shop,
                                                                               subscriber, smtp):
    # given a sent, clicked message, an unsubscribe, and a message still waiting
    sent = send_cart(session, mail_shop)
    html = smtp.received[0].message.get_body(("html",)).get_content()
    button = re.search(r'<a class="button" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(path_of(button)).status_code == 302
    assert client.post(path_of(smtp.received[0].message["List-Unsubscribe"].strip("<>"))).status_code == 200
    waiting = outbox.create_message(session, mail_shop.id, template="points_earned", dedupe_key="p",
                                    customer_external_id="c1", context=CONTEXTS["points_earned"]).message
    # and someone else's message, which stays as it is
    add_customer(session, mail_shop, external_id="c2", email="bob@example.com")
    bob = outbox.create_message(session, mail_shop.id, template="points_earned", dedupe_key="b",
                                customer_external_id="c2", context=CONTEXTS["points_earned"]).message
    session.commit()
    # when the store asks us to erase the customer
    record = privacy.redact_customer(session, mail_shop.id, "c1", email="ana@example.com", order_ids=[],
                                     event_id=None)
    session.commit()
    # then their messages keep their outcome but not who they went to, what they said or where they were clicked
    assert (record.result["messages"], record.result["email_suppressions"], record.result["consent_writebacks"]) == (
        2, 1, 1)
    rows = {m.id: m for m in session.execute(select(Message).execution_options(populate_existing=True)).scalars()}
    assert (rows[sent.id].status, rows[sent.id].email, rows[sent.id].customer_external_id, rows[sent.id].context) == (
        "sent", None, None, {})
    assert rows[sent.id].clicked_at is not None
    assert (rows[waiting.id].status, rows[waiting.id].reason, rows[waiting.id].email) == (
        "skipped", "the customer was erased", None)
    assert (rows[bob.id].status, rows[bob.id].email) == ("queued", "bob@example.com")
    assert counts(session, MessageClick, EmailSuppression, ConsentWriteback) == [0, 0, 0]


@pytest.mark.parametrize("reason", ["unsubscribed", "hard_bounce"])
def test_erasing_a_shop_removes_all_its_messaging_data(session, mail_shop, subscriber, reason):
    outbox.create_message(session, mail_shop.id, template="cart_reminder", dedupe_key="c", context=CART,
                          customer_external_id="c1")
    consent.suppress(session, mail_shop.id, "ana@example.com", reason)
    session.commit()
    privacy.redact_shop(session, mail_shop, keep_event_id=None)
    session.commit()
    assert counts(session, Message, EmailSuppression, ConsentWriteback, MessageClick) == [0, 0, 0, 0]
