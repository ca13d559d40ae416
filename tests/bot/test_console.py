"""The terminal adapter: rendering, and `crmbot chat` driven through a pipe."""

from __future__ import annotations

import asyncio
import io
import os
import re
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.data_structures import Size
from prompt_toolkit.document import Document
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output
from sqlalchemy import Engine

from bot.console import (
    ConsoleChat,
    command_names,
    render_text,
    run_console,
    save_attachment,
)
from bot.prompt import CommandCompleter, prompt_session
from bot.senders import ConsoleSender
from handlers import build_registry
from handlers.dispatcher import Dispatcher
from handlers.format import money
from handlers.reply import Attachment, Button, Reply, bold, link
from tests.conftest import START, Clock


def test_render_plain_and_styled() -> None:
    reply = (
        Reply()
        .heading("Jane Doe")
        .add(bold("Status"), " lead · ", link("jane@acme.de", "mailto:jane@acme.de"))
        .item("a deal")
        .muted("a hint")
        .add("docs: ", link("site", "https://example.com"))
        .button_row(Button("Proposal", "st", (1, 3)), Button("Won", "st", (1, 5)))
        .button_row(Button("Lost", "st", (1, 6)))
    )
    assert render_text(reply) == (
        "Jane Doe\nStatus lead · jane@acme.de\n• a deal\na hint\ndocs: site (https://example.com)"
        "\n[1] Proposal  [2] Won\n[3] Lost"
    )
    styled = render_text(reply, styled=True)
    assert "\x1b[1mJane Doe\x1b[0m" in styled and "\x1b[2ma hint\x1b[0m" in styled


def test_attachments_are_saved_under_safe_new_names(tmp_path: Path) -> None:
    chart = Attachment("pipeline-q4-2026.png", b"png", "image/png", "Pipeline · team")
    first = save_attachment(chart, tmp_path / "charts")
    second = save_attachment(chart, tmp_path / "charts")
    assert first == tmp_path / "charts" / "pipeline-q4-2026.png"
    assert second == tmp_path / "charts" / "pipeline-q4-2026-2.png"
    assert first.read_bytes() == second.read_bytes() == b"png"
    sneaky = Attachment("../../etc/pass wd", b"x", "text/plain")
    assert save_attachment(sneaky, tmp_path).name == "etc-pass-wd"
    reply = Reply().add("Pipeline")
    reply.attachments.extend([chart, sneaky])
    assert render_text(reply, saved=[first]) == (
        f"Pipeline\n(Pipeline · team saved to {first})\n(attachment: ../../etc/pass wd)"
    )


def test_user_text_cannot_drive_the_terminal() -> None:
    reply = Reply().add("evil\x1b[2J\x07name\u2028more")
    assert render_text(reply) == "evil[2Jnamemore"


def test_amounts_keep_their_locales_spaces() -> None:
    """babel writes `12.000\xa0€` (de) and `12\u202f000,50\xa0€` (fr): spaces that are not
    " ", kept (they were dropped as unprintable: `12000,50€`)."""
    for locale in ("de_DE", "fr_FR", "de_CH"):
        amount = money(1_200_050, "EUR", locale)
        assert render_text(Reply().add(amount)) == amount


async def test_a_session_with_buttons_switching_people_and_locations(
    engine: Engine, clock: Clock
) -> None:
    dispatcher = Dispatcher(engine, build_registry(), clock=clock)
    out = io.StringIO()
    chat = ConsoleChat(dispatcher, "Alice", out=out)
    script = "\n".join(
        [
            "/deal Website 12k",
            "/stage 1",
            "2",
            "9",
            "/as Bob",
            "/won 1",
            "/location 52.52 13.40",
            "/location here",
            "/as",
            "",
        ]
    )
    await run_console(chat, source=io.StringIO(script))
    dispatcher.close()
    blocks = out.getvalue().strip().split("\n\n")
    assert len(blocks) == 9  # one block per non-empty line
    assert "Opened Website (d1)" in blocks[0]
    assert "[1] Qualified  [2] Proposal" in blocks[1]
    assert "Moved to Proposal" in blocks[2]
    assert "no button with that number" in blocks[3]
    assert "Welcome, Bob! You joined" in blocks[4]
    assert "belongs to a teammate" in blocks[5]
    assert "Got your location" in blocks[6]
    assert "/location LAT LON" in blocks[7]
    assert "/as NAME" in blocks[8]


