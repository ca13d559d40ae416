"""The terminal adapter: rendering, and `crmbot chat` driven through a pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from bot.console import ConsoleChat, render_text, run_console, save_attachment
from handlers import build_registry
from handlers.dispatcher import Dispatcher
from handlers.reply import Attachment, Button, Reply, bold, link
from tests.conftest import Clock


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
    reply = Reply().add("evil\x1b[2J\x07name")
    assert render_text(reply) == "evil[2Jname"


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


def _crmbot(
    tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `tmp_path`, its log kept out of the output."""
    if args and args[0] == "chat":
        args = (*args, "--log-file", str(tmp_path / "crm.log"))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
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
    again = _crmbot(tmp_path, "chat", "--demo", "--db", db)
    assert again.returncode == 0 and "already has a team" in again.stderr


def test_crmbot_run_without_a_platform_says_what_to_set(tmp_path: Path) -> None:
    done = _crmbot(
        tmp_path,
        "run",
        "--db",
        str(tmp_path / "x.db"),
        env={"TELEGRAM_BOT_TOKEN": "", "SLACK_BOT_TOKEN": ""},
    )
    assert done.returncode == 2 and "TELEGRAM_BOT_TOKEN" in done.stderr
