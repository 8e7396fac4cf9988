"""`newsbot feeds add/list/remove`, `newsbot update` (only new and changed entries indexed on a
second run, conditional GET, a failing feed reported while the others run), `newsbot index URL`,
and `telegram --update-every` as a job in the bot's job queue. Real HTTP to a local server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.cli import main
from bot.telegram import build_application
from bot.telegram.jobs import UPDATE_JOB
from tests.bot.fake_bot_api import FakeBotApi
from tests.bot.telegram_harness import newsbot, settings
from tests.fakes.web_server import Reply, WebServer, serve_news


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServer]:
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    monkeypatch.setenv("NEWSBOT_FETCH_BACKOFF", "0")
    monkeypatch.setenv("NEWSBOT_FETCH_TIMEOUT", "2")
    monkeypatch.setenv("NEWSBOT_FETCH_ALLOW_PRIVATE", "true")  # the server runs on 127.0.0.1
    monkeypatch.setenv("NEWSBOT_FETCH_HOST_DELAY", "0")
    server = WebServer()
    serve_news(server)
    yield server
    server.close()


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def sources(capsys: pytest.CaptureFixture) -> list[dict]:
    code, out, _ = run(capsys, "sources", "--json")
    assert code == 0
    return json.loads(out)["articles"]


def test_feeds_add_list_remove(web: WebServer, capsys: pytest.CaptureFixture) -> None:
    rss, atom = web.url("/feeds/chronik.rss"), web.url("/feeds/world.atom")
    assert run(capsys, "feeds", "add", rss, atom)[2] == f"added: {rss}\nadded: {atom}\n"
    assert run(capsys, "feeds", "add", rss)[2] == f"already registered: {rss}\n"
    code, out, _ = run(capsys, "feeds", "list")
    assert code == 0 and out == f"{rss}  (not updated yet)\n{atom}  (not updated yet)\n"
    assert run(capsys, "feeds", "remove", rss)[:2] == (0, "")
    code, out, _ = run(capsys, "feeds", "list", "--json")
    assert [f["url"] for f in json.loads(out)] == [atom]
    code, _, err = run(capsys, "feeds", "remove", rss)
    assert code == 1 and "not a registered feed" in err
    code, _, err = run(capsys, "feeds", "add", "ftp://example.org/feed")
    assert code == 1 and "not an http(s) URL" in err


def test_update_indexes_only_what_is_new_or_changed(web: WebServer, capsys: pytest.CaptureFixture) -> None:
    rss, atom = web.url("/feeds/chronik.rss"), web.url("/feeds/world.atom")
    run(capsys, "feeds", "add", rss, atom)
    code, _, err = run(capsys, "update")
    assert code == 0
    assert f"{rss}: 3 new, 0 changed, 0 unchanged" in err and f"{atom}: 2 new, 0 changed, 0 unchanged" in err
    assert "geloescht.html: HTTP 404 Not Found; the feed's summary kept" in err
    articles = sources(capsys)
    assert len(articles) == 5
    flood = next(a for a in articles if a["title"].startswith("Hochwasser"))
    assert (flood["date"], flood["source"]) == ("2015-06-02", "Tagesblatt")
    pages = web.hits["/chronik/aerztestreik-salzburg.html"]

    code, _, err = run(capsys, "update")
    assert code == 0
    assert f"{rss}: 0 new, 0 changed, 3 unchanged" in err and f"{atom}: 0 new, 0 changed, 2 unchanged" in err
    assert web.hits["/chronik/aerztestreik-salzburg.html"] == pages  # unchanged entries: pages not fetched
    assert len(sources(capsys)) == 5

    atom_text = web.fixture("atom-full.xml").decode().replace("950 million euros", "1 billion euros")
    atom_text = atom_text.replace(
        "</feed>",
        f"""<entry><title>Storm in Linz</title>
      <link href="{web.base}/world/linz-storm"/><id>tag:dailyledger.example,2015:world/4713</id>
      <published>2015-09-20T08:00:00+02:00</published>
      <content type="html">&lt;p&gt;A heavy storm hit Linz on Sunday morning and uprooted dozens of trees
      along the Danube. The fire brigade was called out more than two hundred times, and several
      roads remained closed until the afternoon, the city said.&lt;/p&gt;</content></entry></feed>""",
    )
    web.routes["/feeds/world.atom"] = Reply(body=atom_text.encode(), content_type="application/atom+xml")
    code, _, err = run(capsys, "update")
    assert f"{atom}: 1 new, 1 changed, 1 unchanged" in err and f"{rss}: 0 new, 0 changed, 3 unchanged" in err
    titles = {a["title"] for a in sources(capsys)}
    assert len(titles) == 6 and "Vienna to build a new metro line for 1 billion euros" in titles
    assert "Vienna to build a new metro line for 950 million euros" not in titles


def test_update_uses_a_conditional_get(web: WebServer, capsys: pytest.CaptureFixture) -> None:
    body = web.fixture("atom-full.xml")
    web.routes["/feeds/world.atom"] = lambda _n, h: (
        Reply(304)
        if h.get("if-none-match") == '"w1"'
        else Reply(body=body, content_type="application/atom+xml", headers={"ETag": '"w1"'})
    )
    run(capsys, "feeds", "add", web.url("/feeds/world.atom"))
    assert "2 new" in run(capsys, "update")[2]
    code, _, err = run(capsys, "update")
    assert code == 0 and "0 new, 0 changed, 2 unchanged" in err
    assert web.requests[-1][1]["if-none-match"] == '"w1"'


def test_a_failing_feed_is_reported_and_the_others_still_run(
    web: WebServer, capsys: pytest.CaptureFixture
) -> None:
    web.routes["/feeds/down.rss"] = Reply(500, b"oops")
    web.routes["/feeds/page.rss"] = web.routes["/chronik/aerztestreik-salzburg.html"]
    down, page, atom = (web.url(p) for p in ("/feeds/down.rss", "/feeds/page.rss", "/feeds/world.atom"))
    run(capsys, "feeds", "add", down, page, atom)
    code, _, err = run(capsys, "update")
    assert code == 1
    assert f"{down}: failed: HTTP 500 Internal Server Error (gave up after 3 attempts)" in err
    assert f"{page}: failed: not an RSS or Atom feed (Content-Type: text/html)" in err
    assert f"{atom}: 2 new, 0 changed, 0 unchanged" in err
    assert len(sources(capsys)) == 2
    web.routes["/feeds/world.atom"] = Reply(404)
    assert run(capsys, "update")[0] == 1
    assert len(sources(capsys)) == 2  # nothing stored is lost
    _, out, _ = run(capsys, "feeds", "list")
    assert f"{atom}  (updated " in out and "failed: HTTP 404 Not Found" in out


def test_index_takes_urls_and_reports_bad_ones(web: WebServer, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(
        capsys,
        "index",
        web.url("/chronik/aerztestreik-salzburg.html"),
        web.url("/nope"),
        web.url("/feeds/world.atom"),
    )
    assert code == 0
    assert f"skipped {web.url('/nope')}: HTTP 404 Not Found" in err and "Indexed 3 new" in err
    ids = {a["id"] for a in sources(capsys)}
    assert web.base.removeprefix("http://") + "/chronik/aerztestreik-salzburg.html" in ids


def test_telegram_update_every_schedules_the_update_job(
    web: WebServer, api: FakeBotApi, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = settings(api, home=tmp_path / "bothome", fetch_backoff=0)
    bot = newsbot(config.index_dir, config)
    feeds = bot.feed_list()
    feeds.add([web.url("/feeds/world.atom")])
    feeds.close()
    app = build_application(bot, config, public=True, update_every=1800)
    [job] = app.job_queue.jobs()
    assert job.name == UPDATE_JOB and job.trigger.interval.total_seconds() == 1800
    asyncio.run(job.callback(SimpleNamespace()))  # what the queue runs every 30 minutes
    assert {a.title for a in bot.sources()} == {
        "Vienna to build a new metro line for 950 million euros",
        "Flood in Graz: river Mur bursts its banks",
    }
    assert not build_application(newsbot(config.index_dir, config), config, public=True).job_queue.jobs()


def test_update_every_must_be_an_interval(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "telegram", "--update-every", "soon")
    assert code == 2 and "no interval such as 30m" in err


def test_eval_corpus_takes_feed_urls(web: WebServer, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    host = web.base.removeprefix("http://")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "How many firefighters were deployed in Graz?",
                "answers": ["More than 300"],
                "article_ids": [f"{host}/world/graz-flood"],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    code, _, err = run(
        capsys,
        "eval",
        str(questions),
        "--corpus",
        web.url("/feeds/world.atom"),
        "--corpus",
        web.url("/nope"),
        "--json",
        str(out),
    )
    assert code == 0, err
    assert f"skipped {web.url('/nope')}: HTTP 404 Not Found" in err
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["metrics"]["articles"] == 2 and doc["metrics"]["questions"] == 1
    assert web.hits["/feeds/world.atom"] == 1  # fetched once: the index and the texts agree
