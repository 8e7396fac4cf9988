"""Follow-ups: rewriting with the history, staying with the conversation's article, topic changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from retrieval.answering.types import Answer, Citation, Turn
from retrieval.config import Settings
from retrieval.conversation import (
    CondensingRewriter,
    ContextRewriter,
    FollowUpRewriter,
    FollowUpSearch,
    Rewrite,
    article_vocabulary,
    blend_sentence_scores,
    confident_articles,
    conversation_articles,
    follow_topic,
    own_terms,
    prefer_articles,
    rewriter_for,
)
from retrieval.index import ChunkRecord
from retrieval.pipeline import Newsbot
from retrieval.search import Hit
from tests.conftest import ARTICLES, SHARED

GNAD = SHARED / "eval" / "gnad-distractors.jsonl"
TEXTS = {a["id"]: a["text"] for a in ARTICLES}


def _cited(question: str, article_id: str, short: str | None = None) -> Turn:
    """A turn whose answer cited one article."""
    citation = Citation(1, article_id, "t", "", "", 0, "q", 0, 1)
    return Turn(question, Answer(question, "„q“ [1]", (citation,), short_answer=short))


def _vocabulary(article_id: str) -> frozenset[str]:
    return article_vocabulary(TEXTS[article_id])


def _hit(article_id: str, chunk_id: int, scores: tuple[tuple[int, float], ...] = ()) -> Hit:
    chunk = ChunkRecord(
        id=chunk_id, article_id=article_id, ord=0, start=0, end=1, first_sentence=0, last_sentence=0
    )
    return Hit(chunk, 1.0, 0.5, 0.0, sentence_scores=scores)


def test_the_rewrite_carries_the_earlier_names_and_short_answers_most_recent_first() -> None:
    history = [
        _cited("Wer baut die neue U-Bahn in Wien?", "wien-1", short="Die Stadt Wien"),
        _cited("Wann soll die Linie U5 eröffnet werden?", "wien-1", short="2026"),
    ]
    rewritten = ContextRewriter().rewrite("Und was kostet sie?", history).text
    assert rewritten.startswith("Und was kostet sie? ")
    tail = rewritten.split()
    assert {"U5", "2026", "U-Bahn", "Wien"} <= set(tail)
    assert tail.index("U5") < tail.index("U-Bahn")  # the latest turn first
    assert rewritten.count("Wien") == 1 and "Und was kostet sie?" in rewritten


def test_an_abstained_turn_lends_its_closest_article_but_no_short_answer() -> None:
    abstained = Turn(
        "Wie alt ist er?",
        Answer(
            "Wie alt ist er?",
            "Die Artikel sagen dazu nichts.",
            abstained=True,
            retrieved=("graz-1", "wien-1"),
        ),
    )
    history = [_cited("Wer sprach von einem Jahrhundertprojekt?", "wien-1"), abstained]
    assert conversation_articles(history) == ["graz-1", "wien-1"]


def test_a_pronoun_follow_up_stays_with_the_conversations_article() -> None:
    history = [_cited("Wie viele Feuerwehrleute waren in Graz im Einsatz?", "graz-1", short="300")]
    assert own_terms("Wie alt ist er?", history) == set()
    assert follow_topic("Wurde jemand verletzt?", history, _vocabulary) == ["graz-1"]
    assert follow_topic("Was sagte er?", history, _vocabulary) == ["graz-1"]


def test_a_question_naming_something_new_is_not_dragged_back() -> None:
    history = [_cited("Wie viele Feuerwehrleute waren in Graz im Einsatz?", "graz-1")]
    question = "Was kostet die Linie U5 in Wien?"
    assert follow_topic(question, history, _vocabulary, elsewhere=lambda: ["wien-1"]) == []
    # Nothing found with confidence elsewhere: a word the article lacks is no new topic.
    assert follow_topic(question, history, _vocabulary, elsewhere=list) == ["graz-1"]


def test_only_confidently_found_articles_can_take_the_topic_elsewhere() -> None:
    hits = [_hit("a", 1), _hit("b", 2), _hit("a", 3), _hit("c", 4)]
    hits = [replace(h, relevance=r) for h, r in zip(hits, (0.5, -3.0, 2.0, 9.0), strict=True)]
    assert confident_articles(hits, floor=-1.0, n=3) == ["a"]


def test_a_name_from_an_older_turn_brings_its_article_back_first() -> None:
    history = [
        _cited("Wann wird die Linie U5 in Wien eröffnet?", "wien-1"),
        _cited("Wie viele Feuerwehrleute waren in Graz im Einsatz?", "graz-1"),
    ]
    assert follow_topic("Zurück zu Häupl: wann sprach er?", history, _vocabulary) == ["wien-1", "graz-1"]
    assert follow_topic("Wurde jemand verletzt?", history, _vocabulary) == ["graz-1", "wien-1"]


def test_preferred_articles_come_first_the_rest_keeps_its_order() -> None:
    hits = [_hit("a", 1), _hit("b", 2), _hit("c", 3), _hit("b", 4)]
    ordered = prefer_articles(hits, ["b"])
    assert [h.chunk.id for h in ordered] == [2, 4, 1, 3]
    assert prefer_articles(hits, []) == hits


def test_sentence_scores_blend_the_asked_question_in() -> None:
    hits = [_hit("a", 1, ((10, 0.8), (11, 0.2)))]
    blended = blend_sentence_scores(hits, {10: 0.0, 11: 1.0}, weight=0.5)
    assert blended[0].sentence_scores == ((10, 0.4), (11, 0.6))


class _Condensing:
    """A fake answerer that can condense follow-ups (as an LLM answerer will), with canned text."""

    name = "fake"

    def __init__(self, condensed: str) -> None:
        self.condensed = condensed
        self.asked: list[tuple[str, list[str]]] = []

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        return self.condensed

    def answer(self, question: str, hits, vector: np.ndarray, *, history=(), on_draft=None) -> Answer:
        self.asked.append((question, [h.chunk.article_id for h in hits]))
        return Answer(question, "canned")


class _Failing(_Condensing):
    def condense(self, question: str, history: Sequence[Turn]) -> str:
        raise TimeoutError("model gone")


def test_an_answerer_that_condenses_is_used_for_rewriting_and_falls_back_offline() -> None:
    assert isinstance(rewriter_for(_Condensing("x")), CondensingRewriter)
    assert isinstance(rewriter_for(object()), ContextRewriter)
    history = [_cited("Wer baut die U-Bahn in Wien?", "wien-1")]
    assert rewriter_for(_Condensing("Was kostet die U-Bahn?")).rewrite("Was kostet sie?", history) == (
        Rewrite("Was kostet die U-Bahn?", standalone=True)
    )
    failed = rewriter_for(_Failing("")).rewrite("Was kostet sie?", history)
    assert failed.text.startswith("Was kostet sie? ")
    assert failed == ContextRewriter().rewrite("Was kostet sie?", history) and not failed.standalone
    assert not rewriter_for(_Condensing("  ")).rewrite("Was kostet sie?", history).standalone


class _Searching:
    """A searcher that records the texts it is asked and always finds one Vienna chunk."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    def search(self, question: str, k: int = 5, vector: np.ndarray | None = None) -> list[Hit]:
        self.searched.append(question)
        return [replace(_hit("wien-1", 1), relevance=5.0)]


