"""What an answer says about time: the date of an older article it quotes, and a note when a
time-bound question could not be held to its dates.

- Date remark (every question, time-bound or not): an article cited that is dated more than
  OLDER_DAYS days before the reference day (the newest article's date, or --as-of) gets its date
  once, right after the marker of its last citation: `„…“ [1] (from 18 Sep 2015)`. Not when the
  question asked for a range that holds that date ("im September 2015" answered from 18 Sep 2015
  says nothing new).
  Undated citations get no remark. An answer that was streamed (its text already on the reader's
  screen) is left as drafted: the pipeline does not call this for it, and its sources list, shown
  right under it, gives every date.
- Note (time-bound questions only): when the articles the answer rests on (its citations, else
  the evidence it looked at) have no dates, the note says the time asked about cannot be checked;
  when the question's range held no article and the answer comes from others, the note says so
  with the range as resolved ("1 Sep 2015 – 30 Sep 2015").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from prompts import render
from retrieval.answering.types import Answer, Citation
from retrieval.readers.dates import display_date
from retrieval.timeframe import TimeFrame

OLDER_DAYS = 7


def is_older(iso: str, ref: dt.date) -> bool:
    """Whether an ISO date lies more than OLDER_DAYS days before ref ('' never does)."""
    try:
        day = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return False
    return (ref - day).days > OLDER_DAYS


def with_date_remarks(answer: Answer, ref: dt.date, frame: TimeFrame | None = None) -> Answer:
    """The answer with '(from DATE)' after the first marker of each citation from an older
    article (unless the question's range holds its date)."""
    due = [c for c in answer.citations if _remark_due(c, ref, frame)]
    if not due:
        return answer
    lang = answer.language
    last = {c.article_id: c for c in due}  # one remark per article, after its last marker
    text = answer.text
    for citation in sorted(last.values(), key=lambda c: -c.n):
        marker = f"[{citation.n}]"
        at = text.find(marker)
        if at >= 0:
            remark = render(f"time_from_{lang}", date=display_date(citation.date))
            text = f"{text[: at + len(marker)]} {remark}{text[at + len(marker) :]}"
    return replace(answer, text=text)


def _remark_due(citation: Citation, ref: dt.date, frame: TimeFrame | None) -> bool:
    """Whether a citation's date is worth saying in the answer text."""
    if not is_older(citation.date, ref):
        return False
    return frame is None or not frame.has_range or not frame.holds(citation.date)


def with_time_note(
    answer: Answer,
    frame: TimeFrame,
    dates: Mapping[str, str],
    looked_at: Sequence[str],
    in_range: bool,
) -> Answer:
    """The answer with a note when its articles are undated, or when the question's range held
    no article; `dates` maps article ids to ISO dates, `looked_at` are the evidence's articles."""
    resting = [c.article_id for c in answer.citations] or list(looked_at)
    if not resting:
        return answer
    lang = answer.language
    if not any(dates.get(a) for a in resting):
        note = render(f"time_undated_{lang}", phrase=frame.phrase)
    elif frame.has_range and not in_range:
        note = render(f"time_none_in_range_{lang}", period=period(frame), phrase=frame.phrase)
    else:
        return answer
    return replace(answer, note=f"{answer.note} {note}" if answer.note else note)


def period(frame: TimeFrame) -> str:
    """The frame's range as a reader writes it: '7 Sep 2015 – 13 Sep 2015', one day alone."""
    start, end = frame.start, frame.end
    if start is None and end is None:
        return ""
    if start is None or end is None or start == end:
        day = start or end
        return display_date(day.isoformat()) if day else ""
    return f"{display_date(start.isoformat())} – {display_date(end.isoformat())}"
