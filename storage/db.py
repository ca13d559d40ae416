"""Engine, sessions and schema upgrades.

Storage is ordinary synchronous SQLModel: the dispatcher runs each command's database work
in a worker thread with one Session and one transaction (see design.md for the numbers).
"""

from __future__ import annotations

import logging
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from storage.locks import migrating

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.engine import Dialect

log = logging.getLogger(__name__)

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# SQLite copies the write-ahead log back into the database (a checkpoint, with an fsync)
# inside whichever commit finds the log over this many pages: by default 1,000, and that
# commit took 10-40 ms instead of 1-3 ms at 100k contacts. The scheduler checkpoints in
# the background every few seconds (`checkpoint`), so a command pays for one only when
# that job has not run and the log has grown past ~40 MB.
WAL_AUTOCHECKPOINT_PAGES = 10_000
# A connection's execution option: its transactions only read (as far as anyone knows),
# and on SQLite begin DEFERRED, taking no lock (see _configure_sqlite).
READS = "crm_reads"
# How often work that found SQLite locked runs again (each try waits out the busy timeout
# first, when it asked for the write lock at BEGIN), and the pause between tries.
BUSY_TRIES = 4
BUSY_PAUSE_SECONDS = 0.05


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`: SQLite in WAL mode with foreign keys, or PostgreSQL via psycopg."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 5}, **kwargs
        )
        _configure_sqlite(engine)
        _savepoints_on_driver(engine)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    # No ping before each checkout (a round trip on every message): a connection found dead
    # (PostgreSQL restarted, a backend terminated) fails its transaction before its commit,
    # SQLAlchemy then replaces every pooled connection made before, and the work runs again
    # once on a new one (`ConnectionLost`, `retry_busy`).
    engine = create_engine(url, **kwargs)
    _savepoints_on_driver(engine)
    return engine


def _savepoints_on_driver(engine: Engine) -> None:
    """Every command runs in a savepoint (handlers/dispatcher.py): its SAVEPOINT, RELEASE
    and ROLLBACK TO go to the driver, as the SQL they are, not through SQLAlchemy's
    execution of a compiled clause (0.1-0.15 ms each, the most of a short command's
    overhead, issue 17). SQLAlchemy still keeps the savepoints' order and state."""
    dialect = engine.dialect

    def sent(sql: str, connection: Connection) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        try:
            dbapi_connection.execute(sql)  # type: ignore[union-attr]
        except dialect.loaded_dbapi.Error as error:
            raise driver_error(dialect, sql, (), error, dbapi_connection) from error

    def savepoint(connection: Connection, name: str) -> None:
        sent(f"SAVEPOINT {name}", connection)

    def release(connection: Connection, name: str) -> None:
        sent(f"RELEASE SAVEPOINT {name}", connection)

    def rollback_to(connection: Connection, name: str) -> None:
        sent(f"ROLLBACK TO SAVEPOINT {name}", connection)

    # Instance attributes: this engine's dialect only (each engine has its own).
    dialect.do_savepoint = savepoint  # type: ignore[method-assign]
    dialect.do_release_savepoint = release  # type: ignore[method-assign]
    dialect.do_rollback_to_savepoint = rollback_to  # type: ignore[method-assign]


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # A read begins DEFERRED: it takes no lock, and readers and the one writer of a WAL
        # database never wait for each other. Anything else takes the write lock up front
        # (IMMEDIATE, waiting up to the busy timeout for it): a deferred transaction that
        # reads and then writes fails at once with SQLITE_BUSY when another writer got in
        # between, and that is left to reads that turn out to write (`retry_busy`).
        begin = "BEGIN" if conn.get_execution_options().get(READS) else "BEGIN IMMEDIATE"
        # On the driver: every transaction begins here, and SQLAlchemy's execution of
        # a statement costs more than SQLite's BEGIN (bench/NOTES.md, issue 17, h25).
        try:
            conn.connection.dbapi_connection.execute(begin)
        except sqlite3.Error as error:
            raise DBAPIError.instance(begin, (), error, sqlite3.Error) from error


def driver_error(
    dialect: Dialect, sql: str, params: Any, error: Exception, dbapi_connection: Any
) -> DBAPIError:
    """The error SQLAlchemy raises for the driver's `error`, for statements sent to the
    driver without it. `connection_invalidated` says, as SQLAlchemy's own does, that the
    connection was found dead (`lost`); SQLAlchemy invalidates it, and every pooled
    connection made before it, at the transaction's rollback, which then fails too."""
    made = DBAPIError.instance(
        sql,
        params,
        error,
        dialect.loaded_dbapi.Error,
        dialect=dialect,
        # `error` is the driver's own (an instance of its module's Error).
        connection_invalidated=dialect.is_disconnect(error, dbapi_connection, None),  # type: ignore[arg-type]
    )
    assert isinstance(made, DBAPIError)  # as it is for any error of the driver's
    return made


def upsert_into(dialect: str, table: Any) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can say ON CONFLICT (SQLite and PostgreSQL spell it alike), from the
    module of the dialect in use only: PostgreSQL's takes a SQLite start 0.05-0.1 s to
    import."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


@contextmanager
def transaction(engine: Engine, *, reads: bool = False) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any exception.
    `reads`: the work is expected only to read; on SQLite it then holds no lock until it
    writes, if it does (and may fail with `busy` there: see `retry_busy`)."""
    with Session(engine, expire_on_commit=False) as session:
        with uncommitted():
            session.begin()
            try:
                if reads:
                    # The options apply to the connection the session procures now, before
                    # BEGIN.
                    session.connection(execution_options={READS: True})
                yield session
            except BaseException:
                session.rollback()
                raise
        # Outside `uncommitted`: a connection lost during COMMIT may have committed.
        try:
            session.commit()
        except OperationalError as error:
            if (dead := _dead(CommitUnknown, error)) is None:
                raise
            raise dead from error


class ConnectionLost(OperationalError):
    """The connection to the database was found dead (`lost`) before the work's commit
    was asked for: nothing of it was written, and it can run again on a new connection
    (`retry_busy` runs it once more)."""


class CommitUnknown(OperationalError):
    """The connection was found dead while the work's COMMIT was under way: the database
    may have written it or not. It is not run again (it could then be done twice)."""


@contextmanager
def uncommitted() -> Iterator[None]:
    """Around work that commits nothing (its rollback included): a lost connection it
    raises comes out as `ConnectionLost`."""
    try:
        yield
    except Exception as error:
        if (dead := _dead(ConnectionLost, error)) is None:
            raise
        raise dead from error


def _dead(kind: type[OperationalError], error: BaseException) -> OperationalError | None:
    """`kind` of error for `error` when it says the connection was found dead, else None."""
    found = lost(error)
    if found is None:
        return None
    return kind(found.statement, found.params, found.orig or found, connection_invalidated=True)


def lost(error: BaseException | None) -> DBAPIError | None:
    """The error in `error`'s chain (it, or one it was raised over) that says the
    connection to the database was found dead, if any: SQLAlchemy's, or `driver_error`'s.
    A connection that could not be made at all is not one (the database is down: trying
    again at once would not help)."""
    while error is not None:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return error
        error = error.__context__
    return None


def check_writable(engine: Engine) -> None:
    """Raise the database's own error when it cannot be written (a read-only SQLite file,
    or one in a directory where its journal cannot be made): said at start, in one line,
    rather than as every command's failure. PostgreSQL says so at the first write."""
    if engine.dialect.name != "sqlite":
        return
    # Another process writing at that moment is waited for, not taken for a read-only file.
    retry_busy(lambda _: _rewrite_user_version(engine))


def _rewrite_user_version(engine: Engine) -> None:
    with engine.begin() as conn:
        # Writing the header's user version as it is: a write that changes nothing.
        version = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
        conn.exec_driver_sql(f"PRAGMA user_version = {int(version)}")


def in_transaction(engine: Engine, work: Callable[[Session], T], *, reads: bool = False) -> T:
    """`work(session)` in one transaction, run again (a few times) while SQLite is busy;
    a read that had to write is run again as a writer. `work` must do nothing but
    database work, since it may run more than once."""
    return retry_busy(lambda tries: _run_in_transaction(engine, work, reads=reads and tries == 0))


def _run_in_transaction(engine: Engine, work: Callable[[Session], T], *, reads: bool) -> T:
    with transaction(engine, reads=reads) as session:
        return work(session)


def retry_busy(attempt: Callable[[int], T], *, tries: int = BUSY_TRIES) -> T:
    """`attempt(n)` for n = 0, 1, ... until it does not fail with SQLite's `busy`; the
    last try's error is raised. An attempt must be a whole transaction (rolled back when
    it raises), so that running it again is safe. One that lost its connection before its
    commit (`ConnectionLost`) runs again once, at once, with the same n."""
    n = 0
    reconnected = False
    while True:
        try:
            return attempt(n)
        except ConnectionLost:
            if reconnected:
                raise
            reconnected = True
            log.warning("the database connection was lost; trying again on a new one")
            continue
        except OperationalError as error:
            if not busy(error) or n == tries - 1:
                raise
        n += 1
        log.info("the database was busy; trying again (%d of %d)", n + 1, tries)
        # Writers that collided should not collide again at the same instant.
        time.sleep(BUSY_PAUSE_SECONDS * n * random.uniform(0.5, 1.5))


def busy(error: BaseException) -> bool:
    """Whether `error` is SQLite's write lock still taken when the busy timeout ran out:
    others were writing, and the same work can succeed a moment later."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def full(error: BaseException | None) -> bool:
    """Whether `error` says the database's disk (or SQLite's page limit) is full: nothing
    can be written until an operator makes room. SQLite ends the whole transaction when
    it is full, so the error a savepoint's rollback raises then ("no such savepoint") is
    judged by the one it was raised over."""
    while error is not None:
        if isinstance(error, OperationalError) and (
            # PostgreSQL's disk_full (53100); SQLite's SQLITE_FULL.
            getattr(error.orig, "sqlstate", None) == "53100"
            or "database or disk is full" in str(error.orig)
        ):
            return True
        error = error.__context__
    return False


def checkpoint(engine: Engine) -> None:
    """Copy SQLite's write-ahead log into the database without waiting for readers or
    writers (PASSIVE), outside any transaction, so that commands do not have to. Nothing
    to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        # The DB-API connection is in autocommit mode (on_connect): no BEGIN IMMEDIATE
        # that would hold the write lock for the checkpoint's length.
        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
    finally:
        raw.close()


def optimize(engine: Engine) -> None:
    """Compact the full-text search indexes (SQLite): merge each into a single segment.

    A search seeks every trigram it asks for in every segment, and a table that grows by
    inserts keeps a dozen or more segments; compacted, a name search at 100k contacts
    reads three to five times less. PostgreSQL's trigram indexes need nothing like it.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        tables = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5(%'"
        ).scalars()
        for table in list(tables):
            conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('optimize')")


def alembic_config(engine: Engine) -> Config:
    """Alembic's config pointing at our migrations, bound to `engine`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    config.attributes["engine"] = engine
    return config


_REVISION = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)


@cache
def head_revision() -> str:
    """The newest migration: the one no other migration follows. Read from the files'
    `revision` and `down_revision` lines, because importing alembic to ask it costs a
    start-up 0.2 s; alembic answers when the files are not a plain chain."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        revisions.add(fields.get("revision", "").strip("'\" "))
        followed.add(fields.get("down_revision", "").strip("'\" "))
    heads = revisions - followed
    if len(heads) == 1 and all(_plain(r) for r in revisions | followed - {"None"}):
        return heads.pop()
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return head


def _plain(revision: str) -> bool:
    return re.fullmatch(r"\w+", revision) is not None


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (alembic's own table), None when it has none."""
    # A read: no write lock, so no wait on (or failure because of) other processes' writes.
    with engine.connect().execution_options(**{READS: True}) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"the database is at several migrations at once: {versions}")
    return versions[0] if versions else None


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it already is). Processes
    starting together on one PostgreSQL database take turns: the first upgrades, the
    others find the schema current."""
    if schema_is_current(engine):
        return
    with migrating(engine):
        if schema_is_current(engine):
            return
        url = engine.url.render_as_string(hide_password=True)
        log.info("upgrading database schema at %s", url)
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
