"""An import's good rows written in bulk: a few statements per thousand rows, not several
per row, so that 100,000 rows take seconds and the running totals' triggers (which run per
statement on PostgreSQL) run a hundred times, not a hundred thousand.

A row that matches a contact the team has (the same e-mail or phone, or the same name at
the same company), or one written earlier from the same file, fills that contact's empty
fields instead of adding another; a deal with the title of one the contact already has is
left alone. So the same file sent twice adds nothing the second time.

Everything goes through the caller's session and transaction (all or nothing), and into
the undo journal when one is recording: the rows inserted by statement are named to it
with `note_inserted_rows`, the contacts updated go through the ORM, which it sees by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Executable,
    Table,
    any_,
    bindparam,
    func,
    insert,
    text,
    update,
)
from sqlmodel import Session, SQLModel, col, select

from storage.contacts import ensure_tags
from storage.journal import note_inserted_rows
from storage.keys import name_key
from storage.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    ContactTag,
    Deal,
    ImportFile,
    ImportStatus,
    StageChange,
)

CHUNK = 1000
V = TypeVar("V")
# Fields an import fills on a contact that has none (status always has one).
_FILLED = ("email", "phone", "title", "address", "city", "country", "source")


@dataclass
class DealRow:
    title: str
    amount: int | None
    currency: str | None
    stage_id: int
    closed: bool  # the stage is won or lost
    close: date | None


@dataclass
class ContactRow:
    """One good row: the contact's fields as they will be stored."""

    line: int
    name: str
    fields: dict[str, str | None]  # email, phone, title, address, city, country, status, source
    company: str | None
    owner_id: int
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    deal: DealRow | None = None
    # The search keys of the name and company, made once (an import compares them often).
    key: str = field(init=False)
    company_key: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.key = name_key(self.name)
        self.company_key = name_key(self.company) if self.company else None


@dataclass
class Written:
    added: int = 0  # contacts
    updated: int = 0  # existing contacts with fields filled
    deals: int = 0
    unchanged: int = 0  # rows that matched a contact and brought nothing new
    contact_ids: set[int] = field(default_factory=set)


