"""`column IN (...)` for the few values a hot lookup has, as parameters of their own.

A list parameter (`expanding`) has SQLAlchemy render the statement's SQL again at every
execution, and keeps it off the driver (`core.execute` runs it on the Connection, issue
17). Most lookups are of one to a few values (a card's members; the keys of the words a
reference may be), so a statement has a form per count of parameters, 1, 2, 4, 8 or 16,
each padded by repeating its last value; more take the list. (A candidate for
storage/core.py, beside `id_among`.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam
from sqlalchemy.orm import Mapped

SIZES = (1, 2, 4, 8, 16)
COUNTS = (*SIZES, 0)  # 0: a list parameter


def among(column: ColumnElement[Any] | Mapped[Any], name: str, count: int) -> ColumnElement[bool]:
    """`column` is one of the `count` parameters `name_0`, `name_1`... (0: one of the
    list parameter `name`)."""
    if count == 1:
        return column == bindparam(f"{name}_0")
    if count:
        return column.in_([bindparam(f"{name}_{i}") for i in range(count)])
    return column.in_(bindparam(name, expanding=True))


def among_values(name: str, values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """Which form of an `among` statement takes `values` (its count), and its parameters."""
    count = next((n for n in SIZES if n >= len(values)), 0)
    if not count:
        return 0, {name: list(values)}
    padded = [*values, *[values[-1]] * (count - len(values))]
    return count, {f"{name}_{i}": value for i, value in enumerate(padded)}
