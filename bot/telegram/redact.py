"""Keeping the bot token out of logs and error messages."""

from __future__ import annotations

import contextlib
import logging


class _Redactor(logging.Filter):
    """Replaces secrets in log records, tracebacks included."""

    def __init__(self) -> None:
        super().__init__("")
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        """The text with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message and traceback; never drops a record."""
        with contextlib.suppress(Exception):
            message = record.getMessage()
            if self.redact(message) != message:
                record.msg, record.args = self.redact(message), ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self.redact(record.stack_info)
        return True


_REDACTOR = _Redactor()


def protect_token(token: str) -> None:
    """Keep the token out of logs: quiet httpx's URL logging and redact it from every record."""
    _REDACTOR.secrets.add(token)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    targets = [*logging.getLogger().handlers, logging.getLogger("telegram"),
               logging.getLogger("httpx"), logging.getLogger("newsbot")]
    for target in targets:
        if _REDACTOR not in target.filters:
            target.addFilter(_REDACTOR)


def redact(text: str) -> str:
    """Text with any registered token replaced."""
    return _REDACTOR.redact(text)
