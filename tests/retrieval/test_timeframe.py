"""The rule table of time expressions in questions, English and German, relative to a reference day."""

from __future__ import annotations

import datetime as dt

import pytest

from retrieval.timeframe import TimeFrame, parse_time

REF = dt.date(2015, 9, 30)  # a Wednesday
D = dt.date


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        # named days (and the day after: news about a day is often dated the next)
        ("What happened today?", D(2015, 9, 30), D(2015, 10, 1)),
        ("Was geschah heute in Wien?", D(2015, 9, 30), D(2015, 10, 1)),
        ("What did Kerry say yesterday?", D(2015, 9, 29), D(2015, 9, 30)),
        ("Was sagte Kerry gestern?", D(2015, 9, 29), D(2015, 9, 30)),
        ("Was war vorgestern los?", D(2015, 9, 28), D(2015, 9, 29)),
        ("What happened on 18 September 2015?", D(2015, 9, 18), D(2015, 9, 19)),
        ("What happened on September 18, 2015?", D(2015, 9, 18), D(2015, 9, 19)),
        ("Was geschah am 18. September?", D(2015, 9, 18), D(2015, 9, 19)),
        ("Was geschah am 18.09.2015?", D(2015, 9, 18), D(2015, 9, 19)),
        ("What happened on 2015-09-18?", D(2015, 9, 18), D(2015, 9, 19)),
        # calendar weeks, months, years
        ("What happened last week?", D(2015, 9, 21), D(2015, 9, 27)),
        ("Was geschah letzte Woche?", D(2015, 9, 21), D(2015, 9, 27)),
        ("Was geschah vergangene Woche in Graz?", D(2015, 9, 21), D(2015, 9, 27)),
        ("What happened this week?", D(2015, 9, 28), D(2015, 9, 30)),
        ("Was passierte diese Woche?", D(2015, 9, 28), D(2015, 9, 30)),
        ("Was geschah letzten Monat?", D(2015, 8, 1), D(2015, 8, 31)),
        ("What happened last month?", D(2015, 8, 1), D(2015, 8, 31)),
        ("What happened this month?", D(2015, 9, 1), D(2015, 9, 30)),
        ("Who won this year?", D(2015, 1, 1), D(2015, 9, 30)),
        ("Wer gewann dieses Jahr?", D(2015, 1, 1), D(2015, 9, 30)),
        ("Wann schlüpften heuer die Flamingos?", D(2015, 1, 1), D(2015, 9, 30)),
        ("Wie viele Autos liefen im vergangenen Jahr vom Band?", D(2014, 1, 1), D(2014, 12, 31)),
        ("How many cars were built last year?", D(2014, 1, 1), D(2014, 12, 31)),
        ("Was geschah im September 2015?", D(2015, 9, 1), D(2015, 9, 30)),
        ("What happened in September 2015?", D(2015, 9, 1), D(2015, 9, 30)),
        ("Was geschah im März?", D(2015, 3, 1), D(2015, 3, 31)),
        ("Was geschah im Jän. 2015?", D(2015, 1, 1), D(2015, 1, 31)),  # the spellings dates are read with
        ("Was geschah seit Mär 2015?", D(2015, 3, 1), D(2015, 9, 30)),
        ("What happened in December?", D(2014, 12, 1), D(2014, 12, 31)),  # the latest December
        # N units ago: the calendar unit holding that day
        ("Was geschah vor zwei Wochen?", D(2015, 9, 14), D(2015, 9, 20)),
        ("What happened two weeks ago?", D(2015, 9, 14), D(2015, 9, 20)),
        ("Was geschah vor drei Tagen?", D(2015, 9, 27), D(2015, 9, 28)),
        ("Was geschah vor einem Monat?", D(2015, 8, 1), D(2015, 8, 31)),
        ("What happened a year ago?", D(2014, 1, 1), D(2014, 12, 31)),
        # rolling windows ending at the reference day
        ("What happened in the past week?", D(2015, 9, 24), D(2015, 9, 30)),
        ("Was geschah in der letzten Woche?", D(2015, 9, 24), D(2015, 9, 30)),
        ("Was geschah in den letzten drei Tagen?", D(2015, 9, 28), D(2015, 9, 30)),
        ("What happened in the last 10 days?", D(2015, 9, 21), D(2015, 9, 30)),
        ("Was geschah in den letzten Tagen?", D(2015, 9, 24), D(2015, 9, 30)),
        # since
        ("Was ist seit März passiert?", D(2015, 3, 1), D(2015, 9, 30)),
        ("What has happened since March 2014?", D(2014, 3, 1), D(2015, 9, 30)),
        ("Was geschah seit 2014?", D(2014, 1, 1), D(2015, 9, 30)),
        ("Was geschah seit dem 3. März?", D(2015, 3, 3), D(2015, 9, 30)),
        # years that read as times
        ("Was geschah im Jahr 2014 in Syrien?", D(2014, 1, 1), D(2014, 12, 31)),
        ("Wie viele wurden im Jahr 2014 verletzt?", D(2014, 1, 1), D(2014, 12, 31)),  # named: any word after
        ("How many refugees came in 2015?", D(2015, 1, 1), D(2015, 12, 31)),
        ("Wer gewann die Fußball-Weltmeisterschaft 2014?", D(2014, 1, 1), D(2014, 12, 31)),
        ("What happened before 2014?", D(1900, 1, 1), D(2013, 12, 31)),
    ],
)
def test_time_expressions_resolve_against_the_reference_day(
    question: str, start: dt.date, end: dt.date
) -> None:
    frame = parse_time(question, REF)
    assert frame is not None
    assert (frame.start, frame.end) == (start, end)
    assert frame.phrase and frame.phrase.lower() in question.lower()


