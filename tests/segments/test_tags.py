"""Segment tags are written back to the store, on both platforms, through devstore over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import installs, platforms
from app.extensions import db
from app.segments import tags
from app.store.models import Customer, CustomerTagSync, Shop
from app.store.types import utcnow
from connectors.shopify import queries
from jobs import segments
from jobs.segments import request_tag_write_back, sweep_tag_write_backs, write_back_tags
from tests.conftest import API_KEY
from tests.helpers import connect_woo, install, run_jobs


def _shop(platform: str) -> Shop:
    db.session().expire_all()
    return db.session().execute(select(Shop).where(Shop.platform == platform)).scalar_one()


def _customers(shop: Shop) -> list[str]:
    return list(db.session().execute(select(Customer.external_id).where(Customer.shop_id == shop.id)
                                     .order_by(Customer.id)).scalars())


def _row(shop: Shop | int, customer_id: str) -> CustomerTagSync:
    db.session().expire_all()
    return db.session().execute(select(CustomerTagSync).where(
        CustomerTagSync.shop_id == (shop if isinstance(shop, int) else shop.id), CustomerTagSync.customer_external_id == customer_id)).scalar_one()


def _state(row: CustomerTagSync) -> tuple:
    return row.wanted, row.written, row.dirty, row.attempts, row.next_attempt_at, row.error


def _want(shop: Shop, changes: dict[str, list[str]]) -> int:
    session = db.session()
    changed = tags.want(session, shop.id, changes)
    session.commit()
    return changed


def _shopify_tags(store, customer_id: str) -> list[str]:
    """The customer's tags as devstore's Shopify holds them now (not the mirror), sorted."""
    return sorted(tag for tag in store.control("GET", f"/customers/{customer_id}")["tags"].split(", ") if tag)


def _shopify_value(store, customer_id: str) -> str | None:
    metafields = store.control("GET", f"/customers/{customer_id}")["metafields"]
    return next((m["value"] for m in metafields if (m["namespace"], m["key"]) == ("comeback", "segment_tags")), None)


def _hand_tag(shop: Shop, customer_id: str, tag: str) -> None:
    """Tag a customer as the merchant does in the admin (the app never wrote this tag)."""
    connector = platforms.connector(shop.platform)
    installs.call_with_credentials(db.session(), shop, lambda credentials: connector.graphql().execute(
        credentials, queries.TAGS_ADD, {"id": f"gid://shopify/Customer/{customer_id}", "tags": [tag]}))


def _woo_meta(shop: Shop, customer_id: str) -> dict[str, str]:
    """The customer's meta as the store's REST API answers it."""
    connector = platforms.connector(shop.platform)
    answer = installs.call_with_credentials(
        db.session(), shop, lambda credentials: connector.client(credentials).get(f"/customers/{customer_id}"))
    return {m["key"]: m["value"] for m in answer.data["meta_data"]}


def _count_calls(monkeypatch, shop: Shop) -> list[list[str]]:
    """Record the customers of every ``set_customer_attributes`` call the connector makes."""
    connector = platforms.connector(shop.platform)
    real = connector.set_customer_attributes
    calls: list[list[str]] = []

    def counted(credentials, updates):
        calls.append([update.customer_external_id for update in updates])
        return real(credentials, updates)

    monkeypatch.setattr(connector, "set_customer_attributes", counted)
    return calls


def _installed_shopify(client, store, customers: int = 3) -> tuple[Shop, list[str]]:
    store.generate(seed=4, customers=customers, products=1, orders=0)
    install(client, store)
    assert run_jobs() == []
    shop = _shop("shopify")
    return shop, _customers(shop)


def _settle(store) -> None:
    """Let the store's webhooks about our own changes arrive and be processed."""
    store.drain_deliveries()
    assert run_jobs() == []


def _write_now(shop: Shop, now: dt.datetime) -> dict[str, int]:
    session = db.session()
    connector = platforms.connector(shop.platform)
    return installs.call_with_credentials(session, shop, lambda credentials: tags.write(
        session, shop, connector, credentials, tags.due(session, shop.id, now), now=now))


# --- Shopify ------------------------------------------------------------------------------


