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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answering.abstain import AbstainPolicy  # noqa: E402
from retrieval.answering.extractive import ExtractiveAnswerer  # noqa: E402
from retrieval.answering.features import (  # noqa: E402
    ABSTAIN_FEATURES,
    SENTENCE_FEATURES,
    abstain_features,
    sentence_candidates,
    sentence_features,
)
from retrieval.config import Settings  # noqa: E402
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
    question: str
    answers: list[str]
    gold: set[str]
    articles: list[str]
    x: np.ndarray
    y: np.ndarray
    found: Candidates


def fold(text: str) -> str:
    """Lower-cased, whitespace-folded text for answer matching."""
    return " ".join(text.lower().split())


def load_questions() -> list[dict]:
    """The dev questions in both languages."""
    rows = []
    for lang in ("en", "de"):
        path = SHARED / "xquad-dev" / f"questions.{lang}.jsonl"
        rows += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return rows


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
                q["article_ids"][0].rsplit("-", 1)[0],
                q["question"],
                q["answers"],
                gold,
                articles,
                found.features,
                y,
                found,
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


def hits_for(d: QuestionData, searcher: Searcher, exclude_gold: bool = False) -> list[Hit]:
    """The top hits of one question under the searcher's models."""
    found = d.found
    if exclude_gold:
        keep = [i for i, a in enumerate(d.articles) if a not in d.gold]
        found = Candidates(
            [found.chunks[i] for i in keep],
            found.features[keep],
            [found.sentence_scores[i] for i in keep],
            [found.bm25[i] for i in keep],
        )
    return searcher.rank(found, TOP_K)


def sentence_data(bot: Newsbot, d: QuestionData, hits: list[Hit]) -> tuple[np.ndarray, np.ndarray, list]:
    """Sentence candidate features and labels (the sentence holds a gold answer)."""
    cands = sentence_candidates(bot.index, hits)
    x = sentence_features(d.question, cands)
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
    """Per-question outcomes: retrieval ranks, chosen sentences, abstention evidence."""
    answerer = ExtractiveAnswerer(bot.index, sentence, AbstainPolicy(()))
    rows = []
    for d in test:
        ranked = article_ranking(d.articles, searcher.ranker.scores(d.x))
        hits = hits_for(d, searcher)
        x, y, cands = sentence_data(bot, d, hits)
        order = np.argsort(-sentence.scores(x), kind="stable") if len(x) else []
        rows.append(
            {
                "lang": d.qid.rsplit("-", 1)[-1],
                "r1": bool(ranked) and ranked[0] in d.gold,
                "r5": any(a in d.gold for a in ranked[:5]),
                "hit1": bool(len(order)) and y[order[0]] > 0,
                "hit2": bool(len(order)) and bool(y[order[:2]].any()),
                "len1": len(cands[order[0]].text) if len(order) else 0,
                "len2": sum(len(cands[i].text) for i in order[:2]),
                "final_hit": final_hit(d, answerer, [cands[i] for i in order]),
                "final_len": final_len(d, answerer, [cands[i] for i in order]),
                "evidence": evidence(d, hits, x, order, cands, answerer),
                "removed_evidence": removed_evidence(bot, d, searcher, sentence, answerer),
            }
        )
    return rows


def final_hit(d: QuestionData, answerer: ExtractiveAnswerer, ranked: list) -> bool:
    """Whether the quotes the answerer picks hold a gold answer."""
    quotes = " ".join(c.text for group in answerer.pick(d.question, ranked) for c in group) if ranked else ""
    return any(fold(a) in fold(quotes) for a in d.answers)


def final_len(d: QuestionData, answerer: ExtractiveAnswerer, ranked: list) -> int:
    """Length of the answer text the answerer would give (quotes, marks and markers)."""
    groups = answerer.pick(d.question, ranked) if ranked else []
    return sum(sum(len(c.text) for c in group) + 6 for group in groups) + max(len(groups) - 1, 0)


def evidence(d: QuestionData, hits: list[Hit], x: np.ndarray, order, cands, answerer) -> np.ndarray:
    """Abstention features of the answer the answerer would give."""
    if not len(order):
        return np.zeros(len(ABSTAIN_FEATURES))
    chosen = answerer.pick(d.question, [cands[i] for i in order])
    quote = " ".join(c.text for group in chosen for c in group)
    return abstain_features(d.question, hits[0], x[order[0]], quote)


def removed_evidence(bot: Newsbot, d: QuestionData, searcher: Searcher, sentence: LinearRanker, answerer):
    """Abstention features when the gold article is not in the index (an unanswerable twin)."""
    hits = hits_for(d, searcher, exclude_gold=True)
    x, _, cands = sentence_data(bot, d, hits)
    order = np.argsort(-sentence.scores(x), kind="stable") if len(x) else []
    return evidence(d, hits, x, order, cands, answerer)


