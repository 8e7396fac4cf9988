"""A streaming answer shown as it is written: one message, edited in place, throttled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Callable
from datetime import timedelta

from telegram import InlineKeyboardMarkup, Message
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.telegram import format as fmt
from bot.telegram.replies import send_parts

log = logging.getLogger("newsbot.telegram")
# However the clock reads, the draft is looked at again after at least this many seconds.
_MIN_WAIT = 0.05


class DraftMessage:
    """The message a streaming answer is written into.

    The answerer's drafts (the whole text so far) arrive through `on_draft` on the worker
    thread and are handed to the event loop. The first draft is sent as a reply; later ones edit
    that message, at most once per `interval` seconds of `clock` and only when the shown text
    changes (Telegram limits edits); drafts that arrive in between are skipped, the newest
    wins. `finish` turns the message into the final answer with its buttons; an answerer that
    never drafts gets the final answer as an ordinary reply.
    """

    def __init__(self, message: Message, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.message, self.interval, self.clock = message, interval, clock
        self._loop = asyncio.get_running_loop()
        self._latest = self._shown = ""
        self._sent: Message | None = None
        self._next = float("-inf")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def on_draft(self, draft: str) -> None:
        """The answerer's DraftCallback, called on the worker thread: pass the draft to the loop."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the bot is stopping
            self._loop.call_soon_threadsafe(self._push, draft)

    async def finish(self, html: str, markup: InlineKeyboardMarkup | None) -> None:
        """Show the final answer: the draft message edited into its first part (with the buttons
        when it is the only one) and the rest as replies; a plain reply when nothing was shown."""
        await self.stop()
        parts = fmt.split_html(html)
        if self._sent is None or not parts:
            await send_parts(self.message, parts, markup)
            return
        rest = parts[1:]
        try:
            await self._sent.edit_text(parts[0], reply_markup=None if rest else markup)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():  # e.g. the user deleted the draft
                log.info("could not edit the draft into the answer (%s); sending it anew", exc)
                await send_parts(self.message, parts, markup)
                return
        await send_parts(self.message, rest, markup)

    async def stop(self) -> None:
        """Show no more drafts; waits for an edit under way."""
        self._stopped = True
        self._wake.set()
        if self._task is not None:
            try:
                await self._task
            except Exception:  # a broken draft must not cost the answer
                log.exception("showing the drafts failed")

    def _push(self, draft: str) -> None:
        """A new draft, on the event loop: start showing drafts, or wake the loop that does."""
        if self._stopped:
            return
        self._latest = fmt.draft_html(draft)
        self._wake.set()
        if self._task is None:
            self._task = self._loop.create_task(self._pump())

    async def _pump(self) -> None:
        """Show the newest draft whenever the throttle allows, until stopped."""
        while not self._stopped:
            pending = bool(self._latest) and self._latest != self._shown
            due = self._next - self.clock()
            if pending and due <= 0:
                await self._show(self._latest)
                continue
            self._wake.clear()
            timeout = max(_MIN_WAIT, min(due, self.interval)) if pending else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _show(self, html: str) -> None:
        """Send or edit the draft message; a failed draft is skipped, never retried as such."""
        self._shown = html
        try:
            if self._sent is None:
                self._sent = await self.message.reply_html(html)
            else:
                await self._sent.edit_text(html)
        except RetryAfter as exc:
            self._next = self.clock() + _seconds(exc)
            return
        except TelegramError as exc:
            log.info("a draft was not shown: %s", exc)
        self._next = self.clock() + self.interval


def _seconds(exc: RetryAfter) -> float:
    """How long Telegram asks to wait, whichever type PTB gives it as."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