def test_shopify_tags_are_added_then_removed_and_the_merchants_own_tag_stays(client, live_app, store, monkeypatch):
    shop, (first, second, _) = _installed_shopify(client, store)
    _hand_tag(shop, first, "wholesale")
    _settle(store)
    # when two customers enter segments
    assert _want(shop, {first: ["comeback-vip", "comeback-loyal"], second: ["comeback-vip"]}) == 2
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    # then the store carries the tags and the value, beside the merchant's own tag
    assert _shopify_tags(store, first) == ["comeback-loyal", "comeback-vip", "wholesale"]
    assert _shopify_tags(store, second) == ["comeback-vip"]
    assert _shopify_value(store, first) == ",comeback-loyal,comeback-vip,"
    assert _state(_row(shop, first)) == (["comeback-loyal", "comeback-vip"], ["comeback-loyal", "comeback-vip"],
                                         False, 0, None, None)
    _settle(store)
    # when the first customer leaves the VIP segment, only that tag goes; "wholesale" stays
    assert _want(shop, {first: ["comeback-loyal"]}) == 1
    assert _row(shop, first).dirty is True
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    assert _shopify_tags(store, first) == ["comeback-loyal", "wholesale"]
    assert _shopify_tags(store, second) == ["comeback-vip"]
    assert _shopify_value(store, first) == ",comeback-loyal,"
    assert _state(_row(shop, first)) == (["comeback-loyal"], ["comeback-loyal"], False, 0, None, None)
    # when the first customer leaves every segment, the app's tags go and the merchant's stays
    assert _want(shop, {first: []}) == 1
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    assert _shopify_tags(store, first) == ["wholesale"]
    assert _shopify_value(store, first) == ","
    _settle(store)
    # and a re-run with the same wanted tags writes nothing a second time
    calls = _count_calls(monkeypatch, shop)
    assert _want(shop, {first: [], second: ["comeback-vip"]}) == 0
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    assert write_back_tags(shop.id) == {}
    assert calls == []
    assert _shopify_tags(store, first) == ["wholesale"] and _shopify_tags(store, second) == ["comeback-vip"]


def test_shopify_a_store_that_cannot_answer_is_tried_again_later_and_then_written(client, live_app, store):
    shop, (first, *_) = _installed_shopify(client, store, customers=2)
    _want(shop, {first: ["comeback-vip"]})
    # given a store answering 503 to every attempt the client makes
    response = store.http.post("/_devstore/faults", json={"status": 503, "count": 4})
    assert response.status_code == 201, response.text
    now = utcnow()
    assert _write_now(shop, now) == {"retry": 1}
    assert _state(_row(shop, first)) == (
        ["comeback-vip"], [], True, 1, now + tags.RETRY_DELAYS[0],
        f"the store could not be reached: shop {shop.domain}: HTTP 503")
    assert _shopify_tags(store, first) == []
    # not due before its moment, due at it: the sweep queues the shop, and the write succeeds
    assert tags.due(db.session(), shop.id, now + dt.timedelta(minutes=4)) == []
    assert tags.shops_due(db.session(), now + dt.timedelta(minutes=4)) == []
    later = now + tags.RETRY_DELAYS[0]
    assert tags.shops_due(db.session(), later) == [shop.id]
    assert _write_now(shop, later) == {"written": 1}
    assert _state(_row(shop, first)) == (["comeback-vip"], ["comeback-vip"], False, 0, None, None)
    assert _shopify_tags(store, first) == ["comeback-vip"]


def test_shopify_the_backoff_grows_with_each_failed_attempt(client, live_app, store):
    shop, (first, *_) = _installed_shopify(client, store, customers=1)
    _want(shop, {first: ["comeback-vip"]})
    db.session().execute(update(CustomerTagSync).values(attempts=2))
    db.session().commit()
    assert store.http.post("/_devstore/faults", json={"status": 503, "count": 4}).status_code == 201
    now = utcnow()
    assert _write_now(shop, now) == {"retry": 1}
    row = _row(shop, first)
    assert (row.attempts, row.next_attempt_at, row.dirty) == (3, now + dt.timedelta(hours=2), True)


