"""The Telegram bot: cited answers in chats and groups, on top of Newsbot.answer()."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import telegram_format as fmt
from prompts import render
from retrieval.answering.types import Answer, Citation
from retrieval.config import Settings
from retrieval.errors import ConfigError, InputError, NewsbotError
from retrieval.pipeline import Newsbot

log = logging.getLogger("newsbot.telegram")

ALLOWED_UPDATES = ("message", "callback_query")
SOURCES_PER_PAGE = 10
RATE_WINDOW = 60.0
COMMANDS = (("ask", "Ask a question (in groups)"), ("sources", "List the indexed articles"),
            ("help", "What I know and how to ask"))
_CITE = re.compile(r"cite:(\d+):(\d+):(\d+):([0-9a-f]{8})")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
Context = ContextTypes.DEFAULT_TYPE
T = TypeVar("T")


# ---------- settings ----------
def api_urls(api_url: str) -> tuple[str, str]:
    """PTB's base_url and base_file_url for a Bot API server given as its root or as '…/bot'."""
    root = api_url.strip().rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def parse_allowed(raw: str) -> frozenset[int]:
    """User and chat ids from a comma- or space-separated list."""
    ids = set()
    for item in re.split(r"[\s,;]+", raw.strip()):
        if item:
            try:
                ids.add(int(item))
            except ValueError:
                raise ConfigError(f"NEWSBOT_TELEGRAM_ALLOWED: '{item}' is not a numeric user or "
                                  "chat id") from None
    return frozenset(ids)


def bot_token(settings: Settings) -> str:
    """The bot token, or a ConfigError that says how to set it."""
    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token:
        raise ConfigError("set NEWSBOT_TELEGRAM_TOKEN to the token @BotFather gave you")
    return token


def check_settings(settings: Settings, public: bool) -> tuple[str, frozenset[int]]:
    """The token and allowlist; refuses an unset allowlist unless the bot is public."""
    token, allowed = bot_token(settings), parse_allowed(settings.telegram_allowed)
    if not allowed and not public:
        raise ConfigError("NEWSBOT_TELEGRAM_ALLOWED is not set: list the user and chat ids that "
                          "may use the bot, or pass --public to answer everyone")
    return token, allowed


# ---------- keeping the token out of logs ----------
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


# ---------- rate limit ----------
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
        if len(self._hits) > 10_000:
            self._forget(now)
        return 0.0

    def _forget(self, now: float) -> None:
        """Drop users whose last question is out of the window."""
        self._hits = {u: h for u, h in self._hits.items() if h and now - h[-1] < self.window}


# ---------- who is talking to whom ----------
def _mention_pattern(username: str) -> re.Pattern[str]:
    """'@username' as a whole word, any case."""
    return re.compile(rf"(?<![\w@])@{re.escape(username)}\b", re.IGNORECASE)


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    """Whether the message replies to one of the bot's messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def _addressed(update: Update, context: Context) -> bool:
    """Whether the update is meant for the bot: private chat, button, command, mention or reply."""
    message = update.message
    if update.callback_query or message is None or message.chat.type == ChatType.PRIVATE:
        return True
    text = message.text or message.caption or ""
    return (_is_our_command(text, context.bot.username) or _replies_to_bot(message, context.bot.id)
            or bool(_mention_pattern(context.bot.username).search(text)))


def _is_our_command(text: str, username: str) -> bool:
    """Whether the text is '/command' or '/command@<this bot>'."""
    match = re.match(r"/\w+(?:@(\w+))?(?:\s|$)", text)
    return bool(match) and (match.group(1) or username).lower() == username.lower()


def _command_argument(text: str) -> str:
    """What follows the command in '/ask@bot the question'."""
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def _quote_key(quote: str) -> str:
    """A short fingerprint of a quote, so a button never shows a different passage."""
    return hashlib.sha1(quote.encode("utf-8")).hexdigest()[:8]


def citation_data(citation: Citation) -> str:
    """A button's callback data: chunk, quote offsets and fingerprint (well under 64 bytes)."""
    return f"cite:{citation.chunk_id}:{citation.start}:{citation.end}:{_quote_key(citation.quote)}"


