"""The evaluation: hand-computed metrics, question-set loading, and `newsbot eval` end to end."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.evaluate import (
    METRIC_KEYS,
    EvalResult,
    Record,
    answer_hit,
    compute_metrics,
    fold,
    format_report,
    format_summary,
    gold_rank,
    load_questions,
    percentile,
    record_row,
    run_eval,
    short_answer_f1,
    token_f1,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
ROW_KEYS = {"id", "question", "gold", "answer", "citations", "abstained", "retrieved",
            "latency_ms", "short_answer"}

TEXTS = {
    "a1": "Der Hund bellt laut. Die Katze schläft.",
    "a2": "Berlin ist groß.",
    "a3": "Der Mond scheint hell.",
}


def _cite(article_id: str, quote: str) -> dict[str, str]:
    """A citation with just what the metrics read."""
    return {"article_id": article_id, "quote": quote}


# 4 answerable and 2 unanswerable questions; every metric is worked out by hand below.
RECORDS = [
    # gold ranked 1; answer hits; top citation gold; 1 valid citation;
    # short answer "Der Hund" -> [hund] vs [hund]: F1 1
    Record("q1", "Wer bellt?", ("Hund",), ("a1",), "Der Hund bellt.",
           (_cite("a1", "Der Hund bellt laut."),), False, ("a1", "a2"), 10.0,
           short_answer="Der Hund"),
    # gold ranked 6 (outside top 5); wrong answer; top citation not gold; valid (whitespace folded);
    # short answer [katze] vs [berlin]: F1 0
    Record("q2", "Was ist groß?", ("Berlin",), ("a2",), "Die Katze schläft.",
           (_cite("a1", "Die  Katze\nschläft."),), False,
           ("a1", "a3", "a4", "a5", "a6", "a2"), 20.0, short_answer="Die Katze"),
    # gold ranked 2; hit despite case and the ** of the bold short answer; top citation gold;
    # 2nd citation invalid (case differs); short answer [mond] vs [sonne, scheint]: 0,
    # vs [mond, scheint]: P 1, R 1/2, F1 2/3 -> best 2/3
    Record("q3", "Was scheint?", ("Sonne scheint", "Mond scheint"), ("a3",),
           "**DER MOND** scheint hell",
           (_cite("a3", "Der Mond scheint"), _cite("a3", "der mond scheint")), False,
           ("a2", "a3"), 30.0, short_answer="DER MOND"),
    # abstained (a miss even though the text holds the gold answer); nothing retrieved;
    # an abstention's short answer does not count
    Record("q4", "Wie heiß ist die Sonne?", ("Sonne",), ("a4",), "Nichts zur Sonne.", (), True,
           (), 40.0, short_answer="Sonne"),
    # unanswerable, rightly abstained
    Record("q5", "Wer gewann 2014?", (), (), "Keine Antwort.", (), True, ("a1",), 50.0),
    # unanswerable, answered anyway, citing an article that is not in the corpus (invalid);
    # its short answer has no gold to count against
    Record("q6", "Wer gewann 2010?", (), (), "Der Hund bellt.",
           (_cite("a9", "Der Hund bellt laut."),), False, ("a1",), 60.0, short_answer="Hund"),
]


def test_metrics_match_the_hand_computed_values() -> None:
    metrics = compute_metrics(RECORDS, TEXTS, index_seconds=1.23456, articles=3, chunks=7)
    assert metrics == {
        "questions": 6, "answerable": 4, "unanswerable": 2,
        "recall_at_1": 0.25,  # q1
        "recall_at_5": 0.5,  # q1, q3
        "mrr": 0.4167,  # (1 + 1/6 + 1/2 + 0) / 4
        "answer_hit": 0.5,  # q1, q3
        "answer_chars_median": 17.5,  # lengths 15, 18, 21 (without the **), 17
        "short_answer_given": 0.75,  # q1, q2, q3
        "short_answer_f1": 0.4167,  # (1 + 0 + 2/3 + 0) / 4
        "short_answer_precision": 0.5556,  # (1 + 0 + 2/3) / 3
        "top_citation_hit": 0.5,  # q1, q3
        "citation_validity": 0.6,  # 3 of 5: q1, q2, q3's first
        "abstained_unanswerable": 0.5,  # q5
        "abstained_answerable": 0.25,  # q4
        "latency_ms_p50": 35.0, "latency_ms_p95": 57.5,
        "index_seconds": 1.235, "articles": 3, "chunks": 7, "citations": 5,
    }
    assert list(metrics)[: len(METRIC_KEYS)] == list(METRIC_KEYS)


def test_empty_denominators_give_zero_and_no_citations_are_vacuously_valid() -> None:
    only = [Record("q", "Wer?", ("Hund",), ("a1",), "Weiß nicht.", (), True, (), 5.0)]
    metrics = compute_metrics(only, TEXTS)
    assert metrics["abstained_unanswerable"] == 0.0 and metrics["unanswerable"] == 0
    assert metrics["citation_validity"] == 1.0 and metrics["citations"] == 0
    assert metrics["mrr"] == 0.0 and metrics["answer_chars_median"] == 11
    empty = compute_metrics([], {})
    assert empty["questions"] == 0 and empty["recall_at_1"] == 0.0
    assert empty["latency_ms_p50"] == 0.0 and empty["answer_chars_median"] == 0


def test_helpers_fold_case_and_whitespace() -> None:
    assert fold("  a \n\t b  ") == "a b"
    assert answer_hit("Die 50-minütige\nUnterredung", ["50-MINÜTIGE unterredung"])
    assert not answer_hit("Die Katze", ["Hund"])
    assert answer_hit("STRASSE", ["Straße"])  # casefold
    assert gold_rank(["x", "y", "z"], ["z", "y"]) == 2 and gold_rank(["x"], ["q"]) is None
    assert percentile([3.0], 95) == 3.0 and percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_short_answer_token_f1_follows_squad_with_german_articles() -> None:
    assert token_f1("die Hauptstadt", "Hauptstadt") == 1.0  # German article removed
    assert token_f1("einem Jahrhundertprojekt", "ein Jahrhundertprojekt") == 1.0
    assert token_f1("The Eiffel Tower", "eiffel tower") == 1.0  # English article, case
    assert token_f1("„Lawrow“,", "Lawrow") == 1.0  # Unicode and ASCII punctuation
    assert token_f1("U-Bahn", "ubahn") == 1.0  # punctuation removed, not split on
    assert token_f1("Sergej Lawrow", "Lawrow") == pytest.approx(2 / 3)  # P 1/2, R 1
    assert token_f1("950 Millionen Euro", "950 Millionen") == pytest.approx(0.8)  # P 2/3, R 1
    assert token_f1("the", "a") == 1.0 and token_f1("der", "Berlin") == 0.0  # empty after removal
    assert token_f1("Wien Wien", "Wien") == pytest.approx(2 / 3)  # tokens counted with repeats
    assert short_answer_f1("Lawrow", ["Russland", "Sergej Lawrow"]) == pytest.approx(2 / 3)
    assert short_answer_f1(None, ["Lawrow"]) == 0.0 and short_answer_f1("Lawrow", []) == 0.0


def test_bold_markers_neither_hide_a_hit_nor_count_as_characters() -> None:
    text = "**Sergej Lawrow** — „Lawrow schlug Gespräche vor.“ [1]"
    assert answer_hit(text, ["Sergej Lawrow"]) and answer_hit(text, ["lawrow —"])
    assert not answer_hit(text, ["Lawrow schlug nichts"])
    record = Record("q", "Wer?", ("Sergej Lawrow",), ("a1",), text, (), False, ("a1",),
                    short_answer="Sergej Lawrow")
    metrics = compute_metrics([record], TEXTS)
    assert metrics["answer_hit"] == 1.0 and metrics["answer_chars_median"] == len(text) - 4
    assert metrics["short_answer_f1"] == 1.0 and metrics["short_answer_precision"] == 1.0


def test_rows_summary_and_report_show_the_short_answer() -> None:
    rows = [record_row(r, TEXTS) for r in RECORDS]
    by_id = {row["id"]: row for row in rows}
    assert by_id["q1"]["short_answer"] == "Der Hund" and by_id["q1"]["short_answer_f1"] == 1.0
    assert by_id["q3"]["short_answer_f1"] == 0.6667 and by_id["q3"]["answer_hit"] is True
    assert by_id["q4"]["short_answer"] is None and by_id["q4"]["short_answer_f1"] == 0.0
    assert by_id["q6"]["short_answer"] == "Hund" and by_id["q6"]["short_answer_f1"] is None
    metrics = compute_metrics(RECORDS, TEXTS)
    summary = format_summary(metrics)
    assert re.search(r"^short answer given +0\.7500$", summary, re.M)
    assert re.search(r"^short answer F1 +0\.4167$", summary, re.M)
    assert re.search(r"^short answer F1 \(where given\) +0\.5556$", summary, re.M)
    report = format_report(EvalResult(metrics, {}, rows))
    assert "| short answer F1 | 0.4167 |" in report
    assert "| short answer F1 (where given) | 0.5556 |" in report
    wrong = report.split("## Wrong answers")[1].split("##")[0]
    assert "- short answer: `Die Katze` (F1 0.00)" in wrong
    assert "- cited: „Die Katze schläft.“ (a1)" in wrong


def test_jsonl_bad_lines_are_skipped_with_line_numbers(tmp_path: Path) -> None:
    lines = [
        '{"id": "q1", "question": "Wer bellt?", "answers": ["Hund"], "article_ids": ["a1"]}',
        "not json",
        '{"id": "q2", "answers": []}',
        "",
        '{"id": "q3", "question": "Wer?", "answers": "Hund"}',
        '{"id": "q1", "question": "Noch einmal?", "answers": []}',
        '{"id": 7, "question": "Was?", "answers": []}',
        '{"id": "q8", "question": "Wo?"}',
        '["a list"]',
    ]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    qset = load_questions(path)
    assert [q.id for q in qset.questions] == ["q1", "7"]
    assert [q.line for q in qset.questions] == [1, 7]
    assert qset.questions[0].answerable and not qset.questions[1].answerable
    problems = {p.line: p.message for p in qset.problems}
    assert sorted(problems) == [2, 3, 5, 6, 8, 9]
    assert "invalid JSON" in problems[2]
    assert "'question'" in problems[3]
    assert "'answers' must be a list" in problems[5]
    assert "duplicate id 'q1' (first on line 1)" in problems[6]
    assert "missing required field 'answers'" in problems[8]
    assert "JSON object" in problems[9]
    assert str(qset.problems[0]) == f"{path}:2: invalid JSON (Expecting value)"


SQUAD = {
    "version": "1.1",
    "data": [{"title": "Hunde_Welt", "paragraphs": [
        {"context": "Der Hund bellt laut im Garten. Die Katze schläft auf dem Sofa.", "qas": [
            {"id": "s1", "question": "Wer bellt im Garten?", "answers": [
                {"text": "Der Hund", "answer_start": 0}, {"text": "Der Hund", "answer_start": 0},
                {"text": "Hund", "answer_start": 4}]},
            {"id": "s2", "question": "Wer fliegt?", "answers": [], "is_impossible": True},
            {"id": "s3", "answers": [{"text": "Katze", "answer_start": 35}]},
        ]},
        {"context": "Berlin ist die Hauptstadt von Deutschland.", "qas": [
            {"id": "s4", "question": "Was ist Berlin?",
             "answers": [{"text": "die Hauptstadt", "answer_start": 11}]},
        ]},
    ]}],
}


def test_squad_contexts_become_articles_and_qas_questions(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    qset = load_questions(path)
    assert qset.format == "squad"
    assert [a.id for a in qset.articles] == ["Hunde_Welt-0", "Hunde_Welt-1"]
    assert qset.articles[0].title == "Hunde Welt" and qset.articles[0].lang == "de"
    by_id = {q.id: q for q in qset.questions}
    assert list(by_id) == ["s1", "s2", "s4"]
    assert by_id["s1"].answers == ("Der Hund", "Hund")
    assert by_id["s1"].article_ids == ("Hunde_Welt-0",)
    assert not by_id["s2"].answerable and by_id["s2"].article_ids == ()
    assert by_id["s4"].article_ids == ("Hunde_Welt-1",)
    assert len(qset.problems) == 1
    assert "data[0].paragraphs[0].qas[2]" in qset.problems[0].message


def test_a_broken_json_file_is_one_clear_error(tmp_path: Path) -> None:
    from retrieval.errors import InputError

    path = tmp_path / "dev.json"
    path.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(InputError, match=r"dev.json:1: not valid JSON"):
        load_questions(path)


def _questions_file(tmp_path: Path, extra: str = "") -> Path:
    """Questions about the conftest articles: two answerable, one not."""
    rows = [
        {"id": "g1", "question": "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
         "answers": ["300"], "article_ids": ["graz-1"]},
        {"id": "w1", "question": "Wann soll die U5 in Wien eröffnet werden?",
         "answers": ["2026"], "article_ids": ["wien-1"]},
        {"id": "x1", "question": "Wer gewann die Fußball-Weltmeisterschaft 2014?",
         "answers": [], "article_ids": []},
    ]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n" + extra,
                    encoding="utf-8")
    return path


def test_run_eval_builds_a_fresh_index_and_reports_every_key(tmp_path: Path,
                                                             corpus_file: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    qset = load_questions(_questions_file(tmp_path))
    result = run_eval(qset, [corpus_file], settings, embedder=HashEmbedder(), progress=False)
    doc = result.to_json()
    assert set(METRIC_KEYS) <= set(doc["metrics"])
    assert doc["metrics"]["questions"] == 3 and doc["metrics"]["answerable"] == 2
    assert doc["metrics"]["articles"] == 2 and doc["metrics"]["chunks"] >= 2
    assert doc["config"]["embedder"] == "demo-hash"
    assert doc["config"]["corpus"] == [str(corpus_file)]
    assert len(doc["per_question"]) == 3
    assert all(set(row) >= ROW_KEYS for row in doc["per_question"])
    assert not (tmp_path / "home" / "index").exists()  # the user's index is untouched
    for row in doc["per_question"]:
        for citation, valid in zip(row["citations"], row["citations_valid"], strict=True):
            assert valid, citation  # the extractive answerer quotes the article exactly
    report = format_report(result)
    assert "| recall@1 |" in report and "## Wrong answers" in report
    assert "## Missed abstentions" in report and "## False abstentions" in report
    assert "recall@5" in format_summary(doc["metrics"])


def _invoke(args: list[str], home: Path, **env: str) -> tuple[int, str, str]:
    """Run `newsbot` with the fake embedder; exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, ["--home", str(home), "--embedder", "demo-hash", *args],
                                env=env or None, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_eval_writes_json_and_report_and_skips_bad_lines(tmp_path: Path,
                                                             corpus_file: Path) -> None:
    questions = _questions_file(tmp_path, extra="{broken\n" + '{"id": "g1", "question": "?"}\n')
    out, md = tmp_path / "out.json", tmp_path / "out.md"
    code, stdout, stderr = _invoke(["eval", str(questions), "--corpus", str(corpus_file),
                                    "--json", str(out), "--report", str(md)], tmp_path / "home")
    assert code == 0, stderr
    assert f"skipped {questions}:4: invalid JSON" in stderr
    assert f"skipped {questions}:5: missing required field 'answers'" in stderr
    assert "Skipped 2 invalid question(s); evaluated the other 3." in stderr
    assert f"Corpus: {corpus_file}" in stderr
    assert "recall@1" in stdout and "latency p50 (ms)" in stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) >= {"metrics", "config", "per_question"}
    assert set(METRIC_KEYS) <= set(doc["metrics"]) and doc["metrics"]["questions"] == 3
    assert [s["line"] for s in doc["skipped"]] == [4, 5]
    assert md.read_text(encoding="utf-8").startswith("# newsbot evaluation: questions.jsonl")


