"""Jobs in the bot's job queue: updating the registered feeds every so often."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from telegram.ext import Application, ContextTypes

from bot.telegram.handlers import TelegramFrontEnd
from retrieval.documents import Article
from retrieval.errors import ConfigError, NewsbotError

log = logging.getLogger("newsbot.telegram")

UPDATE_JOB = "update-feeds"
# Seconds after start-up before the first update (the bot answers first).
FIRST_UPDATE_SECONDS = 10.0


def schedule_updates(app: Application, front: TelegramFrontEnd, every: float) -> None:
    """Run `newsbot update` every `every` seconds in the application's job queue: feeds and pages
    are fetched on a thread of their own, their articles indexed on the bot's worker thread (the
    one that uses the index), so answers wait only for the indexing. ConfigError without the
    job-queue extra."""
    if app.job_queue is None:
        raise ConfigError("--update-every needs the job-queue extra: "
                          "pip install 'python-telegram-bot[job-queue]'")

    async def update_feeds(_context: ContextTypes.DEFAULT_TYPE) -> None:
        loop = asyncio.get_running_loop()

        def index_on_worker(articles: Sequence[Article]) -> object:
            """Index on the worker thread (the index's owner); answers wait only for this part."""
            job = front.call(front.bot.index_articles, articles)
            return asyncio.run_coroutine_threadsafe(job, loop).result()

        try:
            reports = await asyncio.to_thread(front.bot.update, index_on_worker)  # fetching off the worker
        except NewsbotError as exc:
            log.warning("feed update failed: %s", exc)
            return
        for report in reports:
            log.log(logging.WARNING if report.error else logging.INFO, "feed update: %s", report)

    app.job_queue.run_repeating(update_feeds, interval=every, first=min(every, FIRST_UPDATE_SECONDS),
                                name=UPDATE_JOB)
