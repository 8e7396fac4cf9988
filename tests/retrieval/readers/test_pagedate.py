"""A web page's date chosen between htmldate's guess and the page's own published time."""

from __future__ import annotations

import datetime as dt

import pytest

from retrieval.readers.pagedate import page_date

TODAY = dt.date(2026, 11, 30)


@pytest.mark.parametrize(
    ("guessed", "published", "modified", "lang", "expected"),
    [
        # a published time with its own offset: its date as written, the day where it was published
        ("2015-09-19", ["2015-09-18T23:30:00+02:00"], [], "de", "2015-09-18"),
        ("2015-09-19", ["2015-09-18T21:30:00-05:00"], [], "es", "2015-09-18"),
        # a UTC time a day off htmldate's date: htmldate's, the local day the page shows
        ("2015-09-18", ["2015-09-19T01:30:00Z"], [], "en", "2015-09-18"),
        ("2019-10-19", ["2019-10-18T22:04:00Z"], [], "de", "2019-10-19"),
        # htmldate took the modified day: the published one, unless the UTC time is near midnight
        ("2020-01-20", ["2020-01-19T12:25:36Z"], ["2020-01-20T09:49:32Z"], "en", "2020-01-19"),
        ("2023-11-02", ["2023-11-01T23:01:00Z"], ["2023-11-02T15:58:23Z"], "it", "2023-11-02"),
        # more than a day apart (htmldate read another article's date or the URL's): the published one
        ("2020-07-08", ["2020-04-27 17:58"], [], "de", "2020-04-27"),
        # a published day without a time a day off htmldate's (here the modified day): the published one
        ("2020-01-20", ["2020-01-19"], ["2020-01-20T09:49:32Z"], "en", "2020-01-19"),
        ("2020-01-18", ["2020-01-19"], [], "de", "2020-01-19"),
        # htmldate's date is one of the page's published dates: kept
        ("2023-11-06", ["2023-11-03T10:25:56+00:00", "2023-11-06T14:25:00+00:00"], [], "de", "2023-11-06"),
        # one of the two missing: the other
        ("", ["2022-05-07T13:43:46-05:00"], [], "es", "2022-05-07"),
        ("2022-05-07", [], [], "es", "2022-05-07"),
    ],
)
def test_the_page_date_weighs_htmldate_against_the_published_time(
    guessed: str, published: list[str], modified: list[str], lang: str, expected: str
) -> None:
    assert page_date(guessed, published, modified, lang, TODAY, []) == expected


def test_slash_dates_are_day_first_on_a_page_not_in_english() -> None:
    assert page_date("", ["10/05/2022 05:22 pm"], [], "de", TODAY, []) == "2022-05-10"
    assert page_date("", ["10/05/2022 05:22 pm"], [], "es", TODAY, []) == "2022-05-10"
    assert page_date("", ["10/05/2022 05:22 pm"], [], "en", TODAY, []) == "2022-10-05"
    assert page_date("", ["2022/05/10 17:36:11"], [], "de", TODAY, []) == "2022-05-10"


def test_a_zone_name_dateutil_does_not_know_gives_the_date_and_no_warning() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert page_date("", ["Tue Jan 28 15:28:56 CET 2020"], [], "de", TODAY, []) == "2020-01-28"


def test_a_utc_published_time_the_page_also_writes_with_its_offset_gives_the_local_day() -> None:
    times = ["2016-09-19T07:46:01-04:00"]
    # htmldate read the URL's day (the print edition's); the page's <time> says 19 September locally
    assert page_date("2016-09-20", ["2016-09-19T11:46:01.000Z"], [], "en", TODAY, [], times) == "2016-09-19"
    # the same instant late in the evening in New York: the local day, not the UTC one
    late = ["2016-09-19T23:30:00-04:00"]
    assert page_date("", ["2016-09-20T03:30:00Z"], [], "en", TODAY, [], late) == "2016-09-19"
    # a <time> of another moment changes nothing
    other = ["2016-09-18T20:00:00-04:00"]
    assert page_date("", ["2016-09-20T03:30:00Z"], [], "en", TODAY, [], other) == "2016-09-20"


def test_htmldate_s_swapped_day_and_month_give_way_to_the_day_a_time_element_states() -> None:
    # "By Steven Shepard 10/04/2016 05:07" read day first; <time datetime="2016-10-04 05:07:09">
    assert page_date("2016-04-10", [], [], "en", TODAY, [], ["2016-10-04 05:07:09"]) == "2016-10-04"
    # the page states htmldate's day too, or no <time> has the swapped one: htmldate's
    assert page_date("2016-04-10", [], [], "en", TODAY, [], ["2016-04-10", "2016-10-04"]) == "2016-04-10"
    assert page_date("2016-04-10", [], [], "en", TODAY, [], ["2016-10-05"]) == "2016-04-10"
    assert page_date("2016-04-10", [], [], "en", TODAY, []) == "2016-04-10"
