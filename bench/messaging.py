"""Benchmark: messages rendered and delivered per second by one worker, on PostgreSQL + Redis.

A local SMTP server (aiosmtpd, in a subprocess of its own, counting what it accepts) stands in
for the mail relay. Cart reminders (marketing: consent, suppression, budget and quiet-hours
checks, rendering with inlined CSS and tracked links, the claim, the SMTP conversation) are
queued for as many subscribed customers and delivered by one worker three ways:

* ``--single`` messages, one ``deliver_message`` job each, run by RQ's ``SimpleWorker``;
* ``--forked`` messages the same way by the forking ``Worker`` the app runs (``flask worker``);
* ``--batched`` messages in ``deliver_messages`` jobs of 100 (what the sweep queues: one job and
  one SMTP connection per batch) by the forking ``Worker``.

The baselines of the same run send one pre-rendered message with plain ``smtplib`` to the same
server ``--batched`` times: a new connection per message (as a single job does), and all over
one connection (as a batch does). Quiet hours are switched off for the run (it may run at night).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

from bench.common import PYTHON, ROOT, bench_environ, free_port

SERVER = """
import logging, signal, sys, threading
from aiosmtpd.controller import Controller

logging.getLogger("mail.log").setLevel(logging.WARNING)

class Count:
    accepted = 0
    async def handle_DATA(self, server, session, envelope):
        Count.accepted += 1
        return "250 OK"

controller = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
done.wait()
controller.stop()
print(Count.accepted, flush=True)
"""

SCRIPT = """
import json, smtplib, sys, time
from sqlalchemy import func, select
from rq import SimpleWorker, Worker
from app import create_app
from app.extensions import db, redis_holder
from app.messaging import delivery, outbox
from app.messaging.channels import build_email
from app.store.models import Customer, Message, Shop
from app.store.types import utcnow
from jobs.context import use_app
from jobs.messaging import BATCH_SIZE, request_batch, request_delivery
from jobs.queues import QUEUE_NAMES, queue

simple, forked, batched, port = (int(value) for value in sys.argv[1:5])
app = create_app()
use_app(app)
settings = app.extensions["comeback.settings"]
CART = {"items": [{"name": "Mug", "quantity": 2, "price": "12.50", "image_url": "https://cdn.example.com/mug.png",
                   "url": "https://bench.example.com/products/mug"},
                  {"name": "Tea", "quantity": 1, "price": "4.00", "image_url": "https://cdn.example.com/tea.png"}],
        "total": "29.00", "recovery_url": "https://bench.example.com/cart/recover?token=abc",
        "coupon": {"code": "BACK10", "expires_at": "2027-01-10T12:00:00Z"}}
out = {}
with app.app_context():
    session = db.session()
    shop = Shop(platform="shopify", domain="bench-messaging.example.com", name="Bench Shop", currency="EUR",
                timezone="Europe/Paris", status="active", access_token="t", installed_at=utcnow())
    session.add(shop)
    session.commit()
    total = simple + forked + batched
    session.execute(Customer.__table__.insert(), [
        {"shop_id": shop.id, "platform": "shopify", "external_id": f"c{n}", "email": f"c{n}@example.com",
         "first_name": f"Ana{n}", "email_marketing_state": "subscribed", "created_at": utcnow(),
         "updated_at": utcnow()} for n in range(total)])
    session.commit()
    ids = []
    for n in range(total):
        ids.append(outbox.create_message(session, shop.id, template="cart_reminder", dedupe_key=f"cart-{n}",
                                         customer_external_id=f"c{n}", context={**CART, "first_name": f"Ana{n}"}
                                         ).message.id)
    session.commit()
    connection = redis_holder.get()
    queues = [queue(name) for name in QUEUE_NAMES]

    def run(worker_class, batch, batches=False):
        if batches:
            for start in range(0, len(batch), BATCH_SIZE):
                request_batch(batch[start:start + BATCH_SIZE])
        else:
            for message_id in batch:
                request_delivery(message_id)
        session.commit()
        began = time.perf_counter()
        worker_class(queues, connection=connection).work(burst=True, logging_level="WARNING")
        return time.perf_counter() - began

    out["simple_seconds"] = run(SimpleWorker, ids[:simple])
    out["forked_seconds"] = run(Worker, ids[simple:simple + forked])
    out["batched_seconds"] = run(Worker, ids[simple + forked:], batches=True)
    out["sent"] = session.execute(select(func.count()).select_from(Message).where(Message.status == "sent")
                                  ).scalar_one()
    out["statuses"] = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())

    # Baseline: the same kind of message, rendered once, sent with plain smtplib.
    message = session.get(Message, ids[0])
    config = delivery.DeliveryConfig.from_settings(settings)
    mime = build_email(delivery.compose(session, message, shop, config, utcnow()))
    raw = mime.as_bytes()
    began = time.perf_counter()
    for n in range(batched):
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
            smtp.sendmail("no-reply@bench.example.com", [f"c{n}@example.com"], raw)
    out["baseline_seconds"] = time.perf_counter() - began
    began = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
        for n in range(batched):
            smtp.sendmail("no-reply@bench.example.com", [f"c{n}@example.com"], raw)
    out["baseline_kept_seconds"] = time.perf_counter() - began
    out["message_bytes"] = len(raw)
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=1000, help="one job each, SimpleWorker")
    parser.add_argument("--forked", type=int, default=300, help="one job each, forking Worker")
    parser.add_argument("--batched", type=int, default=3000, help="jobs of 100, forking Worker (and the baselines)")
    args = parser.parse_args()
    port = free_port()
    environ = bench_environ("messaging", SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                            SMTP_FROM="Bench <no-reply@bench.example.com>", MESSAGING_QUIET_HOURS="off")
    server = subprocess.Popen([PYTHON, "-c", SERVER, str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        result = subprocess.run([PYTHON, "-c", SCRIPT, str(args.single), str(args.forked), str(args.batched),
                                 str(port)], cwd=ROOT, env=environ, check=True, capture_output=True, text=True,
                                timeout=1800)
    finally:
        server.terminate()
        accepted_line, _ = server.communicate(timeout=30)
    accepted = int(accepted_line.strip().splitlines()[-1])
    out = json.loads(result.stdout.strip().splitlines()[-1])
    per_connection = args.batched / out["baseline_seconds"]
    kept = args.batched / out["baseline_kept_seconds"]
    print(f"message size: {out['message_bytes']:,} bytes (multipart text + HTML with inlined CSS)")
    print(f"baseline, plain smtplib, pre-rendered, a connection each: {per_connection:,.0f} messages/s; "
          f"over one connection: {kept:,.0f} messages/s ({args.batched:,} each)")
    for label, count, seconds, baseline in (
            ("one job per message, SimpleWorker", args.single, out["simple_seconds"], per_connection),
            ("one job per message, forking Worker", args.forked, out["forked_seconds"], per_connection),
            ("jobs of 100 (the sweep's), forking Worker", args.batched, out["batched_seconds"], kept)):
        if count:
            rate = count / seconds
            print(f"{label}: {count:,} in {seconds:.1f}s -> {rate:,.0f} messages/s "
                  f"(ratio to its baseline: {rate / baseline:.2f})")
    expected = args.single + args.forked + args.batched
    print(f"statuses: {out['statuses']}; the SMTP server accepted {accepted:,} "
          f"(= {expected:,} delivered + {2 * args.batched:,} baseline: {accepted == expected + 2 * args.batched})")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"total bench time {time.monotonic() - started:.0f}s")