_SETTINGS = {"LOG_FILE": "", "LOG_LEVEL": "", "CRMBOT_NOW": START.isoformat()}


def _crmbot(
    tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `tmp_path`, logging as it does by default, its clock
    starting at the tests' START."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **_SETTINGS, **(env or {})},
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_crmbot_chat_through_a_pipe(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "/add Jane Doe company:Acme +49 30 1234567 jane@acme.de city:Berlin #hot",
            "/find jnae",
            "/deal Website Jane Doe 12k",
            "/won 1",
            "/feed 2",
            "/nonsense",
            "/add " + "x" * 300,
            "/pipeline",
            "",
        ]
    )
    done = _crmbot(
        tmp_path,
        "chat",
        "--as",
        "Alice",
        stdin=script,
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}",
            "CHARTS_DIR": str(tmp_path / "out"),
        },
    )
    assert done.returncode == 0, done.stderr
    assert "CancelledError" not in done.stderr  # the scheduler stops cleanly at EOF
    blocks = done.stdout.strip().split("\n\n")
    assert len(blocks) == 8
    assert "Added Jane Doe" in blocks[0]
    assert "Jane Doe · Acme" in blocks[1]
    assert "Won €12,000" in blocks[3]
    assert "Alice won Website" in blocks[4]
    assert "I don't know /nonsense" in blocks[5]
    assert "at most 200 characters" in blocks[6]
    chart = tmp_path / "out" / "pipeline-november-2026.png"
    assert "Won in November 2026: 1 deal · €12,000" in blocks[7]
    assert f"(Pipeline · team · November 2026 saved to {chart})" in blocks[7]
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "Traceback" not in done.stdout + done.stderr
    assert (tmp_path / "crm.db").exists()


