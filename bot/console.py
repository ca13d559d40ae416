"""The terminal adapter: a chat in stdin/stdout, one message a line.

Works piped (one reply block per input line, exit at EOF) and interactive, with
prompt_toolkit (bot/prompt.py, imported only then): line editing, history (in memory),
Tab to complete a command, Ctrl-C to drop the line being typed, Ctrl-D or Ctrl-C on an
empty line to quit; what the bot sends meanwhile (a reminder falling due, the log) prints
above the prompt, and the half-typed line is drawn again below it. Buttons print as
`[1] Proposal`; typing the number presses it. Files the bot sends (a chart) are saved in
a folder (`CHARTS_DIR`, default `charts/`) and their path is printed.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.runtime import Adapter
from handlers.cards import DEEP_LINK
from handlers.context import Request, SharedFile
from handlers.dispatcher import Dispatcher
from handlers.grammar import normalize, parse_coordinates
from handlers.registry import Registry
from handlers.reply import Attachment, Button, LineRole, Reply, Span, Style
from storage.keys import name_key
from storage.models import Platform

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

# The terminal's one chat: what `/announce here` registers, and where replies appear.
CONSOLE_CHAT = "terminal"
CONSOLE_HELP = (
    "Terminal extras: /as NAME switches who you are, /location LAT LON shares a location, "
    "/import PATH sends a file to import, "
    "a number presses a button, Tab completes a command, Ctrl-C drops a line, Ctrl-D quits."
)
# The terminal's own commands, beside the bot's (what Tab offers).
TERMINAL_COMMANDS = {
    "/as": "switch who you are: /as NAME",
    "/location": "share a location: /location LAT LON",
    "/import": "import a file: /import PATH (CSV, XLSX, VCF)",
    "/terminal": "what the terminal adds",
}


def render_text(reply: Reply, *, styled: bool = False, saved: Sequence[Path] = ()) -> str:
    """A reply as terminal text; `styled` adds ANSI bold/dim for an interactive terminal.
    `saved` are the files its attachments were saved to, in order."""
    out: list[str] = []
    for line in reply.lines:
        text = "".join(_span(span, styled) for span in line.spans)
        if line.role is LineRole.item:
            text = "• " + text
        elif line.role is LineRole.heading and styled:
            text = f"\x1b[1m{text}\x1b[0m"
        elif line.role is LineRole.muted and styled:
            text = f"\x1b[2m{text}\x1b[0m"
        out.append(text)
    number = 0
    for row in reply.buttons:
        labels = []
        for button in row:
            number += 1
            labels.append(f"[{number}] {_clean(button.label)}")
        out.append("  ".join(labels))
    for i, attachment in enumerate(reply.attachments):
        what = _clean(attachment.caption or attachment.filename)
        if i < len(saved):
            out.append(f"({what} saved to {saved[i]})")
        else:
            out.append(f"(attachment: {_clean(attachment.filename)})")
    return "\n".join(out)


def save_attachment(attachment: Attachment, folder: Path) -> Path:
    """Write `attachment` into `folder` under its name made safe, numbered so that it never
    overwrites an earlier file: `pipeline-q4-2026.png`, `pipeline-q4-2026-2.png`."""
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", attachment.filename).strip(".-") or "attachment"
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    number = 1
    while True:
        path = folder / (name if number == 1 else f"{stem}-{number}{dot}{suffix}")
        try:
            with path.open("xb") as file:
                shutil.copyfileobj(attachment.opened(), file)
            return path
        except FileExistsError:
            number += 1


def _span(span: Span, styled: bool) -> str:
    text = _clean(span.text)
    # A deal's `crm:d42` link (handlers/cards.py) is its id, already shown.
    shown = ("tel:", "mailto:", DEEP_LINK)
    if span.style is Style.link and span.url and not span.url.startswith(shown):
        return f"{text} ({span.url})"
    if styled and span.style is Style.bold:
        return f"\x1b[1m{text}\x1b[22m"
    return text


def _clean(text: str) -> str:
    # User text must not drive the terminal: drop control characters (escape sequences).
    # Spaces other than " " stay: babel writes `12.000\xa0€` (de) and `12\u202f000 €` (fr).
    if text.isprintable():  # nearly always: a character at a time is for the rest
        return text
    return "".join(
        ch for ch in text if ch.isprintable() or ch == "\t" or unicodedata.category(ch) == "Zs"
    )


@dataclass
class ConsoleChat:
    """One person's chat in the terminal. `out` None is `sys.stdout` as it is at each reply
    (in an interactive session, the proxy that prints above the prompt)."""

    dispatcher: Dispatcher
    user: str
    out: TextIO | None = None
    styled: bool = False
    files: Path = Path("charts")
    buttons: list[Button] = field(default_factory=list)
    # The terminal's clock (by default the dispatcher's): when a line was typed is when its
    # command happened.
    clock: Callable[[], datetime] | None = None

    def delivered(self, reply: Reply) -> None:
        """A message the bot sent on its own was shown: its buttons are the ones to press."""
        if reply.buttons:
            self.buttons = reply.all_buttons

    async def say(self, line: str) -> None:
        """Handle one input line and print the reply block."""
        line = line.strip()
        if not line:
            return
        reply = await self._reply(line)
        if reply is None:
            return
        if reply.buttons:
            self.buttons = reply.all_buttons
        saved = [save_attachment(attachment, self.files) for attachment in reply.attachments]
        text = render_text(reply, styled=self.styled, saved=saved)
        if not self.styled:
            # Piped output: a blank line only ever ends a reply, so a script can split on it.
            text = "\n".join(line for line in text.splitlines() if line.strip())
        print(text + "\n", file=self.out, flush=True)

    async def _reply(self, line: str) -> Reply | None:
        lowered = line.lower()
        if lowered.startswith("/as"):
            name = line[3:].strip()
            if not name or not lowered.startswith("/as "):
                return Reply(error=True).add("Write it as: /as NAME")
            self.user = name
            return await self.send(text="/start")
        if lowered.startswith("/location"):
            return await self._location(line)
        if lowered.startswith("/import "):
            return await self._import(line[len("/import ") :].strip())
        if line.isdigit():
            index = int(line) - 1
            if not 0 <= index < len(self.buttons):
                return Reply(error=True).add("There is no button with that number.")
            return await self.send(button=self.buttons[index].encode())
        if lowered in ("/console", "/terminal"):
            return Reply().add(CONSOLE_HELP)
        return await self.send(text=line)

    async def _location(self, line: str) -> Reply | None:
        point = parse_coordinates(normalize(line[len("/location") :]))
        if point is None:
            return Reply(error=True).add(
                "Write it as: /location LAT LON, e.g. /location 52.52 13.40 "
                "(or 52,52 13,40), latitude -90..90, longitude -180..180."
            )
        return await self.send(location=point)

    async def _import(self, typed: str) -> Reply | None:
        """`/import PATH`: the file, read here, goes to the bot as a file sent to it."""
        path = Path(typed.strip("\"'")).expanduser()
        limit = self.dispatcher.defaults.import_max_bytes
        try:
            if path.stat().st_size > limit:
                return Reply(error=True).add(
                    f"{path.name} is over {limit // (1024 * 1024)} MB, more than I import at "
                    "once. Split it into smaller files."
                )
            content = path.read_bytes()
        except OSError as error:
            return Reply(error=True).add(f"I can't read {path}: {error.strerror or error}.")
        return await self.send(file=SharedFile(path.name, content))

    async def send(self, **event: Any) -> Reply | None:
        request = Request(
            platform=Platform.console,
            user_id=name_key(self.user),
            user_name=self.user,
            chat_id=CONSOLE_CHAT,
            sent_at=(self.clock or self.dispatcher.clock)(),
            **event,
        )
        return await self.dispatcher.handle(request)


def command_names(registry: Registry) -> dict[str, str]:
    """Every command the terminal understands, `/name` -> its one-line summary."""
    names = {f"/{name}": command.summary for name, command in registry.commands.items()}
    for alias, name in registry.aliases.items():
        names[f"/{alias}"] = names[f"/{name}"]
    return {**names, **TERMINAL_COMMANDS}


async def run_console(
    chat: ConsoleChat,
    *,
    source: TextIO = sys.stdin,
    session: PromptSession[str] | None = None,
    services: Sequence[Callable[[], Adapter]] = (),
) -> None:
    """Read lines until EOF: from `source` (piped), or typed into `session` (interactive,
    with a prompt showing who is typing). `services` (the scheduler's maker) are made and
    started once the first reply is out (piped) or the greeting shown (typed), and run for
    as long as the chat does: importing and starting them is a tenth of a start, which
    the first answer need not wait for."""
    async with AsyncExitStack() as stack:

        async def start_services() -> None:
            for make in services:
                service = make()
                await service.start()
                stack.push_async_callback(service.stop)

        # Registers the member on first use; the greeting is shown only to a person, so
        # that piped input gets exactly one reply block per line.
        greeting = await chat.send(text="/start")
        if session is None:
            await _read_lines(chat, source, after_the_first=start_services)
            return
        from prompt_toolkit.patch_stdout import patch_stdout

        from bot.prompt import prompt_lines

        # While the chat is open, sys.stdout and sys.stderr print above the prompt and
        # redraw it (raw: the replies' ANSI styles pass; user text has no escapes left).
        with patch_stdout(raw=True):
            if greeting is not None:
                print(render_text(greeting, styled=chat.styled) + "\n", file=chat.out, flush=True)
            await start_services()
            await prompt_lines(chat, session)


async def _read_lines(
    chat: ConsoleChat, source: TextIO, *, after_the_first: Callable[[], Awaitable[None]]
) -> None:
    loop = asyncio.get_running_loop()
    first = True
    while line := await loop.run_in_executor(None, source.readline):
        await chat.say(line)
        if first:
            await after_the_first()
            first = False
