"""The hot commands' writes, where storage/core.py has no cheaper form yet (issue 17).

`update_row` is `core.update_row` on the driver (`core.execute`): that one runs its
statement on the session's Connection, 40-60 µs of SQLAlchemy's execution, and a note, a
stage move or a win make one or two. Journaled the same way, with the same statement
(`core`'s, built once per table and set of columns); when `core.update_row` runs on the
driver itself, this one goes. `new_row` makes a new row's model instance for
`core.insert_row` without SQLModel's constructor, which cost more than the INSERT."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic.fields import FieldInfo
from sqlalchemy import inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel

from storage import core, journal

M = TypeVar("M", bound=SQLModel)


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


def new_row(model: type[M], **values: Any) -> M:
    """A new instance of `model` (a table model) with these values and its fields'
    defaults, as its constructor makes it: SQLModel's constructor of a table model checks
    nothing, but its per-field work cost 60-90 µs, more than the row's INSERT (issue 17)."""
    fields = _fields(model)
    if unknown := values.keys() - fields.keys():
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    obj = _mapper(model).class_manager.new_instance()
    for name, field in fields.items():
        if name in values:
            obj.__dict__[name] = values[name]
        elif field.is_required():
            raise TypeError(f"{model.__name__} needs {name}")
        else:
            obj.__dict__[name] = field.get_default(call_default_factory=True)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    return obj


@cache
def _fields(model: type[SQLModel]) -> dict[str, FieldInfo]:
    return dict(model.model_fields)


@cache
def _mapper(model: type[SQLModel]) -> Mapper[Any]:
    return inspect(model)
