"""`newsbot eval` on conversation rows: turns in order with their history, followup_ metrics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from retrieval.answering.types import Answer, Turn
from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.evaluate import METRIC_KEYS, compute_metrics, format_summary, load_questions, run_eval
from retrieval.evaluate.metrics import Record, conversation_metrics
from retrieval.evaluate.run import answer_questions

RUN_KEYS = {"index_seconds", "articles", "chunks"}


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "conversations.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


# A file mixing plain rows and two conversations, one written with its turns out of order.
ROWS = [
    {
        "id": "p1",
        "question": "Wann soll die U5 in Wien eröffnet werden?",
        "answers": ["2026"],
        "article_ids": ["wien-1"],
    },
    {
        "id": "c1-2",
        "conversation": "c1",
        "turn": 2,
        "question": "Und wurde jemand verletzt?",
        "answers": ["niemand"],
        "article_ids": ["graz-1"],
    },
    {
        "id": "c1-1",
        "conversation": "c1",
        "turn": 1,
        "question": "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
        "answers": ["300"],
        "article_ids": ["graz-1"],
    },
    {
        "id": "c2-1",
        "conversation": "c2",
        "turn": 1,
        "question": "Wer baut die neue U-Bahn in Wien?",
        "answers": ["Die Stadt Wien"],
        "article_ids": ["wien-1"],
    },
    {
        "id": "p2",
        "question": "Wer gewann die Fußball-Weltmeisterschaft 2014?",
        "answers": [],
        "article_ids": [],
    },
    {
        "id": "c1-3",
        "conversation": "c1",
        "turn": 3,
        "question": "Wer hat das gesagt?",
        "answers": [],
        "article_ids": [],
    },
    {
        "id": "c2-2",
        "conversation": "c2",
        "turn": 2,
        "question": "Was kostet sie?",
        "answers": ["950 Millionen Euro"],
        "article_ids": ["wien-1"],
    },
]


class _RecordingBot:
    """A fake bot: canned answers, and what it was asked with which history."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str], list[str]]] = []

    def check_question(self, question: str) -> str:
        return question.strip()

    def answer(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        self.asked.append((question, [t.question for t in history], [t.answer.text for t in history]))
        return Answer(question, f"answer to {question}")


def test_conversation_rows_load_with_their_turns_and_stay_annotations(tmp_path: Path) -> None:
    qset = load_questions(_write(tmp_path, ROWS))
    by_id = {q.id: q for q in qset.questions}
    assert by_id["c1-2"].conversation == "c1" and by_id["c1-2"].turn == 2 and by_id["c1-2"].followup
    assert not by_id["c1-1"].followup and by_id["p1"].conversation is None and not by_id["p1"].followup
    assert by_id["c1-2"].annotations == {"conversation": "c1", "turn": 2}


def test_bad_conversation_rows_are_reported_and_skipped(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "conversation": "c", "turn": 1, "question": "Wer?", "answers": []},
        {"id": "b", "conversation": "c", "turn": 1, "question": "Wo?", "answers": []},
        {"id": "c", "conversation": "c", "question": "Wann?", "answers": []},
        {"id": "d", "conversation": "c", "turn": 0, "question": "Wie?", "answers": []},
        {"id": "e", "conversation": "", "turn": 2, "question": "Was?", "answers": []},
    ]
    qset = load_questions(_write(tmp_path, rows))
    assert [q.id for q in qset.questions] == ["a"]
    messages = [(p.line, p.message) for p in qset.problems]
    assert messages[0] == (2, "duplicate turn 1 of conversation 'c' (first on line 1)")
    assert [line for line, _ in messages] == [2, 3, 4, 5]
    assert "needs a field 'turn'" in messages[1][1] and "needs a field 'turn'" in messages[2][1]
    assert "'conversation' must be a non-empty string" in messages[3][1]


def test_turns_are_asked_in_order_with_the_earlier_turns_and_the_bots_answers(tmp_path: Path) -> None:
    qset = load_questions(_write(tmp_path, ROWS))
    bot = _RecordingBot()
    records, problems = answer_questions(bot, qset.questions, qset.path, progress=False)
    assert not problems
    asked = bot.asked[1:]  # after the warm-up question
    assert [q for q, _, _ in asked] == [
        "Wann soll die U5 in Wien eröffnet werden?",
        "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
        "Und wurde jemand verletzt?",
        "Wer hat das gesagt?",
        "Wer baut die neue U-Bahn in Wien?",
        "Was kostet sie?",
        "Wer gewann die Fußball-Weltmeisterschaft 2014?",
    ]
    histories = {q: h for q, h, _ in asked}
    assert histories["Wann soll die U5 in Wien eröffnet werden?"] == []
    assert histories["Wie viele Feuerwehrleute waren in Graz im Einsatz?"] == []
    assert histories["Wer hat das gesagt?"] == [
        "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
        "Und wurde jemand verletzt?",
    ]
    assert histories["Was kostet sie?"] == ["Wer baut die neue U-Bahn in Wien?"]  # chats don't mix
    assert histories["Wer gewann die Fußball-Weltmeisterschaft 2014?"] == []
    answers = {q: a for q, _, a in asked}
    assert answers["Was kostet sie?"] == ["answer to Wer baut die neue U-Bahn in Wien?"]
    assert [r.id for r in records] == ["p1", "c1-1", "c1-2", "c1-3", "c2-1", "c2-2", "p2"]


