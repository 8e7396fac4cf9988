"""Time expressions in questions ("last week", "im September 2015", "latest", "seit März") resolved
to a date range and/or a preference for the newest articles, by a table of rules (English and
German), against a reference day: the newest article's date or `--as-of`.

Resolution, with `ref` the reference day (ranges are inclusive):
- named days: today/heute, yesterday/gestern, vorgestern, "on 18 Sep 2015"/"am 18. September
  2015"/"18.09.2015" (no year: the latest such day not after ref). A day range also takes the
  next day, since news about a day is often published the day after;
- calendar periods: this/last week (Monday to Sunday), this/last month, this/last year, "im
  September 2015", "in March" (no year: the latest March not after ref), "N weeks ago"/"vor zwei
  Wochen" (the calendar week, month or year holding ref minus N units; days: that day);
- rolling windows ending at ref: "past week"/"in der letzten Woche" (7 days), "in the last 3
  days"/"in den letzten drei Monaten";
- since: "since March"/"seit März"/"seit 2015" -> from the period's first day to ref;
- a bare year narrows only where it reads as a time: after in/im/im Jahr/during/since/seit/before/
  vor/until/bis, or as the question's last word before "?", and not followed by a content word
  ("in 2015 Fällen", "2015 Tote" are counts). Years after ref or before 1900 are not times;
- "latest", "newest", "most recent", "recent(ly)", "neueste", "aktuellste", "zuletzt" ask for the
  newest relevant articles (a preference, not a range);
- from timespans.py: spans ("between March and May 2015", "vom 3. bis 10. September"), before/after
  X, thirds of a month ("Anfang September") and of a year ("Anfang 2015", "late last year") -
  tried first - and weekdays ("am Montag", "last Friday", "this Monday") and weekends - tried
  last, so a date or period also named wins.
A question with none of these gets None: it is searched exactly as without this module.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from retrieval.timecalendar import (
    MONTH_PATTERN,
    MONTHS,
    Range,
    Resolver,
    latest_month,
    month_range,
    news_day,
    shift_month,
    verb,
    week,
    year_follower_ok,
    year_ok,
)
from retrieval.timespans import FIRST_RULES, WEEKDAY_RULES

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "ein": 1, "eine": 1, "einem": 1, "einer": 1, "einen": 1, "eins": 1,
    "two": 2, "zwei": 2, "three": 3, "drei": 3, "four": 4, "vier": 4, "five": 5, "fünf": 5,
    "six": 6, "sechs": 6, "seven": 7, "sieben": 7, "eight": 8, "acht": 8, "nine": 9, "neun": 9,
    "ten": 10, "zehn": 10, "eleven": 11, "elf": 11, "twelve": 12, "zwölf": 12,
}  # fmt: skip
_UNITS = {"day": "day", "days": "day", "tag": "day", "tage": "day", "tagen": "day",
          "week": "week", "weeks": "week", "woche": "week", "wochen": "week",
          "month": "month", "months": "month", "monat": "month", "monate": "month", "monaten": "month",
          "year": "year", "years": "year", "jahr": "year", "jahre": "year", "jahren": "year"}  # fmt: skip
_SINGULAR = frozenset("day week month year tag woche monat jahr".split())
# A rolling window without a number ("in recent weeks", "in den letzten Tagen") spans this many units.
_DEFAULT_COUNT = {"day": 7, "week": 4, "month": 3, "year": 3}

_MONTH = "(?P<month>" + MONTH_PATTERN + r")\.?"
_NUM = r"(?P<n>\d{1,2}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_UNIT = "(?P<unit>" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")"
_YEAR = r"(?P<year>1[89]\d\d|2\d\d\d)"
_DAY = r"(?P<day>[0-3]?\d)"


@dataclass(frozen=True)
class TimeFrame:
    """What a question asks of article dates: an inclusive range (either end open) and/or the
    newest articles first; `phrase` is the question's words that said so."""

    start: dt.date | None = None
    end: dt.date | None = None
    latest: bool = False
    phrase: str = ""

    @property
    def has_range(self) -> bool:
        """Whether the frame narrows by date (rather than only preferring the newest)."""
        return self.start is not None or self.end is not None

    def holds(self, iso: str) -> bool:
        """Whether an ISO date lies in the range ('' and unreadable dates never do)."""
        try:
            day = dt.date.fromisoformat(iso[:10])
        except ValueError:
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


# ---------- units ----------
def _count(text: str | None, unit: str, word: str) -> int:
    """A number written as digits or a word (none: one for a singular unit word, "in der letzten
    Woche", else the unit's default window, "in den letzten Tagen")."""
    if not text:
        return 1 if word.lower() in _SINGULAR else _DEFAULT_COUNT[unit]
    return int(text) if text.isdigit() else _NUMBERS[text.lower()]


