"""newsbot side by side with the stack the LangChain tutorials build, on the shared eval sets.

The reference: RecursiveCharacterTextSplitter (1,000 characters, 200 overlap),
HuggingFaceEmbeddings with all-MiniLM-L6-v2, LangChain's FAISS store, top 4, and the top
chunk as the answer. Both systems index each corpus once (the xquad+gnad corpus serves the
English and the German questions), with their models loaded before the clock starts, and are
scored by the same functions as `newsbot eval` (retrieval.evaluate).

Run from the repository root:

    .venv/bin/python benchmarks/compare.py [--quick] [--json OUT.json] [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO_ROOT.parent / "shared"
QUICK_QUESTIONS = 100
REFERENCE_K = 4

# (label, metric key) rows per question set; the reference's recall@5 is over its top 4.
TABLE_METRICS = (
    ("recall@1", "recall_at_1"),
    ("recall@5 (reference: its top 4)", "recall_at_5"),
    ("answer_hit", "answer_hit"),
    ("answer chars (median)", "answer_chars_median"),
    ("latency p50 (ms)", "latency_ms_p50"),
)
INDEX_METRICS = (("index seconds", "index_seconds"), ("chunks", "chunks"),
                 ("chunks per second", "chunks_per_second"))


@dataclass(frozen=True)
class EvalSet:
    """A question file and the corpus it is asked against."""

    name: str
    questions: Path
    corpus: tuple[Path, ...]
    corpus_name: str


def eval_sets(shared: Path) -> list[EvalSet]:
    """The seed set, and XQuAD dev in English and German over XQuAD plus GNAD distractors."""
    xquad = shared / "eval" / "xquad-dev"
    big = (xquad / "corpus.jsonl", shared / "eval" / "gnad-distractors.jsonl")
    return [
        EvalSet("seed", shared / "eval" / "seed" / "questions.jsonl", (shared / "seeds",), "seed"),
        EvalSet("xquad-en", xquad / "questions.en.jsonl", big, "xquad+gnad"),
        EvalSet("xquad-de", xquad / "questions.de.jsonl", big, "xquad+gnad"),
    ]


def _quiet_environment() -> None:
    """Never reach for the network, and keep library chatter off the terminal."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*langchain-community.*sunset")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


# ---------- newsbot ----------
def run_newsbot(sets: Sequence[EvalSet], limit: int | None) -> tuple[dict, dict]:
    """newsbot with its default configuration: metrics per set, index figures per corpus."""
    from retrieval.config import Settings
    from retrieval.embeddings import get_embedder
    from retrieval.evaluate import answer_questions, build_index, compute_metrics

    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        settings = Settings(home=Path(tmp) / "home")
        embedder = get_embedder(settings.embedder, settings.threads)
        per_set: dict[str, dict] = {}
        indexes: dict[str, dict] = {}
        for corpus_name, group in _by_corpus(sets):
            _say(f"newsbot: indexing {corpus_name}")
            built = build_index(settings, group[0].corpus, Path(tmp) / corpus_name,
                                embedder=embedder)
            indexes[corpus_name] = _index_figures(built.index_seconds, built.articles,
                                                  built.chunks)
            for s in group:
                _say(f"newsbot: answering {s.name}")
                questions = _questions(s, limit)
                records, _ = answer_questions(built.bot, questions, s.questions)
                per_set[s.name] = compute_metrics(records, built.texts,
                                                  index_seconds=built.index_seconds,
                                                  articles=built.articles, chunks=built.chunks)
            built.bot.close()
        return per_set, indexes


# ---------- the LangChain reference ----------
class Reference:
    """The tutorial stack: recursive character chunks, MiniLM, FAISS, top-4, top chunk answers."""

    name = "langchain-tutorial"

    def __init__(self) -> None:
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from retrieval.embeddings import minilm_path

        self.splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.embeddings = HuggingFaceEmbeddings(model_name=minilm_path())
        self.embeddings.embed_query("warm-up")  # load the model before any timing
        self.store: Any = None

    def build(self, articles: Sequence[Any]) -> tuple[float, int]:
        """Split and embed the articles into a FAISS store: (seconds, chunks)."""
        from langchain_community.vectorstores import FAISS
        from langchain_core.documents import Document

        started = time.perf_counter()
        docs = [Document(page_content=a.text, metadata={"article_id": a.id}) for a in articles]
        chunks = self.splitter.split_documents(docs)
        self.store = FAISS.from_documents(chunks, self.embeddings)
        return time.perf_counter() - started, len(chunks)

    def answer(self, question: str) -> tuple[str, tuple[str, ...], float]:
        """The top chunk's text, the article ids of the top 4 in order, and the milliseconds."""
        started = time.perf_counter()
        docs = self.store.similarity_search(question, k=REFERENCE_K)
        ms = (time.perf_counter() - started) * 1000
        ranked = tuple(dict.fromkeys(d.metadata["article_id"] for d in docs))
        return (docs[0].page_content if docs else ""), ranked, ms


