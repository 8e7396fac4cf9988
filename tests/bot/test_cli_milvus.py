"""Every command on the milvus store (milvus-lite in a temporary file), end to end through the CLI,
the REPL and the Telegram application, each output compared with the same steps on the local store.

The hash embedder ("demo-hash") keeps it fast; pages and feeds come from the local test web server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from bot.cli import main
from bot.repl import run_repl
from bot.telegram import build_application
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot
from tests.bot.fake_bot_api import FakeBotApi
from tests.bot.telegram_harness import OWNER, TOKEN, Running, buttons, check_html
from tests.bot.telegram_harness import settings as telegram_settings
from tests.conftest import ARTICLES
from tests.fakes.web_server import WebServer, serve_news
from tests.retrieval.store.conftest import MilvusServer

STORES = ("local", "milvus")
QUESTIONS = [
    "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
    "Was fordert die Ärztekammer?",
    "How much does the new metro line in Vienna cost?",
    "Wann öffnet das neue Museum in Linz?",
    "Wer hat den Mond betreten?",
]
MUSEUM = (
    "Das neue Museum für Gegenwartskunst in Linz öffnet am 12. Mai seine Türen für das Publikum. "
    "Die Stadt hat nach eigenen Angaben rund 40 Millionen Euro in den Bau am Donauufer investiert.",
    "Direktorin Anna Berger erwartet im ersten Jahr mehr als 200.000 Besucherinnen und Besucher. "
    "Die erste Ausstellung zeigt Arbeiten junger Künstlerinnen aus Oberösterreich und Tschechien.",
)


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServer]:
    """The news pages and feeds on 127.0.0.1, and the fake embedder for every CLI run."""
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    monkeypatch.setenv("NEWSBOT_FETCH_BACKOFF", "0")
    monkeypatch.setenv("NEWSBOT_FETCH_TIMEOUT", "2")
    monkeypatch.setenv("NEWSBOT_FETCH_ALLOW_PRIVATE", "true")  # the server runs on 127.0.0.1
    monkeypatch.setenv("NEWSBOT_FETCH_HOST_DELAY", "0")
    server = WebServer()
    serve_news(server)
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    """milvus-lite serving on 127.0.0.1 (a Milvus server's code path: collection prefixes)."""
    from tests.fakes.milvus_server import MilvusLiteServer

    server = MilvusLiteServer(tmp_path_factory.mktemp("milvus") / "data").start()
    try:
        yield MilvusServer("127.0.0.1", server.port, token="root:Milvus")
    finally:
        server.stop()


def inputs(tmp_path: Path, web: WebServer) -> tuple[Path, Path]:
    """A JSONL corpus and a folder with one saved HTML page."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES) + "\n", "utf-8")
    pages = tmp_path / "pages"
    pages.mkdir()
    page = web.fixture(
        "article-template.html",
        TITLE="Neues Museum in Linz",
        DATE="2015-11-20",
        AUTHOR="APA",
        BODY="\n".join(f"    <p>{p}</p>" for p in MUSEUM),
        URL="https://www.example.org/linz/museum",
    )
    (pages / "museum.html").write_bytes(page)
    return corpus, pages


def question_file(tmp_path: Path) -> Path:
    """Two questions with their gold answers, for `eval`."""
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"id": "q1", "question": QUESTIONS[0], "answers": ["300"], "article_ids": ["graz-1"]},
        {"id": "q2", "question": QUESTIONS[3], "answers": ["12. Mai"], "article_ids": []},
    ]
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return questions


def use_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: str) -> Path:
    """Point the CLI at a data dir of its own on `store`; the milvus-lite file when milvus."""
    home = tmp_path / store
    monkeypatch.setenv("NEWSBOT_HOME", str(home))
    monkeypatch.setenv("NEWSBOT_STORE", store)
    db = tmp_path / "archive.db"
    if store == "milvus":
        monkeypatch.setenv("NEWSBOT_MILVUS_URI", str(db))
    else:
        monkeypatch.delenv("NEWSBOT_MILVUS_URI", raising=False)
    return db


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def asked(capsys: pytest.CaptureFixture) -> list[dict]:
    """Each question's answer: text, abstention, citations and retrieved articles."""
    answers = []
    for question in QUESTIONS:
        code, out, err = run(capsys, "ask", "--json", question)
        assert code == 0, err
        doc = json.loads(out)
        answers.append({key: doc[key] for key in ("text", "abstained", "citations", "retrieved")})
    return answers


def collections(db: Path) -> list[str]:
    """The collections in a milvus-lite file."""
    from pymilvus import MilvusClient

    client = MilvusClient(str(db))
    try:
        return sorted(client.list_collections())
    finally:
        client.close()


TIMING = re.compile(r"\d+(\.\d+)? ?(s|ms)\b")
PROGRESS = re.compile(r"\d+%\||\[\d\d:\d\d")  # a progress bar


def messages(err: str) -> list[str]:
    """The lines of stderr but progress bars, with timings blanked."""
    lines = re.split(r"[\r\n]", err)
    return [TIMING.sub("T", line) for line in lines if line.strip() and not PROGRESS.search(line)]


def evaluation(report: Path) -> tuple[dict, list]:
    """An eval's metrics (without timings) and per-question rows (without latency)."""
    doc = json.loads(report.read_text("utf-8"))
    timed = re.compile(r"ms|seconds|latency")
    metrics = {k: v for k, v in doc["metrics"].items() if not timed.search(k)}
    rows = [{k: v for k, v in row.items() if not timed.search(k)} for row in doc["per_question"]]
    return metrics, rows


def steps(
    capsys: pytest.CaptureFixture, web: WebServer, corpus: Path, pages: Path, questions: Path, db: Path | None
) -> dict:
    """Every command once, in order; what each printed (on stdout, and the lines of stderr that do
    not hold timings); with `db`, the milvus-lite file's collections before and after `eval`."""
    seen: dict[str, object] = {}

    def record(name: str, *args: str) -> str:
        code, out, err = run(capsys, *args)
        assert code == 0, (name, err)
        seen[name] = (out, messages(err))
        return out

    record("index jsonl", "index", str(corpus))
    record("index pages", "index", str(pages))
    record("index feed", "index", web.url("/feeds/world.atom"))
    record("feeds add", "feeds", "add", web.url("/feeds/chronik.rss"))
    record("update", "update")
    record("update again", "update")
    seen["answers"] = asked(capsys)
    record("sources", "sources")
    record("sources json", "sources", "--json")
    record("sources since", "sources", "--json", "--since", "2015-10-01")
    record("sources grep", "sources", "--json", "--grep", "graz")
    record("show", "show", "graz-1")
    record("show json", "show", "--json", "graz-1")
    record("remove id", "remove", "graz-1")
    record("remove source", "remove", "--source", "Tagesblatt")
    seen["answers after removal"] = asked(capsys)
    record("sources after removal", "sources", "--json")
    record("check", "check")
    record("repair", "repair")
    record("rebuild", "index", "--rebuild", str(corpus), str(pages))
    seen["answers after rebuild"] = asked(capsys)
    record("sources after rebuild", "sources", "--json")
    before = collections(db) if db else []
    report = questions.with_name("eval.json")
    assert (
        run(
            capsys,
            "eval",
            str(questions),
            "--corpus",
            str(corpus),
            "--corpus",
            str(pages),
            "--json",
            str(report),
        )[0]
        == 0
    )
    seen["eval"] = evaluation(report)
    if db:
        seen["collections"] = (before, collections(db))
    return seen


def test_every_command_on_milvus_prints_what_the_local_store_prints(
    tmp_path: Path, web: WebServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    corpus, pages = inputs(tmp_path, web)
    questions = question_file(tmp_path)
    results = {}
    for store in STORES:
        db = use_store(monkeypatch, tmp_path, store)
        results[store] = steps(capsys, web, corpus, pages, questions, db if store == "milvus" else None)
    local, milvus = results["local"], results["milvus"]
    archive = [f"newsbot_{kind}" for kind in ("articles", "chunk", "meta", "sentence", "terms")]
    assert milvus.pop("collections") == (archive, archive)  # eval's collections are gone
    assert list(milvus) == list(local)
    for name in local:
        assert milvus[name] == local[name], (name, milvus[name], local[name])
    assert any("embedded" in line for line in local["index pages"][1])
    assert "3 new" in local["update"][1][-1] and "0 new, 0 changed" in local["update again"][1][-1]
    assert [a["abstained"] for a in local["answers"]] == [False, False, False, False, True]
    assert all(a["citations"] for a in local["answers"][:4])
    assert json.loads(local["sources json"][0])["total"] == 8
    assert json.loads(local["sources after removal"][0])["total"] == 4
    assert local["remove source"][1] == ["Removed 3 articles."]
    assert local["eval"][0]["answer_hit"] == 1.0
    assert json.loads(local["sources after rebuild"][0])["total"] == 3
    assert "300 Feuerwehrleute" in local["answers after rebuild"][0]["text"]


def index_both(
    tmp_path: Path, web: WebServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The JSONL corpus and the page folder indexed through the CLI in a data dir per store."""
    corpus, pages = inputs(tmp_path, web)
    for store in STORES:
        use_store(monkeypatch, tmp_path, store)
        for path in (corpus, pages):
            assert run(capsys, "index", str(path))[0] == 0


def test_the_repl_on_milvus_answers_like_the_local_store(
    tmp_path: Path, web: WebServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    index_both(tmp_path, web, monkeypatch, capsys)
    lines = [QUESTIONS[0], "Und wer sprach?", ":sources", ":new", QUESTIONS[3], QUESTIONS[4]]
    said: dict[str, list[str]] = {}

    def scripted(bot: Newsbot, **_: object) -> None:  # `newsbot repl` with the lines typed in
        feed = iter([*lines, ":quit"])
        run_repl(
            bot,
            read=lambda _prompt: next(feed),
            write=said[store].append,
            bold=False,
            stream=said[store].append,
        )
        assert bot.settings.store == store and bot.index.vectors["chunk"].__class__.__name__ == (
            "MilvusVectors" if store == "milvus" else "FaissVectors"
        )

    monkeypatch.setattr("bot.repl.run_repl", scripted)
    for store in STORES:
        use_store(monkeypatch, tmp_path, store)
        said[store] = []
        assert run(capsys, "repl")[0] == 0
    assert said["milvus"] == said["local"]
    text = "\n".join(said["local"])
    assert "300 Feuerwehrleute" in text and "12. Mai" in text and "graz-1" in text
    assert len(said["local"]) == 1 + len(lines)


def test_the_telegram_bot_on_milvus_answers_like_the_local_store(
    tmp_path: Path, web: WebServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    index_both(tmp_path, web, monkeypatch, capsys)
    sent: dict[str, list[str]] = {}
    for store in STORES:
        extra = {"milvus_uri": str(tmp_path / "archive.db")} if store == "milvus" else {}
        with FakeBotApi(TOKEN) as api:
            config = telegram_settings(api, store=store, home=tmp_path / store, **extra)
            bot = Newsbot(config, embedder=HashEmbedder(), index_dir=tmp_path / store / "index")
            assert bot.index.vectors["chunk"].__class__.__name__ == (
                "MilvusVectors" if store == "milvus" else "FaissVectors"
            )
            with Running(build_application(bot, config), api):
                for n, question in enumerate(QUESTIONS, start=1):
                    api.send_text(question, user_id=OWNER)
                    api.wait_sent(n, OWNER, timeout=30)
                answers = api.sent(OWNER)
                data = buttons(answers[0])[0]
                api.press(data, on=api.requests("sendMessage")[0].result, user_id=OWNER)
                passage = api.wait_sent(len(QUESTIONS) + 1, OWNER, timeout=30)[-1]
            sent[store] = [check_html(m["text"]) for m in [*answers, passage]]
            bot.close()
    assert sent["milvus"] == sent["local"]
    assert "300 Feuerwehrleute" in sent["local"][0] and "12. Mai" in sent["local"][3]


def test_eval_on_a_server_drops_its_collections_and_scores_like_the_local_store(
    tmp_path: Path,
    web: WebServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    served: MilvusServer,
) -> None:
    from pymilvus import MilvusClient

    corpus, pages = inputs(tmp_path, web)
    questions = question_file(tmp_path)
    prefix = MilvusServer.prefix()
    scored = {}
    for store in STORES:
        use_store(monkeypatch, tmp_path, store)
        if store == "milvus":
            monkeypatch.setenv("NEWSBOT_MILVUS_URI", served.uri)
            monkeypatch.setenv("NEWSBOT_MILVUS_TOKEN", served.token)
            monkeypatch.setenv("NEWSBOT_MILVUS_COLLECTION", prefix)
        assert run(capsys, "index", str(corpus))[0] == 0  # the user's own archive, kept
        client = MilvusClient(uri=served.uri, token=served.token)
        before = sorted(client.list_collections())
        report = tmp_path / f"eval-{store}.json"
        args = (
            "eval",
            str(questions),
            "--corpus",
            str(corpus),
            "--corpus",
            str(pages),
            "--json",
            str(report),
        )
        assert run(capsys, *args)[0] == 0
        after = sorted(client.list_collections())
        client.close()
        assert after == before and not [n for n in after if "_eval_" in n]
        if store == "milvus":
            assert f"{prefix}_chunk" in after
        scored[store] = evaluation(report)
    assert scored["milvus"] == scored["local"]
    assert scored["local"][0]["answer_hit"] == 1.0
    from retrieval.store.milvus import MilvusTarget, drop_collections

    drop_collections(MilvusTarget(served.uri, token=served.token, prefix=prefix))