class _Texts:
    def article_text(self, article_id: str) -> str:
        return TEXTS[article_id]


class _Zeros:
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.zeros((len(texts), 4), dtype=np.float32)


def test_a_topic_change_is_searched_as_asked_when_condensing_fails_as_offline() -> None:
    history = [_cited("Wie viele Feuerwehrleute waren in Graz im Einsatz?", "graz-1", short="300")]
    question = "Was kostet die Linie U5 in Wien?"

    def searched(rewriter: FollowUpRewriter) -> tuple[list[str], list[str]]:
        searcher = _Searching()
        found = FollowUpSearch(_Texts(), searcher, _Zeros(), rewriter).search(question, history, 5, 3)  # type: ignore[arg-type]
        return searcher.searched, [h.chunk.article_id for h in found.hits]

    offline = searched(ContextRewriter())
    assert offline == ([question], ["wien-1"])  # the new topic, searched as asked: no Graz words
    assert searched(CondensingRewriter(_Failing(""))) == offline
    assert searched(CondensingRewriter(_Condensing(""))) == offline  # an empty reply
    # A condensed question stands alone: the new topic is searched with it.
    condensed = searched(CondensingRewriter(_Condensing("Was kostet die U5?")))
    assert condensed[0] == [question, "Was kostet die U5?"]


def test_pipeline_searches_with_the_condensed_question_but_answers_the_asked_one(
    fake_bot: Newsbot,
) -> None:
    fake = _Condensing("Wie viele Feuerwehrleute waren in Graz im Einsatz?")
    fake_bot._answerer = fake
    # No article cited yet, so nothing is preferred: retrieval follows the condensed question.
    history = [Turn("Was war in Graz los?", Answer("Was war in Graz los?", "canned"))]
    answer = fake_bot.answer("Und wie viele halfen?", history)
    assert answer.retrieved[0] == "graz-1"
    fake.condensed = "Wann wird die Linie U5 in Wien eröffnet?"
    assert fake_bot.answer("Und wie viele halfen?", history).retrieved[0] == "wien-1"
    assert [asked for asked, _ in fake.asked] == ["Und wie viele halfen?"] * 2


