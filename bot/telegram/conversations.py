"""Each chat's conversation so far, in memory, bounded in time, turns and chats."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Message

from retrieval.answering.types import Turn

# A chat and, in a forum, the topic (message_thread_id; None outside topics).
Key = tuple[int, int | None]


def conversation_key(message: Message) -> Key:
    """Whose conversation a message belongs to: its chat, and its forum topic if it has one."""
    return message.chat_id, message.message_thread_id if message.is_topic_message else None


@dataclass
class _Chat:
    """One conversation: its recent turns and when it last grew."""

    turns: deque[Turn]
    last: float = field(default=0.0)


class Conversations:
    """The recent turns of every chat (and forum topic), oldest first.

    A conversation is forgotten `ttl` seconds after its last turn, keeps at most `turns` turns,
    and at most `chats` conversations are kept (the least recently used are dropped first), so
    memory stays bounded however many chats write to the bot. Used from the event loop only.
    """

    def __init__(self, turns: int, ttl: float, chats: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.turns, self.ttl, self.chats, self.clock = turns, ttl, chats, clock
        self._chats: OrderedDict[Key, _Chat] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._chats)

    def history(self, key: Key) -> tuple[Turn, ...]:
        """The conversation's turns, oldest first; () when it is new, expired or was cleared."""
        self._expire()
        chat = self._chats.get(key)
        return tuple(chat.turns) if chat else ()

    def add(self, key: Key, turn: Turn) -> None:
        """Remember a turn (dropping the oldest past the bound); the conversation is used now."""
        self._expire()
        if self.turns == 0:
            return
        chat = self._chats.pop(key, None) or _Chat(deque(maxlen=self.turns))
        chat.turns.append(turn)
        chat.last = self.clock()
        self._chats[key] = chat
        while len(self._chats) > self.chats:
            self._chats.popitem(last=False)

    def clear(self, key: Key) -> bool:
        """Forget the conversation; whether there was one."""
        self._expire()
        return self._chats.pop(key, None) is not None

    def _expire(self) -> None:
        """Drop the conversations idle for the time-to-live (the oldest come first)."""
        now = self.clock()
        while self._chats:
            key, chat = next(iter(self._chats.items()))
            if now - chat.last < self.ttl:
                return
            del self._chats[key]
