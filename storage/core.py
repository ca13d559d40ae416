"""The hot path through SQLAlchemy Core: a statement built once, run on the session's
connection. Through the session the same statement costs twice as much
(`Session.execute` sets up ORM execution and loading even for plain columns: a card's
reads measured 1.71 ms through the ORM, 0.87 ms as Core on the connection, issue 17),
and a flush of one new or changed row costs the unit of work's bookkeeping besides.

The hot commands' writes (`insert_row`, `update_row`) are statements too, on model
instances the session then holds as if it had loaded them: what the handler renders, and
what a later ORM change of the same row builds on, is what the database has. Each is
named to the undo journal (storage/journal.py) before it is made.

`execute` sends a statement to the driver itself (`_Prepared`): compiled once per
dialect, its parameters and result columns converted by the same SQLAlchemy type
processors a Connection would apply. A Connection's execution costs 40-60 µs of Python a
statement, against 10-15 µs of SQLite's own work for a hot command's rows (bench/NOTES.md,
issue 17). What the driver path cannot run as it is (a list parameter, a column default
to fill in, several rows at once) goes through the Connection as before."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from enum import Enum
from functools import cache, partial
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    CursorResult,
    Executable,
    Insert,
    Table,
    TextClause,
    Update,
    bindparam,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Mapped, Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, SQLModel

from storage import journal
from storage.db import driver_error

M = TypeVar("M", bound=SQLModel)
N = TypeVar("N", bound=SQLModel)


def execute(
    session: Session,
    statement: Executable,
    params: Mapping[str, Any] | Sequence[Any],
    *,
    flush: bool = True,
) -> Rows | CursorResult[*tuple[Any, ...]]:
    """`statement` with `params` in the session's transaction: on the driver when it can
    be (`Rows`), else on the session's connection. What the session has pending is
    flushed first, as its own `execute` would (autoflush), unless `flush` is False (a
    read that, as SQL on the connection, never saw what is pending)."""
    if flush:
        session.flush()
    # A dict first: `isinstance` of the Mapping ABC costs a microsecond a statement.
    if type(params) is dict or isinstance(params, Mapping):
        connection = _connection(session)
        prepared = _prepared(statement, connection.dialect, frozenset(params))
        if prepared is not None:
            if prepared.writes:
                _savepoint_started(session)
            return prepared.run(connection.connection.dbapi_connection, params)
    return session.connection().execute(statement, params)


def _savepoint_started(session: Session) -> None:
    """Before a write on the driver inside `session.begin_nested()` (a command's savepoint,
    handlers/dispatcher.py), the SAVEPOINT sent: SQLAlchemy sends it lazily, when the
    session is next asked for its connection, which the driver path alone never does; a
    failed command's driver writes would otherwise outlive its rollback. Reads need none."""
    nested = session.get_nested_transaction()
    if nested is not None and session.info.get("crm_savepoint") is not nested:
        session.connection()
        session.info["crm_savepoint"] = nested


def execute_alone(engine: Engine, statement: Executable, params: Mapping[str, Any]) -> Rows:
    """`statement` with `params` in a transaction of its own, committed: on a pooled
    DB-API connection when the driver can run it, with no Connection, Session or
    transaction of SQLAlchemy's to set up (a third of a short write's cost); SQLite runs
    one statement outside a transaction as a transaction of its own (the write lock
    waited for as by BEGIN IMMEDIATE: the busy timeout). Else through `engine.begin()`."""
    prepared = _prepared(statement, engine.dialect, frozenset(params))
    if prepared is None:
        with engine.begin() as connection:
            result = connection.execute(statement, params)
            return Rows(list(result.all()) if result.returns_rows else [], result.rowcount)
    raw = engine.raw_connection()
    try:
        rows = prepared.run(raw.dbapi_connection, params)
        raw.commit()
        return rows
    finally:
        raw.close()  # back to the pool, rolled back there if the statement failed


