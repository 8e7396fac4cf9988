"""Chunk terms searched with Milvus' own BM25 (`Function` of type BM25), ranked like the local index.

The collection `{prefix}_terms` holds, per chunk, the terms the local lexical index holds for it
(`chunk_terms`: words stemmed by the article's language, so the analysis suited to the language is
done before Milvus sees them), joined by spaces, in a text field whose analyzer only splits them
again: the whitespace tokenizer on a server, the standard one on milvus-lite (which has no other;
it is `\\w+` plus lower-casing, the identity on our terms, which are lower-cased `\\w+` words). So
Milvus counts exactly our tokens, document lengths included. BM25 runs with the local K1 and B.

Scores. Milvus returns idf·tf·(k1+1)/(tf + k1·(1−b+b·dl/avgdl)) (milvus-lite negated); the local
index (bm25s "lucene") leaves out the (k1+1), so scores are divided by it. Ranking ties are broken
by chunk id like the local index: Milvus is asked for more hits than wanted until the k-th score is
not tied with the last one returned.

Statistics. BM25's idf and avgdl must be over the live chunks of the whole collection. A Milvus
server keeps them per shard (one shard by default), so there the collection is caught up by commit
like the vectors. milvus-lite 3.2 computes them per segment (each flush writes one; see the TODO in
`milvus_lite.engine.collection._search_sparse`), counting the deleted and replaced rows still in a
segment, so an incrementally updated collection scores a chunk by the statistics of the batch it
came in with (on news-dev 134 of 140 questions got another top 15). On milvus-lite the collection
is therefore rewritten whole, as one segment of the live chunks, when a write changed chunks; this
happens at the end of the writer's run (under the lease), so indexing many batches costs one
rewrite. Beyond about `LITE_SEGMENT_ROWS` chunks milvus-lite splits a segment and the scores drift
again (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.store.lexical import K1, B
from retrieval.store.milvus import DELETE_IDS, TERMS, UPSERT_ROWS, MilvusStore, _guarded, _pymilvus

if TYPE_CHECKING:
    from retrieval.store.records import RecordStore

log = logging.getLogger(__name__)

_TERMS_CHARS = 65_535
# milvus-lite's largest segment (MAX_SEGMENT_ROWS) and its largest request: a search's limit
LITE_SEGMENT_ROWS = 100_000
_MAX_LIMIT = 16_384


def analyzer(lite: bool) -> dict[str, str]:
    """The analyzer that splits our space-joined terms back into exactly those terms."""
    return {"tokenizer": "standard" if lite else "whitespace"}


def _scaled(score: float) -> float:
    """A Milvus BM25 score as the local index scores it (float32, without the (k1 + 1))."""
    return float(np.float32(score / (K1 + 1)))


def ranked(hits: Sequence[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    """The k best (id, score) by the local index's score, ties by id (scores converted first, so
    scores that are equal there are tied here too)."""
    scored = [(i, _scaled(s)) for i, s in hits if s > 0]
    return sorted(scored, key=lambda h: (-h[1], h[0]))[:k]


def tie_cut(scores: Sequence[float], k: int, limit: int) -> bool:
    """Whether hits fetched with `limit` (scores best first) decide the top k: fewer came back than
    asked for, or the last one scores below the k-th (no chunk tied with the k-th was left out)."""
    return len(scores) < limit or len(scores) <= k or scores[-1] < scores[k - 1]


class MilvusTerms:
    """Chunk terms in a collection with Milvus' BM25 `Function`. The writer brings it to its store's
    commit under the archive's lease (`push`, at the end of each write); a newsbot searches it only
    while it holds exactly the chunks of the newsbot's own store (the recorded commit equals the
    store's), and otherwise the local lexical index answers, which ranks the same. So reading never
    writes, and a question never pays for a rewrite."""

    def __init__(self, store: MilvusStore, records: RecordStore) -> None:
        self.store, self.records = store, records
        self.name = store.collection(TERMS)
        self._covers: int | None = None  # the store commit the collection holds (-1: none)
        self._loaded = False

    def usable(self) -> bool:
        """Whether the collection holds this store's chunks, no more and no fewer (and is loaded)."""
        if self._covers is None:
            self.refresh()
        if self._covers is None or self._covers <= 0 or self._covers != self.records.commit():
            return False
        if not self._loaded:
            self._load()
        return self._loaded

    def refresh(self) -> None:
        """Read which commit the collection holds (one meta read; nothing is written)."""
        with _guarded(f"reading the commit of {self.name}"):
            self.observe(self.store.get_meta())

    def observe(self, meta: Mapping[str, str], current: bool = True) -> None:
        """Take the terms' commit from a meta read already made (the archive's catch-up reads it
        before every question); `current`: whether the archive is the one this store follows."""
        self._covers = int(meta.get(f"{TERMS}_commit", "-1") or -1) if current else -1

    def _load(self) -> None:
        """Load the collection (collections come back released after a restart); one that is
        missing is not created here (only the writer's `push` creates it): not usable."""
        with _guarded(f"loading {self.name}"):
            if self.store.client.has_collection(self.name):
                self.store._load(self.name)
                self._loaded = True
            else:
                self._covers = -1

    def reset(self) -> None:
        """Have the writer's next push write the collection whole (`repair`, under the lease)."""
        with _guarded(f"resetting {self.name}"):
            self.store.put_meta({f"{TERMS}_commit": "0"})
        self._covers = 0

    def check(self, chunks: int) -> list[str]:
        """Disagreements with the store's chunk count, while the collection is in use."""
        if not self.usable() or (found := len(self)) == chunks:
            return []
        return [f"{self.name}: {found} chunks' terms at commit {self._covers}, the store has {chunks}"]

    def push(self) -> None:
        """Bring the collection to the store's commit (the writer, holding the lease): on milvus-lite
        rewritten whole when chunks changed (one segment: see the module's docstring), on a server
        caught up by commit."""
        with _guarded(f"updating {self.name}"):
            target, recorded = self.records.commit(), self._recorded()
            if recorded == target:
                self._covers = target
                self.usable()  # loaded
                return
            self._bring(recorded, target)
            self.store.put_meta({f"{TERMS}_commit": str(target)})
            self._covers, self._loaded = target, True

    def _bring(self, recorded: int, target: int) -> None:
        """Write what changed between the recorded commit and the target."""
        whole = recorded <= 0 or recorded > target or not self.store.client.has_collection(self.name)
        lite = self.store.lite_engine
        if lite and (whole or self._chunks_changed(recorded)):
            self._rewrite()
        elif whole:
            self._recreated()
            self._write(self.records.added_ids_since("chunk", 0))
        else:
            self._ensure_collection()  # loaded (a new process finds it released)
            if not lite:
                self._apply(since=recorded)

    def _recorded(self) -> int:
        """The commit the meta collection records for the terms (-1: never written)."""
        return int(self.store.get_meta().get(f"{TERMS}_commit", "-1") or -1)

    def _chunks_changed(self, since: int) -> bool:
        """Whether chunks were added or removed after commit `since`."""
        added = self.records.added_ids_since("chunk", since)
        return bool(len(added) or len(self.records.removed_since("chunk", since)))

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """BM25 over chunks: (chunk id, score) best first, ties by id, zero scores dropped."""
        if not terms or k <= 0:
            return []
        limit = min(max(2 * k, k + 10), _MAX_LIMIT)
        while True:
            hits = self._search(" ".join(terms), limit)
            scores = sorted((_scaled(s) for _, s in hits), reverse=True)
            if limit >= _MAX_LIMIT or tie_cut(scores, k, limit):
                return ranked(hits, k)
            limit = min(limit * 4, _MAX_LIMIT)

    def _search(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(id, BM25 score as Milvus computes it, positive) of up to `limit` chunks."""
        with _guarded(f"searching {self.name}"):
            hits = self.store.client.search(
                self.name,
                data=[text],
                anns_field="sparse",
                limit=int(limit),
                search_params={"metric_type": "BM25"},
                output_fields=[],
            )
        return [(int(h["id"]), abs(float(h["distance"]))) for h in hits[0]]

    def __len__(self) -> int:
        """Chunks in the collection (0 before the first push)."""
        if not self.store.client.has_collection(self.name):
            return 0
        with _guarded(f"counting {self.name}"):
            rows = self.store.client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def _rewrite(self) -> None:
        """Drop the collection and write every live chunk into a fresh one, flushed once (milvus-lite:
        one segment, so its BM25 statistics are the whole collection's)."""
        self._recreated()
        ids = self.records.added_ids_since("chunk", 0)
        if len(ids) > LITE_SEGMENT_ROWS:
            log.warning(
                "%s: %d chunks are more than milvus-lite keeps in one segment (%d); its BM25 statistics "
                "are per segment, so scores drift from the local index's: use a Milvus server",
                self.name,
                len(ids),
                LITE_SEGMENT_ROWS,
            )
        self._write(ids)
        self.store.client.flush(self.name)

    def _recreated(self) -> None:
        """Drop the collection and create it empty."""
        self.store.drop(TERMS)
        self._ensure_collection()

    def _apply(self, *, since: int) -> None:
        """Delete the chunks removed after `since`, upsert the terms of those added after it."""
        client = self.store.client
        removed = self.records.removed_since("chunk", since)
        for start in range(0, len(removed), DELETE_IDS):
            client.delete(self.name, ids=[int(i) for i in removed[start : start + DELETE_IDS]])
        self._write(self.records.added_ids_since("chunk", since))

    def _write(self, ids: Sequence[int]) -> None:
        """Upsert the terms of the given chunks, in id order (batches of UPSERT_ROWS)."""
        from retrieval.ingest import chunk_terms

        for start in range(0, len(ids), UPSERT_ROWS):
            texts = sorted(self.records.chunk_texts_of(ids[start : start + UPSERT_ROWS]))
            rows = [{"id": cid, "terms": terms_text(chunk_terms(text, lang))} for cid, text, lang in texts]
            if rows:
                self.store.client.upsert(self.name, rows)

    def _ensure_collection(self) -> None:
        """The terms collection: id, terms (split on whitespace), BM25 sparse vector (K1, B)."""
        client = self.store.client
        if client.has_collection(self.name):
            client.load_collection(self.name)
            return
        milvus = _pymilvus()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", milvus.DataType.INT64, is_primary=True)
        schema.add_field(
            "terms",
            milvus.DataType.VARCHAR,
            max_length=_TERMS_CHARS,
            enable_analyzer=True,
            analyzer_params=analyzer(self.store.lite_engine),
        )
        schema.add_field("sparse", milvus.DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(_bm25_function(milvus))
        index = client.prepare_index_params()
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": K1, "bm25_b": B},
        )
        self.store._create(self.name, schema, index)
        self.store.put_meta({f"{TERMS}_commit": "0"})


def _bm25_function(milvus: Any) -> Any:
    """The Function turning the terms field into the BM25 sparse vector."""
    return milvus.Function(
        name="bm25",
        function_type=milvus.FunctionType.BM25,
        input_field_names=["terms"],
        output_field_names=["sparse"],
    )


def terms_text(terms: Sequence[str]) -> str:
    """A chunk's terms as the text field holds them: space-joined, whole terms up to the field's
    size in UTF-8 bytes (a cut term would be another term)."""
    text = " ".join(terms)
    if len(text.encode("utf-8")) <= _TERMS_CHARS:
        return text
    out, size = [], -1
    for term in terms:
        size += len(term.encode("utf-8")) + 1
        if size > _TERMS_CHARS:
            break
        out.append(term)
    log.warning("a chunk has more terms than a Milvus text field holds; %d of %d kept", len(out), len(terms))
    return " ".join(out)
