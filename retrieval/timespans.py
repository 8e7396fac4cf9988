"""Time expressions with two ends, one open end, weekdays and parts of a month (English and
German), as rules for timeframe.py's table (the same form: pattern -> resolver(match, ref)).

- spans: "between March and May 2015", "zwischen dem 3. und 10. September", "from 2013 to 2014",
  "vom 3. bis zum 10. September 2015": from the start of the first end to the end of the second
  (a day as an end also takes the next day, news about it being often dated the day after). An
  end that lacks its month or year takes the other end's ("3." in "zwischen dem 3. und 10.
  September"; "March" in "between March and May 2015"); when neither names a year, the second end
  is the latest such month or day not after ref. Bare numbers without a month ("between 3 and 10")
  are counts, not days; a bare year followed by a content word ("between 2000 and 3000 Euro") too.
- "before X"/"vor X": everything up to the day before X; "after X"/"nach X": from the day after X
  up to ref (X a date, a month or a year; a bare day number is no X).
- weekdays: "on Monday", "am Montag(abend)", "last Friday", "letzten/vergangenen Freitag": the
  latest such day before ref (never ref itself), as a news day; "last weekend"/"am Wochenende":
  the latest Saturday before ref, Sunday and Monday.
- "this Monday"/"diesen Montag"/"an diesem Montag": that weekday of ref's week when it is not after
  ref (ref itself included), else the one of the week before, as a news day ("this Friday" on a
  Wednesday is the Friday before).
- parts of a month: "Anfang/Mitte/Ende September", "early/mid/late September 2015" are days 1-10,
  11-20 and 21 to the last; "Anfang des Monats", "early this month", "Ende letzten Monats" the same
  of ref's month or the one before, up to ref.
- parts of a year: "Anfang/Mitte/Ende 2015", "early/mid-/late 2015", "the end of 2015" are its
  thirds, January-April, May-August and September-December; "Anfang des Jahres", "early this
  year", "Ende letzten Jahres", "late last year" the same of ref's year or the one before; all up
  to ref (None when the third starts after it). Only a part word right before the year (or "des
  Jahres"/"the year") counts: "Ende der Saison 2015" is no third.
Month names that are rather English verbs ("may", "march" in lower case) are no months here either.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from retrieval.timecalendar import (
    MIN_YEAR,
    MONTH_PATTERN,
    MONTHS,
    Range,
    Resolver,
    latest_month,
    month_range,
    news_day,
    shift_month,
    verb,
    year_follower_ok,
    year_ok,
)

_D = r"[0-3]?\d"
_Y = r"1[89]\d\d|2\d\d\d"
_M = MONTH_PATTERN
# One end, in the order tried: dotted and ISO dates first, so that "18.09.2015" is not read as "18".
_END_PATTERNS = (
    rf"(?P<day>{_D})\.(?P<mnum>[01]?\d)\.(?P<year>{_Y})?",
    rf"(?P<year>{_Y})-(?P<mnum>[01]\d)-(?P<day>{_D})",
    rf"(?P<day>{_D})(?:\.|st|nd|rd|th)?(?:\s+(?:of\s+)?(?P<month>{_M})\.?)?(?:\s*,?\s+(?P<year>{_Y}))?",
    rf"(?P<month>{_M})\.?(?:\s+(?P<day>{_D})(?:st|nd|rd|th)?)?(?:\s*,?\s+(?P<year>{_Y}))?",
    rf"(?:(?:the\s+)?year\s+|(?:dem\s+)?jahre?\s+)?(?P<year>{_Y})",
)
_ENDS = [re.compile(p, re.IGNORECASE) for p in _END_PATTERNS]
_END = "(?:" + "|".join(re.sub(r"\(\?P<\w+>", "(?:", p) for p in _END_PATTERNS) + ")"
_ARTICLE = r"(?:(?:the|dem|den)\s+)?"
_WEEKDAYS = {
    "monday": 0, "montag": 0, "tuesday": 1, "dienstag": 1, "wednesday": 2, "mittwoch": 2,
    "thursday": 3, "donnerstag": 3, "friday": 4, "freitag": 4, "saturday": 5, "samstag": 5,
    "sonnabend": 5, "sunday": 6, "sonntag": 6,
}  # fmt: skip
_PARTS = {"anfang": 0, "early": 0, "beginning of": 0, "mitte": 1, "mid": 1, "middle of": 1, "ende": 2,
          "late": 2, "end of": 2}  # fmt: skip


class End(NamedTuple):
    """One end of a span as written: any of year, month and day may be missing."""

    year: int | None
    month: int | None
    day: int | None


def parse_end(text: str) -> End | None:
    """An end ("3.", "10. September", "May 2015", "2014", "18.09.2015"), or None."""
    for pattern in _ENDS:
        m = pattern.fullmatch(text.strip())
        if m is None:
            continue
        groups = m.groupdict()
        if groups.get("month") and verb(groups["month"]):
            return None
        month = MONTHS[groups["month"].lower()] if groups.get("month") else None
        month = int(groups["mnum"]) if groups.get("mnum") else month
        day, year = groups.get("day"), groups.get("year")
        return End(int(year) if year else None, month, int(day) if day else None)
    return None


def _dated(end: End) -> bool:
    """Whether an end names a time, not just a number (it has a month or a year)."""
    return end.month is not None or end.year is not None


def _first_and_last(end: End, news: bool = True) -> Range | None:
    """The first and last day an end names (a day: that day, and with `news` the next one too);
    None when it is no date."""
    assert end.year is not None
    try:
        if end.month is None:
            return dt.date(end.year, 1, 1), dt.date(end.year, 12, 31)
        if end.day is None:
            return month_range(end.year, end.month)
        day = dt.date(end.year, end.month, end.day)
        return news_day(day) if news else (day, day)
    except ValueError:
        return None


def _latest(end: End, ref: dt.date) -> End:
    """An end without a year in the latest year where it is not after ref."""
    if end.year is not None or end.month is None:
        return end
    year = latest_month(end.month, ref)
    if end.day is not None and (end.month, end.day) > (ref.month, ref.day):
        year = ref.year - 1
    return end._replace(year=year)


def _ends(a: End, b: End, ref: dt.date) -> tuple[End, End] | None:
    """Both ends completed from each other and ref, or None when they do not name times."""
    if not _dated(b):
        return None
    if not _dated(a):
        if a.day is None or b.month is None:
            return None
        a = a._replace(month=b.month)
    if b.year is None and a.year is not None:  # "from March 2014 to May"
        later = (b.month or 12, b.day or 31) >= (a.month or 1, a.day or 1)
        b = b._replace(year=a.year if later else a.year + 1)
    b = _latest(b, ref)
    if a.year is None:
        behind = (a.month or 1, a.day or 1) > (b.month or 12, b.day or 31)
        a = a._replace(year=(b.year or ref.year) - (1 if behind else 0))
    return a, b


def _span(m: re.Match[str], ref: dt.date) -> Range | None:
    """The span "between A and B", "vom A bis B": from A's first day to B's last."""
    a, b = parse_end(m["a"]), parse_end(m["b"])
    if a is None or b is None:
        return None
    if b.month is None and b.day is None and not year_follower_ok(m.string[m.end() :]):
        return None  # "zwischen 2000 und 3000 Euro"
    ends = _ends(a, b, ref)
    if ends is None or not all(e.year is not None and year_ok(e.year, ref) for e in ends):
        return None
    first, last = _first_and_last(ends[0]), _first_and_last(ends[1])
    if first is None or last is None or first[0] > last[1] or first[0] > ref:
        return None
    return first[0], last[1]


def _one_end(m: re.Match[str], ref: dt.date, news: bool = True) -> Range | None:
    """The days an end names ("vor dem 3. März", "after May 2015"); None for a bare number."""
    end = parse_end(m["e"])
    if end is None or not _dated(end):
        return None
    # A year alone, or in English a month alone, reads as a time only before a function word
    # ("nach 2014 Jahren", "after May resigned"); a German verb comes last ("nach März passiert").
    english = m[0].lower().startswith(("before", "after"))
    bare_month = english and end.day is None and end.year is None
    if (end.month is None or bare_month) and not year_follower_ok(m.string[m.end() :]):
        return None
    end = _latest(end, ref)
    if end.year is None or not year_ok(end.year, ref):
        return None
    return _first_and_last(end, news)


def _before(m: re.Match[str], ref: dt.date) -> Range | None:
    found = _one_end(m, ref)
    return (dt.date(MIN_YEAR, 1, 1), found[0] - dt.timedelta(days=1)) if found else None


def _after(m: re.Match[str], ref: dt.date) -> Range | None:
    found = _one_end(m, ref, news=False)
    if found is None:
        return None
    start = found[1] + dt.timedelta(days=1)
    return (start, ref) if start <= ref else None


def _weekday(m: re.Match[str], ref: dt.date) -> Range:
    """The latest such weekday before ref."""
    back = (ref.weekday() - _WEEKDAYS[m["wd"].lower()]) % 7 or 7
    return news_day(ref - dt.timedelta(days=back))


def _since_weekday(m: re.Match[str], ref: dt.date) -> Range:
    """From the latest such weekday before ref up to ref."""
    return _weekday(m, ref)[0], ref


def _this_weekday(m: re.Match[str], ref: dt.date) -> Range:
    """That weekday of ref's week if not after ref, else of the week before."""
    day = ref - dt.timedelta(days=ref.weekday()) + dt.timedelta(days=_WEEKDAYS[m["wd"].lower()])
    return news_day(day if day <= ref else day - dt.timedelta(days=7))