class Rows:
    """A statement's rows from the driver, each a named tuple (`row.name`, `row[0]`),
    converted as a Connection would convert them: what callers use of a `CursorResult`."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> Any | None:
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> Any:
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        return self.one_or_none()

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


def load(
    session: Session, model: type[M], statement: Executable, params: Mapping[str, Any]
) -> list[M]:
    """The instances of `model` that `statement` (a SELECT of its table's columns, or some
    of them) finds, held by the session as loaded, as its own query would give them: an
    instance the session already holds is that instance (with what it had expired read
    again), any other is made from its row directly (about 20 µs, against 160 µs for the
    ORM's loading of a row, issue 17). Columns not selected are loaded when first read."""
    return [
        _held(session, model, dict(zip(row._fields, row, strict=True)))
        for row in execute(session, statement, params)
    ]


def get(session: Session, model: type[M], ident: int) -> M | None:
    """`session.get(model, ident)`: the instance the session holds, unexpired, with no
    SQL; else its row by primary key on the driver, made an instance as `load` makes it
    (a company's lookup for a deal's confirmation cost 0.1 ms through the ORM)."""
    held = session.identity_map.get((model, (ident,), None))
    if held is not None and not instance_state(held).expired:
        return held
    found = load(session, model, _by_primary_key(model), {"pk": ident})
    return found[0] if found else None


@cache
def _by_primary_key(model: type[SQLModel]) -> Executable:
    mapper = _mapped(model)[0]
    (column,) = mapper.primary_key
    return select(mapper.local_table).where(column == bindparam("pk"))


def load_pair(
    session: Session,
    first: type[M],
    second: type[N],
    statement: Executable,
    params: Mapping[str, Any],
) -> list[tuple[M, N]]:
    """`load` of two models from one statement, a SELECT of all of `first`'s columns and
    then all of `second`'s (`select(First, Second).join(...)`): each row is a pair of
    instances, as the session's own query of the two entities would give them."""
    first_keys, second_keys = _column_keys(first), _column_keys(second)
    split = len(first_keys)
    return [
        (
            _held(session, first, dict(zip(first_keys, row[:split], strict=True))),
            _held(session, second, dict(zip(second_keys, row[split:], strict=True))),
        )
        for row in execute(session, statement, params)
    ]


def _held(session: Session, model: type[M], values: dict[str, Any]) -> M:
    """The session's instance of `model` with these column values (attribute keys to
    values, its primary key among them): the one it holds, else a new one made loaded."""
    mapper, primary_key = _mapped(model)
    key = (model, tuple(values[name] for name in primary_key), None)
    held = session.identity_map.get(key)
    if held is None:
        # What the ORM's loading does with a new row (sqlalchemy.orm.loading._instance):
        # `make_transient_to_detached` and `session.add` cost as much again in checks and
        # cascades that an instance made here, with no relationship loaded, never needs.
        obj = mapper.class_manager.new_instance()
        state = instance_state(obj)
        state.dict.update(values)
        state.key = key
        state._expire_attributes(state.dict, state.unloaded)  # read when first asked for
        state.session_id = session.hash_key
        session.identity_map._add_unpresent(state, key)
        if session.dispatch.loaded_as_persistent:
            session.dispatch.loaded_as_persistent(session, state)
        return obj
    for name in instance_state(held).unloaded & values.keys():
        set_committed_value(held, name, values[name])
    return held


# How many values a hot lookup's `IN` takes as parameters of its own (0: a list parameter).
AMONG_SIZES = (1, 2, 4, 8, 16, 32)
AMONG_COUNTS = (*AMONG_SIZES, 0)


def among(column: ColumnElement[Any] | Mapped[Any], name: str, count: int) -> ColumnElement[bool]:
    """`column` is one of the `count` parameters `name_0`, `name_1`... (0: one of the list
    parameter `name`). A list parameter (`expanding`) has SQLAlchemy render the SQL again
    at every execution and keeps the statement off the driver, while most lookups are of
    one to a few values (a reference, a card's members): a statement has a form per count,
    chosen by `among_values`."""
    if count == 1:
        return column == bindparam(f"{name}_0")
    if count:
        return column.in_([bindparam(f"{name}_{i}") for i in range(count)])
    return column.in_(bindparam(name, expanding=True))


def among_values(name: str, values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """Which form of an `among` statement takes `values` (its count), and its parameters:
    the next size up, padded by repeating the last value; more than 32 take the list (a
    page of a list, 20 or 30 rows, still has a form of its own)."""
    count = next((n for n in AMONG_SIZES if n >= len(values)), 0)
    if not count:
        return 0, {name: list(values)}
    padded = [*values, *[values[-1]] * (count - len(values))]
    return count, {f"{name}_{i}": value for i, value in enumerate(padded)}


def insert_row(session: Session, obj: SQLModel) -> None:
    """INSERT `obj` (a new model instance) with one statement; its generated id is set
    and the session holds it from then on as a loaded, unchanged row."""
    table = _table(obj)
    statement, columns, generated = _insert_statement(table)
    # A new instance holds its values in its __dict__ (SQLAlchemy's instance dict): read
    # there, not through each column's attribute (0.3 µs each; a contact has 26).
    held = obj.__dict__
    params = {name: held[name] if name in held else getattr(obj, name) for name in columns}
    result = execute(session, statement, params)
    if generated is not None:
        # As its loaded value (what `make_transient_to_detached` makes of every value next),
        # not through SQLModel's `__setattr__`: the ORM's and pydantic's setters, 20 µs.
        obj.__dict__[generated] = result.scalar_one()
        obj.__pydantic_fields_set__.add(generated)
    _attach_inserted(session, obj)
    if computed := _computed(table):  # the database's to say: read when asked for
        session.expire(obj, computed)
    journal.note_insert(session, type(obj), journal.key_of(obj), obj=obj)


def _attach_inserted(session: Session, obj: SQLModel) -> None:
    """`obj`, whose row was just inserted, held by the session as a loaded row: what
    `make_transient_to_detached` and `session.add` make of it, without their checks and
    the save-update cascade that a new instance with no relationship loaded never needs
    (together some 30 µs an insert, issue 17). As they do it when something listens to
    attaching, or the session holds that key already."""
    state = instance_state(obj)
    key = state.mapper._identity_key_from_state(state)
    dispatch = session.dispatch
    if (
        state.key is not None
        or state.session_id is not None
        or key in session.identity_map
        or dispatch.before_attach
        or dispatch.after_attach
        or dispatch.detached_to_persistent
    ):
        make_transient_to_detached(obj)
        session.add(obj)
        return
    state.key = key
    state._commit_all(state.dict)
    state._expire_attributes(state.dict, state.unloaded)
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)


def insert_links(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows of a table that nothing reads back in the same command (tag links),
    in one statement; journaled with their values."""
    if not rows:
        return
    table = journal.table_of(model)
    execute(session, _plain_insert(table), rows[0] if len(rows) == 1 else list(rows))
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
    execute(session, statement, params)
    for name, value in values.items():
        set_committed_value(obj, name, value)


def new_row(model: type[M], **values: Any) -> M:
    """A new instance of `model` (a table model) with these values and its fields'
    defaults, as its constructor makes it: SQLModel's constructor of a table model checks
    nothing, but its per-field work cost 60-90 µs, more than the row's INSERT (issue 17)."""
    defaults = _defaults(model)
    if unknown := values.keys() - defaults.keys():
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    obj = _mapped(model)[0].class_manager.new_instance()
    held = obj.__dict__
    for name, default in defaults.items():
        if name in values:
            held[name] = values[name]
        elif default is _REQUIRED:
            raise TypeError(f"{model.__name__} needs {name}")
        else:
            held[name] = default()
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    return obj


def _REQUIRED() -> Any:  # a marker: `new_row` refuses before calling it
    raise AssertionError


# Defaults used as they are: what pydantic's `get_default` hands out without a copy.
_IMMUTABLE = (int, float, str, bool, bytes, type(None), Enum)


@cache
def _defaults(model: type[SQLModel]) -> dict[str, Callable[[], Any]]:
    """Each field's default, as something to call, worked out once per model: pydantic's
    `FieldInfo.get_default` asks `inspect.signature` of a default factory each time
    whether it takes the validated data (about 35 µs a field: a deal has four
    timestamps, issue 17)."""
    defaults: dict[str, Callable[[], Any]] = {}
    for name, field in model.model_fields.items():
        factory = field.default_factory
        if field.is_required():
            defaults[name] = _REQUIRED
        elif factory is not None and not field.default_factory_takes_validated_data:
            defaults[name] = factory  # type: ignore[assignment]
        elif factory is None and isinstance(field.default, _IMMUTABLE):
            defaults[name] = partial(_constant, field.default)
        else:
            defaults[name] = partial(field.get_default, call_default_factory=True)
    return defaults


def _constant(value: Any) -> Any:
    return value


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
def _mapped(model: type[SQLModel]) -> tuple[Mapper[Any], tuple[str, ...]]:
    mapper = inspect(model)
    return mapper, tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)


@cache
def _column_keys(model: type[SQLModel]) -> tuple[str, ...]:
    """The attribute keys of `model`'s table's columns, in the table's order: the order a
    SELECT of the model's entity lists them in."""
    mapper, _ = _mapped(model)
    return tuple(mapper.get_property_by_column(c).key for c in journal.table_of(model).columns)


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


# Statements seen once, and those prepared for the driver (or found not to be: None), by
# the statement's identity, dialect and parameter names. A statement built anew for each
# call is never seen twice, so it costs nothing here and keeps SQLAlchemy's own cache.
_seen: dict[tuple[Any, ...], Executable] = {}
_prepared_for: dict[tuple[Any, ...], tuple[Executable, _Prepared | None]] = {}
_CACHE_LIMIT = 2048
_GIVEN = object()


def _connection(session: Session) -> Connection:
    """The session's connection in its current transaction, asked of the session once
    per transaction (each ask costs it a walk through its transaction's states)."""
    transaction = session.get_transaction()
    cached = session.info.get("crm_connection")
    if transaction is not None and cached is not None and cached[0] is transaction:
        return cached[1]
    connection = session.connection()
    session.info["crm_connection"] = (session.get_transaction(), connection)
    return connection


def _prepared(statement: Executable, dialect: Dialect, names: frozenset[str]) -> _Prepared | None:
    key = (id(statement), dialect.name, dialect.server_version_info, names)
    found = _prepared_for.get(key)
    if found is not None:
        return found[1]
    if _seen.get(key) is not statement:
        if len(_seen) > _CACHE_LIMIT:
            _seen.clear()
        _seen[key] = statement
        return None
    if len(_prepared_for) > _CACHE_LIMIT:
        _prepared_for.clear()
    prepared = _Prepared.of(statement, dialect, names)
    _prepared_for[key] = (statement, prepared)
    return prepared


def _taker(names: Sequence[str]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """The values of these parameters, in this order (a tuple, whatever their number)."""
    if not names:
        return lambda _params: ()
    if len(names) == 1:
        (name,) = names
        return lambda params: (params[name],)
    return itemgetter(*names)


class _Prepared:
    """A statement compiled for one dialect and one set of parameter names: its SQL, where
    each bound value comes from (a parameter or the statement's own constant) with its
    type's bind processor, and its result columns' processors (taken from the first
    cursor, whose description some dialects' processors depend on)."""

    def __init__(
        self, compiled: SQLCompiler, dialect: Dialect, binds: list[tuple[str, str, Any, Any]]
    ) -> None:
        self.sql = compiled.string
        self.dialect = dialect
        self.positional = compiled.positional
        self.binds = binds  # (name in the SQL, parameter name or "", constant, processor)
        # The values in the SQL's order: the parameters taken in one C call, the few that a
        # type converts converted, the statement's constants put in (a comprehension over
        # every bind cost ~0.2 µs a value: an INSERT of a contact has 26).
        given = [i for i, bind in enumerate(binds) if bind[2] is _GIVEN]
        self.take: Callable[[Mapping[str, Any]], Sequence[Any]] = _taker(
            [binds[i][1] for i in given]
        )
        self.given = None if len(given) == len(binds) else given
        self.template = [bind[2] for bind in binds]
        self.processed = [(i, bind[3]) for i, bind in enumerate(binds) if bind[3] is not None]
        self.columns = [(key, type_) for key, _name, _objects, type_ in compiled._result_columns]
        self.writes = bool(compiled.isinsert or compiled.isupdate or compiled.isdelete)
        self.convert: Callable[[Sequence[Any]], Any] | None = None

    @classmethod
    def of(
        cls, statement: Executable, dialect: Dialect, names: frozenset[str]
    ) -> _Prepared | None:
        """The statement prepared, or None when the driver path cannot run it as it is."""
        if not isinstance(statement, ClauseElement) or isinstance(statement, TextClause):
            return None
        compiled = statement.compile(dialect=dialect, column_keys=sorted(names))
        if not isinstance(compiled, SQLCompiler) or (
            compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.implicit_returning
            or compiled._textual_ordered_columns
            or compiled._ad_hoc_textual
        ):
            return None
        escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        processors: Mapping[str, Any] = compiled._bind_processors
        binds: dict[str, tuple[str, str, Any, Any]] = {}
        for bind, name in compiled.bind_names.items():
            in_sql = escaped.get(name, name)
            processor = processors.get(name)
            if bind.key in names:
                binds[in_sql] = (in_sql, bind.key, _GIVEN, processor)
            elif name in names:
                binds[in_sql] = (in_sql, name, _GIVEN, processor)
            elif bind.required:
                return None  # SQLAlchemy's own path says which parameter is missing
            else:
                value = bind.effective_value
                constant = processor(value) if processor is not None else value
                binds[in_sql] = (in_sql, "", constant, None)
        if compiled.positional:
            order = [binds[escaped.get(name, name)] for name in compiled.positiontup or ()]
        else:
            order = list(binds.values())
        return cls(compiled, dialect, order)

    def run(self, dbapi_connection: Any, params: Mapping[str, Any]) -> Rows:
        taken = self.take(params)
        if self.given is None:
            values = list(taken)
        else:
            values = list(self.template)
            for i, value in zip(self.given, taken, strict=True):
                values[i] = value
        for i, processor in self.processed:
            values[i] = processor(values[i])
        bound: Sequence[Any] | dict[str, Any] = (
            values
            if self.positional
            else {bind[0]: value for bind, value in zip(self.binds, values, strict=True)}
        )
        dbapi = self.dialect.loaded_dbapi
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, bound)
            raw = cursor.fetchall() if cursor.description else []
            convert = self.convert
            if raw and convert is None:
                convert = self.convert = self._converter(cursor.description)
            rows = [convert(row) for row in raw] if convert is not None else []
            return Rows(rows, cursor.rowcount)
        except dbapi.Error as error:
            raise driver_error(self.dialect, self.sql, bound, error, dbapi_connection) from error
        finally:
            cursor.close()

    def _converter(self, description: Sequence[Sequence[Any]]) -> Callable[[Sequence[Any]], Any]:
        """A raw row to a named tuple of what the columns' types make of it."""
        fields = [key for key, _ in self.columns]
        make: Callable[[Iterable[Any]], Any] = namedtuple("Row", fields, rename=True)._make  # type: ignore[attr-defined]
        processors = [
            type_._cached_result_processor(self.dialect, described[1])
            for (_key, type_), described in zip(self.columns, description, strict=True)
        ]
        converted = [(i, processor) for i, processor in enumerate(processors) if processor]
        if not converted:
            return make

        def convert(raw: Sequence[Any]) -> Any:
            # Only the columns a type converts (a contact's 3 timestamps of its 26): a
            # generator over every column cost 6 µs a contact's row, this 2 µs.
            values = list(raw)
            for i, processor in converted:
                values[i] = processor(values[i])
            return make(values)

        return convert
