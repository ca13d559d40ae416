"""The hot reads through SQLAlchemy Core: a statement built once, run on the session's
connection, rows back. Through the session the same statement costs twice as much
(`Session.execute` sets up ORM execution and loading even for plain columns: a card's
reads measured 1.71 ms through the ORM, 0.87 ms as Core on the connection, issue 17),
and a card reads only columns. Model instances stay for what a command changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlmodel import Session


def execute(
    session: Session, statement: Executable, params: Mapping[str, Any]
) -> CursorResult[*tuple[Any, ...]]:
    """`statement` with `params` on the session's connection, in its transaction. What the
    session has pending is flushed first, as its own `execute` would (autoflush)."""
    session.flush()
    return session.connection().execute(statement, params)
