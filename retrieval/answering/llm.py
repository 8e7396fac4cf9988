"""The LLM answerer: a LangChain chain over any chat model writes the answer from numbered
evidence sentences; newsbot keeps only the claims that cite them and shows the cited sentences
from its own store, so every quote is verbatim by construction.

- A claim (sentence of the reply) without a valid evidence number is dropped, never shown
  uncited; invented numbers are taken out; a claim quoting words („…“) not in the sentences it
  cites is dropped. A reply left with no cited claim, or saying NO_ANSWER, is the abstention.
- Any failure of the model (timeout, refused connection, HTTP error, unusable reply) gives the
  extractive answer with a one-line note naming the server; after a failure the model is given
  a rest (MODEL_REST_SECONDS) so a dead server does not make every question wait for the timeout.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from prompts import render, template
from retrieval.answering.chat_models import ChatModelSpec, build_chat_model, server_url
from retrieval.answering.extractive import ExtractiveAnswerer
from retrieval.answering.features import abstain_features, unit_scorer
from retrieval.answering.llm_calls import ModelFailure, reply_pieces
from retrieval.answering.llm_claims import (
    NO_ANSWER,
    cited_text,
    claims,
    says_no_answer,
    strip_markers,
    without_thinking,
)
from retrieval.answering.llm_evidence import (
    CLOSE_FENCE,
    OPEN_FENCE,
    NumberedSentence,
    format_evidence,
    numbered_evidence,
)
from retrieval.answering.questions import AnswerType
from retrieval.answering.short import best_span
from retrieval.answering.types import (
    Answer,
    ArticleRef,
    DraftCallback,
    Turn,
    abstention,
    plain_text,
    question_language,
    ranked_articles,
)
from retrieval.config import Settings
from retrieval.index import NewsIndex
from retrieval.search import Hit

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger("newsbot")

# The earlier turns a prompt shows, newest last, and how much of each earlier answer.
HISTORY_TURNS = 4
HISTORY_ANSWER_CHARS = 400
# After a failure, questions get the offline answer at once for this long.
MODEL_REST_SECONDS = 30.0
_LANGUAGES = {"de": "German", "en": "English"}
# "Stand-alone question:" or "Eigenständige Frage:" before a condensed question.
_LABEL = re.compile(r"^[^:?]{0,40}(?:question|frage)\s*:\s*", re.I)


class LLMAnswerer:
    """Answers with a chat model from numbered evidence; citations are checked, never copied."""

    def __init__(
        self,
        index: NewsIndex,
        model: BaseChatModel,
        name: str,
        server: str,
        timeout: float,
        *,
        max_question_chars: int = 2000,
    ) -> None:
        self.index = index
        self.model = model
        self.name = f"llm:{name}"
        self.server = server
        self.timeout = timeout
        self.fallback = ExtractiveAnswerer(index)
        self.max_question_chars = max_question_chars
        self._chains: dict[str, Any] = {}
        self._rest: tuple[float, str] | None = None

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        vector: np.ndarray,
        *,
        history: Sequence[Turn] = (),
        on_draft: DraftCallback | None = None,
    ) -> Answer:
        """The model's answer with its claims checked against the numbered evidence; the
        extractive answer with a note when the model fails."""
        numbered = numbered_evidence(self.index, hits)
        if not numbered:
            return abstention(question, ranked_articles(hits))
        inputs = {
            **self._common(question),
            "history": _history_messages(history),
            "evidence": format_evidence(numbered),
            "open_fence": OPEN_FENCE,
            "close_fence": CLOSE_FENCE,
            "no_answer": NO_ANSWER,
        }
        try:
            reply = self._reply(inputs, numbered, on_draft)
        except ModelFailure as failure:
            answer = self.fallback.answer(question, hits, vector, history=history)
            note = render(f"llm_failed_{answer.language}", server=self.server, reason=failure.reason)
            return replace(answer, note=note)
        return self._checked(question, hits, reply, numbered)

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """The question rewritten by the model to stand alone (what "he", "there" refer to), for
        retrieval; the question itself when there is no history; '' when the model failed or
        gave no usable question (the caller then rewrites the follow-up offline)."""
        if not history:
            return question
        inputs = {**self._common(question), "history": _history_text(history)}
        try:
            reply = "".join(self._pieces("condense", inputs, stream=False))
        except ModelFailure:
            return ""
        lines = [line.strip() for line in without_thinking(reply).splitlines() if line.strip()]
        standalone = _LABEL.sub("", lines[0]).strip("\"'„“”»« ") if lines else ""
        answered = question.rstrip().endswith("?") and not standalone.endswith("?")
        if answered or says_no_answer(standalone) or len(standalone) > self.max_question_chars:
            return ""  # an answer instead of a question, a refusal, or a ramble
        return standalone

    def _common(self, question: str) -> dict[str, str]:
        """The inputs every prompt takes: the question and the language to answer in."""
        return {"question": question, "language": _LANGUAGES[question_language(question)]}

    def _reply(
        self, inputs: dict[str, Any], numbered: Sequence[NumberedSentence], on_draft: DraftCallback | None
    ) -> str:
        """The model's whole reply; while it streams, `on_draft` sees the claims complete so far
        as they will be shown (checked and renumbered)."""
        evidence = {s.n: s.sentence.text for s in numbered}
        text, shown = "", ""
        for piece in self._pieces("answer", inputs, stream=on_draft is not None):
            text += piece
            if on_draft is not None:
                draft, _ = cited_text(claims(text)[:-1], evidence)
                if draft and draft != shown:
                    shown = draft
                    on_draft(draft)
        return text

    def _pieces(self, kind: str, inputs: dict[str, Any], *, stream: bool):
        """The reply of the `kind` chain in pieces; ModelFailure at once while the model rests."""
        if self._rest is not None and time.monotonic() < self._rest[0]:
            raise ModelFailure(self._rest[1])
        try:
            yield from reply_pieces(self._chain(kind), inputs, self.timeout, stream=stream)
        except ModelFailure as failure:
            self._rest = (time.monotonic() + MODEL_REST_SECONDS, failure.reason)
            log.warning("the language model at %s failed: %s", self.server, failure.reason)
            raise

    def _chain(self, kind: str) -> Any:
        """The LCEL chain `prompt | model | text` for "answer" or "condense", built once."""
        if kind not in self._chains:
            from langchain_core.output_parsers import StrOutputParser

            prompt = _answer_prompt() if kind == "answer" else _condense_prompt()
            self._chains[kind] = prompt | self.model | StrOutputParser()
        return self._chains[kind]

    def _checked(
        self, question: str, hits: Sequence[Hit], reply: str, numbered: Sequence[NumberedSentence]
    ) -> Answer:
        """The Answer from the reply: its cited claims with the cited sentences as citations, the
        short answer first when a cited sentence holds it; else the abstention."""
        retrieved = ranked_articles(hits)
        by_number = {s.n: s for s in numbered}
        text, order = "", []  # type: tuple[str, list[int]]
        if not says_no_answer(reply):
            text, order = cited_text(claims(reply), {n: s.sentence.text for n, s in by_number.items()})
        if not order:
            top = numbered[0]
            return abstention(question, retrieved, ArticleRef(top.title, top.date))
        cited = [by_number[n] for n in order]
        short = self._short(question, hits, numbered, cited)
        return Answer(
            question,
            f"**{short}** — {text}" if short else text,
            tuple(s.citation(k) for k, s in enumerate(cited, start=1)),
            language=question_language(question),
            retrieved=retrieved,
            short_answer=short,
            answerer=self.name,
        )

    def _short(
        self,
        question: str,
        hits: Sequence[Hit],
        numbered: Sequence[NumberedSentence],
        cited: Sequence[NumberedSentence],
    ) -> str | None:
        """The offline short answer taken from the cited sentences only (verbatim in one)."""
        kept = {s.sentence.sentence_id for s in cited}
        drop = frozenset(s.sentence.sentence_id for s in numbered) - kept
        extractive = self.fallback
        evidence = extractive.evidence(question, hits, drop=drop)
        if evidence is None:
            return None
        named = extractive.policy.named(abstain_features(evidence))
        units = unit_scorer(question, AnswerType.of(question), extractive.words)
        return best_span(question, evidence.ranked[0].text, extractive.short_policy, named, units)


def llm_answerer(index: NewsIndex, settings: Settings) -> LLMAnswerer:
    """The LLM answerer NEWSBOT_LLM configures (ConfigError when it cannot be built)."""
    spec = ChatModelSpec.parse(settings.llm)
    return LLMAnswerer(
        index,
        build_chat_model(spec, settings),
        spec.name,
        server_url(spec, settings),
        settings.llm_timeout,
        max_question_chars=settings.max_question_chars,
    )


def _answer_prompt() -> Any:
    """System rules, the conversation so far as messages, then the fenced evidence and question."""
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    return ChatPromptTemplate.from_messages(
        [
            ("system", template("llm_answer_system")),
            MessagesPlaceholder("history"),
            ("human", template("llm_answer_user")),
        ]
    )


def _condense_prompt() -> Any:
    """The instruction to rewrite a follow-up as a stand-alone question, then the conversation."""
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages(
        [("system", template("llm_condense_system")), ("human", template("llm_condense_user"))]
    )


def _history_messages(history: Sequence[Turn]) -> list[Any]:
    """The last turns as chat messages: the user's question, the bot's answer as it read."""
    from langchain_core.messages import AIMessage, HumanMessage

    messages: list[Any] = []
    for turn in history[-HISTORY_TURNS:]:
        messages += [HumanMessage(turn.question), AIMessage(_said(turn.answer))]
    return messages


def _history_text(history: Sequence[Turn]) -> str:
    """The last turns as lines of text for the condense prompt."""
    return "\n".join(
        f"User: {turn.question}\nAssistant: {_said(turn.answer)}" for turn in history[-HISTORY_TURNS:]
    )


def _said(answer: Answer) -> str:
    """An earlier answer as the reader saw it: no bold marks or citation numbers, on one line,
    cut at HISTORY_ANSWER_CHARS."""
    text = " ".join(strip_markers(plain_text(answer.text)).split())
    return text if len(text) <= HISTORY_ANSWER_CHARS else text[: HISTORY_ANSWER_CHARS - 1] + "…"