def cross_validate(bot: Newsbot, data: list[QuestionData], folds: int = 5) -> list[dict]:
    """Grouped cross-validation of all models; prints per-language figures."""
    rows = []
    for test_groups in groups_of(data, folds):
        train = [d for d in data if d.group not in test_groups]
        searcher, sentence = fit_all(bot, train)
        rows += evaluate(bot, [d for d in data if d.group in test_groups], searcher, sentence)
    for lang in ("en", "de"):
        sub = [r for r in rows if r["lang"] == lang]
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


def calibrate(rows: list[dict], max_false: float, folds: int = 5) -> dict:
    """Fit two abstention models (answerable vs. article removed): one with the ranker's relevance,
    which knows the corpus, and one on absolute evidence only, which holds for any corpus size.
    Their floors are chosen together, out of fold, so that at most `max_false` of answerable
    questions abstain while as many article-removed twins as possible do."""
    pos = np.array([r["evidence"] for r in rows])
    neg = np.array([r["removed_evidence"] for r in rows])
    x, y = np.vstack([pos, neg]), np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    fold = np.arange(len(x)) % len(rows) % folds
    absolute = [i for i, name in enumerate(ABSTAIN_FEATURES) if name != "relevance"]
    held = np.zeros((len(x), 2))
    for k in range(folds):
        train, test = fold != k, fold == k
        held[test, 0] = fit_logistic(x[train], y[train], ABSTAIN_FEATURES).scores(x[test])
        held[test, 1] = fit_absolute(x[train], y[train], absolute).scores(x[test])
    strict = x[:, ABSTAIN_FEATURES.index("count_missing")] > 0
    print(
        f"number/date questions quoting none: answerable {strict[y == 1].mean():.3f}, "
        f"article-removed {strict[y == 0].mean():.3f}"
    )
    best = (-1.0, 0.0, 0.0, 0.0, False)
    for use_strict in (False, True):
        for q0 in np.linspace(0, max_false, 15):
            for q1 in np.linspace(0, max_false, 15):
                floors = np.quantile(held[y == 1, 0], q0), np.quantile(held[y == 1, 1], q1)
                abstain = (held[:, 0] < floors[0]) | (held[:, 1] < floors[1]) | (strict & use_strict)
                false, caught = abstain[y == 1].mean(), abstain[y == 0].mean()
                if false <= max_false and caught > best[0]:
                    best = (float(caught), float(false), float(floors[0]), float(floors[1]), use_strict)
    print(
        f"abstention: answerable abstained {best[1]:.3f}, "
        f"article-removed abstained {best[0]:.3f} (out of fold)"
    )
    models = fit_logistic(x, y, ABSTAIN_FEATURES), fit_absolute(x, y, absolute)
    for model in models:
        print(
            "abstain", {f: round(float(w), 3) for f, w in zip(ABSTAIN_FEATURES, model.weights, strict=True)}
        )
    rules = [{"model": m.to_json(), "floor": f} for m, f in zip(models, best[2:4], strict=True)]
    print(f"strict number/date rule: {best[4]}")
    return {
        "rules": rules,
        "strict_counts": best[4],
        "max_false_abstain": max_false,
        "removed_abstained": best[0],
    }


def fit_absolute(x: np.ndarray, y: np.ndarray, columns: list[int]) -> LinearRanker:
    """A logistic model that ignores the columns not listed (weight 0)."""
    sub = fit_logistic(x[:, columns], y, [ABSTAIN_FEATURES[i] for i in columns])
    weights, mean, scale = np.zeros(x.shape[1]), np.zeros(x.shape[1]), np.ones(x.shape[1])
    weights[columns], mean[columns], scale[columns] = sub.weights, sub.mean, sub.scale
    return LinearRanker(ABSTAIN_FEATURES, weights, sub.bias, mean, scale)


def main() -> None:
    """Extract features, cross-validate, and optionally write the models."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("/tmp/newsbot-train/index"))
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--max-false-abstain", type=float, default=0.03)
    args = parser.parse_args()
    bot = open_bot(args.index)
    data = chunk_data(bot, load_questions())
    print(f"questions {len(data)}, candidates with the gold article {np.mean([d.y.any() for d in data]):.3f}")
    rows = cross_validate(bot, data)
    policy = calibrate(rows, args.max_false_abstain)
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
        print(f"wrote {MODELS_DIR}")


if __name__ == "__main__":
    main()
