"""What a command answers: data in a small neutral markup, rendered by each adapter.

A Reply is a list of lines; a line is a list of spans (plain, bold, italic, code, link),
so user text is never mixed into markup: every adapter escapes each span for its own
platform. Lines have a role (text, heading, item, muted) that adapters map to their own
layout (Slack sections and context blocks, Telegram HTML, plain terminal text).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any, Self


class Style(StrEnum):
    plain = "plain"
    bold = "bold"
    italic = "italic"
    code = "code"
    link = "link"


class LineRole(StrEnum):
    text = "text"
    heading = "heading"
    item = "item"
    muted = "muted"


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: Style = Style.plain
    url: str | None = None


def bold(text: object) -> Span:
    return Span(str(text), Style.bold)


def italic(text: object) -> Span:
    return Span(str(text), Style.italic)


def code(text: object) -> Span:
    return Span(str(text), Style.code)


def link(text: object, url: str) -> Span:
    return Span(str(text), Style.link, url)


SpanLike = Span | str | int | float


def _span(part: SpanLike) -> Span:
    return part if isinstance(part, Span) else Span(str(part))


@dataclass(frozen=True, slots=True)
class Line:
    spans: tuple[Span, ...]
    role: LineRole = LineRole.text

    @property
    def plain(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True, slots=True)
class Button:
    """A button: its label and the compact action it triggers (`st`, deal 42, stage 3).

    `action` names a registered button action; `args` are short ids, never user text, so
    the encoded form fits Telegram's 64-byte callback data. A button with a `url` opens
    that address instead (`web_app`: as a Telegram Mini App; elsewhere a link).
    """

    label: str
    action: str
    args: tuple[int | str, ...] = ()
    url: str | None = None
    web_app: bool = False

    def encode(self) -> str:
        return ":".join([self.action, *(str(arg) for arg in self.args)])


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str
    caption: str = ""
    # A file too large to hold in memory (an export of a million contacts) waits in an
    # unnamed temporary file, gone when closed, and `content` is empty: adapters send it
    # from `opened()`, a chunk at a time.
    spool: IO[bytes] | None = None

    def opened(self) -> IO[bytes]:
        """The file from its first byte."""
        if self.spool is None:
            return io.BytesIO(self.content)
        self.spool.seek(0)
        return self.spool

    def read(self) -> bytes:
        return self.opened().read()

    @property
    def size(self) -> int:
        return len(self.content) if self.spool is None else os.fstat(self.spool.fileno()).st_size


@dataclass
class Reply:
    lines: list[Line] = field(default_factory=list)
    buttons: list[list[Button]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    # Set when the reply answers a button press and should replace the message it came from.
    edit: bool = False
    # True for an error reply; adapters may show it only to the sender (Slack ephemeral).
    error: bool = False
    # True for the apology after an unexpected error (counted apart from refusals).
    failed: bool = False
    # The input an error reply is about (an option key such as "email"), for forms.
    error_field: str | None = None
    # Attachments that take a while to make (a chart), made by `finish()` once the
    # command's transaction has ended, so the database is not held while they render.
    deferred: list[Callable[[], Attachment]] = field(default_factory=list)

    def add(self, *parts: SpanLike, role: LineRole = LineRole.text) -> Self:
        self.lines.append(Line(tuple(_span(part) for part in parts if part != ""), role))
        return self

    def heading(self, *parts: SpanLike) -> Self:
        return self.add(*parts, role=LineRole.heading)

    def item(self, *parts: SpanLike) -> Self:
        return self.add(*parts, role=LineRole.item)

    def muted(self, *parts: SpanLike) -> Self:
        return self.add(*parts, role=LineRole.muted)

    def blank(self) -> Self:
        self.lines.append(Line(()))
        return self

    def button_row(self, *buttons: Button) -> Self:
        if buttons:
            self.buttons.append(list(buttons))
        return self

    def extend(self, other: Reply) -> Self:
        self.lines.extend(other.lines)
        self.buttons.extend(other.buttons)
        self.attachments.extend(other.attachments)
        self.deferred.extend(other.deferred)
        return self

    def finish(self) -> Self:
        """Make the deferred attachments (the dispatcher does, after the transaction)."""
        while self.deferred:
            self.attachments.append(self.deferred.pop(0)())
        return self

    @property
    def plain_text(self) -> str:
        """The text without markup (the terminal's rendering, and handy in tests)."""
        return "\n".join(
            ("• " if line.role is LineRole.item else "") + line.plain for line in self.lines
        )

    @property
    def all_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]

    def to_json(self) -> dict[str, Any]:
        """The reply as JSON-ready data, to be sent later (an outbox row's payload)."""
        return {
            "lines": [
                {
                    "role": line.role.value,
                    "spans": [[span.text, span.style.value, span.url] for span in line.spans],
                }
                for line in self.lines
            ],
            "buttons": [
                [[button.label, button.action, *button.args] for button in row]
                for row in self.buttons
            ],
            "attachments": [
                {
                    "filename": a.filename,
                    "mime_type": a.mime_type,
                    "caption": a.caption,
                    "content": base64.b64encode(a.read()).decode("ascii"),
                }
                for a in self.attachments
            ],
        }

    def as_message(self, summary: str) -> dict[str, Any]:
        """An outbox row's payload: the reply to send, and what it is in a few words
        ("your morning agenda"), for telling its member when it could not be delivered."""
        return {"reply": self.to_json(), "summary": summary}

    @classmethod
    def of_message(cls, payload: dict[str, Any]) -> Reply:
        """The reply in an outbox row's payload (`as_message`)."""
        return cls.from_json(payload["reply"])

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        """The reply `to_json` made."""
        return cls(
            lines=[
                Line(
                    tuple(Span(text, Style(style), url) for text, style, url in line["spans"]),
                    LineRole(line["role"]),
                )
                for line in data.get("lines", [])
            ],
            buttons=[
                [Button(label, action, tuple(args)) for label, action, *args in row]
                for row in data.get("buttons", [])
            ],
            attachments=[
                Attachment(
                    a["filename"], base64.b64decode(a["content"]), a["mime_type"], a["caption"]
                )
                for a in data.get("attachments", [])
            ],
        )


def text_reply(*parts: SpanLike) -> Reply:
    return Reply().add(*parts)
