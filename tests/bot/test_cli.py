"""`crmbot`: where the log goes, and `crmbot db`: schema upgrades and index maintenance."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app, configure_logging
from bot.config import Settings


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """The commands configure the process's logging; each test gets pytest's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return re.sub(r"\x1b\[[0-9;]*m", "", result.output)  # colours, should CI force them


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """`crmbot` and every command and group under it, as the words that name them."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_command_is_listed() -> None:
    assert {" ".join(path) for path in COMMANDS} >= {"chat", "run", "db upgrade", "db optimize"}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_no_value_types_beside_options(command: tuple[str, ...]) -> None:
    text = _help(*command)
    assert "Usage: crmbot" in text and "--help" in text
    # Flags take no value; options show what goes in them (NAME, PATH|URL), not a type.
    assert re.findall(r"<[a-z]+>", text) == []


def test_help_reads_like_a_finished_tool() -> None:
    top = _help()
    assert "Examples" in top
    for example in ("crmbot chat --demo", "crmbot run", "crmbot db upgrade"):
        assert f"{example} — " in top
    assert "│ chat " in top and "│ db " in top  # the commands, in their panels
    chat = _help("chat")
    assert "crmbot chat --as Alice — " in chat and "--as          NAME" in chat
    prose = " ".join(chat.split())
    assert "Tab completes a command, Ctrl-C drops the line being typed, Ctrl-D" in prose
    assert "crmbot run --port 8080 — " in _help("run")
    assert "crmbot db optimize — " in _help("db")
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("crmbot ")


def test_db_upgrade_then_optimize(tmp_path: Path) -> None:
    db = str(tmp_path / "crm.db")
    runner = CliRunner()
    assert "up to date" in runner.invoke(app, ["db", "upgrade", "--db", db]).output
    result = runner.invoke(app, ["db", "optimize", "--db", db])
    assert result.exit_code == 0, result.output
    assert "compacted" in result.output


def test_the_log_goes_to_stderr_as_it_is_when_a_record_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An interactive chat swaps sys.stderr for a proxy that prints above the prompt.
    configure_logging(Settings(_env_file=None), level="WARNING")
    before, during = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", before)
    logging.getLogger("bot.test").info("not at WARNING")
    logging.getLogger("bot.test").warning("first")
    monkeypatch.setattr("sys.stderr", during)
    logging.getLogger("bot.test").error("second")
    assert "first" in before.getvalue() and "not at" not in before.getvalue()
    assert "second" in during.getvalue() and "first" not in during.getvalue()


def test_log_file_and_level_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FILE", str(tmp_path / "logs" / "crmbot.log"))
    monkeypatch.setenv("LOG_LEVEL", " debug ")
    settings = Settings(_env_file=None)
    assert settings.log_level == "DEBUG"
    configure_logging(settings, level="WARNING")
    logging.getLogger("bot.test").debug("a detail")
    assert "DEBUG bot.test: a detail" in (tmp_path / "logs" / "crmbot.log").read_text()
    # A command line's own file wins over the setting.
    configure_logging(settings, log_file=tmp_path / "session.log")
    logging.getLogger("bot.test").info("this session")
    assert "this session" in (tmp_path / "session.log").read_text()


def test_blank_log_settings_are_unset_and_a_wrong_level_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_FILE", "")
    monkeypatch.setenv("LOG_LEVEL", " ")
    settings = Settings(_env_file=None)
    assert settings.log_file is None and settings.log_level is None
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(ValueError, match="log_level"):
        Settings(_env_file=None)


def test_import_shows_the_preview_then_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bot.cli imports it when a command runs.
    monkeypatch.setattr("bot.config.get_settings", lambda: Settings(charts_dir=tmp_path / "files"))
    db = str(tmp_path / "crm.db")
    sheet = tmp_path / "contacts.csv"
    sheet.write_text("Name;E-Mail\nJane Doe;jane@acme.de\nNo Mail;not-an-email\n", "utf-8")
    runner = CliRunner()
    # Piped, without --yes, it previews and imports nothing.
    asked = runner.invoke(app, ["import", str(sheet), "--db", db, "--as", "Alice"])
    assert asked.exit_code == 1
    assert "contacts.csv: 2 rows (CSV, utf-8)" in asked.output
    assert "add --yes" in asked.output
    done = runner.invoke(app, ["import", str(sheet), "--db", db, "--as", "Alice", "--yes"])
    assert done.exit_code == 0, done.output
    assert "1 contact added" in done.output and "[1]" not in done.output
    rejected = tmp_path / "files" / "contacts-rejected.csv"
    assert "not-an-email" in rejected.read_text("utf-8-sig")
    again = runner.invoke(app, ["import", str(sheet), "--db", db, "--as", "Alice", "--yes"])
    assert "0 contacts added" in again.output
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--db", db])
    assert missing.exit_code == 2 and "There is no file" in missing.output


def test_export_writes_files_for_a_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The process's clock (CRMBOT_NOW) dates the files, as it dates everything else.
    monkeypatch.setattr(
        "bot.config.get_settings",
        lambda: Settings(charts_dir=tmp_path / "files", crmbot_now="2026-11-23T09:00:00"),
    )
    db = str(tmp_path / "crm.db")
    sheet = tmp_path / "in.csv"
    sheet.write_text("Name,Email\nJane Doe,jane@acme.de\n", "utf-8")
    runner = CliRunner()
    runner.invoke(app, ["import", str(sheet), "--db", db, "--as", "Alice", "--yes"])
    out = tmp_path / "out"
    done = runner.invoke(
        app,
        ["export", "contacts", "--format", "csv", "--out", str(out), "--db", db, "--as", "Alice"],
    )
    assert done.exit_code == 0, done.output
    [written] = out.iterdir()
    assert written.name.startswith("crm-2026-11-23"), written.name
    assert "contacts.csv: 1 row" in done.output
    assert "jane@acme.de" in written.read_text("utf-8-sig")
    nobody = runner.invoke(app, ["export", "--db", db, "--as", "Nobody", "--out", str(out)])
    assert nobody.exit_code == 1 and "not a member" in nobody.output
    assert runner.invoke(app, ["export", "everything", "--db", db]).exit_code == 2