def test_cli_eval_of_squad_indexes_its_contexts(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    out = tmp_path / "out.json"
    code, _, stderr = _invoke(["eval", str(path), "--json", str(out)], tmp_path / "home")
    assert code == 0, stderr
    assert "the 2 SQuAD contexts" in stderr and "qas[2]" in stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["metrics"]["articles"] == 2 and doc["metrics"]["questions"] == 3
    assert doc["metrics"]["unanswerable"] == 1 and doc["config"]["questions_format"] == "squad"


def test_cli_eval_defaults_to_the_seeds_folder(tmp_path: Path, corpus_file: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "corpus.jsonl").write_text(corpus_file.read_text(encoding="utf-8"), encoding="utf-8")
    questions = _questions_file(seeds)  # inside the folder, like seeds/questions.jsonl
    code, stdout, stderr = _invoke(["eval", str(questions), "--limit", "2"], tmp_path / "home",
                                   NEWSBOT_SEEDS=str(seeds))
    assert code == 0, stderr
    assert f"Corpus: {seeds}" in stderr
    assert "a question set" not in stderr  # the question file itself is not reported
    assert re.search(r"^questions +2$", stdout, re.M)


def test_shipped_seed_questions_match_the_shared_set() -> None:
    shipped = REPO_ROOT / "seeds" / "questions.jsonl"
    qset = load_questions(shipped)
    assert qset.questions and not qset.problems
    shared = SHARED / "eval" / "seed" / "questions.jsonl"
    if shared.exists():
        assert shipped.read_text(encoding="utf-8") == shared.read_text(encoding="utf-8")


@pytest.mark.slow
def test_eval_of_the_shared_seed_set_writes_every_key(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    questions = SHARED / "eval" / "seed" / "questions.jsonl"
    corpus = SHARED / "seeds"
    if not questions.exists() or not corpus.exists():
        pytest.skip(f"the shared evaluation data is not at {SHARED}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("NEWSBOT_EMBEDDER", raising=False)
    out = tmp_path / "out.json"
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "eval", str(questions),
                                      "--corpus", str(corpus), "--json", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(METRIC_KEYS) <= set(doc["metrics"])
    assert doc["metrics"]["questions"] == 14 and doc["metrics"]["articles"] == 1
    assert doc["config"]["embedder"] == "use-multilingual-v3"
    assert all(set(row) >= ROW_KEYS for row in doc["per_question"])
    assert doc["metrics"]["citation_validity"] == 1.0


def test_extra_question_fields_are_annotations_carried_along() -> None:
    from retrieval.evaluate import Record, question_from_record, record_row

    row = {"id": "nu-1", "question": "Wie alt ist er?", "answers": [], "article_ids": [],
           "near": "gnad-0013", "kind": "near-miss"}
    q = question_from_record(row, 3)
    assert q.annotations == {"near": "gnad-0013", "kind": "near-miss"} and not q.answerable
    record = Record(q.id, q.question, q.answers, q.article_ids, "…", abstained=True,
                    annotations=q.annotations)
    assert record_row(record, {})["annotations"] == {"near": "gnad-0013", "kind": "near-miss"}


def test_question_files_nested_too_deep_or_not_regular_are_clean_errors(tmp_path: Path) -> None:
    from retrieval.errors import InputError

    path = tmp_path / "q.jsonl"
    good = json.dumps({"id": "1", "question": "Wer?", "answers": []})
    path.write_text("[" * 100_000 + "\n" + good + "\n", encoding="utf-8")
    qset = load_questions(path)
    assert [q.id for q in qset.questions] == ["1"]
    assert [(p.line, p.message) for p in qset.problems] == [(1, "invalid JSON (nested too deeply)")]
    squad = tmp_path / "squad.json"
    squad.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(InputError, match="nested too deeply"):
        load_questions(squad)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.jsonl"
        os.mkfifo(fifo)
        with pytest.raises(InputError, match=r"not a regular file \(a FIFO\)"):
            load_questions(fifo)