def run_reference(sets: Sequence[EvalSet], limit: int | None) -> tuple[dict, dict]:
    """The reference stack: metrics per set, index figures per corpus."""
    from tqdm import tqdm

    from retrieval.documents import load_articles
    from retrieval.evaluate import Record, compute_metrics

    reference = Reference()
    per_set: dict[str, dict] = {}
    indexes: dict[str, dict] = {}
    for corpus_name, group in _by_corpus(sets):
        _say(f"reference: indexing {corpus_name}")
        articles = load_articles(group[0].corpus).articles
        texts = {a.id: a.text for a in articles}
        seconds, chunks = reference.build(articles)
        indexes[corpus_name] = _index_figures(seconds, len(texts), chunks)
        reference.answer("warm-up")
        for s in group:
            records = []
            for q in tqdm(_questions(s, limit), desc=f"Reference {s.name}", unit="question",
                          file=sys.stderr):
                text, ranked, ms = reference.answer(q.question)
                records.append(Record(q.id, q.question, q.answers, q.article_ids, text,
                                      retrieved=ranked, latency_ms=ms))
            per_set[s.name] = compute_metrics(records, texts, index_seconds=seconds,
                                              articles=len(texts), chunks=chunks)
    return per_set, indexes


# ---------- shared helpers ----------
def _by_corpus(sets: Sequence[EvalSet]) -> list[tuple[str, list[EvalSet]]]:
    """Sets grouped by corpus, in first-seen order, so each corpus is indexed once."""
    groups: dict[str, list[EvalSet]] = {}
    for s in sets:
        groups.setdefault(s.corpus_name, []).append(s)
    return list(groups.items())


def _questions(s: EvalSet, limit: int | None) -> list[Any]:
    """The set's valid questions, the first `limit` of them when given."""
    from retrieval.evaluate import load_questions

    qset = load_questions(s.questions)
    for problem in qset.problems:
        _say(f"skipped {problem}")
    return qset.questions[:limit] if limit else qset.questions


def _index_figures(seconds: float, articles: int, chunks: int) -> dict[str, float]:
    """Index size and speed."""
    return {"index_seconds": round(seconds, 2), "articles": articles, "chunks": chunks,
            "chunks_per_second": round(chunks / seconds, 1) if seconds else 0.0}


def _say(message: str) -> None:
    """A status line on stderr."""
    print(message, file=sys.stderr, flush=True)


# ---------- the table ----------
def _fmt(key: str, value: float) -> str:
    """A figure as shown in the table."""
    if key in ("chunks", "answer_chars_median", "articles"):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if key.startswith(("recall", "answer_hit", "mrr")):
        return f"{value:.3f}"
    return f"{value:,.1f}"


def _ratio(ours: float, theirs: float) -> str:
    """newsbot / reference."""
    return f"{ours / theirs:.2f}" if theirs else "—"


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(set, metric, newsbot, reference, ratio) rows."""
    rows = []
    for name, pair in results["sets"].items():
        rows += _pair_rows(f"{name} ({pair['newsbot']['questions']} q)", pair, TABLE_METRICS)
    for corpus, pair in results["indexes"].items():
        label = f"index {corpus} ({pair['newsbot']['articles']:,} articles)"
        rows += _pair_rows(label, pair, INDEX_METRICS)
    return rows


def _pair_rows(label: str, pair: dict[str, Any], metrics: Sequence[tuple[str, str]]
               ) -> list[tuple[str, str, str, str, str]]:
    """One row per metric, the label on the first only."""
    rows = []
    for metric_label, key in metrics:
        ours, theirs = pair["newsbot"][key], pair["reference"][key]
        rows.append((label, metric_label, _fmt(key, ours), _fmt(key, theirs), _ratio(ours, theirs)))
        label = ""
    return rows


HEADER = ("set", "metric", "newsbot", "reference", "ratio")


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table."""
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True)))
    return "\n".join([line(HEADER), "  ".join("-" * w for w in widths), *map(line, rows)])


def format_markdown(rows: Sequence[Sequence[str]]) -> str:
    """The same table in Markdown."""
    out = ["| " + " | ".join(HEADER) + " |", "|---|---|---:|---:|---:|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def command_line(argv: Sequence[str]) -> str:
    """The command that reproduces this run, from the repository root."""
    return " ".join([".venv/bin/python", "benchmarks/compare.py", *map(shlex.quote, argv)])


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    import torch

    from retrieval.evaluate import _version

    return {"newsbot_version": _version(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "machine": platform.machine()}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"only the first {QUICK_QUESTIONS} questions of each XQuAD language")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the shared data folder (default: ../shared)")
    parser.add_argument("--json", type=Path, help="write every figure of both systems here")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run both systems on every set and print one side-by-side table."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    _quiet_environment()
    sets = eval_sets(args.shared)
    missing = [str(p) for s in sets for p in (s.questions, *s.corpus) if not p.exists()]
    if missing:
        _say(f"missing shared data: {', '.join(sorted(set(missing)))}")
        return 1
    limit = QUICK_QUESTIONS if args.quick else None
    started = time.perf_counter()
    ours, our_indexes = run_newsbot(sets, limit)
    theirs, their_indexes = run_reference(sets, limit)
    results = {
        "command": command_line(argv), "environment": environment(),
        "reference": {"splitter": "RecursiveCharacterTextSplitter(1000, 200)",
                      "embeddings": "HuggingFaceEmbeddings(all-MiniLM-L6-v2)",
                      "store": "langchain_community FAISS", "k": REFERENCE_K,
                      "answer": "top chunk"},
        "sets": {s.name: {"newsbot": ours[s.name], "reference": theirs[s.name]} for s in sets},
        "indexes": {c: {"newsbot": our_indexes[c], "reference": their_indexes[c]}
                    for c in our_indexes},
        "seconds": round(time.perf_counter() - started, 1),
    }
    rows = table_rows(results)
    print(format_table(rows))
    print("\nratio = newsbot / reference; recall@5 of the reference is over its 4 results; "
          "xquad-en and xquad-de share one index.")
    print(f"Reproduce: {results['command']}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(format_markdown(rows) + f"\n\nReproduce: `{results['command']}`\n",
                                 encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
