"""Expiry by earned lot, first in first out, and the reminders before it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.loyalty import events, expiry, ledger
from app.loyalty import program as programs
from app.store.models import LedgerEntry, LoyaltyEvent
from tests.loyalty.support import NOW


def _lot(session, shop, member, points, key, *, days_ago=0):
    """A lot of action points earned ``days_ago`` (its 30-day life counted from then)."""
    program = programs.current(session, shop.id)
    earned = NOW - dt.timedelta(days=days_ago)
    ledger.add_entry(session, shop_id=shop.id, member_id=member.id, points=points, cause="custom",
                     cause_key=f"custom:{key}", program_version=program.version, available_at=earned,
                     expires_at=ledger.lot_expiry(program, earned))
    session.execute(LedgerEntry.__table__.update().where(LedgerEntry.cause_key == f"custom:{key}")
                    .values(created_at=earned))


def _setup(session, shop):
    programs.update(session, shop.id, {"expiry_days": 30, "expiry_reminder_days": [7, 3]}, actor="t")
    return ledger.member_for(session, shop.id, customer_external_id="c1", email="ana@example.com")


def _expired(session):
    return session.execute(select(LedgerEntry.cause_key, LedgerEntry.points)
                           .where(LedgerEntry.cause == "expiry").order_by(LedgerEntry.id)).all()


def test_spending_takes_the_oldest_lot_first_and_only_the_rest_of_a_lot_expires(session, started):
    member = _setup(session, started)
    _lot(session, started, member, 100, "old", days_ago=20)
    _lot(session, started, member, 100, "new", days_ago=5)
    ledger.spend(session, started.id, member.id, 150, key="k1", program=programs.current(session, started.id))
    session.commit()
    # the spend of 150 emptied the old lot and took 50 of the new one
    lots = expiry.remaining(session.execute(select(LedgerEntry).where(LedgerEntry.member_id == member.id)).scalars())
    assert [lot.left for lot in sorted(lots.values(), key=lambda lot: lot.available_at)] == [0, 50]
    # when the old lot's end passes nothing expires (it was spent); when the new one's passes, its 50 do
    assert expiry.expire(session, started.id, now=NOW + dt.timedelta(days=11)) == 0
    assert expiry.expire(session, started.id, now=NOW + dt.timedelta(days=26)) == 50
    assert expiry.expire(session, started.id, now=NOW + dt.timedelta(days=27)) == 0  # once
    session.commit()
    assert [points for _, points in _expired(session)] == [-50]
    assert ledger.balance(session, member.id, NOW + dt.timedelta(days=27)).available == 0
    kinds = session.execute(select(LoyaltyEvent.kind, LoyaltyEvent.payload)).all()
    assert [(k, p["points"]) for k, p in kinds if k == events.POINTS_EXPIRED] == [(events.POINTS_EXPIRED, 50)]


def test_a_lot_left_whole_expires_whole_and_points_never_expire_when_the_program_says_so(session, started):
    member = _setup(session, started)
    _lot(session, started, member, 70, "a", days_ago=31)
    assert expiry.expire(session, started.id, now=NOW) == 70
    session.commit()
    programs.update(session, started.id, {"expiry_days": None}, actor="t")
    program = programs.current(session, started.id)
    assert ledger.lot_expiry(program, NOW) is None


def test_reminders_come_once_per_lead_time_with_the_points_still_left(session, started):
    member = _setup(session, started)
    _lot(session, started, member, 100, "a", days_ago=25)  # ends in 5 days
    _lot(session, started, member, 40, "b", days_ago=0)  # ends in 30 days
    ledger.spend(session, started.id, member.id, 30, key="k", program=programs.current(session, started.id))
    session.commit()
    # the 7-day reminder tells of the 70 left of the first lot, once; the 3-day one is not due yet
    assert expiry.remind(session, started.id, now=NOW) == 1
    assert expiry.remind(session, started.id, now=NOW + dt.timedelta(hours=1)) == 0
    session.commit()
    notices = session.execute(select(LoyaltyEvent.payload).where(LoyaltyEvent.kind == events.POINTS_EXPIRING)
                              ).scalars().all()
    assert [(n["points"], n["days_before"]) for n in notices] == [(70, 7)]
    # two days later the 3-day reminder comes
    assert expiry.remind(session, started.id, now=NOW + dt.timedelta(days=2, hours=1)) == 1
    # and the shopper's view lists what expires when
    entries = session.execute(select(LedgerEntry).where(LedgerEntry.member_id == member.id)).scalars().all()
    assert [e["points"] for e in expiry.expiring(entries, NOW)] == [70, 40]


def test_an_expiry_and_a_spend_at_once_never_overdraw(session, started):
    import threading

    from sqlalchemy.orm import sessionmaker

    from app.extensions import db

    # given a lot of 100 that the expiry run sees as ended (its "now" is later than the spend's)
    member = _setup(session, started)
    _lot(session, started, member, 100, "a", days_ago=25)
    session.commit()
    member_id, shop_id = member.id, started.id
    program = programs.current(session, shop_id)
    session.close()
    make = sessionmaker(bind=db.engine)
    start, hold = threading.Barrier(2), threading.Barrier(2, timeout=2)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        own = make()
        try:
            start.wait()
            if name == "expire":
                outcomes[name] = expiry.expire(own, shop_id, now=NOW + dt.timedelta(days=6))
            else:
                ledger.spend(own, shop_id, member_id, 100, key="race", program=program)
                outcomes[name] = "spent"
            try:  # keep the transaction open until the other has tried too
                hold.wait()
            except threading.BrokenBarrierError:
                pass
            own.commit()
        except Exception as error:  # noqa: BLE001 - refused (nothing left) or, on SQLite, busy
            own.rollback()
            outcomes[name] = type(error).__name__
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("expire", "spend")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then exactly one of them had the points: the balance is 0, never -100
    check = make()
    assert ledger.balance(check, member_id, NOW + dt.timedelta(days=6)).available == 0, outcomes
    check.close()
    assert (outcomes["expire"] == 100) != (outcomes["spend"] == "spent"), outcomes


def test_a_claimed_guest_lot_keeps_its_end_and_a_guest_expiry_is_not_taken_twice(session, started):
    # given a customer with 100 points that never expire, and a guest lot of 100 already expired
    member = _setup(session, started)
    program = programs.current(session, started.id)
    ledger.add_entry(session, shop_id=started.id, member_id=member.id, points=100, cause="adjustment",
                     cause_key="adjustment:own", program_version=program.version, available_at=NOW - dt.timedelta(days=40))
    guest = ledger.member_for(session, started.id, customer_external_id=None, email="guest@example.com")
    _lot(session, started, guest, 100, "guest-old", days_ago=31)
    _lot(session, started, guest, 60, "guest-new", days_ago=1)
    assert expiry.expire(session, started.id, now=NOW) == 100  # the guest's old lot
    session.commit()
    # when the customer claims the guest's points
    assert ledger.claim_guest(session, started.id, guest, member) == 60
    session.commit()
    assert ledger.claim_guest(session, started.id, guest, member) == 0  # once
    # then only what was left moved, with its own end; the customer's own points are untouched
    assert ledger.balance(session, member.id).available == 160
    assert expiry.expire(session, started.id, now=NOW + dt.timedelta(days=10)) == 0
    assert expiry.expire(session, started.id, now=NOW + dt.timedelta(days=30)) == 60
    session.commit()
    assert ledger.balance(session, member.id, NOW + dt.timedelta(days=30)).available == 100
    assert ledger.balance(session, guest.id, NOW + dt.timedelta(days=30)).available == 0
