"""The undo journal: what a change did to the team's data, row by row, so that it can be
taken back exactly, or refused when a later change depends on it.

Whatever makes the change (a command, an import, a deletion) runs inside `recording`: the
session notes every row of a journaled table that a flush inserts, updates or deletes,
and reads its values from the database before the first write to it; `save_change`
reads them again afterwards and stores both (Change, ChangeRow). Nothing has to be told
what it changed, so a new command cannot forget a row; only rows written past the ORM
are named: an INSERT statement's with `note_insert` (or `note_inserted_rows`), an UPDATE
statement's with `note_update` before it runs (storage/core.py does both for the hot
commands). The rows a change inserted are stored together, a ChangeRow for thousands.

`undo_change` first checks every row, then writes; a row fails the check when it is no
longer what the change left (edited since, gone, or used by a row the change did not
make: a note on the contact it added, a later stage move of the deal), and then nothing
is written. The writes go through the ORM in foreign-key order (rows it deleted back
first, parents first; then updates; then rows it inserted removed, children first), so
the database's triggers keep the pipeline's running totals, and its full-text indexes,
as they would for any other write.

How each table is taken back:

- `strict` (contacts, deals, stage changes, activities, tag links, reminders): exactly,
  or refused.
- `shared` (companies, tags: made on the way by `company:` or `#tag`): a row the change
  made is removed when nothing uses it any more, and quietly kept when something does.
- `unsent` (the outbox): a message the change queued is withdrawn while it waits; one
  already sent or being sent is kept, and the result says so (`Undone.kept`); it gives up
  its dedupe key, so that the same event, made again, is announced again.

Some columns move on by themselves (`SOFT`: last activity, score, geocoding, updated at):
a later change to them does not block an undo, and they are put back only when nothing
changed them since.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    event,
    insert,
    inspect,
    tuple_,
)
from sqlalchemy import select as select_columns
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session, SQLModel, col, select

from storage import core
from storage.models import Change, ChangeRow, Outbox
from storage.types import UTCDateTime


class Policy(StrEnum):
    strict = "strict"
    shared = "shared"
    unsent = "unsent"


JOURNALED: dict[str, Policy] = {
    "contact": Policy.strict,
    "deal": Policy.strict,
    "stagechange": Policy.strict,
    "activity": Policy.strict,
    "contacttag": Policy.strict,
    "dealtag": Policy.strict,
    "company": Policy.shared,
    "tag": Policy.shared,
    "reminder": Policy.strict,
    "outbox": Policy.unsent,
}
SOFT = frozenset(
    {"updated_at", "last_activity_at", "score", "lat", "lon", "geocoded_from", "geocode_pending"}
)
# A team's journal is kept this long (undo itself allows minutes; an import may allow
# more): every PRUNE_EVERY-th change saved deletes the team's older ones.
KEEP = timedelta(days=1)
PRUNE_EVERY = 32
_KEY = "undo_journal"
_CHUNK = 500
_BATCH = 5000  # inserted rows a ChangeRow holds

Values = dict[str, Any]  # a row's columns, JSON-ready
Key = tuple[Any, ...]


class UndoConflict(Exception):
    """The change cannot be taken back as it is: `conflicts` say why, row by row."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} row(s) changed since")
        self.conflicts = conflicts


@dataclass(frozen=True)
class Conflict:
    table: str
    values: dict[str, Any]  # the row as the change left it (decoded)
    # "changed": edited since (`columns`); "gone": deleted since; "back": a row the change
    # deleted exists again; "used": rows the change did not make refer to it (`used_by`:
    # table -> how many, at least).
    reason: str
    columns: tuple[str, ...] = ()
    used_by: dict[str, int] = field(default_factory=dict)


@dataclass
class Undone:
    """What an undo did: each row's values (as the change left them, or as they were
    before it, decoded), and the rows it had to keep (an announcement already sent)."""

    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    kept: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def values(self, table: str, column: str) -> set[Any]:
        """Every value `column` had in the rows of `table` (`contact`, `id`) or, with table
        "*", in any row that has that column (`*`, `contact_id`)."""
        return {
            values[column]
            for name, values in self.rows
            if (table in ("*", name)) and values.get(column) is not None
        }


@dataclass
class _Touched:
    table: Table
    key: Key
    before: Values | None
    # The ORM object written: its state is the row after the change. None: a row written
    # by a statement, read back from the database.
    obj: object | None = None
    # Or the row as a statement wrote it, every column (JSON-ready): not read back.
    written: Values | None = None

    def written_on(self, values: Mapping[str, Any]) -> None:
        """A row noted with its values, changed again in the same change (`values` by
        column name): the values it is left with."""
        if self.written is not None:
            self.written.update({name: _encode(value) for name, value in values.items()})


