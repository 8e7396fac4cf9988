"""An interactive question loop with line editing and history (prompt_toolkit)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bot.render import format_answer, format_sources
from retrieval.errors import NewsbotError
from retrieval.pipeline import Newsbot

HELP = """Type a question in English or German and press Enter.
  :sources   list the indexed articles
  :help      show this help
  :quit      leave (Ctrl-D works too)"""


def handle_line(bot: Newsbot, line: str, bold: bool = False) -> str | None:
    """The reply to one input line; None means quit. `bold`: the short answer in ANSI bold."""
    command = line.strip()
    if not command:
        return ""
    if command in (":quit", ":q", ":exit"):
        return None
    if command == ":help":
        return HELP
    if command == ":sources":
        return format_sources(bot.sources())
    if command.startswith(":"):
        return f"Unknown command {command}. {HELP.splitlines()[0]} Commands: :sources :help :quit"
    try:
        return format_answer(bot.answer(command), bold=bold)
    except NewsbotError as exc:
        return f"Error: {exc}"


def run_repl(bot: Newsbot, read: Callable[[str], str] | None = None,
             write: Callable[[str], None] = print, bold: bool | None = None) -> None:
    """Read questions until :quit or end of input; answers go to `write`, with the short answer
    in ANSI bold when `bold` (by default when stdout is a terminal)."""
    read = read or _prompt_reader(bot)
    bold = sys.stdout.isatty() if bold is None else bold
    write("newsbot: ask about your articles (:help for commands).")
    while True:
        try:
            line = read("? ")
        except (EOFError, KeyboardInterrupt):
            return
        reply = handle_line(bot, line, bold)
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
