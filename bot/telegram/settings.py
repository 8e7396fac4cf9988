"""The bot's token, allowlist, Bot API address and webhook options, checked before starting."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlparse

from retrieval.config import Settings
from retrieval.errors import ConfigError

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


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
