"""Kill -9 at random moments while indexing; the index must stay sound and resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot

REPO = Path(__file__).resolve().parents[3]
KILLS = 20
WORDS = (
    "Regierung Wien Graz Linz Bahn Hochwasser Feuerwehr Gemeinderat Budget Schule Spital Polizei "
    "Wahl Kanzler Minister Verkehr Tunnel Brücke Konzert Festival Museum Theater Fußball Trainer "
    "Spieler Tor Saison Liga Klima Energie Strom Preis Inflation Bank Börse Firma Arbeit Streik"
).split()


def write_corpus(path: Path, n: int, seed: int = 5) -> list[dict]:
    """n synthetic German news articles of a few hundred characters each."""
    rng = random.Random(seed)
    articles = []
    for i in range(n):
        sentences = [
            f"{' '.join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))} Nummer {i} {j}."
            for j in range(rng.randint(3, 9))
        ]
        articles.append(
            {"id": f"a{i:04d}", "title": f"Artikel {i}", "date": "2024-01-01", "text": " ".join(sentences)}
        )
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", encoding="utf-8")
    return articles


def index_command(home: Path, corpus: Path) -> list[str]:
    """The CLI call that indexes the corpus with the fast demo embedder."""
    return [
        sys.executable,
        "-m",
        "bot.cli",
        "--home",
        str(home),
        "--embedder",
        "demo-hash",
        "index",
        str(corpus),
    ]


def environment() -> dict[str, str]:
    """Small batches, so that a run commits many times."""
    return {**os.environ, "NEWSBOT_INDEX_BATCH_CHARS": "6000", "PYTHONPATH": str(REPO)}


def open_bot(home: Path) -> Newsbot:
    """A fresh Newsbot over the home's index, as a new process would open it."""
    return Newsbot(Settings(home=home), embedder=HashEmbedder())


def article_shape(bot: Newsbot) -> dict[str, tuple[int, int]]:
    """Each stored article's (chunk count, sentence count)."""
    db = bot.index.records.db
    chunks = dict(db.execute("SELECT article_id, COUNT(*) FROM chunks GROUP BY article_id"))
    sentences = dict(db.execute("SELECT article_id, COUNT(*) FROM sentences GROUP BY article_id"))
    ids = [r[0] for r in db.execute("SELECT id FROM articles")]
    return {a: (chunks.get(a, 0), sentences.get(a, 0)) for a in ids}


def assert_sound(bot: Newsbot, reference: dict[str, tuple[int, int]], rng: random.Random) -> None:
    """No problems; every stored article whole; a sample of them found by their own vectors and words."""
    assert bot.check() == []
    shape = article_shape(bot)
    for article_id, counts in shape.items():
        assert counts == reference[article_id], article_id
    index = bot.index
    for article_id in rng.sample(sorted(shape), min(8, len(shape))):
        chunk_id = index.chunk_ids_of([article_id])[article_id][0]
        vector = index.chunk_vectors_of([chunk_id])[0]
        assert index.search_chunks(vector, 1)[0][0] == chunk_id
        number = article_id[1:].lstrip("0") or "0"
        found = index.search_terms(["nummer", number], 50)
        assert any(index.chunks([c])[c].article_id == article_id for c, _ in found)


@pytest.mark.slow
def test_sigkill_while_indexing_never_breaks_the_index(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    articles = write_corpus(corpus, 600)
    reference_home = tmp_path / "reference"
    started = time.monotonic()
    subprocess.run(index_command(reference_home, corpus), env=environment(), check=True, capture_output=True)
    run_seconds = time.monotonic() - started  # kills land anywhere in a run, however fast the machine
    reference_bot = open_bot(reference_home)
    reference = article_shape(reference_bot)
    assert len(reference) == len(articles)

    home = tmp_path / "home"
    rng = random.Random(20241130)
    kills = killed_mid_run = 0
    previous: set[str] = set()
    while kills < KILLS or (killed_mid_run < 5 and kills < 3 * KILLS):  # bounded
        process = subprocess.Popen(
            index_command(home, corpus),
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.15, 1.0) * run_seconds)
        finished = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        kills += 1
        if finished or not (home / "index" / "newsbot.sqlite3").exists():
            continue
        bot = open_bot(home)
        stored = set(article_shape(bot))
        assert previous <= stored  # nothing committed before is lost
        killed_mid_run += stored != set(reference)
        assert_sound(bot, reference, rng)
        bot.close()
        previous = stored
        if stored == set(reference):  # the job completed: start over, to kill more runs mid-way
            subprocess.run(["rm", "-rf", str(home)], check=True)
            previous = set()
    print(f"\ncrash test: {kills} SIGKILLs, {killed_mid_run} left a partial index, every one sound")
    assert killed_mid_run >= 5  # the kills did land while the index was being written

    subprocess.run(index_command(home, corpus), env=environment(), check=True, capture_output=True)
    bot = open_bot(home)
    assert article_shape(bot) == reference
    assert_sound(bot, reference, rng)
    query = HashEmbedder().embed(["Feuerwehr Hochwasser Graz Nummer 17"])[0]
    assert _answers(bot, query) == _answers(reference_bot, query)


def _answers(bot: Newsbot, query: np.ndarray) -> list[tuple[str, int]]:
    """The top chunks for a query, by article and position (ids may differ between builds)."""
    hits = bot.index.search_chunks(query, 10)
    chunks = bot.index.chunks([c for c, _ in hits])
    return [(chunks[c].article_id, chunks[c].ord) for c, _ in hits]
