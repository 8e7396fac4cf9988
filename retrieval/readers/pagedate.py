"""A web page's publication date, from htmldate's guess and the page's own article metadata.

htmldate (through trafilatura) finds a date in the metadata, the URL or the page text; the page's
article metadata (JSON-LD datePublished/dateCreated, article:published_time) says when it was
published, often with a time of day and a time zone. Measured on saved news pages (see
benchmarks/pages.py), neither is right alone: htmldate sometimes takes the URL's date, a
microdata date of another article or the modified date; the metadata is often written in UTC,
where the day is not the one the page shows. So:

- the first published time carries its own offset ("2015-09-18T23:30:00+02:00"): its date as
  written, the day in the place of publication;
- else htmldate's date is one of the page's published dates: htmldate's;
- they are more than a day apart, or the published value is a day without a time (no time zone
  moves it to another day): the published date (htmldate read a date that is not the article's);
- they are a day apart: htmldate's, which is mostly the local day of a time written in UTC,
  except where htmldate's date is the day the page was modified and the UTC time lies more than
  `NEAR_MIDNIGHT` from the day boundary towards htmldate's day (no nearby time zone puts it there).

Slash dates in the metadata are read day first on a page whose language is not English.

The page's <time datetime> values (`times`) settle two more cases: a published time written in UTC
that the page also writes with its own offset (`<time datetime="2016-09-19T07:46:01-04:00">` for
"2016-09-19T11:46:01Z") is taken in that form, so its day is the local one; and where there is no
published time, htmldate's date with day and month swapped (it read "10/04/2016" day first on an
English page) gives way to the day a <time> element states, when the page states htmldate's day
nowhere.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import Any

from retrieval.readers.dates import DateError, iso_date

# How far from midnight a UTC time may be to fall on the neighbouring day in a nearby time zone
# (Central Europe: UTC+1, +2).
NEAR_MIDNIGHT = dt.timedelta(hours=2)


def page_date(
    found: Any,
    published: list[str],
    modified: list[str],
    lang: str,
    today: dt.date | None,
    notes: list[str],
    times: Sequence[str] = (),
) -> str:
    """The page's publication date as an ISO date ('' when there is none); `notes` says why when
    dates were there but none could be taken."""
    problems: list[str] = []
    guessed = _date(found, today, problems, False)
    dayfirst = bool(lang) and lang != "en"
    local = [_local_form(raw, times) for raw in published]
    dates = [(raw, date) for raw in local if (date := _date(raw, today, problems, dayfirst))]
    if not dates and guessed:
        return _unswapped(guessed, [_date(t, today, [], dayfirst) for t in times])
    if not dates or not guessed:
        date = guessed or (dates[0][1] if dates else "")
        if not date and problems:
            notes.append(f"date {problems[-1]}; left empty")
        return date
    raw, date = dates[0]
    if date == guessed or _offset(raw) not in (None, dt.timedelta(0)):
        return date
    if any(other == guessed for _, other in dates):
        return guessed
    apart = abs((dt.date.fromisoformat(date) - dt.date.fromisoformat(guessed)).days)
    if apart > 1 or not _has_time(raw):
        return date
    edited = {_date(value, today, [], dayfirst) for value in modified}
    if guessed in edited and _offset(raw) == dt.timedelta(0) and not _near_midnight(raw, guessed > date):
        return date
    return guessed


def _local_form(raw: str, times: Sequence[str]) -> str:
    """A time written in UTC as the page also writes it with a non-zero offset (the same instant to
    the minute), else as it is."""
    if _offset(raw) != dt.timedelta(0) or not times:
        return raw
    instant = _moment(raw)
    for value in times:
        moment = _moment(value)
        if instant is None or moment is None or _offset(value) in (None, dt.timedelta(0)):
            continue
        if abs(moment - instant) < dt.timedelta(minutes=1):
            return value
    return raw


def _unswapped(guessed: str, stated: list[str]) -> str:
    """htmldate's date, or the same with day and month swapped where the page states that day in a
    <time> element and htmldate's nowhere (a slash date read the other way round)."""
    year, month, day = guessed.split("-")
    swapped = f"{year}-{day}-{month}"
    if day != month and int(day) <= 12 and swapped in stated and guessed not in stated:
        return swapped
    return guessed


def _date(value: Any, today: dt.date | None, problems: list[str], dayfirst: bool) -> str:
    """A value as an ISO date, '' when it is none (the reason added to `problems`)."""
    try:
        return iso_date(value, today, dayfirst=dayfirst)
    except DateError as exc:
        problems.append(str(exc))
        return ""


def _moment(raw: str) -> dt.datetime | None:
    """The date and time a text names, None when it is no single moment dateutil reads."""
    from dateutil import parser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown zone name ("EDT") is read as no zone
        try:
            return parser.parse(raw)
        except (ValueError, OverflowError, TypeError):
            return None


def _has_time(raw: str) -> bool:
    """Whether a published value gives a time of day ("2015-09-18T23:30"), not a day alone."""
    return ":" in raw


def _offset(raw: str) -> dt.timedelta | None:
    """The UTC offset a datetime is written with (0 for UTC, 'Z' or GMT), None when it has none."""
    moment = _moment(raw)
    return moment.utcoffset() if moment is not None and moment.tzinfo is not None else None


def _near_midnight(raw: str, later: bool) -> bool:
    """Whether a time lies within NEAR_MIDNIGHT of the end of its day (`later`) or its start."""
    moment = _moment(raw)
    if moment is None:
        return False
    since_midnight = dt.timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)
    left = dt.timedelta(days=1) - since_midnight if later else since_midnight
    return left <= NEAR_MIDNIGHT
