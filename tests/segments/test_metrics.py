"""RFM scores on a hand-checked table, predictions per customer, the incremental refresh, one shop only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
import time

import pytest
import sqlalchemy.exc
from sqlalchemy import func, literal_column, select, text
from sqlalchemy.orm import sessionmaker

from app.extensions import db
from app.segments import metrics
from app.store.models import CustomerMetrics, SegmentModel, Shop
from app.store.types import utcnow
from tests.analytics import support

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)

# customer: (days ago, amount) of each order. Worked out by hand in test_rfm_scores_...:
#   R ranks the last order among the six who ordered within 365 days: A 200, B 100, C 50, D 40,
#   E 20, F 5 days ago → percent ranks 0, .2, .4, .6, .8, 1 → R 1, 2, 3, 4, 5, 5.
#   F (orders in the window): A, D, F 1 (tied, lowest rank) → 1; B 2 → rank 4 of 6 → .6 → 4;
#   C 3 → .8 → 5; E 4 → 1 → 5.   M: F 5, A 10, B 40, C 90, E 100, D 500 → 1, 2, 3, 4, 5, 5.
#   G's only order is 400 days old: Lost (1, 1, 1).
HISTORY = {
    "A": [(200, "10.00")],
    "B": [(150, "20.00"), (100, "20.00")],
    "C": [(90, "30.00"), (60, "30.00"), (50, "30.00")],
    "D": [(40, "500.00")],
    "E": [(35, "25.00"), (30, "25.00"), (25, "25.00"), (20, "25.00")],
    "F": [(5, "5.00")],
    "G": [(400, "50.00")],
}
EXPECTED = {  # (R, F, M), FM = (F + M + 1) // 2, the grid's segment
    "A": (1, 1, 2, metrics.HIBERNATING),  # R1, FM 2
    "B": (2, 4, 3, metrics.AT_RISK),  # R2, FM 4
    "C": (3, 5, 4, metrics.LOYAL),  # R3, FM 5
    "D": (4, 1, 5, metrics.LOYAL),  # R4, FM 3
    "E": (5, 5, 5, metrics.CHAMPIONS),
    "F": (5, 1, 1, metrics.NEW),
    "G": (1, 1, 1, metrics.LOST),
}


def _history(target: Shop, prefix: str = "") -> None:
    records = [support.customer(f"{prefix}c-{name}", f"{name.lower()}@example.com", NOW - 500 * DAY)
               for name in HISTORY]
    records.append(support.customer(f"{prefix}c-none", "none@example.com", NOW - 10 * DAY))
    for name, orders in HISTORY.items():
        records += [support.order(f"{prefix}{name}{number}", NOW - days * DAY, amount, customer=f"{prefix}c-{name}")
                    for number, (days, amount) in enumerate(orders)]
    support.write(target, *records)


def _rows(session, shop_id: int) -> dict[str, CustomerMetrics]:
    session.expire_all()
    return {row.customer_key: row for row in session.execute(
        select(CustomerMetrics).where(CustomerMetrics.shop_id == shop_id)).scalars()}


@pytest.fixture()
def scored(session, shop):
    shop.currency = "EUR"
    session.commit()
    _history(shop)
    other = Shop(platform="shopify", domain="other-" + shop.domain, status="active", access_token="tok",
                 installed_at=utcnow(), currency="EUR")
    session.add(other)
    session.commit()
    # the other shop: the same customers ids, everyone ordering a lot more, yesterday
    support.write(other, *[support.order(f"x{n}", NOW - DAY, "999.00", customer="c-F") for n in range(5)])
    metrics.recompute(session, shop, NOW)
    metrics.recompute(session, other, NOW)
    session.commit()
    return shop, other


def test_rfm_scores_and_segments_match_the_hand_checked_table(session, scored):
    shop, _ = scored
    rows = _rows(session, shop.id)
    found = {key[4:]: (row.r_score, row.f_score, row.m_score, row.rfm_segment)
             for key, row in rows.items() if row.order_count}
    assert found == EXPECTED
    d = rows["c:c-D"]
    assert (d.order_count, d.total_spent, d.average_order_value, d.window_orders) == (1, 500.0, 500.0, 1)
    # spend ranks over all seven buyers: F 5, A 10, B 40, G 50, C 90, E 100, D 500
    assert {key[4:]: round(row.spend_rank, 4) for key, row in rows.items() if row.order_count} == {
        "F": 0.0, "A": 0.1667, "B": 0.3333, "G": 0.5, "C": 0.6667, "E": 0.8333, "D": 1.0}
    none = rows["c:c-none"]
    assert (none.order_count, none.rfm_segment, none.p_alive, none.email) == (0, None, None, "none@example.com")


def test_each_buyer_gets_predictions_from_the_shops_model(session, scored):
    shop, _ = scored
    rows = _rows(session, shop.id)
    model = session.get(SegmentModel, shop.id)
    assert model.clv["method"] == "prior" and "thin history" in model.clv["reason"]
    for key, row in rows.items():
        if not row.order_count:
            continue
        assert 0 < row.p_alive <= 1 and row.expected_orders_90d > 0 and row.predicted_value_12m > 0, key
        assert row.churn_band in ("low", "medium", "high")
    # one-time buyers are "alive" in BG/NBD; a repeat buyer silent for long is less so than a recent one
    assert rows["c:c-A"].p_alive == 1.0
    assert rows["c:c-B"].p_alive < rows["c:c-E"].p_alive
    # E buys every five days: more expected orders and more value than B, who stopped 100 days ago
    assert rows["c:c-E"].expected_orders_90d > rows["c:c-B"].expected_orders_90d
    assert rows["c:c-E"].predicted_value_12m > rows["c:c-B"].predicted_value_12m


def test_the_scores_are_the_quintiles_of_each_measures_percent_rank_ties_included(session, shop):
    # Scores come from each measure's least value per quintile; ranking the stored rows directly
    # with PERCENT_RANK must give the same scores. Few distinct values, so most buyers tie.
    shop.currency = "EUR"
    session.commit()
    chance = random.Random(7)
    records: list = []
    for number in range(80):
        records.append(support.customer(f"c-{number}", f"{number}@example.com", NOW - 500 * DAY))
        for order in range(chance.randint(1, 4)):
            records.append(support.order(f"o-{number}-{order}", NOW - chance.choice((3, 10, 10, 40, 100, 400)) * DAY,
                                         chance.choice(("10.00", "20.00", "20.00", "35.50")), customer=f"c-{number}"))
    support.write(shop, *records)
    metrics.recompute(session, shop, NOW)
    session.commit()
    M = CustomerMetrics
    inside = (M.last_order_at >= NOW - 365 * DAY) & (M.window_orders > 0)
    ranks = [func.percent_rank().over(order_by=column) for column in (M.last_order_at, M.window_orders,
                                                                       func.round(M.window_spent * 100))]
    ranked = session.execute(select(M.customer_key, M.r_score, M.f_score, M.m_score, *ranks)
                             .where(M.shop_id == shop.id, M.order_count > 0, inside)).all()
    lost = session.execute(select(M.r_score, M.f_score, M.m_score, M.rfm_segment)
                           .where(M.shop_id == shop.id, M.order_count > 0, ~inside)).all()
    assert len(ranked) > 40 and lost and set(lost) == {(1, 1, 1, metrics.LOST)}
    quintile = [1 + sum(rank >= least for least in (0.2, 0.4, 0.6, 0.8)) for row in ranked for rank in row[4:]]
    assert [score for row in ranked for score in row[1:4]] == quintile
    assert len({row[1:4] for row in ranked}) > 5  # the table is not all one score


def test_the_first_order_is_the_earliest_and_the_repeat_figures_leave_it_out(session, shop):
    shop.currency = "EUR"
    session.commit()
    moment, later = NOW - 30 * DAY, NOW - 10 * DAY
    # Two orders at the same moment: the first is the one of the lower id ("a2", not "z1"); an
    # order in dollars counts as an order but has no amount in the shop's currency.
    support.write(shop, support.customer("c-tie", "tie@example.com", NOW - 40 * DAY),
                  support.order("z1", moment, "15.00", customer="c-tie"),
                  support.order("a2", moment, "40.00", customer="c-tie"),
                  support.order("a3", later, "99.00", customer="c-tie", currency="USD"),
                  support.order("b4", later, "7.00", customer="c-tie"))
    window_start = NOW - 365 * DAY
    recomputed = {row[0]: row for row in metrics._purchases(session, shop, NOW, window_start)}
    refreshed = {row[0]: row for row in metrics._purchases(session, shop, NOW, window_start, only=["c:c-tie"])}
    for rows in (recomputed, refreshed):
        who, first, last, orders, spent, repeat_spent, repeat_priced = rows["c:c-tie"][:7]
        assert (first, last, orders, spent) == (moment, later, 4, pytest.approx(62.0))
        # the repeat orders are 15.00 and 7.00, and the dollars, unpriced
        assert (repeat_spent, repeat_priced) == (pytest.approx(22.0), 2)


def test_a_full_run_reads_its_timestamps_in_utc_whatever_the_sessions_time_zone(session, scored):
    shop, _ = scored
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # SQLite keeps no time zone: its naive values are read as UTC
        session.execute(text("SET LOCAL TimeZone = 'America/New_York'"))
    rows = {row[0]: row for row in metrics._purchases(session, shop, NOW, NOW - 365 * DAY)}
    first, last = rows["c:c-C"][1:3]
    assert (first, last) == (NOW - 90 * DAY, NOW - 50 * DAY)
    assert first.utcoffset() == dt.timedelta(0) and last.utcoffset() == dt.timedelta(0)
    if postgres:  # and the session's own setting is left as it was
        assert session.execute(text("SHOW TimeZone")).scalar_one() == "America/New_York"


def test_the_bulk_read_refuses_in_lists_and_raises_the_databases_errors_as_sqlalchemys(session, scored):
    with pytest.raises(ValueError, match="IN lists"):
        metrics._all_rows(session, select(CustomerMetrics.customer_key).where(CustomerMetrics.customer_key.in_(["c:1"])))
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="no_such_table"):
        metrics._all_rows(session, select(literal_column("1")).select_from(text("no_such_table")))
    session.rollback()


def test_the_other_shop_is_scored_on_its_own(session, scored):
    shop, other = scored
    theirs = _rows(session, other.id)
    assert list(theirs) == ["c:c-F"]
    assert (theirs["c:c-F"].order_count, theirs["c:c-F"].total_spent) == (5, 4995.0)
    assert _rows(session, shop.id)["c:c-F"].total_spent == 5.0


def test_a_new_order_refreshes_only_its_customer_against_the_last_limits(session, scored):
    shop, _ = scored
    before = _rows(session, shop.id)
    # A orders again today (60.00): last order now, two orders in the window, 70 spent
    support.write(shop, support.order("A-new", NOW, "60.00", customer="c-A"))
    keys, more = metrics.refresh(session, shop, NOW + DAY)
    session.commit()
    assert (keys, more) == ({"c:c-A"}, False)
    after = _rows(session, shop.id)
    a = after["c:c-A"]
    # against the limits of the night: R ≥ E's last order → 5, F 2 reaches B's 4, M 70 ≥ B's 40 → 3
    assert (a.order_count, a.total_spent, a.window_orders) == (2, 70.0, 2)
    assert (a.r_score, a.f_score, a.m_score, a.rfm_segment) == (5, 4, 3, metrics.CHAMPIONS)
    assert a.p_alive < 1.0  # now a repeat buyer
    assert all(after[key].computed_at == before[key].computed_at for key in before if key != "c:c-A")
    # a second refresh finds nothing new
    assert metrics.refresh(session, shop, NOW + DAY) == (set(), False)


def test_a_refresh_during_a_full_recompute_waits_for_it_and_keeps_its_change(session, scored):
    # given a full recompute under way in one transaction, and a new order of A's
    shop, _ = scored
    support.write(shop, support.order("A-new", NOW, "60.00", customer="c-A"))
    session.close()
    make = sessionmaker(bind=db.engine)
    nightly = make()
    metrics.recompute(nightly, nightly.get(Shop, shop.id), NOW + DAY)
    finished: dict[str, float] = {}
    found: dict[str, object] = {}

    def refresh() -> None:
        own = make()
        try:
            found["refresh"] = metrics.refresh(own, own.get(Shop, shop.id), NOW + DAY)
            own.commit()
            finished["refresh"] = time.monotonic()
        finally:
            own.close()

    # when a refresh of the same shop starts meanwhile
    worker = threading.Thread(target=refresh)
    worker.start()
    worker.join(timeout=1.0)

    # then it waits until the recompute commits, and A's rows are whole afterwards
    assert worker.is_alive() and "refresh" not in finished
    nightly.commit()
    committed = time.monotonic()
    nightly.close()
    worker.join(timeout=60)
    assert finished["refresh"] >= committed
    # it read the cursor the recompute left (A's new order counted already): nothing to redo
    assert found["refresh"] == (set(), False)
    check = make()
    rows = _rows(check, shop.id)
    check.close()
    assert rows["c:c-A"].order_count == 2 and rows["c:c-A"].total_spent == 70.0
    assert len(rows) == len(HISTORY) + 1  # every customer once (the one without orders too)


def test_a_cancelled_order_takes_its_purchase_back(session, scored):
    shop, _ = scored
    support.write(shop, support.order("F0", NOW - 5 * DAY, "5.00", customer="c-F", cancelled=True))
    keys, _ = metrics.refresh(session, shop, NOW)
    session.commit()
    f = _rows(session, shop.id)["c:c-F"]
    assert keys == {"c:c-F"}
    assert (f.order_count, f.total_spent, f.rfm_segment, f.p_alive) == (0, 0.0, None, None)



def test_more_changes_than_a_batch_recompute_everyone(session, scored):
    shop, _ = scored
    support.write(shop, support.order("A-new", NOW, "60.00", customer="c-A"),
                  support.order("B-new", NOW, "10.00", customer="c-B"))
    later = NOW + DAY
    assert metrics.refresh(session, shop, later, limit=1) == (set(), False)
    session.commit()
    rows = _rows(session, shop.id)
    model = session.get(SegmentModel, shop.id)
    # a full run: every row recomputed at that moment, the night's limits redrawn, the cursor at the end
    assert model.full_computed_at == later and {row.computed_at for row in rows.values()} == {later}
    assert (rows["c:c-A"].order_count, rows["c:c-B"].order_count) == (2, 3)
    assert metrics.refresh(session, shop, later + DAY) == (set(), False)
    assert session.get(SegmentModel, shop.id).full_computed_at == later


def test_a_full_run_reads_the_customers_aside_only_when_its_transaction_has_written_nothing(session, shop):
    shop.currency = "EUR"
    session.commit()
    _history(shop)
    tagged = dataclasses.replace(support.customer("c-B", "B@Example.com ", NOW - 500 * DAY), tags=("VIP", " vip", "Gold"),
                                 email_marketing_state="subscribed")
    support.write(shop, tagged)
    member = support.member(shop, customer="c-C", entries=(("order", 120), ("order", -20)))
    member.tier = "gold"
    session.execute(text("UPDATE ledger_entries SET created_at = :at WHERE member_id = :id"),
                    {"at": NOW - 100 * DAY, "id": member.id})  # earned before the run's moment
    session.commit()
    postgres = session.get_bind().dialect.name == "postgresql"

    aside = metrics.recompute(session, shop, NOW)  # nothing written yet in this transaction
    session.commit()
    first = {key: _figures(row) for key, row in _rows(session, shop.id).items()}
    assert aside.read_aside is postgres  # PostgreSQL reads them on a second connection meanwhile
    assert first["c:c-B"][:3] == ("b@example.com", ",gold,vip,", True)
    assert first["c:c-C"][3:5] == ("gold", 100)

    session.execute(text("UPDATE shops SET name = name WHERE id = :id"), {"id": shop.id})  # a write, first
    inline = metrics.recompute(session, shop, NOW)
    session.commit()
    assert inline.read_aside is False  # the other connection could not see what this one wrote
    assert {key: _figures(row) for key, row in _rows(session, shop.id).items()} == first
    assert len(first) == len(HISTORY) + 1


def _figures(row: CustomerMetrics) -> tuple:
    return (row.email, row.tags_text, row.email_subscribed, row.tier, row.points_balance, row.order_count,
            row.total_spent, row.r_score, row.f_score, row.m_score, row.rfm_segment, row.p_alive,
            row.predicted_value_12m)


def test_a_failed_read_aside_fails_the_run_and_writes_nothing(session, scored, monkeypatch):
    shop, _ = scored
    before = {key: _figures(row) for key, row in _rows(session, shop.id).items()}
    session.commit()

    def broken(*args, **kwargs):
        raise RuntimeError("customers unreadable")

    monkeypatch.setattr(metrics, "_people", broken)
    checked_out = db.engine.pool.checkedout()
    with pytest.raises(RuntimeError, match="customers unreadable"):
        metrics.recompute(session, shop, NOW + DAY)
    session.rollback()
    assert db.engine.pool.checkedout() == checked_out  # the read's own connection went back
    assert {key: _figures(row) for key, row in _rows(session, shop.id).items()} == before


def test_a_failed_run_cancels_the_read_aside_and_gives_its_connection_back(session, scored, monkeypatch):
    shop, _ = scored
    session.commit()
    started = threading.Event()

    def slow(aside, *args):  # a read that would take half a minute
        started.set()
        aside.execute(text("SELECT pg_sleep(30)"))
        return {}, {}

    def broken(*args, **kwargs):
        assert started.wait(10)  # the read is under way when the run fails
        time.sleep(0.2)
        raise RuntimeError("orders unreadable")

    postgres = session.get_bind().dialect.name == "postgresql"
    monkeypatch.setattr(metrics, "_people", slow)
    monkeypatch.setattr(metrics, "_purchases", broken if postgres else lambda *args, **kwargs: broken(started.set()))
    checked_out = db.engine.pool.checkedout()
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="orders unreadable"):
        metrics.recompute(session, shop, NOW + DAY)
    assert time.monotonic() - began < 10  # not the read's 30 s: it was cancelled
    session.rollback()
    assert db.engine.pool.checkedout() == checked_out


def _waits_for(holder, work):
    """``work(session)`` in a thread on a session of its own, committed: it must wait while ``holder``
    (a session holding the shop's lock) is open, and finish once it commits. Returns what it returned."""
    make = sessionmaker(bind=db.engine)
    found: dict[str, object] = {}

    def run() -> None:
        own = make()
        try:
            found["result"] = work(own)
            own.commit()
        finally:
            own.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive()  # waiting for the holder's lock
    holder.commit()
    holder.close()
    worker.join(timeout=60)
    assert not worker.is_alive() and "result" in found
    return found["result"]


def test_a_run_waiting_for_an_erasure_reads_the_customers_as_the_erasure_left_them(session, scored):
    shop, _ = scored
    session.close()
    eraser = sessionmaker(bind=db.engine)()
    metrics.hold(eraser, shop.id)  # as an erasure does, then changes the person
    eraser.execute(text("UPDATE customers SET email = NULL, tags = NULL WHERE shop_id = :shop AND external_id = 'c-B'"),
                   {"shop": shop.id})
    result = _waits_for(eraser, lambda own: metrics.recompute(own, own.get(Shop, shop.id), NOW + DAY))
    assert result.read_aside is (db.engine.dialect.name == "postgresql")
    row = _rows(db.session(), shop.id)["c:c-B"]
    assert (row.email, row.tags_text, row.order_count) == (None, None, 2)


def test_a_shop_redaction_during_a_run_waits_for_it_and_leaves_none_of_its_rows(session, scored):
    from app.store import privacy

    shop_id, other_id = (found.id for found in scored)
    others = len(_rows(session, other_id))
    session.close()
    runner = sessionmaker(bind=db.engine)()
    # a full run under way: it has rewritten the shop's rows and not committed yet
    metrics.recompute(runner, runner.get(Shop, shop_id), NOW + DAY)
    _waits_for(runner, lambda own: privacy.redact_shop(own, own.get(Shop, shop_id), keep_event_id=None))
    left = db.session().execute(select(CustomerMetrics.shop_id, func.count()).group_by(CustomerMetrics.shop_id)).all()
    assert others > 0 and dict(left) == {other_id: others}  # none of the run's rows outlived the redaction


def test_predictions_in_two_parts_are_those_of_one(session, scored, monkeypatch):
    shop, _ = scored
    model = session.get(SegmentModel, shop.id)
    purchases = metrics._purchases(session, shop, NOW, NOW - 365 * DAY)
    whole = metrics._predict(purchases, NOW, model, fit=False)
    monkeypatch.setattr(metrics, "_PARALLEL_FROM", 2)
    parts = metrics._predict(purchases, NOW, model, fit=False)
    assert len(whole["p_alive"]) == len(purchases) == 7
    for name in ("p_alive", "expected", "value", "band"):
        assert parts[name].tolist() == whole[name].tolist()


def test_a_deleted_shops_members_go_with_its_segments(session, scored):
    from app.segments import membership
    from app.store.models import Segment, SegmentMember

    _, other = scored
    membership.update_all(session, other, NOW)
    session.commit()
    members = select(func.count()).select_from(SegmentMember).where(SegmentMember.shop_id == other.id)
    assert session.execute(members).scalar_one() > 0  # its one buyer, c-F, is in some of its segments
    session.delete(other)
    session.commit()
    assert session.execute(members).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(Segment).where(Segment.shop_id == other.id)).scalar_one() == 0
