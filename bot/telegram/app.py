"""Building the PTB application and serving it by long polling or webhook."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, Defaults

from bot.telegram.handlers import TelegramFrontEnd
from bot.telegram.redact import protect_token, redact
from bot.telegram.settings import Webhook, api_urls, check_settings, webhook_options
from retrieval.config import Settings
from retrieval.errors import ConfigError, NewsbotError
from retrieval.pipeline import Newsbot

log = logging.getLogger("newsbot.telegram")

ALLOWED_UPDATES = ("message", "callback_query")


def build_application(bot: Newsbot, settings: Settings | None = None, *, public: bool = False,
                      clock: Callable[[], float] = time.monotonic,
                      update_every: float | None = None) -> Application:
    """The PTB application for the bot; raises ConfigError for a missing token or allowlist.
    `clock` times the rate limit, the conversations' time-to-live and the draft edits;
    `update_every` (seconds) schedules a feed update in the job queue.

    Call it on the thread that opened the bot's index: the index is closed here and reopened
    on the bot's worker thread.
    """
    settings = settings or bot.settings
    token, allowed = check_settings(settings, public)
    protect_token(token)
    if allowed and public:
        log.warning("--public: answering everyone; NEWSBOT_TELEGRAM_ALLOWED is ignored")
    bot.close()
    front = TelegramFrontEnd(bot, allowed, public=public, settings=settings, clock=clock)
    base_url, base_file_url = api_urls(settings.telegram_api_url)
    defaults = Defaults(parse_mode=ParseMode.HTML, allow_sending_without_reply=True,
                        link_preview_options=LinkPreviewOptions(is_disabled=True))
    app = (ApplicationBuilder().token(token).base_url(base_url).base_file_url(base_file_url)
           .defaults(defaults).post_init(front.post_init).post_shutdown(front.post_shutdown)
           .build())
    front.register(app)
    if update_every:
        from bot.telegram.jobs import schedule_updates

        schedule_updates(app, front, update_every)
    return app


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
            prepare: Callable[[], None] | None = None, update_every: float | None = None) -> None:
    """Check the settings, prepare (e.g. build the seed index), then serve until stopped;
    `update_every` seconds the registered feeds are updated."""
    check_settings(bot.settings, public)
    hook = webhook_options(webhook, listen, secret_token) if webhook else None
    if prepare:
        prepare()
    if logging.getLogger("newsbot").getEffectiveLevel() > logging.INFO:
        logging.getLogger("newsbot").setLevel(logging.INFO)
    app = build_application(bot, public=public, update_every=update_every)
    where = f"webhook {hook.url} on {hook.listen}:{hook.port}" if hook else "long polling"
    log.info("starting the Telegram bot (%s); Ctrl-C stops it", where)
    run_application(app, hook)
