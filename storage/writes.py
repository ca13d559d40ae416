"""The hot commands' UPDATEs on the driver (storage/core.py's `execute`).

`core.update_row` runs its statement on the session's Connection, 40-60 µs of
SQLAlchemy's execution each, and a note, a stage move or a win make one or two (issue 17).
This is the same write through `core.execute`: journaled the same way, the same
statement (`core`'s, built once per table and set of columns). When `core.update_row`
runs on the driver itself, this goes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel

from storage import core, journal


def update_row(session: Session, obj: SQLModel, **values: Any) -> None:
    """UPDATE these columns of `obj`'s row (an instance the session holds) with one
    statement, and set them on `obj` as loaded values (not as changes to flush)."""
    session.flush()
    table = journal.table_of(type(obj))
    key = journal.key_of(obj)
    journal.note_update(session, obj, values)
    statement = core._update_statement(table, tuple(sorted(values)))
    params = {f"v_{name}": value for name, value in values.items()}
    params.update({f"pk_{c.name}": v for c, v in zip(table.primary_key, key, strict=True)})
    core.execute(session, statement, params)
    for name, value in values.items():
        set_committed_value(obj, name, value)
