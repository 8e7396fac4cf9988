"""Train the chunk and sentence rankers and calibrate abstention on the dev sets.

    .venv/bin/python benchmarks/train_rankers.py [--index DIR] [--write]

Builds (or reuses) an index of xquad-dev/corpus.jsonl plus gnad-distractors.jsonl with the
default embedder, extracts ranking features for every dev question in German and English,
fits two small logistic rankers, and reports grouped cross-validation figures (folds by
XQuAD topic, so no paragraph's questions are both trained and tested on). --write stores
the rankers fitted on all data in retrieval/models/ as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answering.abstain import AbstainPolicy, policy_from_json  # noqa: E402
from retrieval.answering.extractive import ExtractiveAnswerer  # noqa: E402
from retrieval.answering.features import (  # noqa: E402
    ABSTAIN_FEATURES,
    SENTENCE_FEATURES,
    abstain_features,
    sentence_candidates,
    sentence_features,
    unit_scorer,
)
from retrieval.answering.questions import AnswerType  # noqa: E402
from retrieval.answering.short import (  # noqa: E402
    SHORT_FEATURES,
    cautious_short_policy,
    choose_span,
    short_features,
)
from retrieval.answering.units import WordVectors  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.evaluate import short_answer_f1  # noqa: E402
from retrieval.pipeline import Newsbot  # noqa: E402
from retrieval.ranker import MODELS_DIR, LinearRanker, fit_listwise, fit_logistic  # noqa: E402
from retrieval.search import CHUNK_FEATURES, Candidates, Hit, Searcher  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
TOP_K = 5
L2 = 10.0


@dataclass
class QuestionData:
    """Features and labels of one question's chunk candidates."""

    qid: str
    group: str
    set: str
    question: str
    answers: list[str]
    gold: set[str]
    articles: list[str]
    x: np.ndarray
    y: np.ndarray
    found: Candidates
    vector: np.ndarray


def fold(text: str) -> str:
    """Lower-cased, whitespace-folded text for answer matching."""
    return " ".join(text.lower().split())


def load_questions(news: bool) -> list[dict]:
    """The XQuAD dev questions in both languages, grouped by topic; with `news`, also the news-dev
    questions and its unanswerable (near-miss and off-topic) ones, grouped by article."""
    rows = []
    for lang in ("en", "de"):
        for q in _jsonl(SHARED / "xquad-dev" / f"questions.{lang}.jsonl"):
            rows.append({**q, "set": "xquad", "group": q["article_ids"][0].rsplit("-", 1)[0]})
    if news:
        for name in ("questions", "unanswerable"):
            for q in _jsonl(SHARED / "news-dev" / f"{name}.jsonl"):
                about = q["article_ids"][0] if q["article_ids"] else q.get("near") or q["id"]
                rows.append({**q, "set": "news", "group": f"news:{about}"})
    return rows


