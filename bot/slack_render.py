"""Replies as Slack Block Kit, and the views the Slack adapter shows.

Each span of a Reply is escaped for Slack's mrkdwn (`&`, `<`, `>`) before its own markup is
added, and every mrkdwn text object is `verbatim`, so a contact named `<!channel>` or
`@here` pings no one. Headings become header blocks, muted lines context blocks, the other
lines sections of at most 3,000 characters, button rows actions blocks; a reply longer than
50 blocks is split into several messages.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from handlers.reply import Button, Line, LineRole, Reply, Span, Style

Block = dict[str, Any]

MAX_BLOCKS = 50  # a message
MAX_VIEW_BLOCKS = 100  # a modal or the Home tab
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON_LABEL = 75
MAX_BUTTONS = 25  # an actions block
MAX_FALLBACK = 300
# Button action ids start with this; the button's encoded action travels as its value.
ACTION_PREFIX = "crm:"
LINK_ACTION = "link:"
_LINK_SCHEMES = ("http://", "https://", "mailto:")

ADD_FORM = "crm_add"
# block/action id (the /add option it fills), label, required, placeholder
ADD_FIELDS: tuple[tuple[str, str, bool, str], ...] = (
    ("name", "Name", True, "Jane Doe"),
    ("company", "Company", False, "Acme"),
    ("phone", "Phone", False, "+49 30 1234567"),
    ("email", "E-mail", False, "jane@acme.com"),
    ("city", "City", False, "Berlin"),
    ("tags", "Tags", False, "hot, trade-fair"),
)


@dataclass
class Message:
    """One Slack message: the blocks and the plain fallback text notifications show."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def slash_commands(reply: Reply, names: Collection[str], command: str = "/crm") -> Reply:
    """The reply with commands written as Slack users type them: `/add` -> `/crm add`."""
    if not names:
        return reply
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    # A command starts a word: `https://x.org/deals` and `12/15` stay as they are.
    pattern = re.compile(rf"(?<![\w/.:@-])/({alternatives})\b")
    lines = [
        Line(
            tuple(
                dataclasses.replace(span, text=pattern.sub(rf"{command} \1", span.text))
                for span in line.spans
            ),
            line.role,
        )
        for line in reply.lines
    ]
    return dataclasses.replace(reply, lines=lines)


def escape(text: str) -> str:
    """Text for Slack's mrkdwn: the three characters Slack reserves, as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(span: Span) -> str:
    text = escape(span.text)
    if span.style is Style.link and span.url and span.url.startswith(_LINK_SCHEMES):
        # The label is escaped, so neither it nor the URL can close the link early.
        return f"<{escape(span.url)}|{text}>"
    marks = {Style.bold: "*", Style.italic: "_", Style.code: "`"}
    mark = marks.get(span.style)
    core = text.strip()
    if mark is None or not core:
        return text
    # Slack ignores a mark next to a space (`* x*`), so the spaces stay outside.
    start = text.index(core)
    return f"{text[:start]}{mark}{core}{mark}{text[start + len(core) :]}"


def line_text(line: Line) -> str:
    text = "".join(mrkdwn(span) for span in line.spans)
    return f"• {text}" if line.role is LineRole.item else text


def blocks(reply: Reply) -> list[Block]:
    """The reply as one list of blocks (not yet split into messages)."""
    out: list[Block] = []
    section: list[str] = []
    muted: list[str] = []

    def flush() -> None:
        for chunk in _chunks("\n".join(section)):
            out.append({"type": "section", "text": _mrkdwn_text(chunk)})
        for chunk in _chunks("\n".join(muted)):
            out.append({"type": "context", "elements": [_mrkdwn_text(chunk)]})
        section.clear()
        muted.clear()

    for line in reply.lines:
        if line.role is LineRole.heading:
            flush()
            out.append(_header(line.plain))
        elif line.role is LineRole.muted:
            if section:
                flush()
            muted.append(line_text(line))
        elif not line.spans:
            flush()
        else:
            if muted:
                flush()
            section.append(line_text(line))
    flush()
    out.extend(actions(reply.buttons))
    return out


def actions(rows: list[list[Button]]) -> list[Block]:
    seen: set[str] = set()
    out: list[Block] = []
    for row in rows:
        for start in range(0, len(row), MAX_BUTTONS):
            elements = [_button(button, seen) for button in row[start : start + MAX_BUTTONS]]
            out.append({"type": "actions", "elements": elements})
    return out


def messages(reply: Reply) -> list[Message]:
    """The reply as Slack messages of at most 50 blocks each."""
    every = blocks(reply) or [{"type": "section", "text": _mrkdwn_text(" ")}]
    fallback = fallback_text(reply)
    return [
        Message(fallback, every[start : start + MAX_BLOCKS])
        for start in range(0, len(every), MAX_BLOCKS)
    ]


def fallback_text(reply: Reply) -> str:
    """The start of the reply as plain text, for notifications and old clients."""
    text = " ".join(line.plain for line in reply.lines if line.spans)
    if len(text) > MAX_FALLBACK:
        text = text[: MAX_FALLBACK - 1] + "…"
    return escape(text) or " "


def home_view(reply: Reply) -> dict[str, Any]:
    """The reply as the app's Home tab."""
    every = blocks(reply)
    if len(every) > MAX_VIEW_BLOCKS:
        note = Reply().muted("More than fits here: ask me in a message, e.g. /deals mine.")
        every = every[: MAX_VIEW_BLOCKS - 1] + blocks(note)
    return {"type": "home", "blocks": every}