def test_shopify_a_customer_the_store_refuses_is_given_up_and_the_others_written(client, live_app, store):
    shop, (first, *_) = _installed_shopify(client, store, customers=1)
    # given a customer the store does not have beside a real one
    _want(shop, {first: ["comeback-vip"], "987654321": ["comeback-vip"]})
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    assert _shopify_tags(store, first) == ["comeback-vip"]
    assert _state(_row(shop, first))[:4] == (["comeback-vip"], ["comeback-vip"], False, 0)
    refused = _row(shop, "987654321")
    assert (refused.written, refused.dirty, refused.attempts, refused.next_attempt_at) == ([], False, 1, None)
    assert refused.error.startswith("the store refused: ")
    # a refusal of every customer of a batch is the shop's problem: they are all put off, not given up
    _want(shop, {"987654322": ["comeback-vip"], "987654323": ["comeback-vip"]})
    now = utcnow()
    assert _write_now(shop, now) == {"retry": 2}
    for customer_id in ("987654322", "987654323"):
        row = _row(shop, customer_id)
        assert (row.dirty, row.attempts, row.next_attempt_at) == (True, 1, now + tags.RETRY_DELAYS[0])


def test_shopify_tags_wanted_while_a_write_is_in_flight_stay_dirty(client, live_app, store, monkeypatch):
    shop, (first, *_) = _installed_shopify(client, store, customers=1)
    _want(shop, {first: ["comeback-vip"]})
    connector = platforms.connector(shop.platform)
    real = connector.set_customer_attributes

    def meanwhile(credentials, updates):
        # while the store writes, the customer moves to another segment (another transaction)
        with Session(db.engine) as other:
            assert tags.want(other, shop.id, {first: ["comeback-at-risk"]}) == 1
            other.commit()
        return real(credentials, updates)

    monkeypatch.setattr(connector, "set_customer_attributes", meanwhile)
    assert _write_now(shop, utcnow()) == {"written": 1}
    monkeypatch.setattr(connector, "set_customer_attributes", real)
    # then what was sent is recorded as written, and the new tags are still to write
    assert _state(_row(shop, first)) == (["comeback-at-risk"], ["comeback-vip"], True, 0, None, None)
    assert _shopify_tags(store, first) == ["comeback-vip"]
    # the next run swaps them: the old tag, written by the app, is removed
    assert write_back_tags(shop.id) == {"written": 1}
    assert _shopify_tags(store, first) == ["comeback-at-risk"]
    assert _state(_row(shop, first)) == (["comeback-at-risk"], ["comeback-at-risk"], False, 0, None, None)


def test_shopify_another_shops_rows_are_untouched(client, live_app, store, monkeypatch):
    shop, (first, second, _) = _installed_shopify(client, store)
    session = db.session()
    other = Shop(platform="shopify", domain="other-shop-for-tags.myshopify.com", status="active",
                 access_token="tok", installed_at=utcnow())
    gone = Shop(platform="shopify", domain="gone-shop-for-tags.myshopify.com", status="uninstalled",
                access_token="tok", installed_at=utcnow())
    session.add_all([other, gone])
    session.commit()
    other_id, gone_id = other.id, gone.id
    # given rows of the same customer ids in two other shops
    assert tags.want(session, other_id, {first: ["comeback-other"], second: ["comeback-other"]}) == 2
    assert tags.want(session, gone_id, {first: ["comeback-gone"]}) == 1
    session.commit()
    before = {customer_id: (_state(_row(other_id, customer_id)), _row(other_id, customer_id).updated_at)
              for customer_id in (first, second)}
    # when this shop's tags change and are written
    assert _want(shop, {first: ["comeback-vip"]}) == 1
    calls = _count_calls(monkeypatch, shop)
    assert write_back_tags(shop.id) == {"written": 1}
    # then only this shop's customer was sent, and the other shops' rows are as they were
    assert calls == [[first]]
    assert _shopify_tags(store, first) == ["comeback-vip"] and _shopify_tags(store, second) == []
    assert {customer_id: (_state(_row(other_id, customer_id)), _row(other_id, customer_id).updated_at)
            for customer_id in (first, second)} == before
    assert [row.customer_external_id for row in tags.due(db.session(), other_id, utcnow())] == [first, second]
    # the sweep queues the other active shop only (not this one, done; not the uninstalled one)
    queued: list[int] = []
    monkeypatch.setattr(segments, "request_tag_write_back", queued.append)
    assert sweep_tag_write_backs() == 1
    assert queued == [other_id]
    assert write_back_tags(gone_id) == {}
    assert _row(gone_id, first).dirty is True


# --- WooCommerce --------------------------------------------------------------------------


