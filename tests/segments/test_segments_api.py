"""The segments API: rules with bad input, built-ins, a merchant's segment, events, exports, one shop only."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.segments import clv, membership, metrics
from app.store.models import CustomerTagSync, SegmentEvent
from connectors import base
from tests.analytics import support
from tests.analytics.conftest import admin, other  # noqa: F401  (fixtures)
from tests.segments.test_metrics import DAY, HISTORY, NOW, _history

URL = "/api/admin/segments"
RULES = {"all": [{"field": "order_count", "op": ">=", "value": 2},
                 {"any": [{"field": "rfm_segment", "op": "in", "value": ["loyal", "champions"]},
                          {"field": "tags", "op": "contains", "value": "Wholesale"}]}]}


def _recompute(domain: str):
    target = support.shop(domain, timezone="UTC")
    session = db.session()
    membership.recompute_shop(session, target, NOW)
    session.commit()
    return target


@pytest.fixture()
def story(admin, other):  # noqa: F811
    mine = support.shop(admin[0].domain, timezone="UTC")
    _history(mine)
    support.write(mine, support.customer("c-H", "Harry@Example.com", NOW), support.customer("c-W", "w@example.com", NOW))
    theirs = support.shop(other[0].domain, timezone="UTC")
    _history(theirs, prefix="x-")
    _recompute(mine.domain)
    _recompute(theirs.domain)
    return mine, theirs


@pytest.mark.parametrize(("rules", "field", "message"), [
    (None, "rules", 'must be {"all": [...]} or {"any": [...]}'),
    ({"all": []}, "rules.all", "must be a non-empty list"),
    ({"both": [{"field": "order_count", "op": ">", "value": 1}]}, "rules", "must be"),
    ({"all": [{"field": "shoe_size", "op": ">", "value": 1}]}, "rules.all[0].field", "must be one of order_count"),
    ({"all": [{"field": "order_count", "op": "contains", "value": 1}]}, "rules.all[0].op", "for order_count"),
    ({"all": [{"field": "order_count", "op": ">", "value": "two"}]}, "rules.all[0].value", "must be a number"),
    ({"all": [{"field": "order_count", "op": ">", "value": True}]}, "rules.all[0].value", "must be a number"),
    ({"all": [{"field": "order_count", "op": ">", "value": -1}]}, "rules.all[0].value", "must be from 0"),
    ({"all": [{"field": "spend_percentile", "op": ">=", "value": 101}]}, "rules.all[0].value", "from 0 to 100"),
    ({"all": [{"field": "rfm_segment", "op": "=", "value": "heroes"}]}, "rules.all[0].value", "must be one of"),
    ({"all": [{"field": "churn_band", "op": "in", "value": []}]}, "rules.all[0].value", "non-empty list"),
    ({"all": [{"field": "last_order_at", "op": "within_days", "value": 0}]}, "rules.all[0].value", "whole number"),
    ({"all": [{"field": "last_order_at", "op": "before", "value": "March"}]}, "rules.all[0].value", "YYYY-MM-DD"),
    ({"all": [{"field": "first_order_at", "op": "this_month", "value": 3}]}, "rules.all[0].value", "takes no value"),
    ({"all": [{"field": "email_subscribed", "op": "=", "value": "yes"}]}, "rules.all[0].value", "true or false"),
    ({"all": [{"field": "tags", "op": "contains", "value": "a,b"}]}, "rules.all[0].value", "comma"),
    ({"all": [{"field": "order_count", "op": ">", "value": 1, "weight": 2}]}, "rules.all[0]", "unknown key"),
    ({"all": ["order_count > 1"]}, "rules.all[0]", "must be a condition"),
    ({"all": [{"any": [{"all": [{"any": [{"field": "order_count", "op": ">", "value": 1}]}]}]}]},
     "rules.all[0].any[0].all[0]", "nested at most 3"),
    ({"any": [{"field": "order_count", "op": ">", "value": n} for n in range(51)]}, "rules.any[50]", "at most 50"),
    ({"all": [{"field": ["order_count"], "op": ">", "value": 1}]}, "rules.all[0].field", "must be one of"),
    ({"all": [{"field": "total_spent", "op": ">", "value": 10 ** 400}]}, "rules.all[0].value", "must be a number"),
    ({"all": [{"field": "last_order_at", "op": "after", "value": "9999-12-31"}]}, "rules.all[0].value",
     "from 1900-01-01 to 2999-12-31"),
    ({"all": [{"field": "first_order_at", "op": "before", "value": "0001-01-01"}]}, "rules.all[0].value",
     "from 1900-01-01 to 2999-12-31"),
    ({"all": [{"field": "last_order_at", "op": "before", "value": "20240101"}]}, "rules.all[0].value", "YYYY-MM-DD"),
])
def test_bad_rules_are_a_422_naming_the_place(client, admin, rules, field, message):  # noqa: F811
    _, auth = admin
    response = client.post(URL, json={"name": "Bad", "rules": rules}, headers=auth)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["field"] == field
    assert message in body["error"]


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"rules": RULES}, 422, "name"),
    ({"name": " ", "rules": RULES}, 422, "name"),
    ({"name": "x" * 121, "rules": RULES}, 422, "name"),
    ({"name": "Big", "rules": RULES, "key": "Big Spenders"}, 422, "key"),
    ({"name": "Big", "rules": RULES, "tag": "a,b"}, 422, "tag"),
    ({"name": "Big", "rules": RULES, "tag": "a\nb"}, 422, "tag"),
    ({"name": "Big", "rules": RULES, "key": "big\n"}, 422, "key"),
    ({"name": "Big", "rules": RULES, "colour": "red"}, 422, "colour"),
    (["not", "an", "object"], 422, "body"),
])
def test_a_bad_definition_is_refused_and_nothing_is_stored(client, admin, body, status, field):  # noqa: F811
    _, auth = admin
    response = client.post(URL, json=body, headers=auth)
    assert (response.status_code, response.get_json()["field"]) == (status, field)
    keys = [segment["key"] for segment in client.get(URL, headers=auth).get_json()["segments"]]
    assert keys == list(membership.BUILT_IN_KEYS)


def test_a_body_that_is_not_json_is_a_400(client, admin):  # noqa: F811
    _, auth = admin
    response = client.post(URL, data="name=x", headers=auth)
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]


def test_a_body_nested_too_deeply_to_parse_is_a_400(client, admin):  # noqa: F811
    _, auth = admin
    response = client.post(f"{URL}/preview", data="[" * 100_000 + "]" * 100_000,
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]


def test_every_call_needs_a_session_token(client):
    for path in ("", "/vip", "/vip/members", "/vip/export.csv", "/rfm", "/model", "/customers/c-A"):
        assert client.get(URL + path).status_code == 401, path


def test_built_ins_are_filled_from_the_figures(client, admin, story):  # noqa: F811
    _, auth = admin
    segments = {item["key"]: item for item in client.get(URL, headers=auth).get_json()["segments"]}
    assert list(segments) == list(membership.BUILT_IN_KEYS)
    members = {key: {m["customer_id"] for m in client.get(f"{URL}/{key}/members", headers=auth).get_json()["members"]}
               for key in segments}
    # top 10 % by spend among seven buyers: D alone (500) has a percentile ≥ 90 (E is at 83.3)
    assert members["vip"] == {"c-D"}
    # no order for 182 days: A (200) and G (400); high churn risk: none of the others
    assert members["at_risk"] >= {"c-A", "c-G"} and "c-E" not in members["at_risk"]
    assert members["one_time_buyers"] == {"c-A", "c-D", "c-F", "c-G"}
    # the test's now is 1 June 2026: F ordered on 27 May
    assert members["new_this_month"] == set()
    assert segments["vip"]["members"] == 1 and segments["one_time_buyers"]["members"] == 4


def test_a_merchants_segment_is_filled_at_once_and_kept_current(client, admin, story):  # noqa: F811
    _, auth = admin
    mine, _ = story
    created = client.post(URL, json={"name": "Regulars", "rules": RULES, "tag": "comeback-regular"}, headers=auth)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["key"], body["members"], created.headers["Location"]) == ("regulars", 2, f"{URL}/regulars")
    listed = client.get(f"{URL}/regulars/members", headers=auth).get_json()["members"]
    assert {m["customer_id"] for m in listed} == {"c-C", "c-E"}  # loyal C, champion E (D is loyal, one order)
    # the first filling is no event; the tag is wanted on both customers
    session = db.session()
    assert session.execute(select(SegmentEvent).where(SegmentEvent.shop_id == mine.id,
                                                      SegmentEvent.segment_key == "regulars")).all() == []
    wanted = {row.customer_external_id: row.wanted for row in session.execute(
        select(CustomerTagSync).where(CustomerTagSync.shop_id == mine.id)).scalars()}
    assert wanted == {"c-C": ["comeback-regular"], "c-E": ["comeback-regular"]}
    # W is tagged wholesale in the store and orders twice: entering is an event, the tag follows
    support.write(mine, support.customer("c-W", "w@example.com", NOW).__class__(
        external_id="c-W", email="w@example.com", state="enabled", created_at=NOW, updated_at=NOW,
        tags=("Wholesale",)))
    support.write(mine, support.order("W1", NOW, "10.00", customer="c-W"), support.order("W2", NOW, "10.00",
                                                                                        customer="c-W"))
    membership.refresh_shop(session, mine, NOW)
    session.commit()
    events = session.execute(select(SegmentEvent.segment_key, SegmentEvent.kind, SegmentEvent.customer_external_id)
                             .where(SegmentEvent.shop_id == mine.id).order_by(SegmentEvent.id)).all()
    assert ("regulars", "entered", "c-W") in events
    assert session.get(CustomerTagSync, session.execute(select(CustomerTagSync.id).where(
        CustomerTagSync.shop_id == mine.id, CustomerTagSync.customer_external_id == "c-W")).scalar_one()).wanted == [
        "comeback-regular"]
    # narrower rules: C leaves (an event), the tag is no longer wanted on C
    changed = client.put(f"{URL}/regulars", json={"rules": {"all": [{"field": "rfm_segment", "op": "=",
                                                                       "value": "champions"}]}}, headers=auth)
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    session.expire_all()
    left = session.execute(select(SegmentEvent.customer_external_id).where(
        SegmentEvent.shop_id == mine.id, SegmentEvent.kind == "left")).scalars().all()
    assert "c-C" in left
    c = session.execute(select(CustomerTagSync).where(CustomerTagSync.shop_id == mine.id,
                                                      CustomerTagSync.customer_external_id == "c-C")).scalar_one()
    assert (c.wanted, c.dirty) == ([], True)
    assert client.delete(f"{URL}/regulars", headers=auth).status_code == 204
    assert client.get(f"{URL}/regulars", headers=auth).status_code == 404
    assert client.delete(f"{URL}/vip", headers=auth).status_code == 409


def test_bought_rules_match_the_products_and_categories_each_customer_bought(client, admin, story):  # noqa: F811
    _, auth = admin
    mine, _ = story

    def bought(order_id: str, who: str, product_id: str) -> base.Order:
        return dataclasses.replace(support.order(order_id, NOW - 3 * DAY, "80.00", customer=who),
                                   line_items=(base.LineItem(f"{order_id}-1", product_id, 1, Decimal("80.00"),
                                                             product_external_id=product_id),))

    support.write(mine,
                  base.Product(external_id="p-boot", title="Boot", updated_at=NOW, product_type="Footwear",
                               categories=("Shoes",)),
                  base.Product(external_id="p-hat", title="Hat", updated_at=NOW, product_type="Gadgets",
                               categories=("Hats",)),
                  bought("boot-1", "c-H", "p-boot"), bought("hat-1", "c-W", "p-hat"))
    _recompute(mine.domain)

    def members(name: str, field: str, op: str, value: Any) -> set[str | None]:
        created = client.post(URL, json={"name": name, "rules": {"all": [{"field": field, "op": op, "value": value}]}},
                              headers=auth)
        assert created.status_code == 201, created.get_json()
        key = created.get_json()["key"]
        return {m["customer_id"] for m in client.get(f"{URL}/{key}/members", headers=auth).get_json()["members"]}

    everyone = members("All", "order_count", ">=", 0)
    assert {"c-H", "c-W"} < everyone
    # a category matches the product's categories and its type, case aside; nothing else of another product
    assert members("Shoe people", "categories_bought", "contains_any", ["shoes"]) == {"c-H"}
    assert members("Footwear", "categories_bought", "contains_any", ["FOOTWEAR"]) == {"c-H"}
    assert members("No shoes", "categories_bought", "contains_none", ["shoes"]) == everyone - {"c-H"}
    assert members("Hat buyers", "products_bought", "contains_any", ["p-hat", "p-none"]) == {"c-W"}
    assert members("Unknown", "categories_bought", "contains_any", ["socks"]) == set()


def test_exports_list_the_members_with_figures_and_hashed_identifiers(client, admin, story):  # noqa: F811
    _, auth = admin
    mine, _ = story
    support.write(mine, support.customer("c-D", "  D@Example.com ", NOW).__class__(
        external_id="c-D", email="D@Example.com", first_name="=Dora", last_name="Day", phone="030 1234567",
        state="enabled", created_at=NOW, updated_at=NOW, email_marketing_state="subscribed", country_code="DE"))
    _recompute(mine.domain)
    response = client.get(f"{URL}/vip/export.csv", headers=auth)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="vip.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    d = rows[0]
    assert (d["customer_id"], d["email"], d["first_name"], d["order_count"], d["total_spent"], d["rfm_segment"]) == (
        "c-D", "d@example.com", "'=Dora", "1", "500.00", "loyal")
    # the member's own country (her default address's) reads her national number, not the one asked for
    meta = client.get(f"{URL}/vip/audience.csv", query_string={"format": "meta", "country": "US"}, headers=auth)
    lines = list(csv.reader(io.StringIO(meta.get_data(as_text=True))))
    assert lines[0] == ["email", "phone", "fn", "ln", "zip", "country"]
    assert lines[1][0] == hashlib.sha256(b"d@example.com").hexdigest()
    assert lines[1][1] == hashlib.sha256(b"49301234567").hexdigest()  # E.164 without the +
    assert lines[1][2] == hashlib.sha256(b"dora").hexdigest()
    assert (lines[1][4], lines[1][5]) == ("", hashlib.sha256(b"de").hexdigest())  # no postal codes in the mirror
    google = client.get(f"{URL}/vip/audience.csv", query_string={"format": "google"}, headers=auth)
    glines = list(csv.reader(io.StringIO(google.get_data(as_text=True))))
    assert glines[0][:2] == ["Email", "Phone"] and glines[1][0] == hashlib.sha256(b"d@example.com").hexdigest()
    # only members with marketing consent unless asked otherwise: A is not subscribed
    client.post(URL, json={"name": "Sleepers", "rules": {"all": [{"field": "rfm_segment", "op": "=",
                                                                   "value": "hibernating"}]}}, headers=auth)
    assert len(client.get(f"{URL}/sleepers/audience.csv", headers=auth).get_data(as_text=True).splitlines()) == 1
    anyone = client.get(f"{URL}/sleepers/audience.csv", query_string={"consent": "any"}, headers=auth)
    assert len(anyone.get_data(as_text=True).splitlines()) == 2
    for query in ({"format": "tiktok"}, {"country": "Germany"}, {"consent": "maybe"}):
        bad = client.get(f"{URL}/vip/audience.csv", query_string=query, headers=auth)
        assert bad.status_code == 400 and bad.get_json()["error"].startswith(next(iter(query)))


def test_rfm_grid_model_and_a_customers_figures(client, admin, story):  # noqa: F811
    _, auth = admin
    grid = client.get(f"{URL}/rfm", headers=auth).get_json()
    named = {item["segment"]: item["customers"] for item in grid["segments"]}
    assert named == {**dict.fromkeys(metrics.RFM_SEGMENTS, 0), "hibernating": 1, "at_risk": 1, "loyal": 2,
                     "champions": 1, "new": 1, "lost": 1}
    assert sum(map(sum, grid["r_by_f"])) == len(HISTORY)
    assert grid["r_by_f"][0] == [1, 0, 0, 0, 1]  # R 5: F (F 1) and E (F 5)
    model = client.get(f"{URL}/model", headers=auth).get_json()
    assert model["clv"]["method"] == "prior" and model["clv"]["bgnbd"]["r"] == pytest.approx(0.243)
    e = client.get(f"{URL}/customers/c-E", headers=auth).get_json()
    assert (e["order_count"], e["rfm"]["segment"], e["rfm"]["name"]) == (4, "champions", "Champions")
    assert e["churn_band"] == str(clv.churn_risk(e["probability_active"]))
    assert e["predicted_value_12m"] > 0 and 0 < e["probability_active"] <= 1
    assert client.get(f"{URL}/customers/nobody", headers=auth).status_code == 404


def test_another_shop_sees_only_its_own(client, admin, other, story):  # noqa: F811
    _, auth = admin
    _, their_auth = other
    assert client.post(URL, json={"name": "Regulars", "rules": RULES}, headers=auth).status_code == 201
    for path in ("/regulars", "/regulars/members", "/regulars/export.csv"):
        assert client.get(URL + path, headers=their_auth).status_code == 404, path
    assert client.put(f"{URL}/regulars", json={"name": "Mine"}, headers=their_auth).status_code == 404
    assert client.delete(f"{URL}/regulars", headers=their_auth).status_code == 404
    # their customers carry other ids: my customer is not theirs
    assert client.get(f"{URL}/customers/c-E", headers=their_auth).status_code == 404
    theirs = client.get(f"{URL}/vip/members", headers=their_auth).get_json()["members"]
    assert [m["customer_id"] for m in theirs] == ["x-c-D"]
    assert client.post(URL, json={"name": "Regulars", "rules": RULES}, headers=their_auth).status_code == 201


def test_erasing_a_customer_removes_their_figures_and_memberships(client, admin, story):  # noqa: F811
    from app.store import privacy
    from app.store.models import CustomerMetrics, SegmentMember

    _, auth = admin
    mine, _ = story
    session = db.session()
    privacy.redact_customer(session, mine.id, "c-D", email="d@example.com", order_ids=(), event_id=None)
    session.commit()
    assert session.execute(select(CustomerMetrics).where(CustomerMetrics.shop_id == mine.id,
                                                         CustomerMetrics.customer_key == "c:c-D")).first() is None
    assert session.execute(select(SegmentMember).where(SegmentMember.shop_id == mine.id,
                                                       SegmentMember.customer_key == "c:c-D")).first() is None
    assert client.get(f"{URL}/customers/c-D", headers=auth).status_code == 404
    # the next full run counts D's orders again (their amounts are the shop's), without the person
    _recompute(mine.domain)
    again = session.execute(select(CustomerMetrics).where(CustomerMetrics.shop_id == mine.id,
                                                          CustomerMetrics.customer_key == "c:c-D")).scalar_one()
    assert (again.order_count, again.total_spent, again.email) == (1, 500.0, None)
