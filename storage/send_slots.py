"""Send slots shared by the bot processes on one PostgreSQL database (migration 0016): the
platforms' rate limits for the whole installation.

A sender asks for a slot before each message (`reserve`) and waits the seconds it is told;
a platform that answers "too many requests" pushes a key's next slot back (`hold`). This
runs before every message the bot sends, so it speaks psycopg's async API directly on a
connection of its own: one round trip on the event loop, no worker thread, and no commit
that waits for the disk (the table is unlogged, and `synchronous_commit` is off for this
connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlmodel import Session

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.AsyncConnection[tuple[object, ...]]
_RESERVE = "SELECT slot, wait FROM reserve_send(%s, %s)"
_HOLD = (
    "INSERT INTO send_slot (key, next_at)"
    " VALUES (%s, clock_timestamp() + make_interval(secs => %s))"
    " ON CONFLICT (key) DO UPDATE SET next_at = greatest(send_slot.next_at, excluded.next_at)"
)


async def connect(engine: Engine) -> Connection:
    """A connection for slots to the engine's PostgreSQL database."""
    import psycopg  # only with PostgreSQL: 0.1 s that a SQLite installation does not pay

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await psycopg.AsyncConnection.connect(
        url, autocommit=True, options="-c synchronous_commit=off"
    )


async def reserve(
    conn: Connection,
    *,
    keys: Sequence[str],
    gaps: Sequence[float],
) -> tuple[datetime, float]:
    """Take the soonest moment when a message limited by `keys` may go, each key spacing
    its messages `gaps` seconds apart: the moment (the database's clock) and the seconds
    to wait for it (0 or less: now). `keys` must be distinct."""
    cursor = await conn.execute(_RESERVE, (list(keys), list(gaps)))
    row = await cursor.fetchone()
    assert row is not None
    slot, wait = row
    assert isinstance(slot, datetime) and isinstance(wait, float)
    return slot, wait


async def hold(conn: Connection, *, key: str, seconds: float) -> None:
    """Nothing more under `key` for `seconds` (the platform said to wait)."""
    await conn.execute(_HOLD, (key, seconds))


def prune(session: Session, *, before: datetime) -> int:
    """Forget the keys whose next slot is long past (chats gone quiet); returns how many."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    result = session.connection().execute(
        text("DELETE FROM send_slot WHERE next_at < :before"), {"before": before}
    )
    return int(result.rowcount)
