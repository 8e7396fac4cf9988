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
        # more counts of units, both languages
        ("What happened in the last two months?", D(2015, 7, 31), D(2015, 9, 30)),
        ("Was geschah in den letzten 5 Tagen?", D(2015, 9, 26), D(2015, 9, 30)),
        ("What happened 3 days ago?", D(2015, 9, 27), D(2015, 9, 28)),
        ("Was geschah vor 5 Tagen?", D(2015, 9, 25), D(2015, 9, 26)),
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


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        # weekdays: the latest such day before the reference day (a Wednesday), and the day after
        ("What did Merkel say on Monday?", D(2015, 9, 28), D(2015, 9, 29)),
        ("Was sagte Merkel am Montag?", D(2015, 9, 28), D(2015, 9, 29)),
        ("Was sagte Merkel am Sonntag?", D(2015, 9, 27), D(2015, 9, 28)),
        ("What did the Mail on Sunday say last Sunday?", D(2015, 9, 27), D(2015, 9, 28)),
        ("Was sagte Merkel am Montagabend?", D(2015, 9, 28), D(2015, 9, 29)),
        ("What happened last Friday?", D(2015, 9, 25), D(2015, 9, 26)),
        ("Was geschah letzten Freitag?", D(2015, 9, 25), D(2015, 9, 26)),
        ("Was geschah am vergangenen Freitag in Graz?", D(2015, 9, 25), D(2015, 9, 26)),
        ("What happened on Wednesday?", D(2015, 9, 23), D(2015, 9, 24)),  # never the reference day
        ("Was geschah am Mittwoch?", D(2015, 9, 23), D(2015, 9, 24)),
        ("What has happened since Monday?", D(2015, 9, 28), D(2015, 9, 30)),
        ("Was ist seit Montag passiert?", D(2015, 9, 28), D(2015, 9, 30)),
        ("What happened last weekend?", D(2015, 9, 26), D(2015, 9, 28)),
        ("Was geschah am Wochenende?", D(2015, 9, 26), D(2015, 9, 28)),
        # spans: an end without month or year takes the other's; a day end takes the next day too
        ("What happened between March and May 2015?", D(2015, 3, 1), D(2015, 5, 31)),
        ("Was geschah zwischen März und Mai 2015?", D(2015, 3, 1), D(2015, 5, 31)),
        ("Was geschah zwischen dem 3. und 10. September?", D(2015, 9, 3), D(2015, 9, 11)),
        ("What happened between the 3rd and 10th of September?", D(2015, 9, 3), D(2015, 9, 11)),
        ("What happened from 2013 to 2014?", D(2013, 1, 1), D(2014, 12, 31)),
        ("Was geschah von 2013 bis 2014?", D(2013, 1, 1), D(2014, 12, 31)),
        ("Was geschah vom 3. bis zum 10. September 2015?", D(2015, 9, 3), D(2015, 9, 11)),
        ("What happened from 3 to 10 September 2015?", D(2015, 9, 3), D(2015, 9, 11)),
        ("What happened between 18.09.2015 and 20.09.2015?", D(2015, 9, 18), D(2015, 9, 21)),
        ("Was geschah zwischen November und Februar?", D(2014, 11, 1), D(2015, 2, 28)),  # across a year
        ("What happened from March 2014 to May?", D(2014, 3, 1), D(2014, 5, 31)),
        # before and after: open at one end (after: up to the reference day)
        ("What happened before March 2015?", D(1900, 1, 1), D(2015, 2, 28)),
        ("Was geschah vor dem 3. März?", D(1900, 1, 1), D(2015, 3, 2)),
        ("What happened before the 3rd of March?", D(1900, 1, 1), D(2015, 3, 2)),
        ("What happened after May 2015?", D(2015, 6, 1), D(2015, 9, 30)),
        ("Was geschah nach März?", D(2015, 4, 1), D(2015, 9, 30)),
        ("What happens after May?", D(2015, 6, 1), D(2015, 9, 30)),
        ("What happened after March in Syria?", D(2015, 4, 1), D(2015, 9, 30)),
        ("Was geschah nach März in Wien?", D(2015, 4, 1), D(2015, 9, 30)),
        ("Was ist nach März passiert?", D(2015, 4, 1), D(2015, 9, 30)),  # German: the verb comes last
        ("Was wurde vor Mai beschlossen?", D(1900, 1, 1), D(2015, 4, 30)),
        ("What happened after 18 September 2015?", D(2015, 9, 19), D(2015, 9, 30)),
        ("Was geschah nach dem 18. September?", D(2015, 9, 19), D(2015, 9, 30)),
        ("Was geschah nach 2014 in Syrien?", D(2015, 1, 1), D(2015, 9, 30)),
        ("What happened after 2014?", D(2015, 1, 1), D(2015, 9, 30)),
        # thirds of a month: days 1-10, 11-20, 21 to the last (never past the reference day)
        ("Was geschah Anfang September?", D(2015, 9, 1), D(2015, 9, 10)),
        ("What happened in early September 2015?", D(2015, 9, 1), D(2015, 9, 10)),
        ("What happened mid-August?", D(2015, 8, 11), D(2015, 8, 20)),
        ("Was geschah Mitte August?", D(2015, 8, 11), D(2015, 8, 20)),
        ("Was geschah Ende August?", D(2015, 8, 21), D(2015, 8, 31)),
        ("What happened at the end of August?", D(2015, 8, 21), D(2015, 8, 31)),
        ("Was geschah Anfang des Monats?", D(2015, 9, 1), D(2015, 9, 10)),
        ("What happened early this month?", D(2015, 9, 1), D(2015, 9, 10)),
        ("What happened earlier this month?", D(2015, 9, 1), D(2015, 9, 30)),
        ("Was geschah Ende letzten Monats?", D(2015, 8, 21), D(2015, 8, 31)),
        ("What happened late last month?", D(2015, 8, 21), D(2015, 8, 31)),
    ],
)
def test_weekdays_spans_open_ends_and_parts_of_months(question: str, start: dt.date, end: dt.date) -> None:
    frame = parse_time(question, REF)
    assert frame is not None
    assert (frame.start, frame.end) == (start, end)
    assert frame.phrase and frame.phrase.lower() in question.lower()