def _ago(n: int, unit: str, ref: dt.date) -> Range:
    """The calendar unit holding ref minus n units ("vor zwei Wochen": that week)."""
    if unit == "day":
        return news_day(ref - dt.timedelta(days=n))
    if unit == "week":
        return week(ref - dt.timedelta(weeks=n))
    if unit == "month":
        return month_range(*shift_month(ref, n))
    return dt.date(ref.year - n, 1, 1), dt.date(ref.year - n, 12, 31)


def _rolling(n: int, unit: str, ref: dt.date) -> Range:
    """The n units up to and including ref."""
    if unit in ("day", "week"):
        return ref - dt.timedelta(days=n * (7 if unit == "week" else 1) - 1), ref
    if unit == "month":
        year, month = shift_month(ref, n)
        return dt.date(year, month, min(ref.day, month_range(year, month)[1].day)) + dt.timedelta(1), ref
    return dt.date(ref.year - n, ref.month, min(ref.day, 28)) + dt.timedelta(days=1), ref


# ---------- rules: pattern -> resolver(match, ref) -> range or None ----------



def _day_date(m: re.Match[str], ref: dt.date) -> Range | None:
    """A named calendar day ("18. September 2015", "Sep 18, 2015", "18.09.2015")."""
    groups = m.groupdict()
    if verb(groups["month"]):
        return None
    month = MONTHS[groups["month"].lower()] if not groups["month"].isdigit() else int(groups["month"])
    year = int(groups["year"]) if groups.get("year") else None
    try:
        if year is None:
            day = dt.date(ref.year, month, int(groups["day"]))
            day = day if day <= ref else day.replace(year=ref.year - 1)
        else:
            day = dt.date(year, month, int(groups["day"]))
    except ValueError:
        return None
    return news_day(day) if day <= ref else None


def _month_year(m: re.Match[str], ref: dt.date) -> Range | None:
    """A month: with its year, or the latest such month not after ref."""
    if verb(m.group("month")):
        return None
    month = MONTHS[m.group("month").lower()]
    year = int(m.group("year")) if m.groupdict().get("year") else latest_month(month, ref)
    if not year_ok(year, ref) or (year, month) > (ref.year, ref.month):
        return None
    return month_range(year, month)


def _year(m: re.Match[str], ref: dt.date) -> Range | None:
    """A year, when it reads as one (not a count: "in 2015 Fällen")."""
    year = int(m.group("year"))
    if not year_ok(year, ref) or not year_follower_ok(m.string[m.end() :]):
        return None
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _named_year(m: re.Match[str], ref: dt.date) -> Range | None:
    """A year named as one ("im Jahr 2014", "in the year 2014"): any word may follow."""
    year = int(m.group("year"))
    return (dt.date(year, 1, 1), dt.date(year, 12, 31)) if year_ok(year, ref) else None


def _since(inner: Resolver) -> Resolver:
    """From the start of what `inner` names up to ref."""

    def resolve(m: re.Match[str], ref: dt.date) -> Range | None:
        found = inner(m, ref)
        return (found[0], ref) if found else None

    return resolve


def _fixed(resolve: Callable[[dt.date], Range]) -> Resolver:
    """A rule whose range depends on ref alone."""
    return lambda _m, ref: resolve(ref)


def _units(kind: Callable[[int, str, dt.date], Range]) -> Resolver:
    """A rule with a count and a unit ("vor zwei Wochen", "in the last 3 days")."""

    def resolve(m: re.Match[str], ref: dt.date) -> Range:
        unit = _UNITS[m.group("unit").lower()]
        return kind(_count(m.groupdict().get("n"), unit, m.group("unit")), unit, ref)

    return resolve


_THIS_WEEK = _fixed(lambda ref: (week(ref)[0], ref))
_LAST_WEEK = _fixed(lambda ref: week(ref - dt.timedelta(weeks=1)))
_THIS_MONTH = _fixed(lambda ref: (ref.replace(day=1), ref))
_LAST_MONTH = _fixed(lambda ref: month_range(*shift_month(ref, 1)))
_THIS_YEAR = _fixed(lambda ref: (dt.date(ref.year, 1, 1), ref))
_LAST_YEAR = _fixed(lambda ref: (dt.date(ref.year - 1, 1, 1), dt.date(ref.year - 1, 12, 31)))
_LAST = r"(?:last|previous|letzte[nrs]?|vergangene[nrs]?|vorige[nrs]?)"
_DAY_MONTH_YEAR = rf"{_DAY}(?:\.|st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\s*,?\s*{_YEAR}?"
_MONTH_DAY_YEAR = rf"{_MONTH}\s+{_DAY}(?:st|nd|rd|th)?,?\s+{_YEAR}"
_DOTTED_DAY = rf"{_DAY}\.(?P<month>[01]?\d)\.{_YEAR}"
_ISO_DAY = rf"{_YEAR}-(?P<month>[01]\d)-{_DAY}"