def _jsonl(path: Path) -> list[dict]:
    """The rows of a JSONL file."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def open_bot(index_dir: Path) -> Newsbot:
    """A Newsbot over the dev corpus, indexing it first if needed."""
    bot = Newsbot(Settings(home=index_dir.parent), index_dir=index_dir)
    if not bot.has_index():
        bot.index_paths([SHARED / "xquad-dev" / "corpus.jsonl", SHARED / "gnad-distractors.jsonl"])
    return bot


def chunk_data(bot: Newsbot, questions: list[dict]) -> list[QuestionData]:
    """Chunk candidate features for every question."""
    from tqdm import tqdm

    searcher = Searcher(bot.index)
    vectors = bot.embedder.embed([q["question"] for q in questions])
    out = []
    for q, vector in tqdm(list(zip(questions, vectors, strict=True)), desc="Features", leave=False):
        found = searcher.candidates(q["question"], vector)
        articles = [c.article_id for c in found.chunks]
        gold = set(q["article_ids"])
        y = np.array([a in gold for a in articles], dtype=np.float64)
        out.append(
            QuestionData(
                q["id"],
                q["group"],
                q["set"],
                q["question"],
                q["answers"],
                gold,
                articles,
                found.features,
                y,
                found,
                vector,
            )
        )
    return out


def article_ranking(articles: list[str], scores: np.ndarray) -> list[str]:
    """Article ids ranked by their best chunk."""
    order = np.argsort(-scores, kind="stable")
    return list(dict.fromkeys(articles[i] for i in order))


def retrieval_metrics(data: list[QuestionData], ranker: LinearRanker) -> tuple[float, float]:
    """recall@1 and recall@5 of a chunk ranker."""
    r1 = r5 = 0
    for d in data:
        ranked = article_ranking(d.articles, ranker.scores(d.x))
        r1 += bool(ranked) and ranked[0] in d.gold
        r5 += any(a in d.gold for a in ranked[:5])
    return r1 / len(data), r5 / len(data)


def hits_for(d: QuestionData, searcher: Searcher, exclude: Callable[[int], bool] | None = None) -> list[Hit]:
    """The top hits of one question under the searcher's models. Excluded candidates (by position)
    are left out before the ranking features are computed, as if they were not in the index, so
    that relative features (similarity to the best candidate, BM25 over the best) stay honest."""
    found = d.found
    if exclude is not None:
        keep = [i for i in range(len(found.chunks)) if not exclude(i)]
        found = searcher.featurize(
            d.question,
            d.vector,
            [found.chunks[i] for i in keep],
            {found.chunks[i].id: found.bm25[i] for i in keep if found.bm25[i] > 0},
        )
    return searcher.rank(found, TOP_K)


def in_articles(d: QuestionData, test: Callable[[str], bool]) -> Callable[[int], bool]:
    """Whether the candidate at a position belongs to an article that passes the test."""
    return lambda i: test(d.articles[i])


def with_sentences(d: QuestionData, sentences: frozenset[int]) -> Callable[[int], bool]:
    """Whether the candidate at a position holds one of the sentences."""
    return lambda i: any(sid in sentences for sid, _ in d.found.sentence_scores[i])


@lru_cache(maxsize=1)
def word_vectors(bot: Newsbot) -> WordVectors:
    """One word-vector cache for the whole run, as an answerer keeps one."""
    return WordVectors(bot.embedder)


def sentence_data(bot: Newsbot, d: QuestionData, hits: list[Hit]) -> tuple[np.ndarray, np.ndarray, list]:
    """Sentence candidate features and labels (the sentence holds a gold answer)."""
    cands = sentence_candidates(bot.index, hits)
    x = sentence_features(d.question, cands, word_vectors(bot))
    y = np.array([any(fold(a) in fold(c.text) for a in d.answers) for c in cands], dtype=np.float64)
    return x, y, cands


def groups_of(data: list[QuestionData], folds: int) -> list[set[str]]:
    """Topic groups split into folds."""
    topics = sorted({d.group for d in data})
    return [set(topics[i::folds]) for i in range(folds)]


def fit_all(bot: Newsbot, data: list[QuestionData]) -> tuple[Searcher, LinearRanker]:
    """A searcher with freshly fitted chunk models, and the sentence ranker fitted after it."""
    searcher = Searcher(bot.index, fit_chunk_ranker(data), fit_chunk_relevance(data))
    return searcher, fit_sentence_ranker(bot, data, searcher)


def evaluate(
    bot: Newsbot, test: list[QuestionData], searcher: Searcher, sentence: LinearRanker
) -> list[dict]:
    """Per-question outcomes: retrieval ranks, chosen sentences, and the abstention evidence of the
    question and of its unanswerable twins (its paragraph removed, its whole topic removed, the
    sentences that state the answer removed)."""
    answerer = ExtractiveAnswerer(
        bot.index, sentence, AbstainPolicy(()), short_policy=cautious_short_policy(), words=word_vectors(bot)
    )
    rows = []
    for d in test:
        ranked = article_ranking(d.articles, searcher.ranker.scores(d.x))
        hits = hits_for(d, searcher)
        x, y, cands = sentence_data(bot, d, hits)
        order = np.argsort(-sentence.scores(x), kind="stable") if len(x) else []
        rows.append(
            {
                "lang": d.qid.rsplit("-", 1)[-1],
                "set": d.set,
                "group": d.group,
                "answerable": bool(d.answers),
                "r1": bool(ranked) and ranked[0] in d.gold,
                "r5": any(a in d.gold for a in ranked[:5]),
                "hit1": bool(len(order)) and y[order[0]] > 0,
                "hit2": bool(len(order)) and bool(y[order[:2]].any()),
                "len1": len(cands[order[0]].text) if len(order) else 0,
                "len2": sum(len(cands[i].text) for i in order[:2]),
                "final_hit": final_hit(d, answerer, [cands[i] for i in order]),
                "final_len": final_len(d, answerer, [cands[i] for i in order]),
                "evidence": evidence(d, answerer, hits),
                "short": short_row(d, answerer, hits) if d.answers else None,
                "twins": twins(bot, d, searcher, answerer) if d.answers else [None, None, None],
            }
        )
    return rows


def twins(bot: Newsbot, d: QuestionData, searcher: Searcher, answerer: ExtractiveAnswerer) -> list:
    """Abstention features of the question's unanswerable twins: its article removed, its whole
    topic removed (XQuAD, where a topic has several paragraphs), its answer sentences removed."""
    return [
        evidence(d, answerer, hits_for(d, searcher, in_articles(d, d.gold.__contains__))),
        evidence(d, answerer, hits_for(d, searcher, in_articles(d, topic_of(d))))
        if d.set == "xquad"
        else None,
        sentence_twin(bot, d, searcher, answerer),
    ]


def topic_of(d: QuestionData) -> Callable[[str], bool]:
    """Whether an article belongs to the question's topic (all paragraphs of its XQuAD article)."""
    prefix = d.gold and next(iter(d.gold)).rsplit("-", 1)[0] + "-"
    return lambda article_id: article_id.startswith(prefix)