def _weekend(_m: re.Match[str], ref: dt.date) -> Range:
    """The latest Saturday before ref, its Sunday and the Monday after."""
    saturday = ref - dt.timedelta(days=(ref.weekday() - 5) % 7 or 7)
    return saturday, saturday + dt.timedelta(days=2)


def _third(year: int, month: int, part: int) -> Range:
    """Days 1-10, 11-20 or 21 to the last of a month."""
    first, last = month_range(year, month)
    start = first + dt.timedelta(days=10 * part)
    return start, (last if part == 2 else start + dt.timedelta(days=9))


def _part_of_month(m: re.Match[str], ref: dt.date) -> Range | None:
    """A third of a month: "Anfang September (2015)", "late March"."""
    if verb(m["month"]):
        return None
    month = MONTHS[m["month"].lower()]
    year = int(m["year"]) if m["year"] else latest_month(month, ref)
    if not year_ok(year, ref):
        return None
    start, end = _third(year, month, _PARTS[_part_word(m["part"])])
    return (start, min(end, ref)) if start <= ref else None


def _part_of_this_month(m: re.Match[str], ref: dt.date) -> Range | None:
    """A third of ref's month or the one before ("Anfang des Monats", "late last month"), up to ref."""
    year, month = shift_month(ref, 1 if m["last"] else 0)
    start, end = _third(year, month, _PARTS[_part_word(m["part"])])
    return (start, min(end, ref)) if start <= ref else None


