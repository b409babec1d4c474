"""Cohorts and new/returning revenue: months in the shop's time zone, refunds, excluded orders, one shop only."""

from __future__ import annotations

from tests.analytics import support
from tests.analytics.support import at

URL = "/api/admin/analytics"
WINDOW = {"end": "2026-03", "months": 3}  # January to March 2026


def _story(target, *, prefix=""):
    """Orders worked out by hand in the tests below (Berlin: UTC+1 in winter, UTC+2 from 29 March)."""
    p = prefix
    support.write(
        target,
        support.customer(f"{p}c-c", "Carl@Example.com", at("2025-06-01T00:00")),
        # A: 00:30 on 1 January in Berlin (still December in UTC), February, and 00:30 on 1 April in
        # Berlin (still March in UTC, summer time)
        support.order(f"{p}a1", at("2025-12-31T23:30"), "100.00", customer=f"{p}c-a"),
        support.order(f"{p}a2", at("2026-02-10T12:00"), "50.00", customer=f"{p}c-a"),
        support.order(f"{p}a3", at("2026-03-31T22:30"), "15.00", customer=f"{p}c-a"),
        # B: January, refunded 30 in February; a cancelled and a test order in March do not count
        support.order(f"{p}b1", at("2026-01-15T12:00"), "80.00", customer=f"{p}c-b"),
        support.order(f"{p}b2", at("2026-03-05T12:00"), "40.00", customer=f"{p}c-b", cancelled=True),
        support.order(f"{p}b3", at("2026-03-06T12:00"), "20.00", customer=f"{p}c-b", is_test=True),
        support.refund(f"{p}rb1", f"{p}b1", "30.00", at("2026-02-20T12:00")),
        # C: February as a customer, March as a guest with the customer's email (another case)
        support.order(f"{p}c1", at("2026-02-03T12:00"), "70.00", customer=f"{p}c-c", email="carl@example.com"),
        support.order(f"{p}c2", at("2026-03-10T12:00"), "30.00", email=" carl@EXAMPLE.com"),
        # G: a guest known only by an email, the March order refunded in full
        support.order(f"{p}g1", at("2026-02-01T10:00"), "60.00", email="Gina@Example.com"),
        support.order(f"{p}g2", at("2026-03-02T10:00"), "40.00", email="gina@example.com"),
        support.refund(f"{p}rg2", f"{p}g2", "40.00", at("2026-03-03T10:00")),
        # nobody: neither a customer nor an email
        support.order(f"{p}n1", at("2026-03-15T12:00"), "25.00"),
        # D: first ordered in November, so returning in January
        support.order(f"{p}d0", at("2025-11-20T12:00"), "10.00", customer=f"{p}c-d"),
        support.order(f"{p}d1", at("2026-01-20T12:00"), "90.00", customer=f"{p}c-d"),
        # E: an order in another currency: a customer and an order, no money
        support.order(f"{p}e1", at("2026-02-15T12:00"), "99.00", customer=f"{p}c-e", currency="USD"),
    )


def test_cohorts_count_customers_and_net_revenue_by_month_in_the_shops_time_zone(client, admin, other):
    store, auth = admin
    _story(support.shop(store.domain))
    _story(support.shop(other[0].domain), prefix="x-")  # the same story, doubled, in another shop
    response = client.get(f"{URL}/cohorts", query_string=WINDOW, headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["months"], body["currency"], body["timezone"], body["from"], body["to"],
            body["orders_in_other_currencies"]) == ([0, 1, 2], "EUR", "Europe/Berlin", "2026-01", "2026-03", 1)
    assert body["cohorts"] == [
        {"cohort": "2026-01", "customers": 2, "retention": [1.0, 0.5, 0.0], "active": [2, 1, 0],
         "orders": [2, 1, 0], "revenue": ["150.00", "50.00", "0.00"]},
        {"cohort": "2026-02", "customers": 3, "retention": [1.0, 0.6667], "active": [3, 2], "orders": [3, 2],
         "revenue": ["130.00", "30.00"]},
        {"cohort": "2026-03", "customers": 0, "retention": [None], "active": [0], "orders": [0],
         "revenue": ["0.00"]},
    ]


