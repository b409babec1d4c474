"""Quiet hours in the customer's time zone: the zone tables, and delivery keeping them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.flows import timing
from app.messaging import delivery, outbox, zones
from app.messaging.budget import QuietHours
from tests.messaging.conftest import add_customer
from tests.messaging.support import CART

PARIS = ZoneInfo("Europe/Paris")
PACIFIC = ZoneInfo("America/Los_Angeles")
# 06:00 in Los Angeles on a Thursday in December is 14:00 UTC and 15:00 in Paris.
DAWN_IN_CALIFORNIA = dt.datetime(2026, 12, 3, 6, 0, tzinfo=PACIFIC).astimezone(dt.timezone.utc)
US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
             "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC").split()


@pytest.mark.parametrize(("country", "province", "expected"), [
    ("US", "CA", "America/Los_Angeles"),
    ("US", "AZ", "America/Phoenix"),
    ("US", "HI", "Pacific/Honolulu"),
    ("US", "IN", "America/Indiana/Indianapolis"),
    ("US", "TX", "America/Chicago"),  # El Paso is Mountain; most Texans are Central
    ("US", "FL", "America/New_York"),  # the panhandle is Central; most Floridians are Eastern
    ("US", "TN", "America/Chicago"),
    ("US", "ID", "America/Boise"),
    ("US", "ny", "America/New_York"),  # spelled in lower case
    ("US", "US-CA", "America/Los_Angeles"),  # the full ISO 3166-2 code
    ("US", None, "America/New_York"),  # no state: the most populous zone
    ("US", "XX", "America/New_York"),
    ("CA", "BC", "America/Vancouver"),
    ("CA", "SK", "America/Regina"),
    ("CA", "NL", "America/St_Johns"),
    ("CA", None, "America/Toronto"),
    ("AU", "NSW", "Australia/Sydney"),
    ("AU", "WA", "Australia/Perth"),
    ("AU", "QLD", "Australia/Brisbane"),
    ("BR", "AM", "America/Manaus"),
    ("BR", "SP", "America/Sao_Paulo"),
    ("MX", "BCN", "America/Tijuana"),  # ISO 3166-2
    ("MX", "Q ROO", "America/Cancun"),  # Shopify's abbreviation
    ("MX", "SO", "America/Hermosillo"),  # WooCommerce's
    ("MX", "JAL", "America/Mexico_City"),
    ("RU", "KGD", "Europe/Kaliningrad"),
    ("RU", None, "Europe/Moscow"),
    ("ES", "TF", "Atlantic/Canary"),
    ("ES", "M", "Europe/Madrid"),
    ("PT", "20", "Atlantic/Azores"),
    ("FR", None, "Europe/Paris"),
    ("DE", "BY", "Europe/Berlin"),  # one zone, whatever the state
    ("GB", None, "Europe/London"),
    ("JP", "13", "Asia/Tokyo"),
    ("IN", "MH", "Asia/Kolkata"),
    ("NZ", None, "Pacific/Auckland"),
    ("za", None, "Africa/Johannesburg"),
])
def test_a_country_and_subdivision_give_the_zone_most_of_its_people_live_in(country, province, expected):
    assert zones.customer_zone(country, province, PARIS) == ZoneInfo(expected)


@pytest.mark.parametrize(("country", "province"), [(None, None), ("", "CA"), ("ZZ", None), ("XK", "01")])
def test_an_unknown_country_takes_the_fallback(country, province):
    shop_zone = ZoneInfo("Asia/Singapore")
    assert zones.customer_zone(country, province, shop_zone) is shop_zone


def test_the_tables_cover_every_state_and_many_countries_with_zones_this_system_knows():
    states = zones.SUBDIVISION_ZONES["US"][1]
    assert [state for state in US_STATES if state not in states] == []
    assert len(zones.COUNTRY_ZONES) >= 60
    assert set(zones.COUNTRY_ZONES).isdisjoint(zones.SUBDIVISION_ZONES)
    names = set(zones.COUNTRY_ZONES.values()) | {
        name for default, subdivisions in zones.SUBDIVISION_ZONES.values() for name in (default, *subdivisions.values())}
    assert [name for name in sorted(names) if zones._load(name) is None] == []


def _reminder(session, shop, customer_external_id):
    return outbox.create_message(session, shop.id, template="cart_reminder", dedupe_key=f"cart-{customer_external_id}",
                                 customer_external_id=customer_external_id, context=CART,
                                 now=DAWN_IN_CALIFORNIA).message


def _located(session, shop, external_id, email, country, province):
    customer = add_customer(session, shop, external_id=external_id, email=email)
    customer.country_code, customer.province_code = country, province
    session.commit()
    return customer


def test_quiet_hours_follow_the_customer_not_the_shop(session, mail_shop, smtp, channel, config):
    # given a shop in Paris, a customer in California and one in Paris, at 06:00 Pacific (15:00 in Paris)
    assert config.quiet_hours == QuietHours(dt.time(21, 0), dt.time(8, 0))
    _located(session, mail_shop, "c-la", "lena@example.com", "US", "CA")
    _located(session, mail_shop, "c-paris", "paul@example.com", "FR", None)
    californian = _reminder(session, mail_shop, "c-la")
    parisian = _reminder(session, mail_shop, "c-paris")
    session.commit()
    # when both are delivered at that moment
    early = delivery.deliver(session, californian.id, channel, config, now=DAWN_IN_CALIFORNIA)
    sent = delivery.deliver(session, parisian.id, channel, config, now=DAWN_IN_CALIFORNIA)
    # then the Californian's waits, queued, until 08:00 Pacific (16:00 UTC); the Parisian's goes now
    assert (early.status, early.not_before, early.reason) == (
        "deferred", dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.timezone.utc),
        "quiet hours 21:00-08:00 (America/Los_Angeles)")
    assert sent.status == "sent"
    assert [r.rcpt_tos for r in smtp.received] == [["paul@example.com"]]
    # and at 08:00 Pacific the Californian's goes too
    assert delivery.deliver(session, californian.id, channel, config, now=early.not_before).status == "sent"
    assert [r.rcpt_tos for r in smtp.received] == [["paul@example.com"], ["lena@example.com"]]


def test_a_customer_the_mirror_cannot_place_keeps_the_shop_zone(session, mail_shop, smtp, channel, config):
    # given a customer whose address names a country the tables do not know, at 23:00 in Paris
    _located(session, mail_shop, "c-x", "xena@example.com", "ZZ", None)
    message = _reminder(session, mail_shop, "c-x")
    session.commit()
    night = dt.datetime(2026, 12, 3, 22, 0, tzinfo=dt.timezone.utc)
    outcome = delivery.deliver(session, message.id, channel, config, now=night)
    # then the shop's quiet hours hold it until 08:00 in Paris
    assert (outcome.status, outcome.not_before, outcome.reason) == (
        "deferred", dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.timezone.utc), "quiet hours 21:00-08:00 (Europe/Paris)")
    assert smtp.received == []


def test_a_flow_step_looks_up_the_customer_by_address_for_its_quiet_hours(session, mail_shop, config):
    # given a customer in Hawaii (no customer id at hand, only the address)
    _located(session, mail_shop, "c-hi", "kai@example.com", "US", "HI")
    # when a step asks at 06:00 Pacific (04:00 in Honolulu)
    wait = timing.send_wait(session, mail_shop, "kai@example.com", config, DAWN_IN_CALIFORNIA)
    # then it waits until 08:00 in Honolulu (18:00 UTC); someone the mirror does not know waits for nothing
    honolulu_morning = dt.datetime(2026, 12, 3, 8, 0, tzinfo=ZoneInfo("Pacific/Honolulu"))
    assert wait == (honolulu_morning.astimezone(dt.timezone.utc), "quiet hours 21:00-08:00 (Pacific/Honolulu)")
    assert timing.send_wait(session, mail_shop, "nobody@example.com", config, DAWN_IN_CALIFORNIA) is None