def test_crmbot_db_upgrade_and_demo(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    upgraded = _crmbot(tmp_path, "db", "upgrade", "--db", db)
    assert upgraded.returncode == 0 and "up to date" in upgraded.stdout
    demo = _crmbot(tmp_path, "chat", "--demo", "--db", db, stdin="/team\n/deals\n/stages\n")
    assert demo.returncode == 0, demo.stderr
    assert "Demo Sales (4)" in demo.stdout and "Alice Meyer · admin" in demo.stdout
    for stage in ("Lead", "Qualified", "Proposal", "Negotiation"):
        assert f"· {stage} ·" in demo.stdout
    assert "4 deals" in demo.stdout
    # The second run as the first: the demo's admin (only admins invite admins), or the
    # name given, who joins as an admin; the demo is seeded once.
    for who in ((), ("--as", "Zoë Park"), ("--as", "Zoë Park")):
        again = _crmbot(
            tmp_path, "chat", "--demo", *who, "--db", db, stdin="/invite admin\n/team\n"
        )
        assert again.returncode == 0 and again.stderr == "", again.stderr
        assert "/join " in again.stdout and "Alice Meyer · admin" in again.stdout
    assert "Demo Sales (5)" in again.stdout and "Zoë Park · admin" in again.stdout


def test_crmbot_run_without_a_platform_says_what_to_set(tmp_path: Path) -> None:
    done = _crmbot(
        tmp_path,
        "run",
        "--db",
        str(tmp_path / "x.db"),
        env={"TELEGRAM_BOT_TOKEN": "", "SLACK_BOT_TOKEN": ""},
    )
    assert done.returncode == 2 and "TELEGRAM_BOT_TOKEN" in done.stderr


async def test_piped_the_services_start_once_the_first_reply_is_out(
    engine: Engine, clock: Clock
) -> None:
    # `crmbot chat` starts its scheduler then: the first answer does not wait for it.
    dispatcher = Dispatcher(engine, build_registry(), clock=clock)
    out = io.StringIO()
    chat = ConsoleChat(dispatcher, "Alice", out=out)
    shown_at_start: list[str] = []
    stopped: list[bool] = []

    class Service:
        name = "service"

        async def start(self) -> None:
            shown_at_start.append(out.getvalue())

        async def stop(self) -> None:
            stopped.append(True)

    await run_console(chat, source=io.StringIO("/help\n/team\n"), services=[Service])
    dispatcher.close()
    first, second = out.getvalue().strip().split("\n\n")
    assert shown_at_start == [first + "\n\n"]
    assert "/add" in first and "Alice" in second
    assert stopped == [True]


async def test_location_with_decimal_commas(engine: Engine, clock: Clock) -> None:
    """A European keyboard's `52,52 13,40` is the same place as `52.52 13.40`."""
    dispatcher = Dispatcher(engine, build_registry(), clock=clock)
    out = io.StringIO()
    chat = ConsoleChat(dispatcher, "Alice", out=out)
    script = "/start\n/location 52,52 13,40\n/location 52,52; 13,40\n/location 95,1 13,4\n"
    await run_console(chat, source=io.StringIO(script))
    dispatcher.close()
    blocks = out.getvalue().strip().split("\n\n")
    assert "Got your location" in blocks[1] and "Got your location" in blocks[2]
    assert "latitude -90..90" in blocks[3]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_ignores_everything_crmbot_chat_writes(tmp_path: Path) -> None:
    # The repository's own .gitignore, in a folder where crmbot runs as in a fresh clone.
    shutil.copy(Path(__file__).parents[2] / ".gitignore", tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    env = {"DATABASE_URL": "sqlite:///crm.db", "CHARTS_DIR": "charts"}
    done = _crmbot(
        tmp_path, "chat", "--as", "Alice", stdin="/deal Website 12k\n/pipeline\n", env=env
    )
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.glob("*.log")) == []  # by default the log is on stderr only
    logged = {**env, "LOG_FILE": "crmbot.log", "LOG_LEVEL": "info"}
    assert _crmbot(tmp_path, "chat", "--as", "Bob", stdin="/today\n", env=logged).returncode == 0
    assert "scheduler running" in (tmp_path / "crmbot.log").read_text()
    assert (tmp_path / "crm.db").exists() and list((tmp_path / "charts").glob("*.png"))
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout.splitlines() == ["?? .gitignore"]
    # SQLite's companions exist only while a database is open, or after a crash.
    companions = ["crm.db-wal", "crm.db-shm", "crm.db-journal", ".env"]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *companions],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.splitlines() == companions


# --- the interactive chat: prompt_toolkit reading keys from a pipe, drawing on a screen ----