def sentence_twin(bot: Newsbot, d: QuestionData, searcher: Searcher, answerer: ExtractiveAnswerer):
    """Abstention features with every sentence that states the answer gone (a near miss: the
    article is there, the fact is not): the chunks holding them are left out of the candidates."""
    gold = gold_sentences(bot, d)
    return evidence(d, answerer, hits_for(d, searcher, with_sentences(d, gold)), gold)


def gold_sentences(bot: Newsbot, d: QuestionData) -> frozenset[int]:
    """The sentences of the gold articles' candidate chunks that state a gold answer."""
    ids = {sid for i, a in enumerate(d.articles) if a in d.gold for sid, _ in d.found.sentence_scores[i]}
    records = bot.index.sentences(sorted(ids))
    found = set()
    for sid, rec in records.items():
        text = bot.index.article_text(rec.article_id)[rec.start : rec.end]
        if any(fold(a) in fold(text) for a in d.answers):
            found.add(sid)
    return frozenset(found)


def final_hit(d: QuestionData, answerer: ExtractiveAnswerer, ranked: list) -> bool:
    """Whether the quotes the answerer picks hold a gold answer."""
    quotes = " ".join(c.text for group in answerer.pick(d.question, ranked) for c in group) if ranked else ""
    return any(fold(a) in fold(quotes) for a in d.answers)


def final_len(d: QuestionData, answerer: ExtractiveAnswerer, ranked: list) -> int:
    """Length of the answer text the answerer would give (quotes, marks and markers)."""
    groups = answerer.pick(d.question, ranked) if ranked else []
    return sum(sum(len(c.text) for c in group) + 6 for group in groups) + max(len(groups) - 1, 0)


def evidence(
    d: QuestionData, answerer: ExtractiveAnswerer, hits: list[Hit], drop: frozenset[int] = frozenset()
) -> np.ndarray | None:
    """Abstention features of the answer the answerer would give (its own code), or None."""
    found = answerer.evidence(d.question, hits, drop) if hits else None
    return abstain_features(found) if found is not None else None


def short_row(d: QuestionData, answerer: ExtractiveAnswerer, hits: list[Hit]) -> dict | None:
    """The phrase the answerer would offer as the short answer, its span features and its F1."""
    found = answerer.evidence(d.question, hits) if hits else None
    if found is None:
        return None
    first = answerer.pick(d.question, list(found.ranked))[0][0]
    chosen = choose_span(
        d.question, first.text, unit_scorer(d.question, AnswerType.of(d.question), answerer.words)
    )
    if chosen is None:
        return None
    span, row = chosen
    return {"row": row, "f1": short_answer_f1(span.text, d.answers), "question": d.question}


