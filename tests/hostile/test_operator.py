"""What the operator sees when the machine is unkind: one line that says what is wrong."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event

from handlers import build_registry
from handlers.context import TeamDefaults
from handlers.dispatcher import Dispatcher
from handlers.reply import Reply
from storage.db import make_engine, upgrade
from tests.conftest import Clock, TestBot

DEFAULTS = TeamDefaults(open_signup=True)


def _chat(tmp_path: Path, db: str, stdin: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--as", "Alice", "--db", db],
        input=stdin,
        capture_output=True,
        env={**os.environ, "LOG_FILE": "", "LOG_LEVEL": "", **env},
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_a_read_only_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    made = _chat(tmp_path, f"sqlite:///{path}", b"/add Jane Doe\n")
    assert made.returncode == 0, made.stderr
    # Read-only as SQLite sees it (file permissions do not stop root, who runs CI).
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    done = _chat(tmp_path, read_only, b"/find Jane\n")
    assert done.returncode == 1
    stderr = done.stderr.decode()
    assert stderr.splitlines() == [
        f"crmbot: cannot use the database {read_only}: attempt to write a readonly database"
    ]
    assert done.stdout == b""
    with sqlite3.connect(path) as conn:  # nothing was touched
        assert conn.execute("SELECT count(*) FROM contact").fetchone() == (1,)


def test_bytes_that_are_not_utf8_on_stdin_do_not_end_the_chat(tmp_path: Path) -> None:
    done = _chat(
        tmp_path,
        f"sqlite:///{tmp_path / 'crm.db'}",
        b"/add Jane \xff\xfe Doe\n/find Jane\n",
        PYTHONIOENCODING="utf-8:strict",  # as in a UTF-8 locale
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "Added Jane Doe (c1)" in out and "Results for “Jane”" in out
    assert b"Traceback" not in done.stderr


def _unlike(n: int) -> str:
    """A name no other `n` gives one alike (no duplicate warnings)."""
    letters = (
        hashlib.sha1(str(n).encode())
        .hexdigest()
        .translate(str.maketrans("0123456789", "ghijklmnop"))
    )
    return f"{letters[:6].title()} {letters[6:14].title()}"


def test_with_the_disk_full_reads_still_answer_and_writes_say_why(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    upgrade(engine)
    bot = TestBot(Dispatcher(engine, build_registry(), defaults=DEFAULTS, clock=Clock()), Clock())
    bot.say("/start Acme")
    bot.say("/add Jane Doe")
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    engine.dispose()

    @event.listens_for(engine, "connect")
    def no_room(connection: Any, _: Any) -> None:
        # SQLite's own "database or disk is full", as on a full disk.
        connection.execute(f"PRAGMA max_page_count = {pages}")

    updates = iter(range(1000, 2000))

    def send(text: str) -> Reply:
        reply = bot.request("Alice", text=text, update_id=next(updates))
        assert reply is not None
        return reply

    # Writes fill the pages' free room, then one needs a page more.
    for added_before in range(500):
        added = send(f"/add {_unlike(added_before)} #neu")
        if added.error:
            break
    assert added.error and not added.failed, added.plain_text
    assert "disk is full" in added.plain_text and "nothing was changed" in added.plain_text
    found = send("/find Jane")
    assert "Jane Doe" in found.plain_text and not found.error
    with engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM contact").scalar_one()
    assert count == 1 + added_before
    engine.dispose()
