"""An interactive question loop with line editing and history (prompt_toolkit) that keeps the
conversation: follow-up questions are answered with the earlier turns."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable

from bot.cli import SOURCES_PAGE
from bot.render import answer_footer, format_answer, format_sources
from retrieval.answering.types import Answer, Turn, plain_text
from retrieval.errors import NewsbotError
from retrieval.index import SourceQuery
from retrieval.pipeline import Newsbot

HELP = """Type a question in English or German and press Enter. Follow-up questions ("And when
was that?") are answered with the conversation so far.
  :new       start a new conversation (forget the earlier questions)
  :sources   list the first indexed articles (`newsbot sources` lists them all)
  :help      show this help
  :quit      leave (Ctrl-D works too)"""
NEW = "New conversation: the earlier questions no longer count."
# Shown above the final answer when it differs from the draft streamed before it.
REVISED = "Checked answer:"


def _stdout(text: str) -> None:
    """Write a streamed piece to the terminal at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


class ReplSession:
    """One REPL conversation: its recent turns, and how answers are shown.

    A streaming answerer's draft is written through `stream` as it grows (the new part of each
    draft); the final answer then adds only its sources when its text is what was streamed, or
    is shown whole, under REVISED, when the answerer changed it.
    """

    def __init__(self, bot: Newsbot, bold: bool = False,
                 stream: Callable[[str], None] = _stdout, turns: int | None = None) -> None:
        self.bot, self.bold, self.stream = bot, bold, stream
        limit = bot.settings.repl_history_turns if turns is None else turns
        self.history: deque[Turn] = deque(maxlen=limit)
        self._streamed = ""

    def handle(self, line: str) -> str | None:
        """The reply to one input line; None means quit."""
        command = line.strip()
        if not command:
            return ""
        if command in (":quit", ":q", ":exit"):
            return None
        if command == ":help":
            return HELP
        if command == ":new":
            self.history.clear()
            return NEW
        if command == ":sources":
            found = self.bot.source_page(SourceQuery(limit=SOURCES_PAGE))
            return format_sources(found.articles, found.total, found.chunks)
        if command.startswith(":"):
            return f"Unknown command {command}. Commands: :new :sources :help :quit"
        return self.ask(command)

    def ask(self, question: str) -> str:
        """Answer with the conversation so far and remember the turn."""
        self._streamed = ""
        try:
            answer = self.bot.answer(question, history=tuple(self.history), on_draft=self._on_draft)
        except NewsbotError as exc:
            if self._streamed:
                self.stream("\n")
            return f"Error: {exc}"
        self.history.append(Turn(question, answer))
        return self._final(answer)

    def _on_draft(self, draft: str) -> None:
        """Write the part of the draft not written yet (a draft that rewrote the written part is
        left to the final answer)."""
        text = _visible(draft)
        if text.startswith(self._streamed) and len(text) > len(self._streamed):
            self.stream(text[len(self._streamed):])
            self._streamed = text

    def _final(self, answer: Answer) -> str:
        """What to show once the answer is complete, after what was streamed of it."""
        if not self._streamed:
            return format_answer(answer, bold=self.bold)
        self.stream("\n")
        if " ".join(self._streamed.split()) != " ".join(plain_text(answer.text).split()):
            return f"\n{REVISED}\n{format_answer(answer, bold=self.bold)}"
        footer = "\n".join(answer_footer(answer))
        if not footer:
            self.stream("\n")
        return footer


def _visible(draft: str) -> str:
    """A draft as the reader sees it: `**` bold markers removed (a trailing '*' waits, it may
    be half a marker)."""
    return draft.rstrip("*").replace("**", "")


def handle_line(bot: Newsbot, line: str, bold: bool = False) -> str | None:
    """The reply to one input line in a new session (no conversation); None means quit."""
    return ReplSession(bot, bold).handle(line)


def run_repl(bot: Newsbot, read: Callable[[str], str] | None = None,
             write: Callable[[str], None] = print, bold: bool | None = None,
             stream: Callable[[str], None] = _stdout) -> None:
    """Read questions until :quit or end of input, keeping the conversation (`:new` starts
    over); answers go to `write` (a streaming answer's draft to `stream` as it arrives), with
    the short answer in ANSI bold when `bold` (by default when stdout is a terminal)."""
    read = read or _prompt_reader(bot)
    session = ReplSession(bot, sys.stdout.isatty() if bold is None else bold, stream)
    write("newsbot: ask about your articles (:help for commands).")
    while True:
        try:
            line = read("? ")
        except (EOFError, KeyboardInterrupt):
            return
        reply = session.handle(line)
        if reply is None:
            return
        if reply:
            write(reply + "\n")


def _prompt_reader(bot: Newsbot) -> Callable[[str], str]:
    """A prompt_toolkit session with history kept in the data folder."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    bot.settings.home.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(history=FileHistory(str(bot.settings.home / "history")))
    return lambda prompt: session.prompt(prompt)