def cross_validate(bot: Newsbot, data: list[QuestionData], folds: int = 5) -> list[dict]:
    """Grouped cross-validation of all models; prints per-language figures."""
    rows = []
    for test_groups in groups_of(data, folds):
        train = [d for d in data if d.group not in test_groups]
        searcher, sentence = fit_all(bot, train)
        rows += evaluate(bot, [d for d in data if d.group in test_groups], searcher, sentence)
    for part in sorted({(r["set"], r["lang"]) for r in rows}):
        sub = [r for r in rows if (r["set"], r["lang"]) == part and r["answerable"]]
        lang = " ".join(part)
        for limit in (200, 250, 300):
            both = [r["len2"] <= limit for r in sub]
            hit = np.mean([r["hit2"] if b else r["hit1"] for r, b in zip(sub, both, strict=True)])
            size = np.median([r["len2"] if b else r["len1"] for r, b in zip(sub, both, strict=True)])
            print(
                f"  {lang}: second sentence when both fit in {limit}: hit {hit:.3f}, median {size:.0f} chars"
            )
        print(
            f"  {lang}: answerer's pick: hit {np.mean([r['final_hit'] for r in sub]):.3f}, "
            f"median {np.median([r['final_len'] for r in sub]):.0f} chars"
        )
        mean = {k: float(np.mean([r[k] for r in sub])) for k in ("r1", "r5", "hit1", "hit2")}
        med = {k: float(np.median([r[k] for r in sub])) for k in ("len1", "len2")}
        print(
            f"CV {lang}: recall@1 {mean['r1']:.3f} recall@5 {mean['r5']:.3f} "
            f"hit(1 sentence) {mean['hit1']:.3f} median {med['len1']:.0f} chars, "
            f"hit(2 sentences) {mean['hit2']:.3f} median {med['len2']:.0f} chars"
        )
    return rows


def fit_chunk_ranker(data: list[QuestionData]) -> LinearRanker:
    """A listwise chunk ranker: softmax over each question's candidates."""
    return fit_listwise([(d.x, d.y) for d in data], CHUNK_FEATURES, l2=L2)


def fit_chunk_relevance(data: list[QuestionData]) -> LinearRanker:
    """A pointwise model of P(chunk is from a gold article), for abstention."""
    return fit_logistic(np.vstack([d.x for d in data]), np.concatenate([d.y for d in data]), CHUNK_FEATURES)


def fit_sentence_ranker(bot: Newsbot, data: list[QuestionData], chunk_ranker: LinearRanker) -> LinearRanker:
    """A listwise sentence ranker over the sentences of each question's top hits."""
    groups = []
    for d in data:
        x, y, _ = sentence_data(bot, d, hits_for(d, chunk_ranker))
        groups.append((x, y))
    return fit_listwise(groups, SENTENCE_FEATURES, l2=L2)


KINDS = ("answerable", "article removed", "topic removed", "answer sentences removed", "real unanswerable")


