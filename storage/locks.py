"""Locks that several bot processes on one PostgreSQL database agree on: advisory locks.

- `lock_chat`: one chat's commands one at a time, whichever process runs them; taken in
  the command's transaction and released by its commit or rollback.
- `lock_signup`, `lock_person`: registering people and founding teams, one at a time
  (the single-team installation's first /start founds one team; a person's first
  messages, sent at once from two chats, register them once).
- `lock_team_part`: one part of a team's setup (its tags, its stages) changed by one
  command at a time, so two at once making the same tag make it once.
- `Leader`: the one process that runs the scheduler's scans (agendas, digests, rescoring,
  geocoding), held on a connection of its own for as long as the process lives; when the
  process dies, PostgreSQL drops its connection and the lock with it, and another process
  takes over at its next try.
- `migrating`: one process at a time upgrades the schema.

SQLite is one process by design (`crmbot serve` refuses several workers on it) and
serialises its writers anyway: there every lock is granted at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

log = logging.getLogger(__name__)

_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_LOCK = text("SELECT pg_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


def lock_key(name: str) -> int:
    """A name as a 64-bit advisory lock key (PostgreSQL's lock keys are signed bigints)."""
    digest = hashlib.blake2b(f"crmbot:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def shared(engine: Engine) -> bool:
    """True when other processes may share this database (PostgreSQL)."""
    return engine.dialect.name == "postgresql"


def lock_chat(session: Session, *, platform: str, workspace_id: str, chat_id: str) -> None:
    """Wait until no other transaction holds this chat, then hold it until this one ends."""
    key = chat_lock_key(
        session.get_bind(),  # type: ignore[arg-type]
        platform=platform,
        workspace_id=workspace_id,
        chat_id=chat_id,
    )
    if key is not None:
        hold_key(session, key)


def chat_lock_key(engine: Engine, *, platform: str, workspace_id: str, chat_id: str) -> int | None:
    """The key `lock_chat` holds for this chat; None when it holds none (no chat, or a
    database no other process shares). A caller may take it in a statement of its own
    (the dispatcher takes it in the one that records the update id)."""
    if not chat_id or not shared(engine):
        return None
    return lock_key(f"chat:{platform}:{workspace_id}:{chat_id}")


def lock_signup(session: Session) -> None:
    """Hold the installation's sign-up until this transaction ends: whether a team exists
    yet, or a workspace has one, is then read after any other founding has committed."""
    _hold(session, "signup")


def lock_person(session: Session, *, platform: str, workspace_id: str, user_id: str) -> None:
    """Hold one platform account until this transaction ends: its registration, by any
    command from any chat, is then read after another registering it has committed."""
    _hold(session, f"person:{platform}:{workspace_id}:{user_id}")


def lock_team_part(session: Session, *, team_id: int, part: str) -> None:
    """Hold a part of the team's setup ("tags", "stages") until this transaction ends:
    what it is, is then read after another command changing it has committed."""
    _hold(session, f"team:{team_id}:{part}")


def _hold(session: Session, name: str) -> None:
    if shared(session.get_bind()):  # type: ignore[arg-type]
        hold_key(session, lock_key(name))


def hold_key(session: Session, key: int) -> None:
    """Wait for the advisory lock `key`, then hold it until the transaction ends."""
    session.connection().execute(_XACT_LOCK, {"key": key})


class Leader:
    """Leadership among the processes sharing a database: `try_lead()` says whether this
    process leads now, taking the lead when nobody has it."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.key = lock_key(f"leader:{name}")
        self._conn: Connection | None = None
        # try_lead and resign run in worker threads, possibly at once (a stop while a job
        # asks for the lead): one at a time, and no lead taken after resigning, or the
        # lock would outlive the scheduler on a connection back in the pool.
        self._turn = threading.Lock()
        self._resigned = False

    @property
    def leading(self) -> bool:
        return self._conn is not None or not shared(self.engine)

    def try_lead(self) -> bool:
        """Blocking (a short query): run it in a worker thread."""
        if not shared(self.engine):
            return True
        with self._turn:
            return not self._resigned and self._try_lead()

    def _try_lead(self) -> bool:
        if self._conn is not None:
            if self._alive(self._conn):
                return True
            log.warning("lost the database connection that held the lead")
            self._drop()
        from storage.db import retry_busy  # storage.db imports this module

        return retry_busy(lambda _: self._take_lead())

    def _take_lead(self) -> bool:
        from storage.db import uncommitted

        conn = self.engine.connect()
        try:
            # A pooled connection found dead runs this again on a new one: it wrote
            # nothing, and a lock its session took went with the session.
            with uncommitted():
                # Session-level: the lock outlives every transaction on this connection.
                won = bool(conn.execute(_TRY_LOCK, {"key": self.key}).scalar())
                conn.commit()
        except Exception:
            conn.close()
            raise
        if not won:
            conn.close()
            return False
        self._conn = conn
        log.info("this process now runs the scheduled scans")
        return True

    def resign(self) -> None:
        """Give the lead up for good (a clean shutdown), so another process takes it at
        once."""
        with self._turn:
            self._resigned = True
            self._release()

    def _release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(_UNLOCK, {"key": self.key})
            self._conn.commit()
        except DBAPIError:
            log.warning("could not release the lead; it goes with the connection")
        self._drop()

    def _alive(self, conn: Connection) -> bool:
        try:
            conn.execute(text("SELECT 1"))
            conn.commit()
        except DBAPIError:
            return False
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection must not go back to the pool, nor keep the lock there.
            conn.invalidate()
            conn.close()


@contextmanager
def migrating(engine: Engine) -> Iterator[Any]:
    """Hold the schema upgrade lock (waiting for another process's upgrade to finish)."""
    if not shared(engine):
        yield
        return
    key = lock_key("migrate")
    with engine.connect() as conn:
        conn.execute(_LOCK, {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(_UNLOCK, {"key": key})
            conn.commit()
