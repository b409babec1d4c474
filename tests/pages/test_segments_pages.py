"""The segments pages: the list with sizes, the rule builder and its preview, members, exports, one shop only."""

from __future__ import annotations

import csv
import hashlib
import io
import re

from babel.numbers import format_currency
from sqlalchemy import func, select

from app.extensions import db
from app.segments import membership
from app.store.models import Customer, CustomerMetrics, Segment, SegmentEvent, SegmentMember

URL = "/api/admin/segments"
# What segments.js sends for two rows "total spent is more than 100" and "number of orders is at least 1".
BIG_SPENDERS = {"all": [{"field": "total_spent", "op": ">", "value": 100},
                        {"field": "order_count", "op": ">=", "value": 1}]}


def _metrics(shop_id: int) -> list[CustomerMetrics]:
    return list(db.session().execute(select(CustomerMetrics).where(CustomerMetrics.shop_id == shop_id)).scalars())


def _members(segment_id: int) -> set[str]:
    return set(db.session().execute(select(SegmentMember.customer_key)
                                    .where(SegmentMember.segment_id == segment_id)).scalars())


def _segment(shop_id: int, key: str) -> Segment | None:
    db.session().expire_all()
    return db.session().execute(select(Segment).where(Segment.shop_id == shop_id, Segment.key == key,
                                                      Segment.deleted_at.is_(None))).scalar_one_or_none()


def _counts(shop_id: int) -> tuple[int, int, int]:
    session = db.session()
    return (session.execute(select(func.count()).select_from(Segment).where(Segment.shop_id == shop_id)).scalar_one(),
            session.execute(select(func.count()).select_from(SegmentMember)
                            .where(SegmentMember.shop_id == shop_id)).scalar_one(),
            session.execute(select(func.count()).select_from(SegmentEvent)
                            .where(SegmentEvent.shop_id == shop_id)).scalar_one())


