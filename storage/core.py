"""The hot path through SQLAlchemy Core: a statement built once, run on the session's
connection. Through the session the same statement costs twice as much
(`Session.execute` sets up ORM execution and loading even for plain columns: a card's
reads measured 1.71 ms through the ORM, 0.87 ms as Core on the connection, issue 17),
and a flush of one new or changed row costs the unit of work's bookkeeping besides.

The hot commands' writes (`insert_row`, `update_row`) are statements too, on model
instances the session then holds as if it had loaded them: what the handler renders, and
what a later ORM change of the same row builds on, is what the database has. Each is
named to the undo journal (storage/journal.py) before it is made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Insert,
    Table,
    Update,
    bindparam,
    insert,
    update,
)
from sqlalchemy.orm import Mapped, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel

from storage import journal


def execute(
    session: Session, statement: Executable, params: Mapping[str, Any]
) -> CursorResult[*tuple[Any, ...]]:
    """`statement` with `params` on the session's connection, in its transaction. What the
    session has pending is flushed first, as its own `execute` would (autoflush)."""
    session.flush()
    return session.connection().execute(statement, params)


def id_among(column: ColumnElement[Any] | Mapped[Any], *, one: bool) -> ColumnElement[bool]:
    """`column` is the `id` parameter (`one`) or one of the `ids` parameter. A statement
    has both forms, chosen by `ids_values`: a list is a parameter SQLAlchemy renders into
    the SQL again at every execution, and most lookups (a reference, a card) are of one."""
    if one:
        return column == bindparam("id")
    return column.in_(bindparam("ids", expanding=True))


def ids_values(ids: Sequence[int]) -> tuple[bool, dict[str, Any]]:
    """Which form of an `id_among` statement to run for `ids` (one?), and its parameter."""
    if len(ids) == 1:
        return True, {"id": ids[0]}
    return False, {"ids": list(ids)}


def insert_row(session: Session, obj: SQLModel) -> None:
    """INSERT `obj` (a new model instance) with one statement; its generated id is set
    and the session holds it from then on as a loaded, unchanged row."""
    table = _table(obj)
    statement, columns, generated = _insert_statement(table)
    params = {name: getattr(obj, name) for name in columns}
    result = execute(session, statement, params)
    if generated is not None:
        setattr(obj, generated, result.scalar_one())
    make_transient_to_detached(obj)
    session.add(obj)
    if computed := _computed(table):  # the database's to say: read when asked for
        session.expire(obj, computed)
    journal.note_insert(session, type(obj), journal.key_of(obj), obj=obj)


def insert_links(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows of a table that nothing reads back in the same command (tag links),
    in one statement; journaled with their values."""
    if not rows:
        return
    table = journal.table_of(model)
    execute(session, _plain_insert(table), rows[0] if len(rows) == 1 else list(rows))  # type: ignore[arg-type]
    journal.note_inserted_rows(session, model, rows)


def update_row(session: Session, obj: SQLModel, **values: Any) -> None:
    """UPDATE these columns of `obj`'s row (an instance the session holds) with one
    statement, and set them on `obj` as loaded values (not as changes to flush)."""
    session.flush()
    table = _table(obj)
    key = journal.key_of(obj)
    journal.note_update(session, obj, values)
    statement = _update_statement(table, tuple(sorted(values)))
    pk = [c.name for c in table.primary_key.columns]
    params = {f"v_{name}": value for name, value in values.items()}
    params.update({f"pk_{name}": v for name, v in zip(pk, key, strict=True)})
    session.connection().execute(statement, params)
    for name, value in values.items():
        set_committed_value(obj, name, value)


def _table(obj: SQLModel) -> Table:
    return journal.table_of(type(obj))


@cache
def _insert_statement(table: Table) -> tuple[Insert, tuple[str, ...], str | None]:
    """The INSERT of a whole row, built once per table; with the generated key's column
    when the table has one (a single integer primary key)."""
    pk = list(table.primary_key.columns)
    generated = pk[0].name if len(pk) == 1 and pk[0].autoincrement in (True, "auto") else None
    columns = tuple(c.name for c in table.columns if c.computed is None and c.name != generated)
    statement = insert(table)
    if generated is not None:
        statement = statement.returning(table.c[generated])
    return statement, columns, generated


@cache
def _plain_insert(table: Table) -> Insert:
    return insert(table)


@cache
def _update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    where = [c == bindparam(f"pk_{c.name}") for c in table.primary_key.columns]
    return update(table).where(*where).values({name: bindparam(f"v_{name}") for name in columns})


@cache
def _computed(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.computed is not None]
