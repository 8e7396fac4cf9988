"""The bot's update handlers: commands, questions with their conversation, citation buttons."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from telegram import BotCommand, CallbackQuery, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.telegram import access
from bot.telegram import format as fmt
from bot.telegram.conversations import Conversations, conversation_key
from bot.telegram.redact import redact
from bot.telegram.replies import (
    CITE_DATA,
    citation_keyboard,
    page_keyboard,
    quote_key,
    send_html,
)
from bot.telegram.streaming import DraftMessage
from prompts import render
from retrieval.answering.types import Turn
from retrieval.config import Settings
from retrieval.errors import InputError, NewsbotError
from retrieval.index import SourcePage, SourceQuery
from retrieval.pipeline import Newsbot

log = logging.getLogger("newsbot.telegram")

SOURCES_PER_PAGE = 10
COMMANDS = (("ask", "Ask a question (in groups)"), ("new", "Start a new conversation"),
            ("sources", "List the indexed articles"), ("help", "What I know and how to ask"))
Context = ContextTypes.DEFAULT_TYPE
T = TypeVar("T")



def _message(update: Update) -> Message:
    """The update's message (the handlers' filters let only updates with one through)."""
    if update.message is None:
        raise TypeError("this handler needs an update with a message")
    return update.message


def _query(update: Update) -> CallbackQuery:
    """The update's button press (the handler's pattern lets only those through)."""
    if update.callback_query is None or update.callback_query.data is None:
        raise TypeError("this handler needs a button press with data")
    return update.callback_query


def _user(message: Message | None) -> User:
    """Who sent a message (channel posts, which have nobody, never reach the handlers)."""
    if message is None or message.from_user is None:
        raise TypeError("this handler needs a message from a user")
    return message.from_user


class TelegramFrontEnd:
    """The bot's state (allowlist, rate limit, conversations, refused chats) and its handlers."""

    def __init__(self, bot: Newsbot, allowed: frozenset[int], *, public: bool,
                 settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.bot = bot
        self.allowed = allowed
        self.public = public
        self.clock = clock
        self.limiter = access.RateLimiter(settings.telegram_rate_limit, clock=clock)
        self.conversations = Conversations(
            settings.telegram_history_turns, settings.telegram_history_minutes * 60,
            settings.telegram_history_chats, clock=clock)
        self.edit_seconds = settings.telegram_edit_seconds
        self.refused: set[int] = set()
        # The index (SQLite) is used from this one thread only: answers run here, off the loop.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-answers")

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking index work on the worker thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._worker, partial(function, *args, **kwargs))

    def register(self, app: Application) -> None:
        """Add the handlers to the application."""
        message = filters.UpdateType.MESSAGE
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler(["start", "help"], self.on_help, filters=message))
        app.add_handler(CommandHandler("sources", self.on_sources, filters=message))
        app.add_handler(CommandHandler("ask", self.on_ask, filters=message))
        app.add_handler(CommandHandler("new", self.on_new, filters=message))
        app.add_handler(MessageHandler(message & filters.COMMAND & filters.ChatType.PRIVATE,
                                       self.on_unknown_command))
        app.add_handler(MessageHandler(message & filters.TEXT & ~filters.COMMAND, self.on_text))
        app.add_handler(MessageHandler(message & ~filters.TEXT & ~filters.StatusUpdate.ALL,
                                       self.on_non_text))
        app.add_handler(CallbackQueryHandler(self.on_citation, pattern=r"^cite:"))
        app.add_handler(CallbackQueryHandler(self.on_sources_page, pattern=r"^src:\d+$"))
        app.add_error_handler(self.on_error)

    # ----- lifecycle -----
    async def post_init(self, app: Application) -> None:
        """Open the index and load the model on the worker thread; set the command menu."""
        articles = await self.call(self._warm_up)
        with contextlib.suppress(TelegramError):
            await app.bot.set_my_commands([BotCommand(name, about) for name, about in COMMANDS])
        log.info("running as @%s over %d articles", app.bot.username, articles)

    async def post_shutdown(self, app: Application) -> None:
        """Release the index on the thread that opened it."""
        await self.call(self.bot.close)
        self._worker.shutdown(wait=True)

    def _warm_up(self) -> int:
        """Load the index and embedder now rather than on the first question."""
        articles, _ = self.bot.index.counts()
        self.bot.embedder.embed(["warm up"])
        return articles

    # ----- access -----
    async def gate(self, update: Update, context: Context) -> None:
        """Drop what the bot does not handle; refuse, once per chat, anyone not allowed."""
        user = update.effective_user
        if (update.message is None and update.callback_query is None) or user is None \
                or user.is_bot:
            raise ApplicationHandlerStop
        if access.may_use(update, self.allowed, self.public):
            return
        if access.addressed(update, context.bot.id, context.bot.username):
            await self.refuse(update)
        raise ApplicationHandlerStop

    async def refuse(self, update: Update) -> None:
        """Tell a chat once that the bot is not for them; log who asked."""
        user, chat = update.effective_user, update.effective_chat
        if chat is None or user is None:
            return
        if chat.id in self.refused:
            log.info("ignored user %s in chat %s (not allowed)", user.id, chat.id)
            return
        self.refused.add(chat.id)
        log.warning("refused user %s in chat %s: not in NEWSBOT_TELEGRAM_ALLOWED", user.id, chat.id)
        await chat.send_message(render("telegram_refusal", user_id=user.id, chat_id=chat.id))

    # ----- commands -----
    async def on_help(self, update: Update, context: Context) -> None:
        """/start and /help: what the bot knows, how to ask, how long it remembers."""
        count, dates = await self.call(self._overview)
        articles = f"{count} news article" + ("" if count == 1 else "s")
        await _message(update).reply_html(render(
            "telegram_help", articles=articles, dates=fmt.esc(dates),
            conversation=fmt.esc(self._memory_note()), mention=fmt.esc(f"@{context.bot.username}")))

    def _memory_note(self) -> str:
        """One sentence on what the bot remembers of a conversation."""
        turns = self.conversations.turns
        if not turns:
            return render("telegram_no_memory")
        questions = "question" if turns == 1 else f"{turns} questions"
        return render("telegram_memory", questions=questions,
                      minutes=f"{self.conversations.ttl / 60:g}")

    def _overview(self) -> tuple[int, str]:
        """The number of articles and their date range."""
        # By date, undated articles last either way: the first of each order is the earliest
        # and the latest dated article (or an undated one when none has a date).
        first, last = (self.bot.source_page(SourceQuery(limit=1, reverse=reverse))
                       for reverse in (False, True))
        dates = [p.articles[0].date for p in (first, last) if p.articles and p.articles[0].date]
        if not dates:
            return first.total, "dates unknown"
        return first.total, dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"

    async def on_new(self, update: Update, context: Context) -> None:
        """/new: forget this chat's (or topic's) conversation."""
        self.conversations.clear(conversation_key(_message(update)))
        await _message(update).reply_html(render("telegram_new"))

    async def on_sources(self, update: Update, context: Context) -> None:
        """/sources: the first page of indexed articles."""
        text, markup = await self.call(self._sources_page, 0)
        await _message(update).reply_html(text, reply_markup=markup)

    async def on_sources_page(self, update: Update, context: Context) -> None:
        """A /sources page button: show that page in the same message."""
        query = _query(update)
        text, markup = await self.call(self._sources_page, int((query.data or "").split(":")[1]))
        await query.answer()
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as exc:  # a double tap: the page is already shown
            if "not modified" not in str(exc).lower():
                raise

    def _sources_page(self, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
        """The text and buttons of one page of the article list."""
        found = self._source_page(page)
        last = max(found.total - 1, 0) // SOURCES_PER_PAGE
        if page > last:  # the list shrank since the button was made: show its last page
            page, found = last, self._source_page(last)
        text, page, pages = fmt.sources_page_html(found.articles, found.total, page,
                                                  SOURCES_PER_PAGE)
        return text, page_keyboard(page, pages)

    def _source_page(self, page: int) -> SourcePage:
        """One page of the indexed articles (by date, undated last) and how many there are."""
        return self.bot.source_page(SourceQuery(limit=SOURCES_PER_PAGE,
                                                offset=max(page, 0) * SOURCES_PER_PAGE))

    async def on_ask(self, update: Update, context: Context) -> None:
        """/ask QUESTION: the way to ask in groups (works anywhere)."""
        question = access.command_argument(_message(update).text or "")
        if not question.strip():
            await _message(update).reply_html(render("telegram_ask_usage"))
            return
        await self.answer(_message(update), question)

    async def on_unknown_command(self, update: Update, context: Context) -> None:
        """Any other /command in a private chat."""
        await _message(update).reply_html(render("telegram_unknown_command"))

    # ----- questions -----
    async def on_text(self, update: Update, context: Context) -> None:
        """Text: a question in private chats; in groups only when mentioned or replied to."""
        message = _message(update)
        if message.chat.type != ChatType.PRIVATE and not access.addressed(
                update, context.bot.id, context.bot.username):
            return
        question = access.mention_pattern(context.bot.username).sub(" ", message.text or "")
        if not question.strip():
            await message.reply_html(render("telegram_ask_usage"))
            return
        await self.answer(message, question)

    async def on_non_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice…: ask for text (in groups only in reply to the bot)."""
        message = _message(update)
        if message.chat.type == ChatType.PRIVATE or access.replies_to_bot(message, context.bot.id):
            await message.reply_html(render("telegram_non_text"))

    async def answer(self, message: Message, question: str) -> None:
        """Answer on the worker thread with the chat's conversation so far, showing a streaming
        answer as it is written; then the final text, the sources and a button per citation."""
        question = question.strip()
        refusal = self._refusal(_user(message).id, question)
        if refusal:
            await message.reply_html(refusal)
            return
        await message.reply_chat_action(ChatAction.TYPING)
        key = conversation_key(message)
        draft = DraftMessage(message, self.edit_seconds, self.clock)
        try:
            answer = await self.call(self.bot.answer, question,
                                     history=self.conversations.history(key),
                                     on_draft=draft.on_draft)
        except InputError as exc:
            await message.reply_html(render("telegram_bad_question", reason=fmt.esc(str(exc))))
            return
        finally:
            await draft.stop()
        self.conversations.add(key, Turn(question, answer))
        await draft.finish(fmt.answer_html(answer), citation_keyboard(answer))

    def _refusal(self, user_id: int, question: str) -> str | None:
        """Why a question is not answered (too long, rate limit), or None."""
        limit = self.bot.settings.max_question_chars
        if len(question) > limit:
            return render("telegram_too_long", length=len(question), limit=limit)
        wait = self.limiter.check(user_id)
        if wait:
            return render("telegram_rate_limit", limit=self.limiter.limit,
                          seconds=max(1, round(wait)))
        return None

    # ----- citation buttons -----
    async def on_citation(self, update: Update, context: Context) -> None:
        """A citation button: the quoted sentence in its passage, with title and date."""
        query = _query(update)
        passage = await self.call(self._passage, query.data or "")
        if passage is None:
            await query.answer(render("telegram_passage_gone"), show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            await send_html(query.message, passage, quote=True)
        elif update.effective_chat is not None:  # the answer is too old to reply to
            await update.effective_chat.send_message(fmt.split_html(passage)[0])

    def _passage(self, data: str) -> str | None:
        """The HTML of a cited passage, or None when the index no longer holds it."""
        match = CITE_DATA.fullmatch(data)
        if not match:
            return None
        chunk_id, start, end = (int(g) for g in match.groups()[:3])
        chunk = self.bot.index.chunks([chunk_id]).get(chunk_id)
        if chunk is None or not chunk.start <= start < end <= chunk.end:
            return None
        article = self.bot.index.article(chunk.article_id)
        if quote_key(article.text[start:end]) != match.group(4):
            return None
        return fmt.passage_html(article.display_title, article.date, article.source,
                                article.text[chunk.start:chunk.end], start - chunk.start,
                                end - chunk.start)

    # ----- errors -----
    async def on_error(self, update: object, context: Context) -> None:
        """Log the error (unexpected ones with their traceback), apologise to the user, keep running."""
        error = context.error
        if update is None and isinstance(error, NetworkError):
            log.warning("cannot reach the Bot API: %s", redact(str(error)))
            return
        if isinstance(error, NewsbotError):  # expected (e.g. Milvus unreachable): its one line, no traceback
            log.error("could not handle an update: %s", redact(str(error)))
        else:
            log.error("error while handling an update", exc_info=error)
        if isinstance(update, Update) and update.effective_chat:
            with contextlib.suppress(TelegramError):
                await update.effective_chat.send_message(render("telegram_apology"))
