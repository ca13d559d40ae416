"""What the operator sees when the machine is unkind: one line that says what is wrong."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


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
