"""A Reply as Telegram messages: HTML parse mode, inline keyboards, split at Telegram's limit.

Every span is escaped on its own, so user text (a contact called `<b>Bob & "Co"</b>`) can
never open a tag. Telegram counts a message's length in UTF-16 code units; measuring the
HTML (tags included) that way keeps every chunk under the limit of the parsed text too.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from handlers.cards import DEEP_LINK, start_parameter
from handlers.reply import Button, Line, LineRole, Reply, Span, Style

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096  # characters of a message's text
MAX_CALLBACK_DATA = 64  # bytes of a button's callback_data
# A span longer than this is cut into pieces (at a space where one is near) so that one
# huge line still fits: even fully escaped (6 characters for one `"`) it stays < 4096.
_PIECE = 600
_LINK_SCHEMES = ("http://", "https://", "tg://")
_TAGS = {Style.bold: "b", Style.italic: "i", Style.code: "code"}
_LINE_TAGS = {LineRole.heading: "b", LineRole.muted: "i"}


def utf16_len(text: str) -> int:
    # ASCII, most of what the bot writes, is one code unit a character: no encoding.
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def escape_text(text: str) -> str:
    """Telegram's HTML needs <, > and & escaped in text; quotes only inside attributes."""
    return escape(text, quote=False)


def render_html(reply: Reply, *, limit: int = MAX_MESSAGE) -> list[str]:
    """The reply's text as HTML messages of at most `limit` characters, cut between lines
    (and only inside a line when that line alone is too long). Empty when it has no text."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in reply.lines:
        pieces = _line_pieces(line, limit)
        line_size = sum(utf16_len(piece) for piece in pieces)
        if current and size + 1 + line_size > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        if line_size <= limit:
            size += line_size + (1 if current else 0)
            current.append("".join(pieces))
            continue
        # One line longer than a message: fill messages piece by piece.
        text = ""
        for piece in pieces:
            if text and utf16_len(text) + utf16_len(piece) > limit:
                chunks.append(text)
                text = ""
            text += piece
        current, size = [text], utf16_len(text)
    if current:
        chunks.append("\n".join(current))
    return [chunk for chunk in chunks if chunk.strip()]


def _line_pieces(line: Line, limit: int) -> list[str]:
    """A line as HTML: one piece, or for a line longer than a message, pieces that each
    carry the line's markup and can be joined back."""
    prefix = "• " if line.role is LineRole.item else ""
    tag = _LINE_TAGS.get(line.role)
    parts = [_span_html(piece, inside=tag) for span in line.spans for piece in _cut(span)]
    whole = prefix + (f"<{tag}>{''.join(parts)}</{tag}>" if tag else "".join(parts))
    if utf16_len(whole) <= limit:
        return [whole]
    pieces = [f"<{tag}>{part}</{tag}>" if tag else part for part in parts]
    return [prefix + pieces[0], *pieces[1:]]


def _span_html(span: Span, *, inside: str | None) -> str:
    text = escape_text(span.text)
    if span.style is Style.link:
        if span.url and span.url.startswith(_LINK_SCHEMES):
            return f'<a href="{escape(span.url)}">{text}</a>'
        # tel: and mailto: are not allowed in Telegram links; the apps link phone numbers
        # and addresses in plain text by themselves.
        return text
    tag = _TAGS.get(span.style)
    if tag is None or tag == inside:
        return text
    return f"<{tag}>{text}</{tag}>"


def _cut(span: Span) -> list[Span]:
    text = span.text
    if len(text) <= _PIECE:
        return [span]
    pieces: list[str] = []
    while len(text) > _PIECE:
        space = text.rfind(" ", _PIECE // 2, _PIECE)
        end = space + 1 if space > 0 else _PIECE
        pieces.append(text[:end])
        text = text[end:]
    pieces.append(text)
    return [Span(piece, span.style, span.url) for piece in pieces]


def start_url(bot_username: str, parameter: str) -> str:
    """Telegram's deep link: opens the private chat with the bot, which gets
    `/start PARAMETER`."""
    return f"https://t.me/{bot_username}?start={parameter}"


def with_deep_links(reply: Reply, bot_username: str | None) -> Reply:
    """The deals a message names (`crm:d42` links, handlers/cards.py) as deep links; plain
    text while the bot's name is unknown."""

    def deep(span: Span) -> bool:
        return span.style is Style.link and (span.url or "").startswith(DEEP_LINK)

    def linked(span: Span) -> Span:
        if not deep(span):
            return span
        if not bot_username:
            return Span(span.text)
        parameter = (span.url or "").removeprefix(DEEP_LINK)
        return Span(span.text, Style.link, start_url(bot_username, parameter))

    # Only the lines with such a link are made again (most replies have none).
    lines = [
        Line(tuple(linked(span) for span in line.spans), line.role)
        if any(deep(span) for span in line.spans)
        else line
        for line in reply.lines
    ]
    return replace(reply, lines=lines)


def inline_keyboard(reply: Reply, bot_username: str | None = None) -> InlineKeyboardMarkup | None:
    """The reply's buttons; a button whose data would not fit Telegram's 64 bytes is left
    out and logged (a bug in the handler that made it: buttons carry short ids only). An
    Open button is a deep link (pressed in a group, a card would show to everyone): left
    out while the bot's name is unknown."""
    rows: list[list[InlineKeyboardButton]] = []
    for row in reply.buttons:
        keys = []
        for button in row:
            if button.url is not None:
                keys.append(_opening(button, button.url))
                continue
            parameter = start_parameter(button)
            if parameter is not None:
                if bot_username:
                    url = start_url(bot_username, parameter)
                    keys.append(InlineKeyboardButton(button.label, url=url))
                continue
            data = button.encode()
            if len(data.encode()) > MAX_CALLBACK_DATA:
                log.error("button %r: callback data over %d bytes", data, MAX_CALLBACK_DATA)
                continue
            keys.append(InlineKeyboardButton(button.label, callback_data=data))
        if keys:
            rows.append(keys)
    return InlineKeyboardMarkup(rows) if rows else None


def _opening(button: Button, url: str) -> InlineKeyboardButton:
    if button.web_app:
        return InlineKeyboardButton(button.label, web_app=WebAppInfo(url))
    return InlineKeyboardButton(button.label, url=url)
