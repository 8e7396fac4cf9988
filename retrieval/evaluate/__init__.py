"""The evaluation behind `newsbot eval`: question sets, a fresh index, metrics, reports.

Modules: `load` (question sets), `metrics` (records and metrics), `run` (index, answer, time),
`report` (summary, JSON, Markdown).

The metrics follow `../shared/FORMATS.md`; the choices the contract leaves open:

- Text comparison folds whitespace (any run becomes one space, ends stripped) and applies
  Unicode NFC; `answer_hit` also compares case-insensitively (`str.casefold`), while
  `citation_validity` is case-sensitive ("verbatim").
- Retrieval metrics (`recall_at_k`, `mrr`) and `top_citation_hit` are over answerable
  questions that name gold `article_ids` (in the shipped sets that is every answerable one).
  MRR uses the full ranked list of `Answer.retrieved`; a gold article not in it scores 0.
- `answer_hit`: an abstention is a miss. The answer text is matched, and measured, as the
  reader sees it: `**` markup (the bold short answer) is folded away. `answer_chars_median` is
  the median length of the answer text of every answerable question, abstentions included
  (their text is what the user reads), so neither a long answer nor a short refusal goes unseen.
- `short_answer_*`: an abstention carries no short answer. Normalization follows SQuAD
  (lowercase, punctuation removed, articles removed, whitespace folded) with Unicode NFC,
  Unicode punctuation (such as „“) counted as punctuation, and the German articles of the
  contract added; when the short answer or a gold answer normalizes to nothing, F1 is 1 if both
  do, else 0 (as in SQuAD v2). `short_answer_precision` averages over the answerable questions
  that got a short answer (0.0 when none did); unanswerable ones have no gold to compare with
  (answering them at all shows in `abstained_unanswerable`).
- `citation_validity` is over all citations of all questions, checked against the article
  texts read from the corpus files (not from the index), so the check is independent; a
  citation of an article that is not in the corpus is invalid. With no citations at all it
  is 1.0 (vacuously: no citation was wrong); the extra `citations` key gives the count.
- Shares with an empty denominator are 0.0. Latency percentiles interpolate linearly over
  every answered question; the model and index are loaded and warmed up before timing.
  `index_seconds` is the wall time of reading and indexing the corpus, with the embedding
  model already loaded.
"""

from retrieval.evaluate.load import Question, QuestionSet, load_questions, question_from_record
from retrieval.evaluate.metrics import (
    ARTICLES,
    EXTRA_METRIC_KEYS,
    METRIC_KEYS,
    Record,
    answer_hit,
    answer_tokens,
    citation_valid,
    compute_metrics,
    fold,
    gold_rank,
    percentile,
    record_row,
    short_answer_f1,
    token_f1,
)
from retrieval.evaluate.report import (
    format_report,
    format_summary,
    format_value,
    summary_rows,
    worst_cases,
    write_json,
    write_report,
)
from retrieval.evaluate.run import (
    WARM_UP_QUESTION,
    BuiltIndex,
    EvalResult,
    _version,
    answer_questions,
    build_index,
    default_corpus,
    run_config,
    run_eval,
    write_articles,
)

__all__ = [
    "ARTICLES", "EXTRA_METRIC_KEYS", "METRIC_KEYS", "WARM_UP_QUESTION", "BuiltIndex", "EvalResult",
    "Question", "QuestionSet", "Record", "_version", "answer_hit", "answer_questions", "answer_tokens",
    "build_index", "citation_valid", "compute_metrics", "default_corpus", "fold", "format_report",
    "format_summary", "format_value", "gold_rank", "load_questions", "percentile", "question_from_record",
    "record_row", "run_config", "run_eval", "short_answer_f1", "summary_rows", "token_f1",
    "worst_cases", "write_articles", "write_json", "write_report",
]
