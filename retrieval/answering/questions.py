"""Question typing: what kind of thing a question asks for, and its words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.gazetteer import people_in, places_in
from retrieval.language import query_stopwords

_NUMBER_Q = re.compile(
    r"\b(how (many|much|long|old|far|high|big|large)|wie (viele?|lange|alt|"
    r"weit|hoch|groß|gross)|wieviele?|what (percentage|number))\b",
    re.I,
)
_TIME_Q = re.compile(r"\b(when|what year|which year|wann|in welchem jahr|seit wann)\b", re.I)
_PLACE_Q = re.compile(
    r"^\W*(where|wo|wohin|woher)\b|\b(which|what) (city|country|place|state|region)\b|"
    r"\b(welche[mnrs]?) (stadt|land|ort|staat|region)\b",
    re.I,
)
_PERSON_Q = re.compile(r"^\W*(who|whom|whose|wer|wen|wem|wessen)\b", re.I)
_ENTITY_Q = re.compile(r"\b(which|welche[mnrs]?|what is the name|wie hei(ß|ss)t)\b", re.I)
_TYPE_PATTERNS = (("number", _NUMBER_Q), ("time", _TIME_Q), ("place", _PLACE_Q), ("person", _PERSON_Q))
_QUANTITY = re.compile(
    r"\d|\b(zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|hundert|tausend|"
    r"dutzend|million\w*|milliard\w*|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"twenty|dozen|hundred|thousand|billion)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b\d{1,2}\.\s*[A-ZÄÖÜ][a-zäöü]+|"
    r"\b(januar|jänner|februar|märz|april|mai|juni|juli|august|september|"
    r"oktober|november|dezember|montag|dienstag|mittwoch|donnerstag|freitag|"
    r"samstag|sonntag|jahrhundert\w*)\b",
    re.I,
)
_INNER_CAPITAL = re.compile(r"(?<=\s)[A-ZÄÖÜ][\w-]+")


@dataclass(frozen=True)
class AnswerType:
    """What kind of thing a question asks for."""

    number: bool
    time: bool
    place: bool
    person: bool
    entity: bool = False

    @classmethod
    def of(cls, question: str) -> AnswerType:
        """The answer type of a question, from its first question word (English and German)."""
        found = [(m.start(), kind) for kind, pattern in _TYPE_PATTERNS if (m := pattern.search(question))]
        first = min((start for start, _ in found), default=None)
        kinds = {kind for start, kind in found if start == first}
        entity = not kinds and bool(_ENTITY_Q.search(question))
        return cls("number" in kinds, "time" in kinds, "place" in kinds, "person" in kinds, entity)

    def matches(self, sentence: str, question_words: set[str]) -> dict[str, bool]:
        """Which of the asked-for kinds the sentence holds (names not already in the question)."""
        return {
            "number": self.number and bool(_QUANTITY.search(sentence)),
            "time": self.time and bool(_DATE.search(sentence)),
            "place": self.place and bool(places_in(without_dateline(sentence), question_words)),
            "person": self.person and bool(people_in(sentence, question_words)),
        }

    def names(self, sentence: str, question_words: set[str]) -> set[str]:
        """The places or people (as asked for) that the sentence names beyond the question."""
        found: set[str] = set()
        if self.place:
            found.update(places_in(without_dateline(sentence), question_words))
        if self.person:
            found.update(people_in(sentence, question_words))
        return found

    def missing(self, text: str, question_words: set[str]) -> bool:
        """Whether the text lacks every kind of thing the question asks for."""
        wanted = [self.number, self.time, self.place, self.person]
        return any(wanted) and not any(self.matches(text, question_words).values())


# A news lead's dateline: "Washington – …", "Santiago de Chile – …", "Wien/London – …".
_DATELINE = re.compile(
    r"^[A-ZÄÖÜ][\w.'’-]*(?:(?: |/| / )(?:[A-ZÄÖÜ][\w.'’-]*|de|del|da|do|dos|am|an|der|im|bei|la|le|el)){0,4}"
    r"\s[–-]\s"
)


def without_dateline(sentence: str) -> str:
    """The sentence without its dateline: where a story was filed is not what it reports, so the
    place there is no answer to "where?". Offsets shift; use it only to look for names."""
    match = _DATELINE.match(sentence)
    return " " * match.end() + sentence[match.end() :] if match else sentence


# What opens a follow-up before its question word: "And who …", "Und wo …", "Back to that: where …".
_OPENER = re.compile(
    r"^\W*(?:(?:and|und|but|aber|also|so|then|dann|now|jetzt|okay|ok|well|na)\b[\s,]*)+|^[^:?]{1,60}:\s+",
    re.I,
)


def question_core(question: str) -> str:
    """The question without what opens a follow-up before its question word (a conjunction, a
    lead-in ending in a colon), so that it is typed by its question word; unchanged otherwise."""
    core = _OPENER.sub("", question, count=1).strip()
    return core[:1].upper() + core[1:] if core else question


def question_words(question: str) -> set[str]:
    """The question's words, lower-cased."""
    return {w.lower() for w in re.findall(r"\w+", question)}


# Question words and verbs that say what kind of answer is wanted, not what it is about.
_ASKING = frozenset(
    """
    how many much long old far high big large what which who whom whose when where why does did do
    is are was were has have had according name called wie viele viel lange alt weit hoch groß gross
    welche welcher welches welchen welchem wer wen wem wessen wann wo wohin woher warum was laut heißt
    heisst nennt wurde wurden werden wird hat haben hatte hatten ist sind war waren soll sollen kann
    können muss müssen will wollen
    """.split()
)
_NAME_OR_NUMBER = re.compile(r"\b(?:\w*\d\w*|[A-ZÄÖÜ][\w'’-]*)")


def focus_words(question: str) -> list[str]:
    """What the question asks about beyond its names and numbers ("spectators", "born", "Firma"):
    its content words other than question words, stop words, names and numbers."""
    names = _NAME_OR_NUMBER.findall(question)[1:]
    skip = {w.lower() for w in re.findall(r"\w+", " ".join(names))} | _ASKING | query_stopwords()
    return list(dict.fromkeys(w for w in re.findall(r"[^\W\d_]{3,}", question) if w.lower() not in skip))


_HOW_MANY = re.compile(
    r"\b(?:how (?:many|much)|wie viele?|wieviele?|what (?:number|percentage|share) of|"
    r"wie (?:hoch|groß|gross|lang|weit) (?:ist|war|sind|waren|wird|wäre)(?: die| der| das| den)?)"
    r"\s+((?:[^\W\d_]+\s*){1,3})",
    re.I,
)


def counted_words(question: str) -> list[str]:
    """For a question asking for a number, what is counted or measured ("spectators" in "How many
    spectators …"; "Geldstrafe" in "Wie hoch ist die Geldstrafe …"); else its focus words."""
    match = _HOW_MANY.search(question)
    if match:
        skip = _ASKING | query_stopwords()
        found = [w for w in re.findall(r"[^\W\d_]{3,}", match.group(1)) if w.lower() not in skip][:2]
        if found:
            return found
    return focus_words(question)[:3]
