"""Sending answers: HTML split over messages, citation and page buttons."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.telegram import format as fmt
from retrieval.answering.types import Answer, Citation

CITE_DATA = re.compile(r"cite:(\d+):(\d+):(\d+):([0-9a-f]{8})")


def quote_key(quote: str) -> str:
    """A short fingerprint of a quote, so a button never shows a different passage."""
    return hashlib.sha1(quote.encode("utf-8")).hexdigest()[:8]


def citation_data(citation: Citation) -> str:
    """A button's callback data: chunk, quote offsets and fingerprint (well under 64 bytes)."""
    return f"cite:{citation.chunk_id}:{citation.start}:{citation.end}:{quote_key(citation.quote)}"


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
    await send_parts(message, fmt.split_html(text), markup, quote)


async def send_parts(message: Message, parts: Sequence[str],
                     markup: InlineKeyboardMarkup | None = None, quote: bool | None = None) -> None:
    """Reply with each part as a message; buttons go on the last one."""
    for number, part in enumerate(parts, start=1):
        await message.reply_html(part, reply_markup=markup if number == len(parts) else None,
                                 do_quote=quote)
