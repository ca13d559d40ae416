"""Engine, sessions, migrations and the UTC column type, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, event, func, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from storage.db import (
    BUSY_TRIES,
    MIGRATIONS,
    READS,
    WAL_AUTOCHECKPOINT_PAGES,
    ConnectionLost,
    alembic_config,
    checkpoint,
    current_revision,
    head_revision,
    in_transaction,
    make_engine,
    retry_busy,
    schema_is_current,
    transaction,
    upgrade,
)
from storage.models import Team
from storage.teams import create_team
from tests.conftest import START


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_the_log_is_checkpointed_in_the_background_not_by_commits(tmp_path: Path) -> None:
    database = tmp_path / "crm.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    checkpoint(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == (
            WAL_AUTOCHECKPOINT_PAGES
        )
    size = database.stat().st_size
    for i in range(300):
        with transaction(engine) as session:
            create_team(
                session,
                name=f"T{i}",
                currency="EUR",
                timezone="UTC",
                locale="en",
                region="DE",
                now=START,
            )
    # The commits only appended to the log: the database file has not grown yet.
    assert database.stat().st_size == size
    assert (tmp_path / "crm.db-wal").stat().st_size > 300 * 4096
    checkpoint(engine)
    assert database.stat().st_size > size
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM team")).scalar() == 300
    engine.dispose()


def test_timestamps_come_back_aware_utc(engine: Engine) -> None:
    berlin = timezone(timedelta(hours=1))
    with transaction(engine) as session:
        team = create_team(
            session,
            name="T",
            currency="EUR",
            timezone="Europe/Berlin",
            locale="de_DE",
            region="DE",
            now=START,
        )
        team.created_at = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)
        session.add(team)
    with transaction(engine) as session:
        stored = session.get(Team, team.id)
        assert stored is not None
        assert stored.created_at == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
        assert stored.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), transaction(engine) as session:
        team = create_team(
            session, name="T", currency="EUR", timezone="UTC", locale="en", region="DE", now=START
        )
        team.created_at = datetime(2026, 1, 1)  # naive on purpose
        session.add(team)
        session.flush()


def test_a_failed_transaction_leaves_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as session:
        create_team(
            session,
            name="Ghost",
            currency="EUR",
            timezone="UTC",
            locale="en",
            region="DE",
            now=START,
        )
        raise RuntimeError
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM team")).scalar() == 0


def test_migrations_go_down_and_up_again(engine: Engine) -> None:
    assert schema_is_current(engine)
    config = alembic_config(engine)
    command.downgrade(config, "base")
    assert "contact" not in inspect(engine).get_table_names()
    assert not schema_is_current(engine)
    upgrade(engine)
    assert schema_is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"team", "member", "contact", "deal", "activity", "channel"} <= tables
    upgrade(engine)  # a no-op when current


def test_the_schema_check_reads_what_alembic_reads(engine: Engine) -> None:
    """Start-up checks the schema without importing alembic: the same head, the same
    revision of the database, at the head and below it."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    config = alembic_config(engine)

    def same_revision() -> bool:
        with engine.connect() as conn:
            return (
                current_revision(engine) == MigrationContext.configure(conn).get_current_revision()
            )

    assert same_revision() and current_revision(engine) == head_revision()
    command.downgrade(config, "0010")
    assert same_revision() and current_revision(engine) == "0010"
    command.downgrade(config, "base")
    assert same_revision() and current_revision(engine) is None
    upgrade(engine)
    assert same_revision() and current_revision(engine) == head_revision()


def test_a_new_database_is_created_with_its_folder(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'crm.db'}")
    upgrade(engine)
    assert schema_is_current(engine)
    engine.dispose()


def test_a_read_goes_ahead_while_another_connection_writes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    with engine.connect() as writer, writer.begin():  # BEGIN IMMEDIATE: the write lock
        _team(Session(writer), "Uncommitted")
        with transaction(engine, reads=True) as session:
            assert session.exec(select(func.count()).select_from(Team)).one() == 0
        assert schema_is_current(engine)
    engine.dispose()


def test_a_read_that_had_to_write_runs_again_as_a_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    tries: list[bool] = []

    def work(session: Session) -> int:
        reads = bool(session.connection().get_execution_options().get(READS))
        tries.append(reads)
        session.exec(select(func.count()).select_from(Team)).one()
        if reads:
            # Another process writes between this read and this transaction's first write.
            with transaction(engine) as other:
                _team(other, "Elsewhere")
        return _team(session, "Here").id or 0

    assert in_transaction(engine, work, reads=True)
    assert tries == [True, False]
    with transaction(engine) as session:
        assert sorted(session.exec(select(Team.name)).all()) == ["Elsewhere", "Here"]
    engine.dispose()


def test_busy_work_is_tried_a_bounded_number_of_times() -> None:
    tries: list[int] = []

    def locked(n: int) -> None:
        tries.append(n)
        raise OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))

    with pytest.raises(OperationalError):
        retry_busy(locked)
    assert tries == list(range(BUSY_TRIES))


def test_work_that_lost_its_connection_runs_again_once() -> None:
    tries: list[int] = []

    def lost_again(n: int) -> None:
        tries.append(n)
        gone = Exception("the connection is lost")
        raise ConnectionLost("SELECT 1", {}, gone, connection_invalidated=True)

    with pytest.raises(ConnectionLost):
        retry_busy(lost_again)
    assert tries == [0, 0]


def test_a_connection_lost_at_commit_is_not_taken_for_nothing_written(engine: Engine) -> None:
    """The COMMIT may have reached the database before its connection went: that work
    is not run again (the dispatcher would answer twice what it did once)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    runs: list[int] = []

    def work(session: Session) -> None:
        runs.append(1)
        session.execute(text("SELECT 1"))

    def end_itself(conn: Connection) -> None:
        conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    event.listen(engine, "commit", end_itself)
    try:
        with pytest.raises(OperationalError) as raised:
            in_transaction(engine, work)
    finally:
        event.remove(engine, "commit", end_itself)
    assert raised.value.connection_invalidated and not isinstance(raised.value, ConnectionLost)
    assert runs == [1]
    # Every pooled connection made before is replaced: the next work runs.
    assert in_transaction(engine, lambda session: session.execute(text("SELECT 2")).scalar())


def _team(session: Session, name: str) -> Team:
    return create_team(
        session, name=name, currency="EUR", timezone="UTC", locale="en", region="DE", now=START
    )