def _connected_woo(client, woo_store) -> tuple[Shop, str]:
    """A connected store with one customer carrying the merchant's own meta."""
    woo_store.generate(seed=9, customers=2, products=1, orders=0)
    assert connect_woo(client, woo_store).status_code == 200
    assert run_jobs() == []
    person = woo_store.control("POST", "/customers", email=f"ana-{woo_store.handle}@example.com", first_name="Ana",
                               meta_data=[{"key": "merchant_note", "value": "wholesale"}])
    woo_store.drain_deliveries()
    assert run_jobs() == []
    return _shop("woocommerce"), str(person["id"])


def test_woocommerce_tags_become_customer_meta_and_the_merchants_meta_stays(client, live_app, woo_store,
                                                                            monkeypatch):
    shop, person = _connected_woo(client, woo_store)
    assert _want(shop, {person: ["comeback-vip", "comeback-loyal"]}) == 1
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    meta = _woo_meta(shop, person)
    assert (meta.get("comeback_segment_tags"), meta.get("merchant_note")) == (",comeback-loyal,comeback-vip,",
                                                                              "wholesale")
    assert _state(_row(shop, person)) == (["comeback-loyal", "comeback-vip"], ["comeback-loyal", "comeback-vip"],
                                          False, 0, None, None)
    # when the customer leaves one segment, then every one
    assert _want(shop, {person: ["comeback-loyal"]}) == 1
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    assert _woo_meta(shop, person)["comeback_segment_tags"] == ",comeback-loyal,"
    assert _want(shop, {person: []}) == 1
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    meta = _woo_meta(shop, person)
    assert (meta["comeback_segment_tags"], meta["merchant_note"]) == (",", "wholesale")
    assert _state(_row(shop, person)) == ([], [], False, 0, None, None)
    # a re-run writes nothing a second time
    woo_store.drain_deliveries()
    assert run_jobs() == []
    calls = _count_calls(monkeypatch, shop)
    assert _want(shop, {person: []}) == 0
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    assert write_back_tags(shop.id) == {}
    assert calls == []


def test_woocommerce_a_throttled_store_is_tried_again_later_and_given_up_after_the_last_attempt(
        client, live_app, woo_store):
    shop, person = _connected_woo(client, woo_store)
    _want(shop, {person: ["comeback-vip"]})
    # given a store asking to wait a minute: longer than the client waits itself
    woo_store.control("POST", "/faults", status=429, count=1, retry_after=60)
    now = utcnow()
    assert _write_now(shop, now) == {"retry": 1}
    row = _row(shop, person)
    assert (row.written, row.dirty, row.attempts, row.next_attempt_at) == ([], True, 1, now + tags.RETRY_DELAYS[0])
    assert row.error.startswith("the store could not be reached: ")
    assert "comeback_segment_tags" not in _woo_meta(shop, person)
    later = now + tags.RETRY_DELAYS[0]
    assert _write_now(shop, later) == {"written": 1}
    assert _woo_meta(shop, person)["comeback_segment_tags"] == ",comeback-vip,"
    assert _state(_row(shop, person)) == (["comeback-vip"], ["comeback-vip"], False, 0, None, None)
    # when the last attempt fails too, the row is given up (not dirty), with the reason
    _want(shop, {person: ["comeback-loyal"]})
    db.session().execute(update(CustomerTagSync).values(attempts=tags.MAX_ATTEMPTS - 1))
    db.session().commit()
    woo_store.control("POST", "/faults", status=429, count=1, retry_after=60)
    assert _write_now(shop, later) == {"failed": 1}
    row = _row(shop, person)
    assert (row.wanted, row.written, row.dirty, row.attempts, row.next_attempt_at) == (
        ["comeback-loyal"], ["comeback-vip"], False, tags.MAX_ATTEMPTS, None)
    assert row.error.startswith(f"gave up after {tags.MAX_ATTEMPTS} attempts: the store could not be reached: ")
    assert tags.shops_due(db.session(), later + dt.timedelta(days=1)) == []
    # a later change of the wanted tags is new work: tried again from the first attempt
    _want(shop, {person: ["comeback-loyal", "comeback-vip"]})
    assert write_back_tags(shop.id) == {"written": 1}
    assert _woo_meta(shop, person)["comeback_segment_tags"] == ",comeback-loyal,comeback-vip,"


# --- the rows themselves ------------------------------------------------------------------


