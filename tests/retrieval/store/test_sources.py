"""Duplicates in the index: stored once, every source listed, idempotent, removal by source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot
from retrieval.store.records import SourceQuery
from tests.retrieval.test_dedupe import OTHER, PARAGRAPH, STORY

WIRE = [
    {
        "id": "standard-u5",
        "title": "U5 kommt 2026",
        "date": "2015-09-18",
        "source": "Der Standard",
        "url": "https://www.derstandard.at/u5",
        "text": STORY,
    },
    {"id": "graz-1", "title": "Hochwasser in Graz", "date": "2015-06-02", "source": "APA", "text": OTHER},
]
COPIES = [
    # the same wire story under another headline, with a paragraph added
    {
        "id": "kurier-u5",
        "title": "Häupl: Jahrhundertprojekt",
        "date": "2015-09-18",
        "source": "Kurier",
        "text": "Wien bekommt eine neue U-Bahn. " + STORY.replace("Kritiker", PARAGRAPH + " Kritiker"),
    },
    # the page again, reached by a link with tracking parameters
    {
        "id": "standard-u5-feed",
        "title": "U5 kommt 2026",
        "source": "Der Standard",
        "url": "https://WWW.derstandard.at/u5?utm_source=rss&fbclid=x#comments",
        "text": STORY[:200],
    },
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def bot(tmp_path: Path) -> Newsbot:
    bot = Newsbot(
        Settings(home=tmp_path / "home"), embedder=HashEmbedder(), index_dir=tmp_path / "home" / "index"
    )
    bot.index_paths([_jsonl(tmp_path / "wire.jsonl", WIRE)], progress=False)
    return bot


def test_duplicates_are_stored_once_with_every_source(bot: Newsbot, tmp_path: Path) -> None:
    report = bot.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False).report
    assert (report.added, report.merged, report.chunks_embedded) == (0, 2, 0)
    assert bot.index.counts()[0] == 2
    article = bot.article("standard-u5")
    assert article.source == "Der Standard, Kurier"
    assert [s["id"] for s in article.meta["sources"]] == ["standard-u5", "kurier-u5", "standard-u5-feed"]
    assert article.meta["sources"][2]["url"] == "https://www.derstandard.at/u5"
    listed = {a.id: a for a in bot.sources()}
    assert set(listed) == {"standard-u5", "graz-1"}
    assert [s.source_id for s in listed["standard-u5"].sources] == [
        "standard-u5",
        "kurier-u5",
        "standard-u5-feed",
    ]
    assert len(listed["graz-1"].sources) == 1
    assert [a.id for a in bot.source_page(SourceQuery(source="kurier")).articles] == ["standard-u5"]


def test_the_citation_names_every_source(bot: Newsbot, tmp_path: Path) -> None:
    bot.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False)
    answer = bot.answer("Wann soll die Linie U5 eröffnet werden?")
    assert answer.citations and answer.citations[0].article_id == "standard-u5"
    assert answer.citations[0].source == "Der Standard, Kurier"


def test_reindexing_is_idempotent(bot: Newsbot, tmp_path: Path) -> None:
    copies = _jsonl(tmp_path / "copies.jsonl", COPIES)
    bot.index_paths([copies], progress=False)
    commit = bot.index.records.commit()
    report = bot.index_paths([copies, tmp_path / "wire.jsonl"], progress=False).report
    assert (report.added, report.updated, report.merged, report.unchanged) == (0, 0, 0, 4)
    assert bot.index.records.commit() == commit
    assert len(bot.article("standard-u5").meta["sources"]) == 3


def test_a_duplicate_within_one_run_is_merged(tmp_path: Path) -> None:
    bot = Newsbot(
        Settings(home=tmp_path / "home"), embedder=HashEmbedder(), index_dir=tmp_path / "home" / "index"
    )
    report = bot.index_paths([_jsonl(tmp_path / "all.jsonl", WIRE + COPIES)], progress=False).report
    assert (report.added, report.merged) == (2, 2)
    assert [a.id for a in bot.sources()] == ["graz-1", "standard-u5"]


def test_removing_sources_keeps_the_story_while_one_remains(bot: Newsbot, tmp_path: Path) -> None:
    bot.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False)
    assert bot.remove(["standard-u5-feed"]) == ["standard-u5-feed"]
    assert [s["id"] for s in bot.article("standard-u5").meta["sources"]] == ["standard-u5", "kurier-u5"]
    assert bot.remove(["standard-u5"]) == ["standard-u5"]
    heir = bot.article("kurier-u5")
    assert (heir.title, heir.source, "sources" in heir.meta) == ("Häupl: Jahrhundertprojekt", "Kurier", False)
    assert heir.text == STORY and bot.index.counts()[0] == 2
    assert not bot.answer("Wann soll die Linie U5 eröffnet werden?").abstained
    assert bot.answer("Wann soll die Linie U5 eröffnet werden?").citations[0].article_id == "kurier-u5"
    assert bot.remove(["kurier-u5"]) == ["kurier-u5"]
    assert [a.id for a in bot.sources()] == ["graz-1"]
    assert bot.index.problems() == []


def test_removing_a_story_with_all_its_sources_at_once(bot: Newsbot, tmp_path: Path) -> None:
    bot.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False)
    bot.remove(["kurier-u5", "standard-u5", "standard-u5-feed"])
    assert [a.id for a in bot.sources()] == ["graz-1"]
    assert bot.index.records.source_rows(["kurier-u5", "standard-u5-feed"]) == {}
    # the copies come back as stories of their own: the feed entry matched the page by URL only
    report = bot.index_paths([tmp_path / "copies.jsonl"], progress=False).report
    assert (report.added, report.merged) == (2, 0)


def test_a_changed_duplicate_that_is_no_longer_one_becomes_its_own_article(
    bot: Newsbot, tmp_path: Path
) -> None:
    bot.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False)
    changed = dict(COPIES[0], text="Ein ganz anderer Text über das Wetter in Salzburg am Wochenende.")
    report = bot.index_paths([_jsonl(tmp_path / "changed.jsonl", [changed])], progress=False).report
    assert report.added == 1
    assert bot.article("kurier-u5").text.startswith("Ein ganz anderer")
    assert [s["id"] for s in bot.article("standard-u5").meta["sources"]] == [
        "standard-u5",
        "standard-u5-feed",
    ]


def test_cli_lists_sources_in_json_and_show(bot: Newsbot, tmp_path: Path) -> None:
    bot.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False)
    bot.close()
    env = {
        "NEWSBOT_HOME": str(tmp_path / "home"),
        "NEWSBOT_EMBEDDER": "demo-hash",
    }
    runner = CliRunner()
    listed = runner.invoke(cli, ["sources", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = {a["id"]: a for a in json.loads(listed.output)["articles"]}
    assert [s["source"] for s in rows["standard-u5"]["sources"]] == ["Der Standard", "Kurier", "Der Standard"]
    shown = runner.invoke(cli, ["show", "standard-u5", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.output)["meta"]["sources"]) == 3


def test_remove_source_takes_away_that_sites_copies_only(bot: Newsbot, tmp_path: Path) -> None:
    bot.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False)
    bot.close()
    env = {"NEWSBOT_HOME": str(tmp_path / "home"), "NEWSBOT_EMBEDDER": "demo-hash"}
    runner = CliRunner()
    done = runner.invoke(cli, ["remove", "--source", "der standard"], env=env)
    assert done.exit_code == 0, done.output
    assert "Removed 2 articles" in done.output
    listed = json.loads(runner.invoke(cli, ["sources", "--json"], env=env).output)["articles"]
    assert sorted((a["id"], a["source"]) for a in listed) == [("graz-1", "APA"), ("kurier-u5", "Kurier")]
    assert runner.invoke(cli, ["remove", "--source", "kurier"], env=env).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["sources", "--json"], env=env).output)["articles"]
    assert [a["id"] for a in listed] == ["graz-1"]


def test_an_index_from_before_sources_gets_them_and_finds_copies(bot: Newsbot, tmp_path: Path) -> None:
    db = bot.index.records.db
    for table in ("article_sources", "fingerprints", "minhash_bands"):
        db.execute(f"DROP TABLE {table}")
    bot.close()
    again = Newsbot(bot.settings, embedder=HashEmbedder(), index_dir=bot.index_dir)
    assert [a.sources for a in again.sources()] == [(), ()]
    report = again.index_paths([_jsonl(tmp_path / "copies.jsonl", COPIES)], progress=False).report
    assert (report.added, report.merged) == (0, 2)
    assert [len(a.sources) for a in again.sources()] == [1, 3]
    assert again.index.problems() == []


def test_cli_index_reports_merged_duplicates(bot: Newsbot, tmp_path: Path) -> None:
    bot.close()
    env = {"NEWSBOT_HOME": str(tmp_path / "home"), "NEWSBOT_EMBEDDER": "demo-hash"}
    done = CliRunner().invoke(cli, ["index", str(_jsonl(tmp_path / "copies.jsonl", COPIES))], env=env)
    assert done.exit_code == 0, done.output
    assert "Indexed 0 new and 0 changed articles (0 unchanged, 2 merged into stored stories" in done.output


def test_check_finds_sources_of_missing_articles(bot: Newsbot) -> None:
    assert bot.check() == []
    bot.index.records.db.execute("UPDATE article_sources SET article_id = 'gone' WHERE source_id = 'graz-1'")
    assert any("1 sources or fingerprints of articles that are not stored" in p for p in bot.check())