# Tried in order; the first rule that matches and resolves gives the range.
_RULES: list[tuple[str, Resolver]] = [
    *FIRST_RULES,  # spans, before/after, parts of a month (timespans.py)
    (r"\b(?:the\s+day\s+before\s+yesterday|vorgestern)\b", _fixed(lambda r: news_day(r - dt.timedelta(2)))),
    (r"\b(?:yesterday|gestern)\b", _fixed(lambda r: news_day(r - dt.timedelta(1)))),
    # "bis heute", "heute noch", "still today": up to now, not that day.
    (r"(?<!bis\s)(?<!noch\s)(?<!still\s)(?<!until\s)\b(?:today|heute)\b(?!\s+noch)", _fixed(news_day)),
    (rf"\b{_DOTTED_DAY}\b", _day_date),
    (rf"\b{_ISO_DAY}\b", _day_date),
    (rf"\b(?:since|seit)\s+(?:the\s+|dem\s+)?{_DAY_MONTH_YEAR}(?!\d)", _since(_day_date)),
    (rf"\b(?:since|seit)\s+{_MONTH}(?:\s+{_YEAR})?\b", _since(_month_year)),
    (rf"\b(?:since|seit)\s+{_YEAR}\b", _since(_year)),
    (rf"\b{_DAY_MONTH_YEAR}(?!\d)", _day_date),
    (rf"\b{_MONTH_DAY_YEAR}\b", _day_date),
    (rf"\b{_MONTH}\s+{_YEAR}\b", _month_year),
    (
        rf"\b(?:in|im|during|since|seit|until|bis|of|from|anfang|mitte|ende|early|late)\s+{_MONTH}(?!\w)",
        _month_year,
    ),
    (rf"\b(?:im\s+jahre?|in\s+the\s+year)\s+{_YEAR}\b", _named_year),
    (
        rf"\b(?:in|im|during|während|until|bis|of|from|anfang|mitte|ende|early|late|mid)"
        rf"(?:\s+(?:dem\s+)?jahre?|\s+the\s+year)?\s+{_YEAR}\b",
        _year,
    ),
    (rf"(?<![\d.,]){_YEAR}\s*\?\s*$", _year),
    (rf"\b{_NUM}\s+{_UNIT}\s+ago\b", _units(_ago)),
    (rf"\bvor\s+{_NUM}\s+{_UNIT}\b", _units(_ago)),
    (
        rf"\b(?:in\s+)?(?:the\s+)?(?:past|last)\s+(?:{_NUM}\s+|few\s+)?{_UNIT}\b(?<!week)(?<!month)(?<!year)",
        _units(_rolling),
    ),
    (
        rf"\b(?:in\s+den|in\s+der|innerhalb\s+der)\s+(?:letzten|vergangenen)\s+(?:{_NUM}\s+|paar\s+)?{_UNIT}\b",
        _units(_rolling),
    ),
    (rf"\bin\s+recent\s+{_UNIT}\b", _units(_rolling)),
    (
        r"\b(?:past|in\s+the\s+last)\s+(?P<unit>week|month|year)\b",
        lambda m, r: _rolling(1, m["unit"].lower(), r),
    ),
    (r"\b(?:this|current)\s+week\b|\bdiese[rn]?\s+woche\b", _THIS_WEEK),
    (rf"\b{_LAST}\s+(?:week|woche)\b", _LAST_WEEK),
    (r"\b(?:this|current)\s+month\b|\b(?:diesen|in\s+diesem)\s+monat\b", _THIS_MONTH),
    (rf"\b{_LAST}\s+(?:month|monat)\b", _LAST_MONTH),
    (r"\b(?:this|current)\s+year\b|\b(?:dieses|in\s+diesem)\s+jahr\b|\bheuer\b", _THIS_YEAR),
    (rf"\b{_LAST}\s+(?:year|jahr)\b", _LAST_YEAR),
    *WEEKDAY_RULES,  # last: "am Montag vor zwei Wochen" is that week
]
_COMPILED = [(re.compile(p, re.IGNORECASE), r) for p, r in _RULES]
_LATEST = re.compile(
    r"\b(?:latest|newest|most\s+recent|recent(?:ly)?|neu(?:e)?ste[nmrs]?|aktuellste[nmrs]?|zuletzt)\b",
    re.IGNORECASE,
)


def parse_time(question: str, ref: dt.date) -> TimeFrame | None:
    """The question's time frame resolved against `ref`, or None when it names no time."""
    latest = _LATEST.search(question)
    for pattern, resolve in _COMPILED:
        for match in pattern.finditer(question):
            found = resolve(match, ref)
            if found is not None:
                phrase = match.group().strip(" ?")
                return TimeFrame(found[0], found[1], latest is not None, phrase)
    if latest:
        return TimeFrame(latest=True, phrase=latest.group())
    return None