@pytest.mark.parametrize(
    "question",
    [
        "Wie viele Feuerwehrleute waren im Einsatz?",
        "Gab es 2015 Tote bei dem Unglück?",  # a count, not a year
        "In 2015 Fällen wurde ermittelt, stimmt das?",
        "How many spectators 2014 attendees counted",  # a year mid-question without a preposition
        "Wie viele Zuschauer 2014 kamen",
        "Who may join the coalition?",  # the verb, not the month
        "Will the march go ahead?",
        "Was plant die Regierung bis 2030?",  # a year after the reference day is no time of news
        "Wie viele Originale der Magna Carta sind heute noch erhalten?",  # up to now, not that day
        "Was gilt bis heute?",
        "Die Linie U5 soll eröffnet werden, wann?",
    ],
)
def test_numbers_and_words_that_are_no_times_give_no_frame(question: str) -> None:
    assert parse_time(question, REF) is None


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest news on Syria?",
        "Die neuesten Nachrichten zu Syrien?",
        "Was sagte Merkel zuletzt?",
        "What did Kerry say most recently?",
        "Was ist der aktuellste Stand?",
    ],
)
def test_latest_asks_for_the_newest_without_a_range(question: str) -> None:
    assert parse_time(question, REF) == TimeFrame(latest=True, phrase=parse_time(question, REF).phrase)
    assert not parse_time(question, REF).has_range


def test_latest_and_a_range_combine() -> None:
    frame = parse_time("Was ist das Neueste aus dem September 2015?", REF)
    assert frame.latest and (frame.start, frame.end) == (D(2015, 9, 1), D(2015, 9, 30))


def test_the_reference_day_moves_relative_times() -> None:
    assert parse_time("What happened yesterday?", D(2015, 3, 1)).start == D(2015, 2, 28)
    assert parse_time("Was geschah letzten Monat?", D(2015, 1, 10)).start == D(2014, 12, 1)
    assert parse_time("Was geschah im Oktober?", D(2015, 3, 1)).start == D(2014, 10, 1)


def test_a_frame_holds_iso_dates_and_datetimes_but_not_undated() -> None:
    frame = TimeFrame(D(2015, 9, 1), D(2015, 9, 30))
    assert frame.holds("2015-09-18") and frame.holds("2015-09-30T23:00:00+02:00")
    assert not frame.holds("2015-10-01") and not frame.holds("") and not frame.holds("bald")
