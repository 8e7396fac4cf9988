"""Who may ask and how often, and whether a message in a group is meant for the bot."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable

from telegram import Message, Update
from telegram.constants import ChatType

RATE_WINDOW = 60.0
# Users tracked at most before those whose last question left the window are forgotten.
_TRACKED_USERS = 10_000


class RateLimiter:
    """A sliding window of questions per user."""

    def __init__(self, limit: int, window: float = RATE_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[int, deque[float]] = {}

    def check(self, user_id: int) -> float:
        """0 when the user may ask now (and the question is counted), else seconds to wait."""
        now = self.clock()
        hits = self._hits.setdefault(user_id, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return self.window - (now - hits[0])
        hits.append(now)
        if len(self._hits) > _TRACKED_USERS:
            self._forget(now)
        return 0.0

    def _forget(self, now: float) -> None:
        """Drop users whose last question is out of the window."""
        self._hits = {u: h for u, h in self._hits.items() if h and now - h[-1] < self.window}


def may_use(update: Update, allowed: frozenset[int], public: bool) -> bool:
    """Whether the user or the chat is on the allowlist (or the bot is public)."""
    user, chat = update.effective_user, update.effective_chat
    return public or (user is not None and user.id in allowed) or (
        chat is not None and chat.id in allowed)


def mention_pattern(username: str) -> re.Pattern[str]:
    """'@username' as a whole word, any case."""
    return re.compile(rf"(?<![\w@])@{re.escape(username)}\b", re.IGNORECASE)


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """Whether the message replies to one of the bot's messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def addressed(update: Update, bot_id: int, username: str) -> bool:
    """Whether the update is meant for the bot: private chat, button, command, mention or reply."""
    message = update.message
    if update.callback_query or message is None or message.chat.type == ChatType.PRIVATE:
        return True
    text = message.text or message.caption or ""
    return (is_our_command(text, username) or replies_to_bot(message, bot_id)
            or bool(mention_pattern(username).search(text)))


def is_our_command(text: str, username: str) -> bool:
    """Whether the text is '/command' or '/command@<this bot>'."""
    match = re.match(r"/\w+(?:@(\w+))?(?:\s|$)", text)
    return match is not None and (match.group(1) or username).lower() == username.lower()


def command_argument(text: str) -> str:
    """What follows the command in '/ask@bot the question'."""
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""