def test_the_same_follow_up_finds_the_article_its_history_is_about(fake_bot: Newsbot) -> None:
    graz = fake_bot.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?")
    wien = fake_bot.answer("Wann soll die Linie U5 in Wien eröffnet werden?")
    assert graz.citations[0].article_id == "graz-1" and wien.citations[0].article_id == "wien-1"
    follow_up = "Und was wurde sonst gesagt?"
    after_graz = fake_bot.answer(follow_up, [Turn(graz.question, graz)])
    after_wien = fake_bot.answer(follow_up, [Turn(wien.question, wien)])
    assert after_graz.retrieved[0] == "graz-1" and after_wien.retrieved[0] == "wien-1"
    for answer, article in ((after_graz, "graz-1"), (after_wien, "wien-1")):
        assert answer.abstained or answer.citations[0].article_id == article
        # A follow-up asks for something new: the sentence quoted before is not quoted again.
    earlier = {c.quote for c in graz.citations}
    assert after_graz.abstained or not {c.quote for c in after_graz.citations} & earlier


def test_a_topic_change_in_a_conversation_finds_the_new_article(fake_bot: Newsbot) -> None:
    graz = fake_bot.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?")
    switched = fake_bot.answer("Wann wird die Linie U5 in Wien eröffnet?", [Turn(graz.question, graz)])
    assert switched.retrieved[0] == "wien-1"
    assert switched.abstained or switched.citations[0].article_id == "wien-1"


def test_without_history_the_answer_is_the_single_question_answer(fake_bot: Newsbot) -> None:
    question = "Wie viele Feuerwehrleute waren in Graz im Einsatz?"
    assert fake_bot.answer(question) == fake_bot.answer(question, ())


def test_sentences_quoted_earlier_in_the_conversation_score_less(fake_bot: Newsbot) -> None:
    from retrieval.answering.extractive import QUOTED_PENALTY, ExtractiveAnswerer, quoted_ids, quoted_spans

    answerer = ExtractiveAnswerer(fake_bot.index)
    question = "Wie viele Feuerwehrleute waren in Graz im Einsatz?"
    hits = fake_bot.search(question)
    plain = answerer.evidence(question, hits)
    best = plain.ranked[0].sentence_id
    top = plain.ranked[0]
    span = (top.hit.chunk.article_id, top.start, top.end)  # the best sentence, quoted before
    penalized = answerer.evidence(question, hits, quoted=frozenset({span}))
    before = dict(zip((c.sentence_id for c in plain.ranked), plain.scores, strict=True))
    after = dict(zip((c.sentence_id for c in penalized.ranked), penalized.scores, strict=True))
    assert after[best] == before[best] - QUOTED_PENALTY
    assert all(after[s] == before[s] for s in before if s != best)
    # The conversation's earlier answer is what marks its sentences as quoted.
    graz = fake_bot.answer(question)
    quoted = quoted_ids(plain.ranked, quoted_spans([Turn(question, graz)]))
    spans = [(c.start, c.end) for c in graz.citations]
    texts = {c.sentence_id: c for c in plain.ranked}
    assert quoted and all(any(s <= texts[q].start < texts[q].end <= e for s, e in spans) for q in quoted)
    assert quoted_ids(plain.ranked, quoted_spans([])) == frozenset()


@pytest.mark.slow
@pytest.mark.skipif(not GNAD.exists(), reason="shared/eval is not available")
def test_follow_ups_with_the_real_model(tmp_path: Path) -> None:
    """Over 120 news articles: a pronoun follow-up ("Where is he going?") finds the article of
    its conversation, which it does not when asked alone; a question that changes the topic is
    not dragged back."""
    lines = GNAD.read_text(encoding="utf-8").splitlines()[:120]
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bot = Newsbot(Settings(home=tmp_path), index_dir=tmp_path / "index")
    bot.index_paths([corpus], progress=False)
    first = bot.answer("Who is stepping down as head of Henkel?")
    assert first.retrieved[0] == "gnad-0039"
    history = [Turn(first.question, first)]
    follow_up = bot.answer("Where is he going?", history)
    assert follow_up.retrieved[0] == "gnad-0039"
    assert bot.answer("Where is he going?").retrieved[0] != "gnad-0039"
    assert follow_up.abstained or follow_up.citations[0].article_id == "gnad-0039"
    switched = bot.answer("Welcher Schauspieler aus Der Pate ist gestorben?", history)
    assert switched.retrieved[0] == "gnad-0115"


def test_a_follow_up_is_typed_past_its_opener() -> None:
    from retrieval.answering.questions import AnswerType, question_core

    assert question_core("And who replaces him at Henkel?") == "Who replaces him at Henkel?"
    assert question_core("Und, wo wurde er begraben?") == "Wo wurde er begraben?"
    assert question_core("Back to that practice: where did Vettel end up?") == "Where did Vettel end up?"
    assert (
        question_core("Andrew who?") == "Andrew who?"
        and question_core("Wie alt ist er?") == "Wie alt ist er?"
    )
    assert not AnswerType.of("Und wer folgt ihm nach?").person
    assert AnswerType.of(question_core("Und wer folgt ihm nach?")).person
