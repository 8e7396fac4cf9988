"""A reader answers while another process writes; writers take turns."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from retrieval.errors import IndexBusyError
from retrieval.store.lock import lock_path, write_lock
from tests.retrieval.store.test_crash import environment, index_command, open_bot, write_corpus

WRITER = """
import json, sys, time
from pathlib import Path
from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot

home, corpus, extra = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
bot = Newsbot(Settings(home=home, index_batch_chars=3000), embedder=HashEmbedder())
for round in range(4):
    bot.index_paths([extra], progress=False)
    time.sleep(0.3)  # give the reader time to see this state
    ids = [json.loads(line)["id"] for line in extra.read_text().splitlines()]
    bot.remove(ids[: len(ids) // 2])
    time.sleep(0.3)
bot.index_paths([extra], progress=False)
print("done", flush=True)
"""


@pytest.mark.slow
def test_reader_keeps_answering_and_sees_the_writers_batches(tmp_path: Path) -> None:
    home, corpus, extra = tmp_path / "home", tmp_path / "corpus.jsonl", tmp_path / "extra.jsonl"
    write_corpus(corpus, 60)
    subprocess.run(index_command(home, corpus), env=environment(), check=True, capture_output=True)
    extra_articles = [
        {
            "id": f"x{i}",
            "title": f"Zeppelin {i}",
            "text": f"Ein Zeppelin landete in Salzburg. Es war Flug {i}.",
        }
        for i in range(40)
    ]
    extra.write_text("\n".join(json.dumps(a) for a in extra_articles) + "\n", encoding="utf-8")
    reader = open_bot(home)
    assert not any(h.chunk.article_id.startswith("x") for h in reader.search("Zeppelin Salzburg", 5))

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), str(corpus), str(extra)],
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers = saw_new = 0
    deadline = time.monotonic() + 120
    while writer.poll() is None and time.monotonic() < deadline:
        answer = reader.answer("Wo landete der Zeppelin?")
        answers += 1
        for citation in answer.citations:  # never a torn read: every quote is in its article
            text = (
                reader.index.article_text(citation.article_id)
                if _present(reader, citation.article_id)
                else None
            )
            assert text is None or citation.quote.strip('„“"') in text or citation.quote in text
        saw_new += any(a.startswith("x") for a in answer.retrieved)
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert answers >= 5 and saw_new > 0
    final = reader.answer("Wo landete der Zeppelin?")
    assert final.retrieved and final.retrieved[0].startswith("x")
    assert reader.check() == []


def _present(bot, article_id: str) -> bool:
    """Whether the article is (still) stored."""
    return article_id in bot.index.records.hashes([article_id])


def test_a_second_writer_waits_and_names_the_holder(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "index")
    code = (
        "import sys, time; from pathlib import Path; from retrieval.store.lock import write_lock\n"
        "with write_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, env=environment()
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        told: list[str] = []
        busy = pytest.raises(IndexBusyError, match=f"process {holder.pid}")
        with busy, write_lock(path, timeout=0.5, on_wait=told.append):
            pass
        assert told and str(holder.pid) in told[0]
        holder.kill()  # a killed holder's lock is simply taken over
        holder.wait()
        with write_lock(path, timeout=5):
            pass
    finally:
        holder.kill()


def test_writers_in_threads_take_turns(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "index")
    inside: list[int] = []
    overlaps: list[int] = []

    def work(n: int) -> None:
        with write_lock(path, timeout=10):
            inside.append(n)
            overlaps.append(len(inside))
            time.sleep(0.05)
            inside.remove(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(overlaps) == 1