def _plain(raw: str) -> str:
    """What a terminal shows, near enough to search: escape sequences dropped, except that a
    cursor move right is a blank (the renderer moves over blanks already on the screen)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", re.sub(r"\x1b\[\d*C", " ", raw)).replace("\r", "")


def _find(text: str, screen: str, after: int) -> int:
    """Where `text` is on `screen` past `after` (a space in it may be any run of blanks
    there), or -1."""
    found = re.compile(r"\s*".join(map(re.escape, text.split(" ")))).search(screen, after)
    return found.start() if found else -1


@dataclass
class Terminal:
    """What a person types (`keys`) and sees (`screen`)."""

    keys: PipeInput
    output: io.StringIO

    @property
    def screen(self) -> str:
        return _plain(self.output.getvalue())

    async def shows(self, text: str, *, after: int = 0) -> int:
        """Wait until `text` is on the screen past position `after`; where it starts."""
        for _ in range(3000):
            if (found := _find(text, self.screen, after)) >= 0:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen[after:]}")


@contextmanager
def terminal() -> Iterator[Terminal]:
    output = io.StringIO()
    screen = Vt100_Output(output, lambda: Size(rows=24, columns=100), enable_cpr=False)
    with create_pipe_input() as keys, create_app_session(input=keys, output=screen):
        yield Terminal(keys, output)


async def test_an_interactive_chat_types_completes_drops_and_quits(
    engine: Engine, clock: Clock
) -> None:
    dispatcher = Dispatcher(engine, build_registry(), clock=clock)
    chat = ConsoleChat(dispatcher, "Alice")
    with terminal() as term:
        session = prompt_session(dispatcher.registry)
        running = asyncio.create_task(run_console(chat, session=session))
        await term.shows("Welcome, Alice!")
        term.keys.send_text("/add Jane Doe company:Acme\r")
        mark = await term.shows("Added Jane Doe")
        term.keys.send_text("/fi\t")  # Tab: the one command that starts so
        mark = await term.shows("/find", after=mark)
        term.keys.send_text(" Ja")
        mark = await term.shows("Ja", after=mark)
        # A reminder falls due while she types; what she typed stays. (That it prints
        # above the prompt, which is drawn again, needs a real terminal: test_in_a_terminal.)
        await ConsoleSender(on_reply=chat.delivered).send(
            "alice", Reply().add("⏰ call Jane").button_row(Button("Done", "rd", (1,)))
        )
        mark = await term.shows("→ @alice (direct message): ⏰ call Jane", after=mark)
        term.keys.send_text("ne\r")
        mark = await term.shows("Jane Doe · Acme", after=mark)
        term.keys.send_text("/deal Lost cause 5k\x03")  # Ctrl-C drops the line typed
        term.keys.send_text("/deals\r")
        mark = await term.shows("No deals match", after=mark)  # none was opened
        term.keys.send_text("\x1b[A\x1b[A\r")  # ↑↑: the line before last, again
        mark = await term.shows("Jane Doe · Acme", after=mark)
        term.keys.send_text("/de\t")  # several commands start so: a menu, with summaries
        await term.shows("/deals", after=mark)
        await term.shows(dispatcher.registry.commands["deal"].summary[:40], after=mark)
        term.keys.send_text("\x03\x04")  # drop it; Ctrl-D on the empty line quits
        await asyncio.wait_for(running, timeout=30)
    dispatcher.close()


async def test_ctrl_c_on_an_empty_line_ends_the_chat(engine: Engine, clock: Clock) -> None:
    dispatcher = Dispatcher(engine, build_registry(), clock=clock)
    with terminal() as term:
        chat = ConsoleChat(dispatcher, "Bob")
        running = asyncio.create_task(
            run_console(chat, session=prompt_session(dispatcher.registry))
        )
        await term.shows("Bob>")
        term.keys.send_text("\x03")
        await asyncio.wait_for(running, timeout=30)
    dispatcher.close()


def test_tab_completes_only_the_command_word() -> None:
    completer = CommandCompleter(command_names(build_registry()))

    def offered(text: str) -> list[str]:
        event = CompleteEvent(completion_requested=True)
        return [c.text for c in completer.get_completions(Document(text), event)]

    assert offered("/sta") == ["/stage", "/stages", "/start", "/stats"]
    assert offered("/lo") == ["/location", "/lose", "/lost"]  # the terminal's own too
    assert offered("/AS") == ["/as"]
    assert offered("/note /sta") == [] and offered("Jane") == []


class Pty:
    """A program in a pseudo-terminal, 24 rows by 100 columns, as a person runs it: what it
    wrote (`screen`, to follow the order of events) and what the terminal shows now (`rows`,
    drawn by a terminal emulator, to check what a redraw left)."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        import fcntl
        import pty
        import struct
        import termios

        import pyte

        self.display = pyte.Screen(100, 24)
        self.emulator = pyte.ByteStream(self.display)
        self.fd, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.process = subprocess.Popen(
            args, stdin=child, stdout=child, stderr=child, cwd=cwd, env=env, start_new_session=True
        )
        os.close(child)
        self.raw = b""

    @property
    def screen(self) -> str:
        return _plain(self.raw.decode(errors="replace"))

    def _read(self, wait: float) -> bool:
        """Read what the program wrote within `wait` seconds; False once it has closed."""
        if not select.select([self.fd], [], [], wait)[0]:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # the program has ended
            return False
        self.raw += chunk
        self.emulator.feed(chunk)
        if b"\x1b[6n" in chunk:  # where is the cursor? (prompt_toolkit asks; a terminal answers)
            cursor = self.display.cursor
            os.write(self.fd, f"\x1b[{cursor.y + 1};{cursor.x + 1}R".encode())
        return bool(chunk)

    def shows(self, text: str, *, after: int = 0) -> int:
        """Wait until `text` is on the screen past `after` (startup can take a while on a
        busy machine); where it starts."""
        for _ in range(1200):
            if (found := _find(text, self.screen, after)) >= 0:
                return found
            if not self._read(0.1):
                break
        raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen[after:]}")

    @property
    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.display.display]

    def draws(self, *texts: str) -> None:
        """Wait until the terminal shows rows holding `texts`, in that order from the top."""
        for _ in range(1200):
            at, rows = 0, self.rows
            for text in texts:
                at = next((i + 1 for i, row in enumerate(rows) if i >= at and text in row), -1)
                if at < 0:
                    break
            else:
                return
            if not self._read(0.1):
                break
        shown = "\n".join(self.rows)
        raise AssertionError(f"{texts!r} not drawn in order; the terminal shows:\n{shown}")

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def ended(self) -> int:
        """Read to the end; the exit status."""
        for _ in range(600):
            if not self._read(0.1) or self.process.poll() is not None:
                break
        code = self.process.wait(timeout=10)
        os.close(self.fd)
        return code


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_in_a_terminal(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}",
        **_SETTINGS,
    }
    term = Pty([sys.executable, "-m", "bot", "chat", "--as", "Alice"], cwd=tmp_path, env=env)
    try:
        mark = term.shows("Alice>")
        term.type("/add Jane Doe\r")
        mark = term.shows("Added Jane Doe", after=mark)
        term.type("/remind in 6 seconds call Jane\r")
        mark = term.shows("OK, I'll remind you", after=mark)
        # Half a line typed when the reminder falls due: the reminder prints above it, and
        # the prompt is drawn again below with what was typed so far.
        prompt = term.shows("Alice>", after=mark)
        term.type("/fi\t")
        term.shows("/find", after=prompt)
        term.type(" Ja")
        # The reminder may come at any point of the typing (on a slow machine the six
        # seconds pass while the completion is drawn): whenever it does, the line typed so
        # far is drawn again below it.
        mark = term.shows("→ @alice (direct message): ⏰ call Jane", after=prompt)
        term.draws("→ @alice (direct message): ⏰ call Jane", "Alice> /find Ja")
        term.type("ne\r")
        mark = term.shows("Jane Doe · lead (c1)", after=mark)
        # (Keys typed before the prompt is back would go to the terminal's line editor,
        # where Ctrl-C interrupts the program, Ctrl-D ends its input: as in any shell.)
        mark = term.shows("Alice>", after=mark)
        term.type("/deal Lost cause 5k\x03")  # dropped, as in a shell
        term.type("/deals\r")
        mark = term.shows("No deals match", after=mark)
        term.shows("Alice>", after=mark)
        term.type("\x04")  # Ctrl-D: the end
        assert term.ended() == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()
    assert "Traceback" not in term.screen and "Error" not in term.screen