def _year_third(year: int, part: int, ref: dt.date) -> Range | None:
    """January-April, May-August or September-December of a year, up to ref."""
    start = dt.date(year, 1 + 4 * part, 1)
    end = month_range(year, 4 + 4 * part)[1]
    return (start, min(end, ref)) if start <= ref else None


def _part_of_year(m: re.Match[str], ref: dt.date) -> Range | None:
    """A third of a year: "Anfang 2015", "mid-2015", "the end of 2015"."""
    year = int(m["year"])
    return _year_third(year, _PARTS[_part_word(m["part"])], ref) if year_ok(year, ref) else None


def _part_of_this_year(m: re.Match[str], ref: dt.date) -> Range | None:
    """A third of ref's year or the one before ("Anfang des Jahres", "late last year")."""
    return _year_third(ref.year - (1 if m["last"] else 0), _PARTS[_part_word(m["part"])], ref)


def _part_word(word: str) -> str:
    return " ".join(word.lower().replace("-", " ").split()).removeprefix("the ")


_PART = r"(?P<part>anfang|mitte|ende|early|mid-?|late|(?:the\s+)?(?:beginning|middle|end)\s+of)"
_WD = "(?P<wd>" + "|".join(_WEEKDAYS) + ")"
_LAST = r"(?:last|this\s+past|letzten|vergangenen|vorigen)"