def write_rows(
    session: Session,
    *,
    team_id: int,
    member_id: int,
    rows: Sequence[ContactRow],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> Written:
    writer = _Writer(session, team_id, member_id, now)
    # Every lookup of the team's contacts before the first insert: the statistics of a
    # table that the import's own transaction is filling still say it is as it was, and
    # PostgreSQL then answers a lookup by reading every row written so far (quadratic).
    writer.look_up(rows)
    for start in range(0, len(rows), CHUNK):
        writer.chunk(rows[start : start + CHUNK])
        if progress is not None:
            progress(min(start + CHUNK, len(rows)))
    return writer.written


def matching_contacts(session: Session, *, team_id: int, rows: Sequence[ContactRow]) -> int:
    """How many of the rows match a contact the team has, as `write_rows` would match
    them (writing nothing)."""
    writer = _Writer(session, team_id, 0, datetime.min)
    writer.look_up(rows)
    count = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        writer._companies(chunk, create=False)
        count += sum(1 for row in chunk if writer._match(row) is not None)
    return count


class _Writer:
    def __init__(self, session: Session, team_id: int, member_id: int, now: datetime) -> None:
        self.session = session
        self.connection = session.connection()
        self.team_id = team_id
        self.member_id = member_id
        self.now = now
        self.written = Written()
        self.companies: dict[str, int] = {}
        self.tags: dict[str, int] = {}
        # Contacts of this import and the team's that rows matched: how to find them again.
        self.by_email: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        self.by_name: dict[tuple[str, int | None], int] = {}
        self.made: set[int] = set()  # contacts this import added
        # What this import wrote that a later row could bring again: known here, so that
        # the database is asked only about the contacts it had (a lookup of rows the
        # import's own transaction wrote is what PostgreSQL plans badly, see `look_up`).
        self.links: set[tuple[int, int]] = set()
        self.notes: set[tuple[int, str]] = set()
        self.deal_keys: set[tuple[str, int | None, int | None]] = set()
        self.existing: dict[int, Contact] = {}  # the team's contacts rows matched, loaded

    def look_up(self, rows: Sequence[ContactRow]) -> None:
        """Load the team's contacts that any of the rows could match (`existing`)."""
        for start in range(0, len(rows), CHUNK):
            self.existing.update(self._found(rows[start : start + CHUNK]))
        self._index(self.existing)

    def chunk(self, rows: Sequence[ContactRow]) -> None:
        self._companies(rows)
        self._tags(rows)
        existing = self.existing
        new: list[ContactRow] = []
        ids: list[int | None] = []  # per row: the contact it matched or made
        placeholders: list[list[tuple[dict[Any, int], Any]]] = []
        for row in rows:
            found = self._match(row)
            if found is None and row.name:
                # A later row of the same chunk may match this one: it is remembered under
                # a placeholder (-1, -2, ...) until the insert gives it its id.
                found = -(len(new) + 1)
                placeholders.append(self._remember(row, found))
                new.append(row)
            ids.append(found)
        new_ids = self._insert_contacts(new)
        for entries, contact_id in zip(placeholders, new_ids, strict=True):
            for index, key in entries:
                index[key] = contact_id
        for i, row in enumerate(rows):
            matched = ids[i]
            if matched is not None and matched < 0:
                ids[i] = new_ids[-matched - 1]
                if -matched - 1 < len(new) and new[-matched - 1] is row:
                    continue  # the row that made it
            if ids[i] is not None:
                self._fill(existing, ids[i] or 0, row)
        self.session.flush()
        self._link_tags(rows, ids)
        self._notes(rows, ids)
        self._deals(rows, ids)
        self.written.contact_ids.update(i for i in ids if i is not None)

    def _among(self, column: Any, values: list[Any]) -> ColumnElement[bool]:
        """`column IN values`; on PostgreSQL `column = ANY(array)`: one parameter, so the
        statement's text is the same whatever the values (psycopg parses a long one anew
        each time, and the server plans it anew) and a thousand values cost no more."""
        if self.connection.dialect.name == "postgresql":
            return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
        return column.in_(values)

    # --- companies and tags -----------------------------------------------------------

    def _companies(self, rows: Sequence[ContactRow], *, create: bool = True) -> None:
        wanted = {r.company_key: r.company for r in rows if r.company_key and r.company}
        missing = [key for key in wanted if key not in self.companies]
        if not missing:
            return
        for company_id, key in self.connection.execute(
            select(Company.id, Company.name_key).where(
                Company.team_id == self.team_id, self._among(col(Company.name_key), missing)
            )
        ):
            self.companies[key] = company_id
        if not create:
            return
        keys = [key for key in missing if key not in self.companies]
        values: list[dict[str, Any]] = [
            {"team_id": self.team_id, "name": wanted[key], "name_key": key, "created_at": self.now}
            for key in keys
        ]
        self.companies.update(zip(keys, self._insert(Company, values), strict=True))

    def _tags(self, rows: Sequence[ContactRow]) -> None:
        names = list(dict.fromkeys(t for r in rows for t in r.tags if t not in self.tags))
        for tag in ensure_tags(self.session, team_id=self.team_id, names=names):
            assert tag.id is not None
            self.tags[tag.name] = tag.id

    def _company_id(self, row: ContactRow) -> int | None:
        # None too for a company not made yet (a preview): no contact can be at it.
        return self.companies.get(row.company_key) if row.company_key else None

    # --- contacts ------------------------------------------------------------------------

    def _found(self, rows: Sequence[ContactRow]) -> dict[int, Contact]:
        """The team's contacts these rows could match, loaded (to be filled in)."""
        emails = [r.fields["email"] for r in rows if r.fields.get("email")]
        phones = [r.fields["phone"] for r in rows if r.fields.get("phone")]
        keys = [r.key for r in rows if r.key]
        found: dict[int, Contact] = {}
        for values, column in (
            (emails, col(Contact.email)),
            (phones, col(Contact.phone)),
            (keys, col(Contact.name_key)),
        ):
            # One indexed lookup each, rather than an OR that SQLite may answer by a scan.
            if values:
                found.update(
                    (c.id or 0, c)
                    for c in self.session.exec(
                        select(Contact).where(
                            Contact.team_id == self.team_id,
                            col(Contact.archived).is_(False),
                            self._among(column, values),
                        )
                    )
                )
        return found

    def _index(self, found: dict[int, Contact]) -> None:
        for contact in sorted(found.values(), key=lambda c: c.id or 0, reverse=True):
            # The oldest contact wins where several share an e-mail, phone or name.
            assert contact.id is not None
            if contact.email:
                self.by_email[contact.email] = contact.id
            if contact.phone:
                self.by_phone[contact.phone] = contact.id
            self.by_name[(contact.name_key, contact.company_id)] = contact.id

    def _match(self, row: ContactRow) -> int | None:
        email, phone = row.fields.get("email"), row.fields.get("phone")
        if email and email in self.by_email:
            return self.by_email[email]
        if phone and phone in self.by_phone:
            return self.by_phone[phone]
        if row.name:
            return self.by_name.get((row.key, self._company_id(row)))
        return None

    def _remember(self, row: ContactRow, contact_id: int) -> list[tuple[dict[Any, int], Any]]:
        """Index a new contact by its e-mail, phone and name; the entries made."""
        entries: list[tuple[dict[Any, int], Any]] = [
            (self.by_name, (row.key, self._company_id(row)))
        ]
        if email := row.fields.get("email"):
            entries.append((self.by_email, email))
        if phone := row.fields.get("phone"):
            entries.append((self.by_phone, phone))
        for index, key in entries:
            index[key] = contact_id
        return entries

    def _insert_contacts(self, rows: list[ContactRow]) -> list[int]:
        values = []
        for row in rows:
            fields = row.fields
            city = fields.get("city")
            placed = any(fields.get(k) for k in ("address", "city", "country"))
            values.append(
                {
                    "team_id": self.team_id,
                    "owner_id": row.owner_id,
                    "company_id": self._company_id(row),
                    "name": row.name,
                    "name_key": row.key,
                    **{k: fields.get(k) for k in _FILLED},
                    "status": fields.get("status") or "lead",
                    "city_key": name_key(city) if city else None,
                    # Put on the map in the background (bot.geocoding.geocode_pending): a
                    # geocoder asked 100,000 times would hold the import for hours.
                    "geocode_pending": placed,
                    "score": 0,
                    "archived": False,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
        ids = self._insert(Contact, values)
        self.made.update(ids)
        self.written.added += len(ids)
        return ids

    def _fill(self, existing: dict[int, Contact], contact_id: int, row: ContactRow) -> None:
        """Fill the contact's empty fields from the row."""
        contact = existing.get(contact_id) or self.session.get(Contact, contact_id)
        assert contact is not None
        existing[contact_id] = contact
        changed = False
        for key in _FILLED:
            value = row.fields.get(key)
            if value and not getattr(contact, key):
                setattr(contact, key, value)
                changed = True
                if key == "city":
                    contact.city_key = name_key(value)
                if key in ("address", "city", "country"):
                    contact.geocode_pending = True
        if row.company and contact.company_id is None:
            contact.company_id = self._company_id(row)
            changed = True
        if changed:
            contact.updated_at = self.now
            self.session.add(contact)
            self.written.updated += 1
        elif contact_id not in self.made:
            self.written.unchanged += 1

    # --- what hangs off contacts -------------------------------------------------------

    def _link_tags(self, rows: Sequence[ContactRow], ids: list[int | None]) -> None:
        wanted = {
            (contact_id, self.tags[tag])
            for row, contact_id in zip(rows, ids, strict=True)
            if contact_id is not None
            for tag in row.tags
        }
        if not wanted:
            return
        new = self._missing(
            wanted,
            self.links,
            lambda had: select(ContactTag.contact_id, ContactTag.tag_id).where(
                self._among(col(ContactTag.contact_id), had)
            ),
        )
        links = [{"contact_id": c, "tag_id": t} for c, t in new]
        if links:
            insert_rows(self.connection, ContactTag.__table__, links)  # type: ignore[attr-defined]
            note_inserted_rows(self.session, ContactTag, links)

    def _missing(
        self,
        wanted: set[tuple[int, V]],
        written: set[tuple[int, V]],
        stored: Callable[[list[int]], Executable],
    ) -> list[tuple[int, V]]:
        """Of the (contact, value) pairs `wanted`, those neither `written` by this import
        (then counted among them) nor `stored` for a contact the team had before."""
        had = list({c for c, _ in wanted if c not in self.made})
        have = written | set(self.connection.execute(stored(had))) if had else written
        new = sorted(wanted - have)
        written.update(new)
        return new

    def _notes(self, rows: Sequence[ContactRow], ids: list[int | None]) -> None:
        wanted = {
            (contact_id, row.note)
            for row, contact_id in zip(rows, ids, strict=True)
            if contact_id is not None and row.note
        }
        if not wanted:
            return
        new = self._missing(
            wanted,
            self.notes,
            lambda had: select(Activity.contact_id, Activity.text).where(
                self._among(col(Activity.contact_id), had),
                Activity.team_id == self.team_id,
                Activity.kind == ActivityKind.note,
            ),
        )
        values = [
            {
                "team_id": self.team_id,
                "member_id": self.member_id,
                "kind": ActivityKind.note,
                "contact_id": contact_id,
                "text": text,
                "at": self.now,
            }
            for contact_id, text in new
        ]
        self._insert(Activity, values)

    def _deals(self, rows: Sequence[ContactRow], ids: list[int | None]) -> None:
        with_deals = [
            (row, contact_id)
            for row, contact_id in zip(rows, ids, strict=True)
            if row.deal is not None
        ]
        if not with_deals:
            return
        # A deal the team had can only be on a contact it had, or on none.
        keys = list(
            {
                name_key(row.deal.title)
                for row, contact_id in with_deals
                if row.deal and contact_id not in self.made
            }
        )
        have = self.deal_keys
        if keys:
            have |= set(
                self.connection.execute(
                    select(Deal.title_key, Deal.contact_id, Deal.company_id).where(
                        Deal.team_id == self.team_id, self._among(col(Deal.title_key), keys)
                    )
                )
            )
        values: list[dict[str, Any]] = []
        for row, contact_id in with_deals:
            deal = row.deal
            assert deal is not None
            key = (name_key(deal.title), contact_id, self._company_id(row))
            if key in have:
                continue
            have.add(key)
            closed_at = None
            if deal.closed:
                closed_at = self.now
            values.append(
                {
                    "team_id": self.team_id,
                    "owner_id": row.owner_id,
                    "contact_id": contact_id,
                    "company_id": key[2],
                    "title": deal.title,
                    "title_key": key[0],
                    "amount": deal.amount,
                    "currency": deal.currency,
                    "stage_id": deal.stage_id,
                    "expected_close": deal.close,
                    "stage_entered_at": self.now,
                    "last_activity_at": self.now,
                    "closed_at": closed_at,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
        deal_ids = self._insert(Deal, values)
        self._insert(
            StageChange,
            [
                {
                    "team_id": self.team_id,
                    "deal_id": deal_id,
                    "to_stage_id": value["stage_id"],
                    "member_id": self.member_id,
                    "at": self.now,
                }
                for deal_id, value in zip(deal_ids, values, strict=True)
            ],
        )
        self.written.deals += len(deal_ids)

    def _insert(self, model: type[SQLModel], values: list[dict[str, Any]]) -> list[int]:
        """Insert the rows in multi-row statements; their ids, in order (journaled).

        The ids are taken first (`reserve_ids`) and written with the rows: RETURNING on
        a multi-row INSERT does not promise the rows' order, and SQLAlchemy, asked to
        keep it, sends SQLite one statement per row."""
        if not values:
            return []
        table: Table = model.__table__  # type: ignore[attr-defined]
        ids = reserve_ids(self.connection, table, len(values))
        # Every column given (its default where the row has none), so that the journal
        # knows the rows as written without reading them back.
        defaults = _defaults(table)
        rows = [{**defaults, **v, "id": i} for v, i in zip(values, ids, strict=True)]
        insert_rows(self.connection, table, rows)
        note_inserted_rows(self.session, model, rows)
        return ids


@cache
def _defaults(table: Table) -> dict[str, Any]:
    """Each written column's value when a row gives none: its scalar default, or NULL.
    A column whose default is made when written (a timestamp) must be given."""
    defaults: dict[str, Any] = {}
    for column in table.columns:
        if column.computed is not None or column.primary_key:
            continue
        default = column.default
        if default is not None and not default.is_scalar:
            continue  # the caller gives it
        defaults[column.name] = default.arg if default is not None else None  # type: ignore[attr-defined]
    return defaults


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """The rows in as few statements as the database allows: a COPY on PostgreSQL,
    multi-row INSERTs of a thousand on SQLite. A plain executemany would not do: psycopg
    sends it as one INSERT per row, and PostgreSQL would run the running totals' statement
    triggers once for each. On SQLite, asking for RETURNING makes SQLAlchemy batch the rows
    into multi-row statements (its "insertmanyvalues"); the ids it returns are known
    already."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, rows)
        return
    primary_key = list(table.primary_key.columns)
    connection.execute(insert(table).returning(*primary_key), rows).all()


def _copy_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows in one COPY, in the caller's transaction. A multi-row INSERT
    of a thousand rows has tens of thousands of parameters: psycopg parses such a statement
    anew every time (it caches only short ones), and the server plans it anew; COPY
    streams the values with neither, and fires the statement triggers once."""
    columns = list(rows[0])
    dialect = connection.dialect
    # The columns' own conversions (UTCDateTime's), as an INSERT would apply them.
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    quote = dialect.identifier_preparer.quote
    statement = (
        f"COPY {quote(table.name)} ({', '.join(quote(name) for name in columns)}) FROM STDIN"
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None or value is None else process(value)
                    for value, process in zip(
                        (row[name] for name in columns), processors, strict=True
                    )
                ]
            )


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids for `table`: from its sequence on PostgreSQL; on SQLite, past the
    largest id, which no other writer can take meanwhile (the transaction holds SQLite's
    one write lock from its start, BEGIN IMMEDIATE)."""
    if connection.dialect.name == "postgresql":
        return list(
            connection.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :count)"
                ),
                {"table": table.name, "count": count},
            ).scalars()
        )
    largest = connection.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(largest + 1, largest + count + 1))


def import_file(session: Session, *, team_id: int, import_id: int) -> ImportFile | None:
    found = session.get(ImportFile, import_id)
    return found if found is not None and found.team_id == team_id else None


def claim_import(session: Session, *, team_id: int, import_id: int) -> ImportFile | None:
    """The pending import, locked and marked taken: a second press of its button, in this
    process or another, finds it taken and gets None."""
    found = session.exec(
        select(ImportFile)
        .where(
            ImportFile.id == import_id,
            ImportFile.team_id == team_id,
            ImportFile.status == ImportStatus.pending,
        )
        .with_for_update()
    ).first()
    return found


def drop_stale_previews(session: Session, *, team_id: int, before: datetime) -> None:
    """Files previewed before `before` and never imported nor cancelled: emptied, so the
    rows of a file nobody acted on are not kept."""
    session.execute(
        update(ImportFile)
        .where(
            col(ImportFile.team_id) == team_id,
            col(ImportFile.status) == ImportStatus.pending,
            col(ImportFile.created_at) < before,
        )
        .values(status=ImportStatus.cancelled, content=b"")
    )


def recent_imports(
    session: Session, *, team_id: int, member_id: int | None, limit: int = 10
) -> list[ImportFile]:
    """The latest imports (done), of one member or (None) the team's."""
    query = select(ImportFile).where(
        ImportFile.team_id == team_id, ImportFile.status == ImportStatus.done
    )
    if member_id is not None:
        query = query.where(ImportFile.member_id == member_id)
    return list(session.exec(query.order_by(col(ImportFile.id).desc()).limit(limit)))
