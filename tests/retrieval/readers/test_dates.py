"""Dates as sources write them, stored as ISO dates; what is no full date is refused, not guessed."""

from __future__ import annotations

import datetime as dt

import pytest

from retrieval.readers.dates import DateError, iso_date

TODAY = dt.date(2026, 11, 30)


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("2015-09-18", "2015-09-18"),
        ("2015-09-18T10:00:00+02:00", "2015-09-18"),
        ("2015-09-18T23:30:00-05:00", "2015-09-18"),  # the date as written, not moved to UTC
        ("2015-09-18 10:00:00", "2015-09-18"),
        ("18.09.2015", "2015-09-18"),
        ("18.9.15", "2015-09-18"),
        ("03.04.2015", "2015-04-03"),  # dotted dates are day first
        ("18. September 2015", "2015-09-18"),
        ("Freitag, 18. September 2015", "2015-09-18"),
        ("18. März 2016, 10:00 Uhr", "2016-03-18"),
        ("1. Jänner 2016", "2016-01-01"),
        ("18.09.2015 um 10:00 Uhr", "2015-09-18"),
        ("Sep 18, 2015", "2015-09-18"),
        ("Sept. 18, 2015", "2015-09-18"),
        ("18 Sep 2015 10:00", "2015-09-18"),
        ("Fri, 18 Sep 2015 10:00:00 +0200", "2015-09-18"),  # RFC 2822, as feeds write it
        ("09/18/2015", "2015-09-18"),
        ("18/09/2015", "2015-09-18"),
        ("2022/05/10 17:36:11", "2022-05-10"),  # year first, then month: not 5 October
        ("", ""),
        ("   ", ""),
        (dt.date(2015, 9, 18), "2015-09-18"),  # YAML front matter reads dates itself
        (dt.datetime(2015, 9, 18, 10, 0), "2015-09-18"),
    ],
)
def test_written_dates_become_iso_dates(written: object, iso: str) -> None:
    assert iso_date(written, TODAY) == iso


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("gestern", "is not a date"),
        ("last week", "is not a date"),
        ("2015-02-30", "is not a date"),
        ("September 2015", "has no day"),
        ("2015", "has no month or day"),
        ("12:00", "has no year"),
        ("2027-01-05", "lies in the future"),
        ("05.01.2099", "lies in the future"),
        ("0001-01-01", "before 1800"),
        ("x" * 500, "not a date"),
    ],
)
def test_dates_that_cannot_be_taken_say_why(written: str, reason: str) -> None:
    with pytest.raises(DateError, match=reason):
        iso_date(written, TODAY)


def test_tomorrow_is_allowed_for_time_zones_and_bounds_may_lie_ahead() -> None:
    assert iso_date("2026-12-01", TODAY) == "2026-12-01"
    with pytest.raises(DateError):
        iso_date("2026-12-02", TODAY)
    assert iso_date("2030-01-01", TODAY, allow_future=True) == "2030-01-01"


def test_slash_dates_are_read_day_first_when_asked() -> None:
    assert iso_date("10/05/2022", TODAY) == "2022-10-05"
    assert iso_date("10/05/2022", TODAY, dayfirst=True) == "2022-05-10"
    assert iso_date("2022/05/10", TODAY, dayfirst=True) == "2022-05-10"
    assert iso_date("May 10, 2022", TODAY, dayfirst=True) == "2022-05-10"