def evidence_table(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every evidence vector with its label (1 answerable), kind (index into KINDS), fold group
    (the question's topic or article, so a question and its twins share a fold) and set."""
    x, kind, group, news = [], [], [], []
    for r in rows:
        found = [(0 if r["answerable"] else 4, r["evidence"])]
        found += [(k + 1, twin) for k, twin in enumerate(r["twins"])]
        for k, vector in found:
            if vector is not None:
                x.append(vector)
                kind.append(k)
                group.append(r["group"])
                news.append(r["set"] == "news")
    topics = sorted(set(group))
    fold = np.array([topics.index(g) for g in group])
    kinds = np.array(kind)
    return np.array(x), (kinds == 0).astype(np.float64), kinds, fold, np.array(news)


def calibrate(rows: list[dict], max_false: float, folds: int = 5) -> dict:
    """Fit the abstention model (answerable vs. unanswerable: twins, and real ones where the set
    has them) and choose its floor out of fold (grouped by topic or article), so that at most
    `max_false` of answerable questions abstain while as many unanswerable ones as possible do."""
    x, y, kind, group, news = evidence_table(rows)
    fold = group % folds
    held = np.zeros(len(x))
    for k in range(folds):
        held[fold == k] = fit_logistic(x[fold != k], y[fold != k], ABSTAIN_FEATURES).scores(x[fold == k])
    german = x[:, ABSTAIN_FEATURES.index("asked_in_german")] > 0
    strict = x[:, ABSTAIN_FEATURES.index("count_missing")] > 0
    use_strict = bool(strict[y == 1].mean() < max_false / 2)
    floors = {
        lang: floor_for(held[(y == 1) & part], strict[(y == 1) & part] & use_strict, max_false)
        for lang, part in (("en", ~german), ("de", german))
    }
    print(f"strict number/date rule: {use_strict} (answerable quoting none {strict[y == 1].mean():.3f})")
    abstains = (held < np.where(german, floors["de"], floors["en"])) | (strict & use_strict)
    for part, name in ((~news, "xquad"), (news, "news")):
        shares = [
            f"{label} {abstains[part & (kind == k)].mean():.3f}"
            for k, label in enumerate(KINDS)
            if (part & (kind == k)).any()
        ]
        if shares:
            print(f"abstention (out of fold) {name}: " + ", ".join(shares))
    model = fit_logistic(x, y, ABSTAIN_FEATURES)
    print("abstain", {f: round(float(w), 3) for f, w in zip(ABSTAIN_FEATURES, model.weights, strict=True)})
    rule = {"model": model.to_json(), "floor": floors["en"], "german_floor": floors["de"]}
    return {"rules": [rule], "strict_counts": use_strict, "max_false_abstain": max_false}


def floor_for(scores: np.ndarray, strict: np.ndarray, max_false: float) -> float:
    """The highest floor at which at most `max_false` of these answerable questions abstain,
    counting those the strict rule already sends to abstention."""
    budget = max_false - strict.mean()
    return float(np.quantile(scores[~strict], max(budget, 0.0) * len(scores) / max((~strict).sum(), 1)))


def calibrate_short(rows: list[dict], policy: AbstainPolicy, min_precision: float, folds: int = 5) -> dict:
    """Fit the short-answer model (is the offered phrase the answer: F1 >= 0.5) and choose its floor
    out of fold for the precision asked for."""
    usable = [r for r in rows if r["short"] is not None and r["evidence"] is not None]
    x = np.array(
        [
            short_features(r["short"]["question"], r["short"]["row"], policy.named(r["evidence"]))
            for r in usable
        ]
    )
    f1 = np.array([r["short"]["f1"] for r in usable])
    y = (f1 >= 0.5).astype(np.float64)
    fold = np.arange(len(x)) % folds
    held = np.zeros(len(x))
    for k in range(folds):
        held[fold == k] = fit_logistic(x[fold != k], y[fold != k], SHORT_FEATURES).scores(x[fold == k])
    floor, best = float("inf"), 0
    for candidate in np.sort(held):
        given = held >= candidate
        if given.any() and f1[given].mean() >= min_precision and given.sum() > best:
            floor, best = float(candidate), int(given.sum())
    given = held >= floor
    answerable = sum(r["answerable"] for r in rows)
    precision = f1[given].mean() if given.any() else 0.0
    print(
        f"short answers (out of fold): offered for {len(usable)} of {answerable} answerable, given "
        f"{given.sum()} ({given.sum() / answerable:.3f}), precision {precision:.3f}"
    )
    model = fit_logistic(x, y, SHORT_FEATURES)
    return {"model": model.to_json(), "floor": floor, "min_precision": min_precision}


def load_policy(data: dict) -> AbstainPolicy:
    """The policy a calibration result describes (as default_policy reads it)."""
    return policy_from_json(data, "calibration")


def main() -> None:
    """Extract features, cross-validate, and optionally write the models."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("/tmp/newsbot-train/index"))
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--max-false-abstain", type=float, default=0.03)
    parser.add_argument("--min-short-precision", type=float, default=0.85)
    parser.add_argument("--news", action="store_true", help="also train on news-dev (grouped by article)")
    args = parser.parse_args()
    bot = open_bot(args.index)
    data = chunk_data(bot, load_questions(args.news))
    print(f"questions {len(data)}, candidates with the gold article {np.mean([d.y.any() for d in data]):.3f}")
    rows = cross_validate(bot, data)
    policy = calibrate(rows, args.max_false_abstain)
    short = calibrate_short(rows, load_policy(policy), args.min_short_precision)
    searcher, sentence = fit_all(bot, data)
    print("fitted on all: recall@1 {:.3f} recall@5 {:.3f}".format(*retrieval_metrics(data, searcher.ranker)))
    models = {
        "chunk_ranker": searcher.ranker,
        "chunk_relevance": searcher.relevance,
        "sentence_ranker": sentence,
    }
    for name, ranker in models.items():
        print(name, {f: round(float(w), 3) for f, w in zip(ranker.features, ranker.weights, strict=True)})
    if args.write:
        MODELS_DIR.mkdir(exist_ok=True)
        for name, ranker in models.items():
            (MODELS_DIR / f"{name}.json").write_text(json.dumps(ranker.to_json(), indent=1) + "\n")
        (MODELS_DIR / "abstain.json").write_text(json.dumps(policy, indent=1) + "\n")
        (MODELS_DIR / "short_answer.json").write_text(json.dumps(short, indent=1) + "\n")
        print(f"wrote {MODELS_DIR}")


if __name__ == "__main__":
    main()