def test_want_marks_a_row_dirty_only_when_its_wanted_tags_change(session, shop):
    # a new customer with no tag gets no row; duplicates and order do not matter
    assert tags.want(session, shop.id, {"1": [], "2": ["b", "a", "a"]}) == 1
    session.commit()
    assert session.execute(select(CustomerTagSync.customer_external_id).where(
        CustomerTagSync.shop_id == shop.id)).scalars().all() == ["2"]
    session.execute(update(CustomerTagSync).values(written=["a", "b"], dirty=False))
    session.commit()
    row = _row(shop, "2")
    stamp = row.updated_at
    assert tags.want(session, shop.id, {"2": ["a", "b"]}) == 0
    session.commit()
    assert (_row(shop, "2").dirty, _row(shop, "2").updated_at) == (False, stamp)
    assert tags.want(session, shop.id, {"2": ["a"]}, now=stamp) == 1
    session.commit()
    row = _row(shop, "2")
    # updated_at moves even when the clock did not: a write in flight must see the change
    assert (row.wanted, row.written, row.dirty, row.updated_at) == (["a"], ["a", "b"], True,
                                                                   stamp + dt.timedelta(microseconds=1))


def test_want_updates_a_row_another_transaction_inserted_first(session, shop, monkeypatch):
    real = tags.insert_ignore

    def racing(*args, **kwargs):
        # another process inserts the same customer's row between our look-up and our insert
        with db.engine.begin() as other:
            other.execute(CustomerTagSync.__table__.insert().values(
                shop_id=shop.id, customer_external_id="7", wanted=["x"], written=["x"], dirty=False, attempts=0,
                updated_at=utcnow() - dt.timedelta(minutes=1)))
        return real(*args, **kwargs)

    monkeypatch.setattr(tags, "insert_ignore", racing)
    assert tags.want(session, shop.id, {"7": ["y"]}) == 1
    session.commit()
    row = _row(shop, "7")
    assert (row.wanted, row.written, row.dirty) == (["y"], ["x"], True)


@pytest.mark.usefixtures("app_context")
def test_a_shop_that_is_not_active_is_not_written(session, shop):
    tags.want(session, shop.id, {"1": ["comeback-vip"]})
    shop.status = "reauthorize"
    session.commit()
    assert tags.shops_due(session, utcnow()) == []
    session.commit()
    assert write_back_tags(shop.id) == {}  # ends with a fresh session (the job removes its own)
    assert _row(shop, "1").dirty is True


def test_want_refuses_a_value_that_cannot_be_one_tag(session, shop):
    for bad in ("two,tags", " padded", "line\nbreak", "x" * 256):
        with pytest.raises(ValueError):
            tags.want(session, shop.id, {"1": ["comeback-vip", bad]})
    assert session.execute(select(CustomerTagSync)).scalars().all() == []


def test_shopify_a_capped_run_queues_its_continuation(client, live_app, store, monkeypatch):
    shop, (first, second, third) = _installed_shopify(client, store)
    _want(shop, {first: ["comeback-vip"], second: ["comeback-vip"], third: ["comeback-vip"]})
    # given runs of one batch of one row each
    monkeypatch.setattr(tags, "BATCH", 1)
    monkeypatch.setattr(segments, "MAX_BATCHES", 1)
    calls = _count_calls(monkeypatch, shop)
    request_tag_write_back(shop.id)
    assert run_jobs() == []
    # then each run wrote one batch and queued the next, until none was left
    assert calls == [[first], [second], [third]]
    assert [_shopify_tags(store, customer_id) for customer_id in (first, second, third)] == [["comeback-vip"]] * 3
    assert tags.shops_due(db.session(), utcnow()) == []


def test_shopify_an_expired_token_is_refreshed_and_a_revoked_one_leaves_the_rows_waiting(client, live_app, store):
    shop, (first, second, _) = _installed_shopify(client, store)
    _want(shop, {first: ["comeback-vip"]})
    # an expired access token: refreshed, and the batch is written with the new one
    store.control("POST", "/expire-tokens")
    assert write_back_tags(shop.id) == {"written": 1}
    assert _shopify_tags(store, first) == ["comeback-vip"]
    # an uninstalled app: nothing is recorded on the row, the shop waits for re-authorization
    _want(shop, {second: ["comeback-vip"]})
    store.control("POST", "/uninstall", client_id=API_KEY)
    assert write_back_tags(shop.id) == {}
    assert _state(_row(shop, second)) == (["comeback-vip"], [], True, 0, None, None)
    assert _shopify_tags(store, second) == []
    assert _shop("shopify").status == "reauthorize"
