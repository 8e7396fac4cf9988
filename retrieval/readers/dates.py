"""Publication dates as ISO dates (YYYY-MM-DD), from whatever a source writes.

`iso_date` accepts ISO dates and datetimes ("2015-09-18T10:00:00+02:00" -> 2015-09-18, the date
as written, not moved to another time zone), German and English day-first or month-name dates
("18.09.2015", "18. September 2015", "Sep 18, 2015", "18 Sep 2015 10:00 Uhr"), year-first slashes
("2015/09/18"), US slashes ("09/18/2015", month first unless the first number is over 12 or
`dayfirst` is asked for: a page in another language than English writes "18/09/2015") and RFC 2822
("Fri, 18 Sep 2015 10:00:00 +0200"). A date missing its day, month or year, a text that is no
date, and a date in the future are refused with `DateError` saying why: such a date is left empty,
never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from typing import ClassVar

from dateutil import parser as dateutil_parser

# One day of slack for the future check: a page dated "tomorrow" in a time zone east of ours.
_FUTURE_SLACK = dt.timedelta(days=1)
_DOTTED = re.compile(r"^\s*\d{1,2}\.\s*\d{1,2}\.\s*\d{2,4}\b")
_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
# Years outside this range are typing errors or parser accidents ("0", "99999"), not news dates.
_MIN_YEAR = 1800
MAX_DATE_CHARS = 100


class DateError(ValueError):
    """A date that cannot be taken: unparseable, incomplete or in the future."""


# The spellings of each month, January first, in English and German (Austrian too), its English
# abbreviation first (as `display_date` writes it). Dates are read and questions' times resolved
# with them (retrieval/timeframe.py).
MONTH_NAMES: tuple[tuple[str, ...], ...] = (
    ("Jan", "January", "Januar", "Jän", "Jänner"),
    ("Feb", "February", "Februar"),
    ("Mar", "March", "März", "Mär", "Maerz"),
    ("Apr", "April"),
    ("May", "Mai"),
    ("Jun", "June", "Juni"),
    ("Jul", "July", "Juli"),
    ("Aug", "August"),
    ("Sep", "Sept", "September"),
    ("Oct", "October", "Okt", "Oktober"),
    ("Nov", "November"),
    ("Dec", "December", "Dez", "Dezember"),
)


class _Words(dateutil_parser.parserinfo):
    """dateutil's English words plus German month and day names and filler words."""

    JUMP: ClassVar[list[str]] = [*dateutil_parser.parserinfo.JUMP, "um", "uhr", "den", "am", "vom", "stand"]
    MONTHS: ClassVar[list[tuple[str, ...]]] = list(MONTH_NAMES)
    WEEKDAYS: ClassVar[list[tuple[str, ...]]] = [
        ("Mon", "Monday", "Mo", "Montag"),
        ("Tue", "Tuesday", "Di", "Dienstag"),
        ("Wed", "Wednesday", "Mi", "Mittwoch"),
        ("Thu", "Thursday", "Do", "Donnerstag"),
        ("Fri", "Friday", "Fr", "Freitag"),
        ("Sat", "Saturday", "Sa", "Samstag", "Sonnabend"),
        ("Sun", "Sunday", "So", "Sonntag"),
    ]


_WORDS = _Words()
# Two defaults that differ in every field: a part the text leaves out comes out different.
_DEFAULTS = (dt.datetime(2001, 1, 1), dt.datetime(2002, 2, 2))


def iso_date(
    value: object, today: dt.date | None = None, *, allow_future: bool = False, dayfirst: bool = False
) -> str:
    """The date as YYYY-MM-DD ("" for an empty value); DateError says why it is not taken. A date
    after `today` (default: the clock's) is refused unless `allow_future` (a filter's bound); slash
    dates are read day first with `dayfirst`."""
    if allow_future:
        today = dt.date.max - _FUTURE_SLACK
    if isinstance(value, dt.datetime):
        return _checked(value.date(), today)
    if isinstance(value, dt.date):
        return _checked(value, today)
    text = str(value).strip() if value is not None else ""
    if not text:
        return ""
    if len(text) > MAX_DATE_CHARS:
        raise DateError(f"date of {len(text)} characters is not a date")
    return _checked(_parse(text, dayfirst), today)


def _parse(text: str, dayfirst: bool = False) -> dt.date:
    """The calendar date a text names; DateError when it names none or only part of one."""
    iso = _ISO.match(text)
    if iso:
        try:
            return dt.date(*map(int, iso.groups()))
        except ValueError as exc:
            raise DateError(f"'{text}' is not a date ({exc})") from None
    first = _first_number(text)
    yearfirst = first >= 1000  # "2022/05/10": year, month, day
    numeric_start = text[:1].isdigit()
    dayfirst = not yearfirst and (dayfirst or bool(_DOTTED.match(text)) or not numeric_start or first > 12)
    parsed = []
    for default in _DEFAULTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a zone name it does not know ("CET"): only the date is read
                parsed.append(
                    dateutil_parser.parse(
                        text, parserinfo=_WORDS, dayfirst=dayfirst, yearfirst=yearfirst, default=default
                    )
                )
        except (ValueError, OverflowError, TypeError):
            raise DateError(f"'{text}' is not a date") from None
    first, second = (p.date() for p in parsed)
    missing = [name for name in ("year", "month", "day") if getattr(first, name) != getattr(second, name)]
    if missing:
        raise DateError(f"'{text}' has no {' or '.join(missing)}")
    return first


def _first_number(text: str) -> int:
    """The number the text starts with (0 when it starts otherwise)."""
    match = re.match(r"\d+", text)
    return int(match.group()) if match else 0


def _checked(date: dt.date, today: dt.date | None) -> str:
    """The date in ISO form; DateError when it lies in the future or before 1800."""
    today = today or dt.date.today()
    if date > today + _FUTURE_SLACK:
        raise DateError(f"{date.isoformat()} lies in the future")
    if date.year < _MIN_YEAR:
        raise DateError(f"{date.isoformat()} is before {_MIN_YEAR}")
    return date.isoformat()


_MONTHS = tuple(names[0] for names in MONTH_NAMES)


def display_date(iso: str) -> str:
    """An ISO date (or datetime) as a reader writes it, '18 Sep 2015' (the same in every language
    of the answer); text that is no ISO date is shown as it is."""
    try:
        day = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