def add_form(private_metadata: str) -> dict[str, Any]:
    """The modal `/crm add` opens; its submission becomes an /add command."""
    inputs = [
        {
            "type": "input",
            "block_id": key,
            "optional": not required,
            "label": _plain(label),
            "element": {
                "type": "plain_text_input",
                "action_id": key,
                "placeholder": _plain(placeholder),
            },
        }
        for key, label, required, placeholder in ADD_FIELDS
    ]
    return {
        "type": "modal",
        "callback_id": ADD_FORM,
        "title": _plain("Add a contact"),
        "submit": _plain("Add"),
        "close": _plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": inputs,
    }


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """What was typed into each field of a submitted form (empty when left blank)."""
    values = view.get("state", {}).get("values", {})
    return {
        key: (values.get(key, {}).get(key, {}).get("value") or "").strip()
        for key, *_ in ADD_FIELDS
    }


def _mrkdwn_text(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def _header(text: str) -> Block:
    # Header text is plain text: Slack shows it as typed and parses no mentions in it.
    text = text.strip() or " "
    if len(text) > MAX_HEADER:
        text = text[: MAX_HEADER - 1] + "…"
    return {"type": "header", "text": _plain(text)}


def _button(button: Button, seen: set[str]) -> Block:
    value = button.encode()
    # Action ids must be unique within a message; the value is what the press sends.
    action_id, n = f"{ACTION_PREFIX}{value}", 1
    while action_id in seen:
        n += 1
        action_id = f"{ACTION_PREFIX}{value}#{n}"
    seen.add(action_id)
    label = button.label.strip() or "?"
    if len(label) > MAX_BUTTON_LABEL:
        label = label[: MAX_BUTTON_LABEL - 1] + "…"
    block: Block = {"type": "button", "text": _plain(label), "action_id": action_id}
    if button.url is not None:
        # Slack still sends the app a press of a link button: acknowledged, nothing else.
        block.update(url=button.url, action_id=f"{LINK_ACTION}{len(seen)}")
    else:
        block["value"] = value
    return block


def _chunks(text: str) -> list[str]:
    """`text` in pieces of at most 3,000 characters, cut at line breaks where possible and
    never inside an entity such as `&amp;`."""
    chunks: list[str] = []
    while len(text) > MAX_SECTION:
        cut = text.rfind("\n", 0, MAX_SECTION + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, MAX_SECTION + 1)
        if cut <= 0:
            cut = MAX_SECTION
            amp = text.rfind("&", cut - 5, cut)
            if amp != -1 and ";" not in text[amp:cut]:
                cut = amp
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    if text.strip():
        chunks.append(text)
    return chunks