def test_revenue_is_split_between_new_returning_and_unidentified_customers(client, admin, other):
    store, auth = admin
    _story(support.shop(store.domain))
    _story(support.shop(other[0].domain), prefix="x-")
    body = client.get(f"{URL}/revenue-split", query_string=WINDOW, headers=auth).get_json()
    assert body["months"] == ["2026-01", "2026-02", "2026-03"]
    assert body["new"] == {"customers": [2, 3, 0], "orders": [2, 3, 0], "revenue": ["150.00", "130.00", "0.00"]}
    assert body["returning"] == {"customers": [1, 1, 2], "orders": [1, 1, 2], "revenue": ["90.00", "50.00", "30.00"]}
    assert body["unidentified"] == {"orders": [0, 0, 1], "revenue": ["0.00", "0.00", "25.00"]}
    assert body["total"] == {"revenue": ["240.00", "180.00", "55.00"]}
    assert (body["currency"], body["orders_in_other_currencies"]) == ("EUR", 1)


def test_without_a_time_zone_months_are_utc_months(client, admin):
    store, auth = admin
    _story(support.shop(store.domain, timezone=None))
    cohorts = client.get(f"{URL}/cohorts", query_string=WINDOW, headers=auth).get_json()
    assert cohorts["timezone"] == "UTC"
    # a1 is December in UTC: A is no longer a January customer, and a3 is March
    assert cohorts["cohorts"][0] == {"cohort": "2026-01", "customers": 1, "retention": [1.0, 0.0, 0.0],
                                     "active": [1, 0, 0], "orders": [1, 0, 0], "revenue": ["50.00", "0.00", "0.00"]}
    split = client.get(f"{URL}/revenue-split", query_string=WINDOW, headers=auth).get_json()
    assert split["returning"] == {"customers": [1, 1, 3], "orders": [1, 1, 3], "revenue": ["90.00", "50.00", "45.00"]}
    # an unknown zone name counts as UTC too
    support.shop(store.domain, timezone="Mars/Olympus_Mons")
    assert client.get(f"{URL}/cohorts", query_string=WINDOW, headers=auth).get_json()["cohorts"] == cohorts["cohorts"]


def test_a_shop_without_a_currency_reports_in_the_currency_of_most_of_its_orders(client, admin):
    store, auth = admin
    target = support.shop(store.domain, currency=None)
    support.write(target,
                  support.order("u1", at("2026-03-02T12:00"), "10.00", customer="c1", currency="USD"),
                  support.order("u2", at("2026-03-03T12:00"), "20.00", customer="c2", currency="USD"),
                  support.order("k1", at("2026-03-04T12:00"), "5.00", customer="c3", currency="CHF"))
    body = client.get(f"{URL}/revenue-split", query_string={"end": "2026-03", "months": 1}, headers=auth).get_json()
    assert (body["currency"], body["new"]["revenue"], body["new"]["customers"],
            body["orders_in_other_currencies"]) == ("USD", ["30.00"], [3], 1)


def test_the_window_defaults_to_the_twelve_months_ending_this_month(client, admin):
    store, auth = admin
    support.shop(store.domain)
    body = client.get(f"{URL}/cohorts", headers=auth).get_json()
    assert (len(body["months"]), len(body["cohorts"]), body["cohorts"][0]["customers"]) == (12, 12, 0)
    assert [len(c["active"]) for c in body["cohorts"]] == list(range(12, 0, -1))
    split = client.get(f"{URL}/revenue-split", query_string={"months": 2}, headers=auth).get_json()
    assert split["months"][-1] == body["to"] and len(split["months"]) == 2