def _row(html: str, key: str) -> str:
    found = re.search(rf'<tr data-segment="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert found, key
    return found.group(1)


def _create(admin, name: str, rules: dict, **extra):
    response = admin.api("POST", URL, {"name": name, "rules": rules, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _add_guests(shop_id: int, count: int) -> list[str]:
    """Guest buyers known by email alone, with distinct spends (enough for several pages of members)."""
    session = db.session()
    keys = []
    for number in range(count):
        key = f"e:guest{number:03d}@example.com"
        session.add(CustomerMetrics(shop_id=shop_id, customer_key=key, email=key[2:], order_count=1,
                                    total_spent=1000.0 + number, average_order_value=1000.0 + number,
                                    email_subscribed=number % 2 == 0))
        keys.append(key)
    session.commit()
    return keys


def test_the_list_shows_every_segment_with_its_member_count(admin):
    # given the store's figures computed at install, and a merchant's own segment
    created = _create(admin, "Big spenders", BIG_SPENDERS)
    # when the merchant opens the list
    html = admin.html("/admin/segments")
    # then each live segment shows its size as counted in segment_members, built-ins marked
    segments = membership.live(db.session(), admin.shop.id)
    assert [segment.key for segment in segments] == [*membership.BUILT_IN_KEYS, created["key"]]
    for segment in segments:
        row = _row(html, segment.key)
        shown = re.search(r"<td class=\"num\" data-members>([^<]*)</td>", row).group(1)
        assert int(shown.replace(",", "")) == len(_members(segment.id)), segment.key
        assert ("Built-in" in row) is segment.built_in
    assert "Spend percentile is at least 90%" in _row(html, "vip")
    amount = format_currency(100, admin.shop.currency, locale="en") if admin.shop.currency else "100"
    assert f"Total spent is more than {amount} and number of orders is at least 1" in _row(html, created["key"])
    assert 'href="/admin/segments/new' in html


def test_the_builder_creates_a_segment_whose_members_are_the_matching_customers(admin):
    # given the new-segment page, whose builder sends the rules as the API takes them
    page = admin.html("/admin/segments/new")
    assert 'data-path="/api/admin/segments"' in page and 'data-method="POST"' in page
    # when the merchant creates "Big spenders"
    created = _create(admin, "Big spenders", BIG_SPENDERS, tag="big-spender")
    # then it is stored with the rules, and its members are exactly the customers who match in the database
    stored = _segment(admin.shop.id, "big_spenders")
    assert stored is not None and stored.rules == BIG_SPENDERS and stored.tag == "big-spender"
    assert stored.built_in is False and created["key"] == "big_spenders"
    expected = {row.customer_key for row in _metrics(admin.shop.id) if row.total_spent > 100 and row.order_count >= 1}
    assert expected and _members(stored.id) == expected
    assert stored.member_count == len(expected)
    # and its page lists them, each linking to the customer's page
    html = admin.html("/admin/segments/big_spenders")
    customers = {customer.external_id: customer.id for customer in db.session().execute(
        select(Customer).where(Customer.shop_id == admin.shop.id)).scalars()}
    for key in expected:
        assert f'data-member="{key}"' in html
        assert f'href="/admin/customers/{customers[key[2:]]}' in html
    assert html.count("data-member=") == len(expected)


def test_the_preview_counts_what_saving_would_hold_and_writes_nothing(admin):
    # given the shop's segments as they are
    before = _counts(admin.shop.id)
    # when the builder asks for a preview of draft rules
    response = admin.api("POST", f"{URL}/preview", {"rules": BIG_SPENDERS})
    # then it answers the count and nothing was written
    assert response.status_code == 200, response.get_json()
    count = response.get_json()["members"]
    assert _counts(admin.shop.id) == before
    # and saving the same rules makes a segment of exactly that size
    created = _create(admin, "Big spenders", BIG_SPENDERS)
    assert created["members"] == count == len(_members(_segment(admin.shop.id, created["key"]).id))
    everyone = admin.api("POST", f"{URL}/preview", {"rules": {"all": [{"field": "order_count", "op": ">=", "value": 0}]}})
    assert everyone.get_json()["members"] == len(_metrics(admin.shop.id))


def test_a_bad_rule_is_a_422_naming_its_row_and_the_builder_has_a_slot_for_it(admin):
    bad = {"all": [{"field": "total_spent", "op": ">", "value": 100},
                   {"field": "order_count", "op": ">=", "value": None}]}
    before = _counts(admin.shop.id)
    # when the preview or the save gets a row without a number
    for path, body in ((f"{URL}/preview", {"rules": bad}), (URL, {"name": "Broken", "rules": bad})):
        response = admin.api("POST", path, body)
        # then it is a 422 naming the second row's value, and nothing is stored
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["field"] == "rules.all[1].value"
        assert "must be a number" in response.get_json()["error"]
    assert _counts(admin.shop.id) == before
    assert admin.api("POST", f"{URL}/preview", {"rules": {"all": [{"field": "tier", "op": "contains", "value": "x"}]}}
                     ).get_json()["field"] == "rules.all[0].op"
    assert admin.api("POST", f"{URL}/preview", {"rules": BIG_SPENDERS, "name": "x"}).get_json()["field"] == "body"
    assert admin.api("POST", f"{URL}/preview", data="rules=x").status_code == 400
    # and the builder's rows carry the field path (brackets as dots) with an error slot beside each input
    html = admin.html("/admin/segments/new")
    for part in ("field", "op", "value"):
        assert f'data-field="rules.all.0.{part}"' in html
        assert f'<p class="field-error" data-for="rules.all.0.{part}"></p>' in html
    assert 'id="rule-row-template"' in html and 'id="segment-fields"' in html
    # the operators offered for a field are that field's own
    for name in ("total_spent", "tags", "email_subscribed", "last_order_at"):
        assert f'<option value="{name}"' in html
    assert '<option value="contains"' not in html.split('id="rule-row-template"')[0].split('data-role="op"')[1][:800]


def test_the_members_page_shows_fifty_at_a_time(admin):
    # given 120 guest buyers who spent 1,000 or more
    guests = _add_guests(admin.shop.id, 120)
    _create(admin, "Whales", {"all": [{"field": "total_spent", "op": ">=", "value": 1000}]})
    # when the merchant pages through the members
    first = admin.html("/admin/segments/whales")
    second = admin.html("/admin/segments/whales", page="2")
    third = admin.html("/admin/segments/whales", page="3")
    # then each page has 50 (the last the rest), every member once, with links between them
    shown = [re.findall(r'data-member="([^"]+)"', html) for html in (first, second, third)]
    assert [len(keys) for keys in shown] == [50, 50, 20]
    assert sum(shown, []) == sorted(guests)
    assert "Showing 1–50 of 120" in first and "Showing 101–120 of 120" in third
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="next"' not in third and 'rel="prev"' in third and "Page 3 of 3" in third
    assert "Guest" in first
    beyond = admin.html("/admin/segments/whales", page="9")
    assert "data-member=" not in beyond and "This page is past the last member." in beyond


def test_the_csv_export_holds_exactly_the_members(admin):
    _add_guests(admin.shop.id, 3)
    created = _create(admin, "Big spenders", BIG_SPENDERS)
    html = admin.html(f"/admin/segments/{created['key']}")
    assert f'href="/api/admin/segments/{created["key"]}/export.csv" data-download="{created["key"]}.csv"' in html
    response = admin.api("GET", f"{URL}/{created['key']}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    members = _members(_segment(admin.shop.id, created["key"]).id)
    exported = {f"c:{row['customer_id']}" if row["customer_id"] else f"e:{row['email']}" for row in rows}
    assert len(rows) == len(members) and exported == members


def test_the_ad_audience_holds_only_members_who_agreed_to_email_marketing(admin):
    _add_guests(admin.shop.id, 6)
    created = _create(admin, "Everyone", {"all": [{"field": "order_count", "op": ">=", "value": 1}]})
    html = admin.html(f"/admin/segments/{created['key']}")
    assert "only members who agreed to email marketing" in html and "SHA-256" in html
    assert 'audience.csv?format=meta" data-download=' in html and 'audience.csv?format=google" data-download=' in html
    subscribed = {hashlib.sha256(row.email.encode()).hexdigest() for row in _metrics(admin.shop.id)
                  if row.email_subscribed and row.order_count >= 1 and row.email}
    response = admin.api("GET", f"{URL}/{created['key']}/audience.csv", query_string={"format": "meta"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {row["email"] for row in rows} == subscribed


def test_editing_the_rules_recomputes_the_members(admin):
    created = _create(admin, "Big spenders", BIG_SPENDERS)
    html = admin.html(f"/admin/segments/{created['key']}")
    assert 'data-method="PUT"' in html and f'data-path="/api/admin/segments/{created["key"]}"' in html
    changed = {"any": [{"field": "order_count", "op": "=", "value": 1}]}
    response = admin.api("PUT", f"{URL}/{created['key']}", {"name": "Single orders", "rules": changed, "tag": None})
    assert response.status_code == 200, response.get_json()
    stored = _segment(admin.shop.id, created["key"])
    assert stored.name == "Single orders" and stored.rules == changed
    assert _members(stored.id) == {row.customer_key for row in _metrics(admin.shop.id) if row.order_count == 1}
    page = admin.html(f"/admin/segments/{created['key']}")
    assert "Number of orders is 1" in page and 'value="any" data-skip checked' in page


def test_a_built_in_cannot_be_deleted_and_says_so(admin):
    html = admin.html("/admin/segments/vip")
    assert "Built-in segments cannot be deleted." in html and "data-delete-segment" not in html
    response = admin.api("DELETE", f"{URL}/vip")
    assert response.status_code == 409 and "built in" in response.get_json()["error"]
    assert _segment(admin.shop.id, "vip") is not None
    created = _create(admin, "Big spenders", BIG_SPENDERS)
    assert "data-delete-segment" in admin.html(f"/admin/segments/{created['key']}")
    assert admin.api("DELETE", f"{URL}/{created['key']}").status_code == 204
    assert _segment(admin.shop.id, created["key"]) is None
    assert admin.get(f"/admin/segments/{created['key']}").status_code == 404


def test_another_shop_sees_none_of_this_shops_segments(admin, other_admin):
    created = _create(admin, "Big spenders", BIG_SPENDERS)
    key = created["key"]
    assert other_admin.get(f"/admin/segments/{key}").status_code == 404
    assert other_admin.get(f"/admin/segments/{key}", page="2").status_code == 404
    for path in (f"{URL}/{key}/export.csv", f"{URL}/{key}/audience.csv", f"{URL}/{key}/members", f"{URL}/{key}"):
        assert other_admin.api("GET", path).status_code == 404, path
    assert other_admin.api("PUT", f"{URL}/{key}", {"name": "Mine now"}).status_code == 404
    assert other_admin.api("DELETE", f"{URL}/{key}").status_code == 404
    assert _segment(admin.shop.id, key).name == "Big spenders"
    assert key not in other_admin.html("/admin/segments")
    # a segment of the same key in the other shop is its own, with its own members
    _create(other_admin, "Big spenders", {"all": [{"field": "order_count", "op": ">=", "value": 1}]})
    theirs = other_admin.html(f"/admin/segments/{key}")
    theirs_members = _members(_segment(other_admin.shop.id, key).id)
    assert set(re.findall(r'data-member="([^"]+)"', theirs)) == theirs_members
    assert theirs.count("data-member=") == len(theirs_members)
    other_customers = set(db.session().execute(select(Customer.id).where(Customer.shop_id == other_admin.shop.id))
                          .scalars())
    linked = {int(found) for found in re.findall(r'href="/admin/customers/(\d+)', theirs)}
    assert linked and linked <= other_customers
    # and a preview counts only the other shop's customers
    everyone = {"all": [{"field": "order_count", "op": ">=", "value": 0}]}
    assert other_admin.api("POST", f"{URL}/preview", {"rules": everyone}).get_json()["members"] == len(
        _metrics(other_admin.shop.id))


def test_the_pages_speak_the_merchants_language(admin):
    german = admin.html("/admin/segments", locale="de")
    assert "Alle Segmente" in german and "Neues Segment" in german
    french = admin.html("/admin/segments/new", locale="fr")
    assert "Ajouter une condition" in french and "Les clients qui remplissent" in french
