"""Quiet hours and the contact budget as pure functions of the moment."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.messaging.budget import QuietHours, budget_free_at, earliest_send, first_in_line, quiet_until

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(("now", "until"), [
    ("2026-12-02T22:30:00+01:00", "2026-12-03T08:00:00+01:00"),  # evening: the next morning
    ("2026-12-02T21:00:00+01:00", "2026-12-03T08:00:00+01:00"),  # the quiet period starts on the minute
    ("2026-12-03T06:15:00+01:00", "2026-12-03T08:00:00+01:00"),  # early morning: the same morning
    ("2026-12-03T08:00:00+01:00", None),  # and ends on it
    ("2026-12-03T20:59:59+01:00", None),
    ("2026-12-03T12:00:00+01:00", None),
])
def test_quiet_hours_in_the_shops_zone(now, until):
    result = quiet_until(at(now).astimezone(UTC), PARIS, QuietHours())
    assert result == (at(until).astimezone(UTC) if until else None)
    assert result is None or result.tzinfo == UTC


def test_quiet_hours_end_at_local_eight_across_a_daylight_saving_change():
    # given 23:00 in Paris on the night clocks go back (2026-10-25, 03:00 CEST -> 02:00 CET)
    now = at("2026-10-24T23:00:00+02:00")
    # then the quiet period ends at 08:00 CET: ten hours later, on a night of 25 hours
    assert quiet_until(now, PARIS, QuietHours()) == at("2026-10-25T07:00:00+00:00")


def test_quiet_hours_that_do_not_span_midnight_and_none_at_all():
    lunch = QuietHours(dt.time(12), dt.time(14))
    assert quiet_until(at("2026-12-03T12:30:00+01:00"), PARIS, lunch) == at("2026-12-03T14:00:00+01:00")
    assert quiet_until(at("2026-12-03T14:30:00+01:00"), PARIS, lunch) is None
    assert quiet_until(at("2026-12-03T23:00:00+01:00"), PARIS, None) is None
    assert QuietHours.parse("") is None and str(QuietHours.parse("22:30-07:15")) == "22:30-07:15"
    with pytest.raises(ValueError):
        QuietHours.parse("late")
    with pytest.raises(ValueError):
        QuietHours(dt.time(8), dt.time(8))


def test_one_marketing_email_per_window():
    now = at("2026-12-03T12:00:00+00:00")
    window = dt.timedelta(hours=16)
    assert budget_free_at(now, None, window) is None
    assert budget_free_at(now, now - dt.timedelta(hours=2), window) == now + dt.timedelta(hours=14)
    assert budget_free_at(now, now - dt.timedelta(hours=16), window) is None


def test_the_budget_first_then_quiet_hours_on_the_moment_it_frees():
    # given a marketing email sent at 10:00 Paris time, a second one asked for at 12:00
    sent = at("2026-12-03T10:00:00+01:00")
    now = at("2026-12-03T12:00:00+01:00")
    # then the budget frees at 02:00 the next night, which is quiet until 08:00
    moment, reason = earliest_send(now, last_marketing_at=sent, window=dt.timedelta(hours=16), timezone=PARIS,
                                   quiet=QuietHours())
    assert moment == at("2026-12-04T08:00:00+01:00")
    assert reason == "contact budget: one marketing email per 16 h, then quiet hours 21:00-08:00 (Europe/Paris)"
    # and with a budget that frees in the afternoon, that is the moment
    moment, reason = earliest_send(now, last_marketing_at=sent, window=dt.timedelta(hours=6), timezone=PARIS,
                                   quiet=QuietHours())
    assert moment == at("2026-12-03T16:00:00+01:00") and reason == "contact budget: one marketing email per 6 h"
    assert earliest_send(now, last_marketing_at=None, window=dt.timedelta(hours=16), timezone=PARIS,
                         quiet=QuietHours()) is None


def test_the_higher_priority_goes_first_then_the_older():
    assert first_in_line([(0, 5), (10, 9), (10, 7)]) == (10, 7)
    assert first_in_line([(0, 5)]) == (0, 5)
    assert first_in_line([(-1, 1), (0, 2)]) == (0, 2)