@pytest.mark.parametrize(
    "question",
    [
        "Wo gibt es das beste Mai Thai?",  # a month name in a dish
        "Who may join after the vote?",  # the modal verb, not the month
        "Who won after may?",
        "What happened after May resigned?",  # Theresa May, not the month
        "What happened before May's Brexit speech?",
        "Will they march before the summit?",
        "Between 3 and 10 people died, right?",  # numbers, not days
        "Was kostete es zwischen 2000 und 3000 Euro?",  # counts of euros, not years
        "Was geschah nach 2014 Jahren?",
        "Was passierte vor 2014 Fällen?",
        "Was geschah nach dem 3. Spiel?",  # an ordinal, not a day
        "Wer fuhr von Berlin nach Wien?",
        "What happened from 9 to 5?",
        "Was kostet am Black Friday ein Fernseher?",  # a name, not last Friday
        "Was ist am Rosenmontag passiert?",
        "Was schrieb die Welt am Sonntag?",  # papers and shows named after a day
        "Was stand in der Bild am Sonntag über Merkel?",
        "Was schrieb die NZZ am Sonntag?",
        "What did the Mail on Sunday report?",
        "What did Trump say on Saturday Night Live?",
        "Warum demonstrieren Fridays for Future montags?",  # habits, not days
        "Was geschah am Anfang?",
    ],
)
def test_new_rules_leave_words_that_are_no_times_alone(question: str) -> None:
    assert parse_time(question, REF) is None


def test_a_date_a_weekday_names_wins_and_a_weekday_within_a_period_keeps_the_period() -> None:
    frame = parse_time("Was geschah am Montag, dem 14. September 2015?", REF)
    assert (frame.start, frame.end) == (D(2015, 9, 14), D(2015, 9, 15))
    frame = parse_time("Was geschah am Montag vor zwei Wochen?", REF)
    assert (frame.start, frame.end) == (D(2015, 9, 14), D(2015, 9, 20))


