"""An import killed halfway (kill -9 while its rows are being written) leaves the database
as it was: its rows are written in one transaction. Sent again, the file imports whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from storage.db import make_engine

ROWS = 30_000


def _crmbot(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )


def _count(db: Path, table: str) -> int:
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        found = int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return found


def test_kill_9_in_the_middle_of_an_import_leaves_nothing(tmp_path: Path) -> None:
    sheet = tmp_path / "big.csv"
    lines = ["Name,Email,Company,Tags"]
    lines += [f"Person {i},p{i}@example.com,Company {i % 900},hot" for i in range(ROWS)]
    sheet.write_text("\n".join(lines), "utf-8")
    db = tmp_path / "crm.db"
    wal = tmp_path / "crm.db-wal"
    importing = _crmbot("import", str(sheet), "--db", str(db), "--as", "Alice", "--yes")
    # Rows are being written once the write-ahead log grows past the preview's few pages
    # (the rows go there before the commit): then the process is killed.
    deadline = time.monotonic() + 600
    while not (wal.exists() and wal.stat().st_size > 2 * 1024 * 1024):
        assert importing.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.05)
    importing.send_signal(signal.SIGKILL)
    importing.wait()
    assert _count(db, "contact") == 0
    assert _count(db, "company") == 0 and _count(db, "contacttag") == 0
    assert _count(db, "changerow") == 0

    again = _crmbot("import", str(sheet), "--db", str(db), "--as", "Alice", "--yes")
    _, errors = again.communicate(timeout=900)
    assert again.returncode == 0, errors.decode()
    assert _count(db, "contact") == ROWS and _count(db, "company") == 900
