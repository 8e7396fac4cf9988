"""The Telegram bot: cited answers in chats and groups, on top of Newsbot.answer().

settings (token, allowlist, webhook) · redact (the token out of logs) · access (allowlist, rate
limit, addressing in groups) · conversations (history per chat and topic) · streaming (a draft
edited in place) · replies and format (HTML, buttons) · handlers · app (build and run).
"""

from bot.telegram.app import ALLOWED_UPDATES, build_application, run_application, run_bot
from bot.telegram.settings import Webhook, api_urls, check_settings, parse_allowed, webhook_options

__all__ = ["ALLOWED_UPDATES", "Webhook", "api_urls", "build_application", "check_settings",
           "parse_allowed", "run_application", "run_bot", "webhook_options"]