def test_a_part_of_the_month_not_yet_begun_is_no_frame() -> None:
    assert parse_time("Was geschah Ende des Monats?", D(2015, 9, 5)) is None  # not yet
    assert parse_time("Was geschah Anfang des Monats?", D(2015, 9, 5)) == TimeFrame(
        D(2015, 9, 1), D(2015, 9, 5), phrase="Anfang des Monats"
    )


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        # thirds of a year: January-April, May-August, September-December (never past the reference day)
        ("Was geschah Anfang 2015?", D(2015, 1, 1), D(2015, 4, 30)),
        ("Was geschah Mitte 2014?", D(2014, 5, 1), D(2014, 8, 31)),
        ("Was geschah Ende 2014 in Syrien?", D(2014, 9, 1), D(2014, 12, 31)),
        ("Was geschah Ende des Jahres 2014?", D(2014, 9, 1), D(2014, 12, 31)),
        ("What happened in early 2015?", D(2015, 1, 1), D(2015, 4, 30)),
        ("What happened in mid-2014?", D(2014, 5, 1), D(2014, 8, 31)),
        ("What happened in late 2014.", D(2014, 9, 1), D(2014, 12, 31)),
        ("What happened at the end of 2014?", D(2014, 9, 1), D(2014, 12, 31)),
        ("Who won the early 2015 elections?", D(2015, 1, 1), D(2015, 4, 30)),  # the year names a time
        ("Was geschah Ende 2015?", D(2015, 9, 1), D(2015, 9, 30)),  # up to the reference day
        ("Was geschah Anfang des Jahres?", D(2015, 1, 1), D(2015, 4, 30)),
        ("Was geschah Anfang dieses Jahres?", D(2015, 1, 1), D(2015, 4, 30)),
        ("What happened early this year?", D(2015, 1, 1), D(2015, 4, 30)),
        ("Was geschah Ende letzten Jahres?", D(2014, 9, 1), D(2014, 12, 31)),
        ("Was geschah Mitte vergangenen Jahres?", D(2014, 5, 1), D(2014, 8, 31)),
        ("What happened late last year?", D(2014, 9, 1), D(2014, 12, 31)),
        ("What happened at the end of last year?", D(2014, 9, 1), D(2014, 12, 31)),
        # a part of a month still wins over the year after it
        ("Was geschah Anfang September 2014?", D(2014, 9, 1), D(2014, 9, 10)),
        # this Monday: that weekday of the reference day's week if not after it (a Wednesday), else
        # the week before; the reference day itself counts
        ("What did Merkel say this Monday?", D(2015, 9, 28), D(2015, 9, 29)),
        ("Was sagte Merkel diesen Montag?", D(2015, 9, 28), D(2015, 9, 29)),
        ("Was geschah an diesem Mittwoch?", D(2015, 9, 30), D(2015, 10, 1)),
        ("What happened this Friday?", D(2015, 9, 25), D(2015, 9, 26)),
        ("Was geschah diesen Sonntag?", D(2015, 9, 27), D(2015, 9, 28)),
    ],
)
def test_parts_of_years_and_this_weekday(question: str, start: dt.date, end: dt.date) -> None:
    frame = parse_time(question, REF)
    assert frame is not None
    assert (frame.start, frame.end) == (start, end)
    assert frame.phrase and frame.phrase.lower() in question.lower()


@pytest.mark.parametrize(
    "question",
    [
        "Was geschah Ende der Saison 2015 in der Bundesliga",  # a season's end, not the year's
        "Wer foulte zum Ende des vierten Quarters?",
        "Who scored late in the fourth quarter?",
        "Was geschah in Berlin-Mitte 2015 Mal?",  # a district, then a count
    ],
)
def test_parts_of_other_things_are_no_thirds_of_a_year(question: str) -> None:
    assert parse_time(question, REF) is None


def test_a_season_end_is_the_year_and_a_third_not_begun_is_no_frame() -> None:
    frame = parse_time("Was geschah Ende der Saison 2015?", D(2016, 6, 15))
    assert frame is not None and (frame.start, frame.end) == (D(2015, 1, 1), D(2015, 12, 31))
    assert parse_time("Was geschah Ende des Jahres?", D(2015, 8, 15)) is None  # not begun yet
    assert parse_time("Was geschah Ende des Jahres?", D(2015, 12, 31)) == TimeFrame(
        D(2015, 9, 1), D(2015, 12, 31), phrase="Ende des Jahres"
    )