# Tried before the rules of timeframe.py (spans, ends and parts would otherwise be read as one
# date or month).
FIRST_RULES: list[tuple[str, Resolver]] = [
    (
        rf"\b(?:between|zwischen)\s+{_ARTICLE}(?P<a>{_END})\s+(?:and|und)\s+{_ARTICLE}(?P<b>{_END})(?!\w)",
        _span,
    ),
    (
        rf"\b(?:from|von|vom)\s+{_ARTICLE}(?P<a>{_END})\s+(?:to|until|till|through|bis(?:\s+(?:zum|zur))?)\s+"
        rf"{_ARTICLE}(?P<b>{_END})(?!\w)",
        _span,
    ),
    (rf"\b(?:before|vor)\s+{_ARTICLE}(?P<e>{_END})(?!\w)", _before),
    (rf"\b(?:after|nach)\s+{_ARTICLE}(?P<e>{_END})(?!\w)", _after),
    (rf"\b{_PART}\s*(?P<month>{_M})\.?(?:\s+(?P<year>{_Y}))?(?!\w)", _part_of_month),
    (
        rf"\b{_PART}\s+(?:(?:this|the|dieses|des)\s+|(?P<last>last|des\s+letzten|des\s+vergangenen|"
        rf"letzten|vergangenen)\s+)(?:month|monats)\b",
        _part_of_this_month,
    ),
    (rf"(?<!-)\b{_PART}\s*(?:(?:des\s+jahres|the\s+year)\s+)?(?P<year>{_Y})(?!\w|\.\d)", _part_of_year),
    (
        rf"\b{_PART}\s+(?:(?:this|the|dieses|des)\s+|(?P<last>last|des\s+letzten|des\s+vergangenen|"
        rf"letzten|vergangenen|vorigen)\s+)(?:year|jahres)\b",
        _part_of_this_year,
    ),
]
# Tried after the dates of timeframe.py ("am Montag, dem 14. September 2015" is that date).
# Not the papers and shows named after a day: "Welt am Sonntag", "Bild am Sonntag", "NZZ am Sonntag",
# "Die Presse am Sonntag", "Kurier am Sonntag", "the Mail on Sunday", "Saturday Night Live".
_TITLE = r"(?<!\bwelt\s)(?<!\bbild\s)(?<!\bnzz\s)(?<!\bpresse\s)(?<!\bkurier\s)(?<!\bmail\s)"
WEEKDAY_RULES: list[tuple[str, Resolver]] = [
    (rf"\b(?:this|diesen|(?:an\s+)?diesem)\s+{_WD}\b", _this_weekday),
    (
        rf"{_TITLE}\b(?:(?:on|am)\s+(?:(?:the\s+)?{_LAST}\s+)?|{_LAST}\s+){_WD}"
        r"(?:abend|morgen|nachmittag|vormittag|mittag|früh|nacht)?\b(?!\s+night\s+live)",
        _weekday,
    ),
    (rf"\b(?:since|seit)\s+(?:(?:dem\s+)?{_LAST}\s+)?{_WD}\b", _since_weekday),
    (
        rf"\b(?:(?:{_LAST}|over\s+the|on\s+the|at\s+the)\s+weekend|(?:am|übers)\s+(?:{_LAST}\s+)?wochenende|"
        r"(?:letztes|vergangenes|voriges)\s+wochenende)\b",
        _weekend,
    ),
]