@dataclass
class Recorder:
    """The rows a recording has seen written, in the order it first saw them."""

    touched: dict[tuple[str, Key], _Touched] = field(default_factory=dict)

    def see(
        self,
        table: Table,
        key: Key,
        before: Values | None,
        obj: object = None,
        written: Values | None = None,
    ) -> None:
        self.touched.setdefault((table.name, key), _Touched(table, key, before, obj, written))

    def seen(self, table: Table, key: Key) -> bool:
        return (table.name, key) in self.touched


@contextmanager
def recording(session: Session) -> Iterator[Recorder]:
    """Journal what the session writes until the block ends; `save_change` stores it."""
    recorder = Recorder()
    session.info[_KEY] = recorder
    try:
        yield recorder
    finally:
        session.info.pop(_KEY, None)


def note_insert(session: Session, model: type[SQLModel], key: Key, *, obj: object = None) -> None:
    """A row inserted with a statement rather than the ORM (the outbox's upsert, the hot
    commands' rows): journal it too, when something is recording; `obj`, the instance the
    session holds for it from then on, whose state is the row as the change leaves it."""
    recorder: Recorder | None = session.info.get(_KEY)
    if recorder is not None:
        recorder.see(_table(model), key, None, obj)


def note_inserted_rows(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> None:
    """Rows inserted with a statement, each with every column as written (an import's
    hundred thousand, tag links): journaled when something is recording, with those
    values, so that they need not be read back."""
    recorder: Recorder | None = session.info.get(_KEY)
    if recorder is None:
        return
    table = _table(model)
    names = [c.name for c in _columns(table)]
    keys = [c.name for c in table.primary_key.columns]
    for row in rows:
        written = {name: _encode(row[name]) for name in names}
        recorder.see(table, tuple(row[k] for k in keys), None, None, written)


def note_update(session: Session, obj: object, values: Values) -> None:
    """`obj`'s row is about to be changed to `values` by a statement (the session has
    flushed; `core.update_row` sets the values on `obj` after): journal its values before,
    from what the session loaded or else from the database."""
    recorder: Recorder | None = session.info.get(_KEY)
    table = _journaled(obj)
    if recorder is None or table is None:
        return
    key = _key_of(obj)
    touched = recorder.touched.get((table.name, key))
    if touched is None:
        before = _loaded(obj, table)
        if before is None:
            before = _read(session, table, [key]).get(key)
        recorder.see(table, key, before, obj)
    else:
        touched.written_on(values)


def key_of(obj: object) -> Key:
    return _key_of(obj)


def table_of(model: type[SQLModel]) -> Table:
    return _table(model)


@event.listens_for(OrmSession, "before_flush")
def _before_flush(session: OrmSession, _context: UOWTransaction, _instances: object) -> None:
    recorder: Recorder | None = session.info.get(_KEY)
    if recorder is None:
        return
    unknown: dict[str, dict[Key, object]] = {}
    tables: dict[str, Table] = {}
    for obj in [*session.dirty, *session.deleted]:
        table = _journaled(obj)
        if table is None or (obj in session.dirty and not session.is_modified(obj)):
            continue
        key = _key_of(obj)
        touched = recorder.touched.get((table.name, key))
        if touched is not None:
            if obj in session.dirty:
                # Inserted by a statement in this change, then changed through the ORM (an
                # import's later row filling what an earlier one left empty).
                held = inspect(obj).dict
                touched.written_on({c.name: held[c.key] for c in _columns(table) if c.key in held})
            continue
        if (before := _loaded(obj, table)) is not None:
            recorder.see(table, key, before, obj)
        else:
            unknown.setdefault(table.name, {})[key] = obj
            tables[table.name] = table
    # Read before the flush writes: the database still holds the values before the change.
    for name, objects in unknown.items():
        found = _read(session, tables[name], list(objects))
        for key, obj in objects.items():
            recorder.see(tables[name], key, found.get(key), obj)


@event.listens_for(OrmSession, "after_flush")
def _after_flush(session: OrmSession, _context: UOWTransaction) -> None:
    recorder: Recorder | None = session.info.get(_KEY)
    if recorder is None:
        return
    for obj in session.new:
        table = _journaled(obj)
        if table is not None:
            recorder.see(table, _key_of(obj), None, obj)


def save_change(
    session: Session,
    recorder: Recorder,
    *,
    team_id: int,
    member_id: int,
    at: datetime,
    label: str,
) -> Change | None:
    """Store what the recording saw as one Change; None when it changed nothing."""
    session.flush()
    by_table: dict[str, list[_Touched]] = {}
    for touched in recorder.touched.values():
        by_table.setdefault(touched.table.name, []).append(touched)
    rows: list[dict[str, Any]] = []
    for touched_rows in by_table.values():
        inserted: list[Values] = []
        table = touched_rows[0].table
        held: dict[Key, Values | None] = {}
        for touched in touched_rows:
            if touched.written is not None:
                held[touched.key] = touched.written
            elif touched.obj is not None:
                with suppress(_NotHeld):
                    held[touched.key] = _state(touched.obj, table)
        now = _read(session, table, [t.key for t in touched_rows if t.key not in held])
        for touched in touched_rows:
            before = touched.before
            after = held[touched.key] if touched.key in held else now.get(touched.key)
            if before == after:
                continue
            if before is None:
                assert after is not None
                inserted.append(after)
                continue
            if after is not None:
                changed = [c for c in after if before.get(c) != after[c]]
                before = {c: before.get(c) for c in changed}
                after = {c: after[c] for c in changed}
            row_key = _key_values(table, touched.key)
            rows.append(
                {"table_name": table.name, "row_key": row_key, "before": before, "after": after}
            )
        rows += _inserted_rows(table, inserted)
    if not rows:
        return None
    # Statements, not ORM objects: they cost less, and an import has thousands of rows.
    # A command's change is one Change and one or two ChangeRows: on the driver (storage/
    # core.py), where a Connection's execution cost more than the rest of the bookkeeping.
    values = {"team_id": team_id, "member_id": member_id, "label": label[:500], "at": at}
    change_id = core.execute(session, _INSERT_CHANGE, {**values, "undone_at": None}).scalar_one()
    assert change_id is not None
    if len(rows) <= _ROWS_AT_ONCE:
        params = {f"{name}_{i}": v for i, row in enumerate(rows) for name, v in row.items()}
        core.execute(session, _insert_rows(len(rows)), {**params, "change_id": change_id})
    else:
        core.execute(session, _INSERT_ROWS, [{**row, "change_id": change_id} for row in rows])
    if change_id % PRUNE_EVERY == 0:
        core.execute(session, _PRUNE, {"team_id": team_id, "before": at - KEEP})
    # Made from its values: the model's constructor costs more than the INSERT (60 µs).
    return core.new_row(Change, id=change_id, undone_at=None, **values)


def _inserted_rows(table: Table, inserted: list[Values]) -> list[dict[str, Any]]:
    """The rows a change inserted into `table`, as ChangeRows of up to _BATCH rows each:
    the columns named once and each row as a list of values (`row_key` {"inserted": n}).
    An import inserts a hundred thousand rows: one ChangeRow (and JSON document) each
    made most of the journal's cost, in time and in memory."""
    stored = []
    for start in range(0, len(inserted), _BATCH):
        batch = inserted[start : start + _BATCH]
        # Only a SOFT column can be missing from a row (see `_state`): left out, it is
        # never put back, as for a row stored alone.
        names = [name for name in _names(table) if all(name in row for row in batch)]
        stored.append(
            {
                "table_name": table.name,
                "row_key": {"inserted": len(batch)},
                "before": None,
                "after": {"columns": names, "rows": [[row[n] for n in names] for row in batch]},
            }
        )
    return stored


def journal_rows(
    table_name: str, row_key: Values, before: Values | None, after: Values | None
) -> Iterator[tuple[Values, Values | None, Values | None]]:
    """A stored ChangeRow's rows, one at a time: (primary key, before, after)."""
    if "inserted" not in row_key:
        yield row_key, before, after
        return
    assert after is not None
    pk = [c.name for c in SQLModel.metadata.tables[table_name].primary_key.columns]
    for values in after["rows"]:
        row = dict(zip(after["columns"], values, strict=True))
        yield {name: row[name] for name in pk}, None, row


_INSERT_CHANGE = insert(Change).returning(col(Change.id))
_INSERT_ROWS = insert(ChangeRow)
# A command's few ChangeRows go in one statement of that many rows (built once per count):
# several rows as a list of parameters are one execution for each, on the Connection.
_ROWS_AT_ONCE = 8


@cache
def _insert_rows(count: int) -> Insert:
    table = _table(ChangeRow)
    columns = [c for c in table.columns if c.name not in ("id", "change_id")]
    return insert(table).values(
        [
            {
                "change_id": bindparam("change_id", type_=table.c.change_id.type),
                **{c.name: bindparam(f"{c.name}_{i}", type_=c.type) for c in columns},
            }
            for i in range(count)
        ]
    )


# Its rows go with it (ON DELETE CASCADE).
_PRUNE = delete(Change).where(
    col(Change.team_id) == bindparam("team_id"), col(Change.at) < bindparam("before")
)


def latest_change(session: Session, *, team_id: int, member_id: int) -> Change | None:
    """The member's most recent change (undone or not)."""
    return session.exec(
        select(Change)
        .where(col(Change.team_id) == team_id, col(Change.member_id) == member_id)
        .order_by(col(Change.at).desc(), col(Change.id).desc())
        .limit(1)
    ).first()


def get_change(session: Session, *, team_id: int, change_id: int) -> Change | None:
    change = session.get(Change, change_id)
    return change if change is not None and change.team_id == team_id else None


@dataclass(frozen=True)
class JournalRow:
    """One row a change inserted, updated or deleted (see ChangeRow)."""

    table_name: str
    row_key: Values
    before: Values | None
    after: Values | None


def change_rows(session: Session, *, change_id: int) -> list[JournalRow]:
    rows = session.connection().execute(
        select_columns(
            col(ChangeRow.table_name),
            col(ChangeRow.row_key),
            col(ChangeRow.before),
            col(ChangeRow.after),
        )
        .where(col(ChangeRow.change_id) == change_id)
        .order_by(col(ChangeRow.id))
    )
    return [
        JournalRow(table_name, *row)
        for table_name, *stored in rows
        for row in journal_rows(table_name, *stored)
    ]


def undo_change(session: Session, *, change: Change, now: datetime) -> Undone | None:
    """Take `change` back, or raise UndoConflict having written nothing; None when it is
    undone already (the change's row is locked first, so two undos of one change, pressed
    at once, have one effect)."""
    assert change.id is not None
    session.exec(
        select(Change)
        .where(col(Change.id) == change.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if change.undone_at is not None:
        return None
    plans = _plan(session, change_rows(session, change_id=change.id))
    conflicts = [plan.conflict for plan in plans if plan.conflict is not None]
    if conflicts:
        raise UndoConflict(conflicts)
    _apply(session, plans, change.id)
    change.undone_at = now
    session.add(change)
    session.flush()
    undone = Undone()
    for plan in plans:
        # The row as it is now, or as it was when the undo removed it.
        values = _decoded(plan.table, {**(plan.current or {}), **(plan.row.before or {})})
        (undone.kept if plan.keep else undone.rows).append((plan.table.name, values))
    return undone


# --- checking and applying -----------------------------------------------------------------


@dataclass
class _Plan:
    row: JournalRow
    table: Table
    key: Key
    current: Values | None
    conflict: Conflict | None = None
    keep: bool = False  # a row the change made that stays (see Policy)


def _plan(session: Session, rows: Sequence[JournalRow]) -> list[_Plan]:
    tables = SQLModel.metadata.tables
    plans = []
    by_table: dict[str, list[JournalRow]] = {}
    for row in rows:
        by_table.setdefault(row.table_name, []).append(row)
    for name, table_rows in by_table.items():
        table = tables[name]
        keys = [_key_from(table, row.row_key) for row in table_rows]
        current = _read(session, table, keys, lock=True)
        plans += [
            _Plan(row, table, key, current.get(key))
            for row, key in zip(table_rows, keys, strict=True)
        ]
    used = _users(session, plans)
    for plan in plans:
        _check(plan, used.get((plan.table.name, plan.key), {}))
    return plans


def _check(plan: _Plan, used: dict[str, int]) -> None:
    """Whether the row can be taken back (`used`: rows outside the change that refer to
    it, by table); sets `plan.conflict` when it cannot, `plan.keep` when it stays."""
    row, current, policy = plan.row, plan.current, JOURNALED[plan.table.name]
    # The row as the change left it: what the conflict names it by.
    left = _decoded(
        plan.table, {**(current or {}), **(row.after or row.before or {}), **row.row_key}
    )

    def conflict(reason: str, **details: Any) -> None:
        plan.conflict = Conflict(plan.table.name, left, reason, **details)

    if row.before is None:  # the change made this row
        if policy is Policy.unsent:
            plan.keep = current is None or current.get("status") != "pending"
            return
        if current is None:
            if policy is Policy.strict:
                conflict("gone")
            plan.keep = True
            return
        assert row.after is not None
        edited = _edited(row.after, current, row.after)
        if policy is Policy.shared:
            plan.keep = bool(edited or used)
        elif edited:
            conflict("changed", columns=edited)
        elif used:
            conflict("used", used_by=used)
    elif row.after is None:  # the change deleted this row
        if current is not None:
            conflict("back")
    elif current is None:
        conflict("gone")
    elif edited := _edited(row.after, current, row.before):
        conflict("changed", columns=edited)


def _edited(after: Values, current: Values, columns: Iterable[str]) -> tuple[str, ...]:
    """The columns (not SOFT ones) that are no longer what the change left."""
    return tuple(c for c in columns if c not in SOFT and current.get(c) != after.get(c))


def _users(session: Session, plans: list[_Plan]) -> dict[tuple[str, Key], dict[str, int]]:
    """For each row the change made, the rows outside it that refer to it by foreign key,
    counted by table. Rows the change made go with it, and rows it changed to refer to it
    go back, so neither counts. One query per foreign key (and 500 rows), whatever the
    size of the change."""
    made = {(p.table.name, p.key) for p in plans if p.row.before is None}
    leaving = {
        (p.table.name, p.key, column, value)
        for p in plans
        if p.row.before is not None and p.row.after is not None
        for column, value in p.row.after.items()
        if p.row.before.get(column) != value
    }
    ids: dict[str, list[Any]] = {}
    for p in plans:
        # Rows with a composite key (tag links) are never referred to.
        if p.row.before is None and p.current is not None and len(p.key) == 1:
            ids.setdefault(p.table.name, []).append(p.key[0])
    used: dict[tuple[str, Key], dict[str, int]] = {}
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if target not in ids:
                continue
            pk = list(table.primary_key.columns)
            for start in range(0, len(ids[target]), _CHUNK):
                chunk = ids[target][start : start + _CHUNK]
                referring = session.connection().execute(
                    select_columns(*pk, fk.parent).where(fk.parent.in_(chunk))
                )
                for *key_values, value in referring:
                    key = tuple(key_values)
                    if (table.name, key) in made or (
                        table.name,
                        key,
                        fk.parent.name,
                        _encode(value),
                    ) in leaving:
                        continue
                    counts = used.setdefault((target, (value,)), {})
                    counts[table.name] = counts.get(table.name, 0) + 1
    return used


def _apply(session: Session, plans: list[_Plan], change_id: int) -> None:
    order = {table.name: i for i, table in enumerate(SQLModel.metadata.sorted_tables)}
    deleted = sorted((p for p in plans if p.row.after is None), key=lambda p: order[p.table.name])
    updated = [p for p in plans if p.row.before is not None and p.row.after is not None]
    made = sorted(
        (p for p in plans if p.row.before is None and not p.keep),
        key=lambda p: -order[p.table.name],
    )
    for plan in deleted:  # back, parents first
        assert plan.row.before is not None
        session.add(_model(plan.table)(**_decoded(plan.table, plan.row.before)))
        session.flush()
    for plan in updated:
        assert plan.row.before is not None and plan.row.after is not None and plan.current
        obj = session.get(_model(plan.table), plan.key)
        assert obj is not None
        for column, value in _decoded(plan.table, plan.row.before).items():
            if column not in SOFT or plan.current.get(column) == plan.row.after.get(column):
                setattr(obj, column, value)
        session.add(obj)
    session.flush()
    for plan in plans:
        if plan.keep and plan.current is not None and JOURNALED[plan.table.name] is Policy.unsent:
            # A message already sent stays sent, but what it was about was taken back: the
            # same event made again (a new win, under ids the database may hand out again)
            # is a new message, so the sent one gives up its dedupe key. (Before the rows
            # go: one may take the message with it, a reminder's.)
            outbox = session.get(Outbox, plan.key)
            assert outbox is not None
            outbox.dedupe_key = f"{outbox.dedupe_key[:150]}~undone:{change_id}"
            session.add(outbox)
    session.flush()
    # Gone, children first, a table at a time in statements of _CHUNK rows (an import
    # made a hundred thousand); the database's triggers run for them as for any delete.
    by_table: dict[str, list[_Plan]] = {}
    for plan in made:
        by_table.setdefault(plan.table.name, []).append(plan)
    for table_plans in by_table.values():
        table = table_plans[0].table
        pk = list(table.primary_key.columns)
        keys = [plan.key for plan in table_plans]
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            session.connection().execute(
                delete(table).where(
                    pk[0].in_([key[0] for key in chunk])
                    if len(pk) == 1
                    else tuple_(*pk).in_(chunk)
                )
            )
        model = _model(table)
        for key in keys:  # what the session still holds of them is gone too
            held = session.identity_map.get(session.identity_key(model, key))
            if held is not None:
                session.expunge(held)


# --- rows as JSON -----------------------------------------------------------------------------


def _journaled(obj: object) -> Table | None:
    table = getattr(type(obj), "__table__", None)
    return table if isinstance(table, Table) and table.name in JOURNALED else None


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _model(table: Table) -> type[SQLModel]:
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    raise LookupError(table.name)


def _loaded(obj: object, table: Table) -> Values | None:
    """The row's values before the session's pending changes to it, from what the session
    loaded; None when one of them never was (then the database is asked)."""
    state = inspect(obj)
    # What the session loaded, and the first value of each attribute changed since.
    held = {**state.dict, **state.committed_state}
    values = {}
    for key, name, _soft in _fields(table):
        value = held.get(key, NO_VALUE)
        if value is NO_VALUE:
            return None
        values[name] = value if type(value) in _PLAIN else _encode(value)  # most are
    return values


class _NotHeld(Exception):
    """The session does not hold a column of the row: the database is asked."""


def _state(obj: object, table: Table) -> Values | None:
    """The row as the session wrote it; None when it deleted it. A SOFT column the session
    does not hold (the score, expired by the statement that rescored it) is left out,
    which means it is never put back; any other raises _NotHeld."""
    state = inspect(obj)
    if state.was_deleted:
        return None
    held = state.dict
    values = {}
    for key, name, soft in _fields(table):
        if key in held:
            value = held[key]
            values[name] = value if type(value) in _PLAIN else _encode(value)  # most are
        elif not soft:
            raise _NotHeld(name)
    return values


def _key_of(obj: object) -> Key:
    return tuple(inspect(obj).mapper.primary_key_from_instance(obj))


@cache
def _columns(table: Table) -> tuple[Column[Any], ...]:
    # Computed columns (a contact's latitude band) follow the others by themselves.
    return tuple(c for c in table.columns if c.computed is None)


@cache
def _names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in _columns(table))


@cache
def _fields(table: Table) -> tuple[tuple[str, str, bool], ...]:
    """`_columns` as (attribute key, column name, SOFT or not): a command's journal reads
    every column of each row it wrote, twice (before and after)."""
    return tuple((c.key, c.name, c.name in SOFT) for c in _columns(table))


def _read(
    session: Session | OrmSession, table: Table, keys: Sequence[Key], *, lock: bool = False
) -> dict[Key, Values]:
    """The rows of `table` with these primary keys, as JSON-ready values, by key."""
    if not keys:
        return {}
    pk = list(table.primary_key.columns)
    columns = _columns(table)
    found: dict[Key, Values] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        wanted = [key[0] for key in chunk] if len(pk) == 1 else chunk
        rows = session.connection().execute(_select_rows(table, lock), {"keys": wanted})
        for row in rows.mappings():
            values = {c.name: _encode(row[c.name]) for c in columns}
            found[tuple(row[c.name] for c in pk)] = values
    return found


@cache
def _select_rows(table: Table, lock: bool) -> Select[Any]:
    """Rows of `table` by primary key (`keys`), built once per table: every journaled
    command reads a few."""
    pk = list(table.primary_key.columns)
    keys: BindParameter[Any] = bindparam("keys", expanding=True)
    query = select_columns(*_columns(table)).where(
        pk[0].in_(keys) if len(pk) == 1 else tuple_(*pk).in_(keys)
    )
    return query.with_for_update() if lock else query


def _key_values(table: Table, key: Key) -> Values:
    return {c.name: _encode(v) for c, v in zip(table.primary_key.columns, key, strict=True)}


def _key_from(table: Table, values: Values) -> Key:
    decoded = _decoded(table, values)
    return tuple(decoded[c.name] for c in table.primary_key.columns)


# Values stored in the journal as they are: most of a row's.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _encode(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decoded(table: Table, values: Values) -> dict[str, Any]:
    decoded = {}
    for name, value in values.items():
        column_type = table.columns[name].type
        if value is not None and isinstance(column_type, UTCDateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column_type, Date):
            value = date.fromisoformat(value)
        decoded[name] = value
    return decoded
