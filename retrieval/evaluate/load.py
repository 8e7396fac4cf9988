"""Question sets for `newsbot eval`: JSONL rows (plain or conversation turns) and SQuAD files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.documents import Article, Problem, clean_text, open_regular
from retrieval.errors import InputError
from retrieval.langdetect import detect_language


@dataclass(frozen=True)
class Question:
    """One question with its gold answers and gold articles."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    line: int | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)
    conversation: str | None = None
    turn: int | None = None

    @property
    def answerable(self) -> bool:
        """Whether the articles answer it (an empty answer list means they do not)."""
        return bool(self.answers)

    @property
    def followup(self) -> bool:
        """Whether it is a conversation turn after the first (asked with a history)."""
        return self.conversation is not None and (self.turn or 1) > 1


@dataclass
class QuestionSet:
    """Questions read from a file, the problems met, and (for SQuAD) the articles it holds."""

    path: Path
    format: str
    questions: list[Question] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)


def sessions(questions: Sequence[Question]) -> list[list[Question]]:
    """The questions as they are asked: a plain row alone, a conversation's rows together in
    `turn` order; sessions in the file order of their first row."""
    out: list[list[Question]] = []
    chats: dict[str, list[Question]] = {}
    for q in questions:
        if q.conversation is None:
            out.append([q])
        elif q.conversation in chats:
            chats[q.conversation].append(q)
        else:
            chats[q.conversation] = [q]
            out.append(chats[q.conversation])
    for turns in chats.values():
        turns.sort(key=lambda q: q.turn or 1)
    return out


def load_questions(path: str | Path) -> QuestionSet:
    """Read a JSONL question set or a SQuAD v1.1/2.0 JSON file; bad entries become problems."""
    path = Path(path)
    try:
        with open_regular(path) as f:  # a FIFO or device is refused, not read forever
            content = f.read().decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    whole = _parse_whole(path, content)
    if isinstance(whole, dict) and "data" in whole:
        return _load_squad(path, whole)
    return _load_jsonl(path, content)


def _parse_whole(path: Path, content: str) -> Any:
    """The file parsed as one JSON document, or None when it is not one (JSONL)."""
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() == ".json":
            raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        return None
    except RecursionError:
        if path.suffix.lower() == ".json":
            raise InputError(f"{path}: not valid JSON (nested too deeply)") from None
        return None


def _load_jsonl(path: Path, content: str) -> QuestionSet:
    """Questions from JSONL, one per line; blank lines are ignored."""
    result = QuestionSet(path=path, format="jsonl")
    first_line: dict[str, int] = {}
    turns: dict[tuple[str, int], int] = {}
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = question_from_record(json.loads(line), number)
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(path, number, f"invalid JSON ({exc.msg})"))
            continue
        except RecursionError:
            result.problems.append(Problem(path, number, "invalid JSON (nested too deeply)"))
            continue
        except ValueError as exc:
            result.problems.append(Problem(path, number, str(exc)))
            continue
        if question.id in first_line:
            first = first_line[question.id]
            result.problems.append(
                Problem(path, number, f"duplicate id '{question.id}' (first on line {first})"))
            continue
        if question.conversation is not None:
            key = (question.conversation, question.turn or 1)
            if key in turns:
                result.problems.append(Problem(
                    path, number, f"duplicate turn {key[1]} of conversation '{key[0]}' "
                    f"(first on line {turns[key]})"))
                continue
            turns[key] = number
        first_line[question.id] = number
        result.questions.append(question)
    return result