def citation_keyboard(answer: Answer) -> InlineKeyboardMarkup | None:
    """One button per citation, each showing its passage."""
    rows = [[InlineKeyboardButton(fmt.button_label(c), callback_data=citation_data(c))]
            for c in answer.citations]
    return InlineKeyboardMarkup(rows) if rows else None


def page_keyboard(page: int, pages: int) -> InlineKeyboardMarkup | None:
    """Back and next buttons for a /sources page."""
    row = []
    if page > 0:
        row.append(InlineKeyboardButton("◀ Back", callback_data=f"src:{page - 1}"))
    if page < pages - 1:
        row.append(InlineKeyboardButton("Next ▶", callback_data=f"src:{page + 1}"))
    return InlineKeyboardMarkup([row]) if row else None


async def send_html(message: Message, text: str, markup: InlineKeyboardMarkup | None = None,
                    quote: bool | None = None) -> None:
    """Reply in as many messages as the text needs; buttons go on the last one."""
    parts = fmt.split_html(text)
    for number, part in enumerate(parts, start=1):
        await message.reply_html(part, reply_markup=markup if number == len(parts) else None,
                                 do_quote=quote)


# ---------- the bot ----------
class TelegramFrontEnd:
    """The bot's state (allowlist, rate limit, refused chats) and its update handlers."""

    def __init__(self, bot: Newsbot, allowed: frozenset[int], *, public: bool, rate_limit: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bot = bot
        self.allowed = allowed
        self.public = public
        self.limiter = RateLimiter(rate_limit, clock=clock)
        self.refused: set[int] = set()
        # The index (SQLite) is used from this one thread only: answers run here, off the loop.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-answers")

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking index work on the worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._worker,
                                                                partial(function, *args))

    def register(self, app: Application) -> None:
        """Add the handlers to the application."""
        message = filters.UpdateType.MESSAGE
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler(["start", "help"], self.on_help, filters=message))
        app.add_handler(CommandHandler("sources", self.on_sources, filters=message))
        app.add_handler(CommandHandler("ask", self.on_ask, filters=message))
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
    def may_use(self, update: Update) -> bool:
        """Whether the user or the chat is on the allowlist (or the bot is public)."""
        user, chat = update.effective_user, update.effective_chat
        return self.public or (user is not None and user.id in self.allowed) or (
            chat is not None and chat.id in self.allowed)

    async def gate(self, update: Update, context: Context) -> None:
        """Drop what the bot does not handle; refuse, once per chat, anyone not allowed."""
        user = update.effective_user
        if (update.message is None and update.callback_query is None) or user is None \
                or user.is_bot:
            raise ApplicationHandlerStop
        if self.may_use(update):
            return
        if _addressed(update, context):
            await self.refuse(update)
        raise ApplicationHandlerStop

    async def refuse(self, update: Update) -> None:
        """Tell a chat once that the bot is not for them; log who asked."""
        user, chat = update.effective_user, update.effective_chat
        if chat is None:
            return
        if chat.id in self.refused:
            log.info("ignored user %s in chat %s (not allowed)", user.id, chat.id)
            return
        self.refused.add(chat.id)
        log.warning("refused user %s in chat %s: not in NEWSBOT_TELEGRAM_ALLOWED", user.id, chat.id)
        await chat.send_message(render("telegram_refusal", user_id=user.id, chat_id=chat.id))

    # ----- commands -----
    async def on_help(self, update: Update, context: Context) -> None:
        """/start and /help: what the bot knows and how to ask."""
        count, dates = await self.call(self._overview)
        articles = f"{count} news article" + ("" if count == 1 else "s")
        await update.message.reply_html(render(
            "telegram_help", articles=articles, dates=fmt.esc(dates),
            mention=fmt.esc(f"@{context.bot.username}")))

    def _overview(self) -> tuple[int, str]:
        """The number of articles and their date range."""
        articles = self.bot.sources()
        dates = sorted(a.date for a in articles if a.date)
        if not dates:
            return len(articles), "dates unknown"
        return len(articles), dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"

    async def on_sources(self, update: Update, context: Context) -> None:
        """/sources: the first page of indexed articles."""
        text, markup = await self.call(self._sources_page, 0)
        await update.message.reply_html(text, reply_markup=markup)

    async def on_sources_page(self, update: Update, context: Context) -> None:
        """A /sources page button: show that page in the same message."""
        query = update.callback_query
        text, markup = await self.call(self._sources_page, int(query.data.split(":")[1]))
        await query.answer()
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as exc:  # a double tap: the page is already shown
            if "not modified" not in str(exc).lower():
                raise

    def _sources_page(self, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
        """The text and buttons of one page of the article list."""
        text, page, pages = fmt.sources_page_html(self.bot.sources(), page, SOURCES_PER_PAGE)
        return text, page_keyboard(page, pages)

    async def on_ask(self, update: Update, context: Context) -> None:
        """/ask QUESTION: the way to ask in groups (works anywhere)."""
        question = _command_argument(update.message.text or "")
        if not question.strip():
            await update.message.reply_html(render("telegram_ask_usage"))
            return
        await self.answer(update.message, question)

    async def on_unknown_command(self, update: Update, context: Context) -> None:
        """Any other /command in a private chat."""
        await update.message.reply_html(render("telegram_unknown_command"))

    # ----- questions -----
    async def on_text(self, update: Update, context: Context) -> None:
        """Text: a question in private chats; in groups only when mentioned or replied to."""
        message = update.message
        if message.chat.type != ChatType.PRIVATE and not _addressed(update, context):
            return
        question = _mention_pattern(context.bot.username).sub(" ", message.text)
        if not question.strip():
            await message.reply_html(render("telegram_ask_usage"))
            return
        await self.answer(message, question)

    async def on_non_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice…: ask for text (in groups only in reply to the bot)."""
        message = update.message
        if message.chat.type == ChatType.PRIVATE or _replies_to_bot(message, context.bot.id):
            await message.reply_html(render("telegram_non_text"))

    async def answer(self, message: Message, question: str) -> None:
        """Answer on the worker thread and reply with the sources and a button per citation."""
        question = question.strip()
        refusal = self._refusal(message.from_user.id, question)
        if refusal:
            await message.reply_html(refusal)
            return
        await message.reply_chat_action(ChatAction.TYPING)
        try:
            answer = await self.call(self.bot.answer, question)
        except InputError as exc:
            await message.reply_html(render("telegram_bad_question", reason=fmt.esc(str(exc))))
            return
        await send_html(message, fmt.answer_html(answer), citation_keyboard(answer))

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
        query = update.callback_query
        passage = await self.call(self._passage, query.data)
        if passage is None:
            await query.answer(render("telegram_passage_gone"), show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            await send_html(query.message, passage, quote=True)
        else:  # the answer is too old to reply to
            await update.effective_chat.send_message(fmt.split_html(passage)[0])

    def _passage(self, data: str) -> str | None:
        """The HTML of a cited passage, or None when the index no longer holds it."""
        match = _CITE.fullmatch(data)
        if not match:
            return None
        chunk_id, start, end = (int(g) for g in match.groups()[:3])
        chunk = self.bot.index.chunks([chunk_id]).get(chunk_id)
        if chunk is None or not chunk.start <= start < end <= chunk.end:
            return None
        article = self.bot.index.article(chunk.article_id)
        if _quote_key(article.text[start:end]) != match.group(4):
            return None
        return fmt.passage_html(article.display_title, article.date, article.source,
                                article.text[chunk.start:chunk.end], start - chunk.start,
                                end - chunk.start)

    # ----- errors -----
    async def on_error(self, update: object, context: Context) -> None:
        """Log the traceback, apologise to the user, keep running."""
        error = context.error
        if update is None and isinstance(error, NetworkError):
            log.warning("cannot reach the Bot API: %s", redact(str(error)))
            return
        log.error("error while handling an update", exc_info=error)
        if isinstance(update, Update) and update.effective_chat:
            with contextlib.suppress(TelegramError):
                await update.effective_chat.send_message(render("telegram_apology"))


# ---------- building and running ----------
def build_application(bot: Newsbot, settings: Settings | None = None, *, public: bool = False,
                      clock: Callable[[], float] = time.monotonic) -> Application:
    """The PTB application for the bot; raises ConfigError for a missing token or allowlist.

    Call it on the thread that opened the bot's index: the index is closed here and reopened
    on the bot's worker thread.
    """
    settings = settings or bot.settings
    token, allowed = check_settings(settings, public)
    protect_token(token)
    if allowed and public:
        log.warning("--public: answering everyone; NEWSBOT_TELEGRAM_ALLOWED is ignored")
    bot.close()
    front = TelegramFrontEnd(bot, allowed, public=public, rate_limit=settings.telegram_rate_limit,
                             clock=clock)
    base_url, base_file_url = api_urls(settings.telegram_api_url)
    defaults = Defaults(parse_mode=ParseMode.HTML, allow_sending_without_reply=True,
                        link_preview_options=LinkPreviewOptions(is_disabled=True))
    app = (ApplicationBuilder().token(token).base_url(base_url).base_file_url(base_file_url)
           .defaults(defaults).post_init(front.post_init).post_shutdown(front.post_shutdown)
           .build())
    front.register(app)
    return app


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates and where the bot listens for them."""

    url: str
    listen: str
    port: int
    url_path: str
    secret_token: str


def webhook_options(url: str, listen: str = "127.0.0.1:8443",
                    secret_token: str | None = None) -> Webhook:
    """Checked webhook settings; a random secret token when none is given."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"--webhook: '{url}' is not an http(s) URL")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen: '{listen}' is not HOST:PORT")
    secret = secret_token or secrets.token_urlsafe(32)
    if not _SECRET_TOKEN.fullmatch(secret):
        raise ConfigError("the webhook secret token must be 1-256 characters of A-Z, a-z, 0-9, "
                          "_ and -")
    return Webhook(url=url, listen=host.strip("[]"), port=int(port),
                   url_path=parsed.path.strip("/"), secret_token=secret)


def run_application(app: Application, webhook: Webhook | None = None, *,
                    handle_signals: bool = True) -> None:
    """Serve until stopped (Ctrl-C): long polling, or a webhook server when one is given."""
    signals: dict[str, Any] = {} if handle_signals else {"stop_signals": None}
    try:
        if webhook is None:
            app.run_polling(allowed_updates=list(ALLOWED_UPDATES), **signals)
            return
        if importlib.util.find_spec("tornado") is None:
            raise ConfigError("--webhook needs the webhook extra: "
                              "pip install 'python-telegram-bot[webhooks]'")
        app.run_webhook(listen=webhook.listen, port=webhook.port, url_path=webhook.url_path,
                        webhook_url=webhook.url, secret_token=webhook.secret_token,
                        allowed_updates=list(ALLOWED_UPDATES), **signals)
    except InvalidToken:
        raise ConfigError("the Bot API rejected NEWSBOT_TELEGRAM_TOKEN; check it with "
                          "@BotFather") from None
    except TelegramError as exc:
        raise NewsbotError(f"the Bot API failed: {redact(str(exc))}") from None


def run_bot(bot: Newsbot, *, public: bool = False, webhook: str | None = None,
            listen: str = "127.0.0.1:8443", secret_token: str | None = None,
            prepare: Callable[[], None] | None = None) -> None:
    """Check the settings, prepare (e.g. build the seed index), then serve until stopped."""
    check_settings(bot.settings, public)
    hook = webhook_options(webhook, listen, secret_token) if webhook else None
    if prepare:
        prepare()
    if logging.getLogger("newsbot").getEffectiveLevel() > logging.INFO:
        logging.getLogger("newsbot").setLevel(logging.INFO)
    app = build_application(bot, public=public)
    where = f"webhook {hook.url} on {hook.listen}:{hook.port}" if hook else "long polling"
    log.info("starting the Telegram bot (%s); Ctrl-C stops it", where)
    run_application(app, hook)
