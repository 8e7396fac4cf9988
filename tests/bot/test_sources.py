"""`newsbot sources` (filters, order, pages, JSON), `newsbot show` and `newsbot remove --source`
over an index of a news page and dated JSONL articles; dates as readers see them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.render import format_sources
from retrieval.index import ArticleSummary
from retrieval.readers.dates import display_date

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
ROWS = [
    {"id": "apa-1", "title": "Hochwasser in Graz", "date": "02.06.2015", "source": "APA",
     "text": "In Graz trat die Mur über die Ufer. Mehr als 300 Feuerwehrleute waren im Einsatz."},
    {"id": "apa-2", "title": "Ärztestreik in Salzburg", "date": "Oct 1, 2015", "source": "APA",
     "text": "Die Spitalsärzte in Salzburg streiken. Operationen wurden verschoben."},
    {"id": "krone-1", "title": "Zugspitze im Schnee", "date": "2015-08-20T09:30:00+02:00",
     "source": "Krone", "lang": "de", "text": "Auf der Zugspitze fiel der erste Schnee. Es wurde kalt."},
    {"id": "nodate", "title": "Archivtext ohne Datum", "source": "Archiv",
     "text": "Ein Text ohne Datum. Er steht im Archiv."},
]


@pytest.fixture
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Path:
    """An index of the rows above plus the Der Standard page (id 'pages/u5'), fake embedder."""
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    corpus = tmp_path / "corpus"
    (corpus / "pages").mkdir(parents=True)
    shutil.copy(PAGES / "standard-article.html", corpus / "pages" / "u5.html")
    (corpus / "rows.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n",
                                       encoding="utf-8")
    assert main(["index", str(corpus)]) == 0
    capsys.readouterr()
    return corpus


def _json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["sources", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def _ids(capsys: pytest.CaptureFixture, *args: str) -> list[str]:
    return [a["id"] for a in _json(capsys, *args)["articles"]]


def test_sources_json_lists_every_field(indexed: Path, capsys: pytest.CaptureFixture) -> None:
    doc = _json(capsys)
    assert doc["total"] == 5 and doc["offset"] == 0
    assert doc["chunks"] == sum(a["chunks"] for a in doc["articles"]) > 0
    u5 = next(a for a in doc["articles"] if a["id"] == "pages/u5")
    assert u5 == {"id": "pages/u5", "title": "Neue U-Bahn-Linie U5: Wien baut für 950 Millionen Euro",
                  "date": "2015-09-18", "source": "Der Standard",
                  "url": "https://www.derstandard.at/story/2000022001/neue-u-bahn-linie-u5",
                  "lang": "de", "chunks": u5["chunks"], "sources": u5["sources"]}
    assert u5["chunks"] >= 1
    assert [(s["id"], s["url"]) for s in u5["sources"]] == [("pages/u5", u5["url"])]
    dates = {a["id"]: a["date"] for a in doc["articles"]}
    assert dates == {"apa-1": "2015-06-02", "apa-2": "2015-10-01", "krone-1": "2015-08-20",
                     "pages/u5": "2015-09-18", "nodate": ""}


def test_sources_sorts_by_date_with_undated_last_or_by_title(indexed: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    assert _ids(capsys) == ["apa-1", "krone-1", "pages/u5", "apa-2", "nodate"]
    assert _ids(capsys, "--reverse") == ["apa-2", "pages/u5", "krone-1", "apa-1", "nodate"]
    assert _ids(capsys, "--sort", "title") == ["nodate", "apa-2", "apa-1", "pages/u5", "krone-1"]


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        (["--since", "2015-08-20"], ["krone-1", "pages/u5", "apa-2"]),
        (["--until", "18.09.2015"], ["apa-1", "krone-1", "pages/u5"]),
        (["--since", "Aug 1, 2015", "--until", "2015-09-30"], ["krone-1", "pages/u5"]),
        (["--since", "2030-01-01"], []),
        (["--grep", "apa"], ["apa-1", "apa-2"]),  # in the source
        (["--grep", "ÄRZTE"], ["apa-2"]),  # in the title, any case, umlauts too
        (["--grep", "arzte"], ["apa-2"]),  # accents folded away
        (["--grep", "der standard"], ["pages/u5"]),
        (["--grep", "APA", "--since", "2015-07-01"], ["apa-2"]),
        (["--source", "krone"], ["krone-1"]),
    ],
)
def test_sources_filters(indexed: Path, capsys: pytest.CaptureFixture, args: list[str],
                         ids: list[str]) -> None:
    assert _ids(capsys, *args) == ids
    assert _json(capsys, *args)["total"] == len(ids)


def test_sources_pages(indexed: Path, capsys: pytest.CaptureFixture) -> None:
    assert _ids(capsys, "--limit", "2") == ["apa-1", "krone-1"]
    assert _ids(capsys, "--limit", "2", "--offset", "2") == ["pages/u5", "apa-2"]
    assert _ids(capsys, "--page", "3", "--limit", "2") == ["nodate"]
    doc = _json(capsys, "--page", "2", "--limit", "2")
    assert doc["total"] == 5 and doc["offset"] == 2
    assert main(["sources", "--limit", "2", "--offset", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("5 articles, ") and out.rstrip().endswith("shown: 3–4")
    assert "pages/u5" in out and "2015-09-18" in out and "Der Standard" in out and "apa-1" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "gestern"], "'gestern' is not a date"),
        (["--until", "September 2015"], "has no day"),
        (["--sort", "size"], "'size' is not one of"),
        (["--page", "2", "--offset", "3"], "--page or --offset, not both"),
    ],
)
def test_bad_sources_options_are_usage_errors(indexed: Path, capsys: pytest.CaptureFixture,
                                              args: list[str], message: str) -> None:
    assert main(["sources", *args]) == 2
    assert message in capsys.readouterr().err


def test_show_prints_one_article(indexed: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "pages/u5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        "Neue U-Bahn-Linie U5: Wien baut für 950 Millionen Euro",
        "18 Sep 2015 · Der Standard · de · id pages/u5",
        "url: https://www.derstandard.at/story/2000022001/neue-u-bahn-linie-u5",
        "author: Maria Huber",
    ]
    assert lines[5].startswith("Die Stadt Wien baut eine neue U-Bahn-Linie.")
    assert not any("Donauwalzer77" in line or "Cookies" in line for line in lines)


def test_show_json_and_an_unknown_id(indexed: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "--json", "krone-1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"id": "krone-1", "title": "Zugspitze im Schnee", "date": "2015-08-20", "source": "Krone",
                   "url": "", "lang": "de", "meta": {},
                   "text": "Auf der Zugspitze fiel der erste Schnee. Es wurde kalt."}
    assert main(["show", "nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "Error: no article 'nope' in the index (see 'newsbot sources')"


def test_remove_by_source(indexed: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["remove", "--source", "apa"]) == 0
    assert "Removed 2 articles." in capsys.readouterr().err
    assert _ids(capsys) == ["krone-1", "pages/u5", "nodate"]
    assert main(["remove", "--source", "APA"]) == 1
    assert "no articles from source 'APA'" in capsys.readouterr().err
    assert main(["remove"]) == 2
    assert "give article ids, or --source" in capsys.readouterr().err


def test_index_reports_a_page_without_an_article(indexed: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copy(PAGES / "section-front.html", indexed / "pages" / "inland.html")
    assert main(["index", str(indexed)]) == 0
    err = capsys.readouterr().err
    assert f"skipped {indexed / 'pages' / 'inland.html'}: no article in this page" in err
    assert "Indexed 0 new and 0 changed articles (5 unchanged)" in err
    assert "pages/inland" not in _ids(capsys)


@pytest.mark.parametrize(
    ("iso", "shown"),
    [("2015-09-18", "18 Sep 2015"), ("2015-09-18T10:00:00+02:00", "18 Sep 2015"),
     ("2016-03-01", "1 Mar 2016"), ("", ""), ("irgendwann", "irgendwann")],
)
def test_display_dates(iso: str, shown: str) -> None:
    assert display_date(iso) == shown


def test_format_sources_without_articles() -> None:
    assert format_sources([]) == "No articles indexed."
    assert format_sources([], total=3, offset=20) == "No articles on this page (3 in all)."
    table = format_sources([ArticleSummary("a", "T", "", "", 2)])
    assert table.splitlines()[1].split() == ["a", "-", "2", "T"] and table.endswith("1 articles, 2 chunks")
