"""Calendar arithmetic and word lists shared by the time-expression rules (timeframe.py,
timespans.py): month names, month and week ranges, the "news day", and when a number or a month
name reads as a time at all."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from retrieval.readers.dates import MONTH_NAMES

Range = tuple[dt.date, dt.date]
# A rule's resolver: the regex match and the reference day -> the range, or None (no time after all).
Resolver = Callable[[re.Match[str], dt.date], "Range | None"]

MONTHS = {name.lower(): n for n, names in enumerate(MONTH_NAMES, 1) for name in names}
MONTH_PATTERN = "|".join(sorted(MONTHS, key=len, reverse=True))
MIN_YEAR = 1900
# Words that may follow a year that names a time ("im Jahr 2015 in Syrien"); any other word after
# it makes the number a count ("in 2015 Fällen", "in 2015 cases").
AFTER_YEAR = frozenset(
    "the a an and or in on at for to from by with did does do was were is are has have had will "
    "what who when where why how which der die das den dem des ein eine einen und oder in im am an "
    "auf aus bei für mit nach von vom zu zum zur über unter bis wurde wurden war waren ist sind hat "
    "haben hatte hatten gab gibt wer was wann wo warum wie welche welcher welches".split()
)


def month_range(year: int, month: int) -> Range:
    """The first and last day of a month."""
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return dt.date(year, month, 1), following - dt.timedelta(days=1)


def shift_month(day: dt.date, months: int) -> tuple[int, int]:
    """The (year, month) `months` before the day's month."""
    index = day.year * 12 + day.month - 1 - months
    return index // 12, index % 12 + 1


def week(day: dt.date) -> Range:
    """Monday to Sunday of the day's week."""
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)


def news_day(day: dt.date) -> Range:
    """A day and the next one: news about a day is often dated the day after."""
    return day, day + dt.timedelta(days=1)


def latest_month(month: int, ref: dt.date) -> int:
    """The year of the latest such month not after ref."""
    return ref.year if month <= ref.month else ref.year - 1


def year_ok(year: int, ref: dt.date) -> bool:
    """Whether a number can be a year a question asks about (not in the future)."""
    return MIN_YEAR <= year <= ref.year


def verb(word: str) -> bool:
    """Whether a month name as written is rather the English verb ("may", "march" in lower case)."""
    return word in ("may", "march")


def year_follower_ok(text: str) -> bool:
    """Whether the words after a year let it read as a time: none, or a function word
    ("in 2015 in Syrien"), not a content word ("in 2015 Fällen")."""
    after = text.split()
    follower = after[0].strip(",.;:!?").lower() if after else ""
    return not follower or follower in AFTER_YEAR