def question_from_record(record: Any, line: int | None = None) -> Question:
    """A question from a JSON object; ValueError says what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    for name in ("id", "question", "answers"):
        if name not in record:
            hint = " (use [] when the articles do not answer it)" if name == "answers" else ""
            raise ValueError(f"missing required field '{name}'{hint}")
    if isinstance(record["id"], bool) or not isinstance(record["id"], str | int) \
            or not str(record["id"]).strip():
        raise ValueError("field 'id' must be a non-empty string")
    if not isinstance(record["question"], str) or not record["question"].strip():
        raise ValueError("field 'question' must be a non-empty string")
    answers = _strings(record["answers"], "answers")
    article_ids = _strings(record.get("article_ids") or [], "article_ids")
    annotations = {k: v for k, v in record.items() if k not in _QUESTION_FIELDS}
    conversation, turn = _conversation_turn(record)
    return Question(id=str(record["id"]).strip(), question=record["question"].strip(),
                    answers=answers, article_ids=article_ids, line=line, annotations=annotations,
                    conversation=conversation, turn=turn)


def _conversation_turn(record: dict[str, Any]) -> tuple[str | None, int | None]:
    """The row's conversation id and turn number (None, None for a plain row); the two fields
    stay among the annotations too, so that `per_question` carries them."""
    conversation = record.get("conversation")
    if conversation is None:
        return None, None
    if isinstance(conversation, bool) or not isinstance(conversation, str | int) \
            or not str(conversation).strip():
        raise ValueError("field 'conversation' must be a non-empty string")
    turn = record.get("turn")
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
        raise ValueError("a conversation row needs a field 'turn': 1, 2, …")
    return str(conversation).strip(), turn


# The fields a question row is judged by; any other field is an annotation, carried along.
_QUESTION_FIELDS = frozenset({"id", "question", "answers", "article_ids"})


def _strings(value: Any, name: str) -> tuple[str, ...]:
    """A list of non-empty strings (ids may be numbers), stripped and deduplicated."""
    if not isinstance(value, list):
        raise ValueError(f"field '{name}' must be a list of strings")
    out: dict[str, None] = {}
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise ValueError(f"field '{name}' must hold non-empty strings, not {item!r}")
        out.setdefault(str(item).strip(), None)
    return tuple(out)


def _load_squad(path: Path, document: dict[str, Any]) -> QuestionSet:
    """SQuAD: each paragraph an article '{title}-{i}', each qa a question about it."""
    result = QuestionSet(path=path, format="squad")
    if not isinstance(document["data"], list):
        raise InputError(f"{path}: 'data' must be a list of SQuAD articles")
    seen: set[str] = set()
    article_ids: set[str] = set()
    for t, entry in enumerate(document["data"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("paragraphs"), list):
            result.problems.append(Problem(path, None, f"data[{t}]: no 'paragraphs' list"))
            continue
        title = str(entry.get("title") or f"article{t}")
        for p, paragraph in enumerate(entry["paragraphs"]):
            where = f"data[{t}].paragraphs[{p}]"
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not context.strip():
                result.problems.append(Problem(path, None, f"{where}: no 'context' text"))
                continue
            article = _squad_article(title, p, context, article_ids)
            result.articles.append(article)
            for q, qa in enumerate(paragraph.get("qas") or []):
                _add_squad_question(result, qa, article.id, f"{where}.qas[{q}]", seen)
    return result


def _squad_article(title: str, number: int, context: str, taken: set[str]) -> Article:
    """The article for one SQuAD paragraph, with an id unique in the file."""
    article_id, extra = f"{title}-{number}", 1
    while article_id in taken:
        extra += 1
        article_id = f"{title}-{number}.{extra}"
    taken.add(article_id)
    return Article(id=clean_text(article_id), text=clean_text(context),
                   title=clean_text(title.replace("_", " ")), lang=detect_language(context))


def _add_squad_question(result: QuestionSet, qa: Any, article_id: str, where: str,
                        seen: set[str]) -> None:
    """Add one SQuAD qa to the set, or record why it was skipped."""
    try:
        if not isinstance(qa, dict):
            raise ValueError("expected a JSON object")
        impossible = bool(qa.get("is_impossible"))
        answers = [] if impossible else [a.get("text") if isinstance(a, dict) else a
                                         for a in qa.get("answers") or []]
        record = {"id": qa.get("id", ""), "question": qa.get("question"), "answers": answers,
                  "article_ids": [article_id] if answers else []}
        question = question_from_record(record)
    except ValueError as exc:
        result.problems.append(Problem(result.path, None, f"{where}: {exc}"))
        return
    if question.id in seen:
        result.problems.append(Problem(result.path, None, f"{where}: duplicate id '{question.id}'"))
        return
    seen.add(question.id)
    result.questions.append(question)