async def test_import_a_file_by_its_path(engine: Engine, clock: Clock, tmp_path: Path) -> None:
    """`/import PATH`: the terminal reads the file and sends it, then 1 presses Import;
    the rejected rows are saved beside the charts."""
    sheet = tmp_path / "my contacts.csv"
    sheet.write_text("Name;Phone\nJane Doe;+49 30 1234567\nBad Phone;12\n", encoding="utf-8")
    dispatcher = Dispatcher(engine, build_registry(), clock=clock)
    out = io.StringIO()
    chat = ConsoleChat(dispatcher, "Alice", out=out, files=tmp_path / "files")
    script = f"/start\n/import '{sheet}'\n1\n/import {tmp_path}/missing.csv\n"
    await run_console(chat, source=io.StringIO(script))
    dispatcher.close()
    blocks = out.getvalue().strip().split("\n\n")
    assert "my contacts.csv: 2 rows (CSV, utf-8)" in blocks[1]
    assert "[1] Import  [2] Cancel" in blocks[1]
    assert "1 contact added" in blocks[2]
    saved = tmp_path / "files" / "my-contacts-rejected.csv"
    assert f"saved to {saved}" in blocks[2] and "Bad Phone" in saved.read_text("utf-8-sig")
    assert "I can't read" in blocks[3] and "missing.csv" in blocks[3]