def test_no_history_asks_every_turn_alone(tmp_path: Path) -> None:
    qset = load_questions(_write(tmp_path, ROWS))
    bot = _RecordingBot()
    answer_questions(bot, qset.questions, qset.path, progress=False, history=False)
    assert all(history == [] for _, history, _ in bot.asked)


def test_followup_and_first_turn_metrics_are_those_of_their_rows() -> None:
    def rec(rid: str, conversation: str | None, turn: int | None, answer: str, answers=("x",)) -> Record:
        return Record(
            rid,
            "?",
            tuple(answers),
            ("a",) if answers else (),
            answer,
            retrieved=("a",),
            conversation=conversation,
            turn=turn,
        )

    records = [
        rec("p", None, None, "x"),
        rec("c-1", "c", 1, "x"),
        rec("c-2", "c", 2, "y"),
        rec("c-3", "c", 3, "x"),
        rec("d-1", "d", 1, "y"),
        rec("d-2", "d", 2, "nothing", answers=()),
    ]
    metrics = conversation_metrics(records, {})
    assert metrics["followup_questions"] == 3 and metrics["followup_answerable"] == 2
    assert metrics["followup_unanswerable"] == 1 and metrics["followup_answer_hit"] == 0.5
    assert metrics["first_turn_questions"] == 2 and metrics["first_turn_answer_hit"] == 0.5
    assert metrics["followup_recall_at_1"] == 1.0
    assert {f"followup_{k}" for k in METRIC_KEYS if k not in RUN_KEYS} <= set(metrics)
    assert not any(k.endswith(tuple(RUN_KEYS)) for k in metrics)
    plain = [r for r in records if r.conversation is None]
    assert conversation_metrics(plain, {}) == {}
    assert compute_metrics(plain, {})["questions"] == 1


def test_run_eval_reports_followup_metrics_on_a_mixed_file(tmp_path: Path, corpus_file: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    qset = load_questions(_write(tmp_path, ROWS))
    result = run_eval(qset, [corpus_file], settings, embedder=HashEmbedder(), progress=False)
    metrics = result.metrics
    assert metrics["questions"] == 7 and metrics["followup_questions"] == 3
    assert metrics["first_turn_questions"] == 2
    assert set(METRIC_KEYS) <= set(metrics)
    assert {f"followup_{k}" for k in METRIC_KEYS if k not in RUN_KEYS} <= set(metrics)
    assert metrics["followup_citation_validity"] == 1.0
    assert result.config["conversation_history"] is True
    rows = {row["id"]: row for row in result.per_question}
    assert rows["c1-2"]["annotations"] == {"conversation": "c1", "turn": 2}
    # The pronoun follow-up finds the article of its conversation's first turn.
    assert rows["c1-2"]["retrieved"][0] == "graz-1"
    assert "follow-ups: recall@1" in format_summary(metrics)
    assert "first turns: answer hit" in format_summary(metrics)
    alone = run_eval(qset, [corpus_file], settings, embedder=HashEmbedder(), progress=False, history=False)
    assert alone.config["conversation_history"] is False


def test_a_plain_file_has_no_conversation_metrics_or_config(tmp_path: Path, corpus_file: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    qset = load_questions(_write(tmp_path, [r for r in ROWS if "conversation" not in r]))
    result = run_eval(qset, [corpus_file], settings, embedder=HashEmbedder(), progress=False)
    assert not any(k.startswith(("followup_", "first_turn_")) for k in result.metrics)
    assert "conversation_history" not in result.config


def test_cli_eval_no_history_flag(tmp_path: Path, corpus_file: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    questions, out = _write(tmp_path, ROWS), tmp_path / "out.json"
    args = [
        "--home",
        str(tmp_path / "home"),
        "--embedder",
        "demo-hash",
        "eval",
        str(questions),
        "--corpus",
        str(corpus_file),
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(cli, [*args, "--no-history"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["config"]["conversation_history"] is False
    assert doc["metrics"]["followup_questions"] == 3
