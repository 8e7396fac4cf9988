"""Showing an evaluation: the terminal summary, the JSON document and the Markdown report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrieval.answering.types import quoted
from retrieval.evaluate.metrics import METRIC_KEYS, fold
from retrieval.evaluate.run import EvalResult

REPORT_CASES = 20

_SHARES = frozenset({"recall_at_1", "recall_at_5", "mrr", "answer_hit", "top_citation_hit",
                     "citation_validity", "abstained_unanswerable", "abstained_answerable",
                     "short_answer_given", "short_answer_f1", "short_answer_precision"})
_LABELS = {
    "recall_at_1": "recall@1", "recall_at_5": "recall@5", "mrr": "MRR",
    "answer_hit": "answer hit", "answer_chars_median": "answer chars (median)",
    "short_answer_given": "short answer given", "short_answer_f1": "short answer F1",
    "short_answer_precision": "short answer F1 (where given)",
    "top_citation_hit": "top citation hit", "citation_validity": "citation validity",
    "abstained_unanswerable": "abstained (unanswerable)",
    "abstained_answerable": "abstained (answerable; lower is better)",
    "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
    "index_seconds": "index seconds",
}


# Metrics repeated for a part of the questions (conversation rows), and how they are labelled.
_PARTS = (("followup_", "follow-ups: "), ("first_turn_", "first turns: "))


def _split_part(key: str) -> tuple[str, str]:
    """The label prefix of a part's metric and the metric's own key."""
    for prefix, label in _PARTS:
        if key.startswith(prefix):
            return label, key[len(prefix):]
    return "", key


def format_value(key: str, value: Any) -> str:
    """A metric value for display: shares with 4 decimals, seconds with 2, the rest with 1."""
    key = _split_part(key)[1]
    if not isinstance(value, float):
        return str(value)
    if key.endswith("seconds"):
        return f"{value:.2f}"
    return f"{value:.4f}" if key in _SHARES else f"{value:.1f}"


def summary_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows in the contract's order, extras last."""
    keys = [k for k in METRIC_KEYS if k in metrics] + [k for k in metrics if k not in METRIC_KEYS]
    return [(_label(k), format_value(k, metrics[k])) for k in keys]


def _label(key: str) -> str:
    """A metric's label, with its part's prefix (follow-ups, first turns) where it has one."""
    part, key = _split_part(key)
    return part + _LABELS.get(key, key.replace("_", " "))


def format_summary(metrics: Mapping[str, Any]) -> str:
    """A plain aligned table of the metrics for the terminal."""
    rows = summary_rows(metrics)
    width = max(len(label) for label, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines = [f"{'metric':<{width}}  {'value':>{value_width}}", "-" * (width + 2 + value_width)]
    lines += [f"{label:<{width}}  {value:>{value_width}}" for label, value in rows]
    return "\n".join(lines)


def write_json(result: EvalResult, path: Path) -> None:
    """Write the contract's JSON document."""
    Path(path).write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n",
                          encoding="utf-8")


def worst_cases(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Wrong answers (gold article ranked worst first), missed and false abstentions."""
    def badness(row: Mapping[str, Any]) -> int:
        return -(row["gold_rank"] or 10**6)

    wrong = [r for r in rows if r["answerable"] and not r["abstained"] and not r["answer_hit"]]
    return {
        "Wrong answers": sorted(wrong, key=badness),
        "Missed abstentions": [r for r in rows if not r["answerable"] and not r["abstained"]],
        "False abstentions": sorted((r for r in rows if r["answerable"] and r["abstained"]),
                                    key=badness),
    }


def format_report(result: EvalResult, limit: int = REPORT_CASES) -> str:
    """A Markdown report: metrics table, configuration, then the worst cases."""
    config = result.config
    lines = [f"# newsbot evaluation: {Path(config.get('questions_file', '?')).name}", "",
             f"Corpus: {', '.join(config.get('corpus', []))}; embedder `{config.get('embedder')}`, "
             f"answerer `{config.get('answerer')}`, newsbot {config.get('newsbot_version')}, "
             f"{config.get('date')}.", "", "| metric | value |", "|---|---:|"]
    lines += [f"| {_md(label)} | {value} |" for label, value in summary_rows(result.metrics)]
    skipped = result.question_problems + result.article_problems
    if skipped:
        lines += ["", f"Skipped or repaired {len(skipped)} input(s):", ""]
        lines += [f"- {'repaired' if p.kept else 'skipped'} `{_md(str(p))}`" for p in skipped[:limit]]
    for title, rows in worst_cases(result.per_question).items():
        lines += ["", f"## {title} ({len(rows)})", ""]
        if not rows:
            lines.append("None.")
        for row in rows[:limit]:
            lines += _case_lines(row)
        if len(rows) > limit:
            lines.append(f"… and {len(rows) - limit} more (see the JSON output).")
    return "\n".join(lines) + "\n"


def _case_lines(row: Mapping[str, Any]) -> list[str]:
    """One worst case as a Markdown list item."""
    gold = row["gold"]
    answers = " / ".join(f"`{_md(a)}`" for a in gold["answers"]) or "(none: should abstain)"
    rank = row["gold_rank"]
    where = f"rank {rank}" if rank else "not retrieved"
    lines = [f"- **{_md(row['id'])}**: {_md(row['question'])}",
             f"  - gold: {answers}" + (f" in {', '.join(gold['article_ids'])} ({where})"
                                       if gold["article_ids"] else ""),
             f"  - answer: {_md(fold(row['answer']))}"]
    if row.get("short_answer"):
        lines.append(f"  - short answer: `{_md(row['short_answer'])}` "
                     f"(F1 {row.get('short_answer_f1') or 0:.2f})")
    if row["citations"]:
        first = row["citations"][0]
        lines.append(f"  - cited: {quoted(_md(str(first.get('quote', ''))))} "
                     f"({first.get('article_id')})")
    return lines


def _md(text: str) -> str:
    """Text safe inside a Markdown line."""
    return fold(text).replace("|", "\\|").replace("`", "'")


def write_report(result: EvalResult, path: Path, limit: int = REPORT_CASES) -> None:
    """Write the Markdown report."""
    Path(path).write_text(format_report(result, limit), encoding="utf-8")
