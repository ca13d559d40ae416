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
from functools import cache, lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Connection,
    Executable,
    Insert,
    MetaData,
    Table,
    any_,
    bindparam,
    func,
    insert,
    text,
    update,
)
from sqlalchemy import select as select_columns
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session, SQLModel, col, select

from storage.contacts import ensure_tags
from storage.journal import note_inserted_rows
from storage.keys import city_key, name_key
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
from storage.scoring import SCORED, ScoredTables, ScoreRules, recency_values, score_total

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
    deals: int = 0
    unchanged: int = 0  # rows that matched a contact and brought nothing new
    contact_ids: set[int] = field(default_factory=set)
    # Contacts added with their score as it stands after the import (see `_Writer`):
    # they need no rescoring.
    scored: set[int] = field(default_factory=set)
    # Contacts the team had that rows gave empty fields or new tags (several rows, once).
    filled: set[int] = field(default_factory=set)

    @property
    def updated(self) -> int:
        return len(self.filled)

    @property
    def unscored(self) -> set[int]:
        """The contacts the import touched whose stored score it did not bring up to
        date: to be rescored."""
        return self.contact_ids - self.scored


def write_rows(
    session: Session,
    *,
    team_id: int,
    member_id: int,
    rows: Sequence[ContactRow],
    now: datetime,
    rules: ScoreRules,
    progress: Callable[[int], None] | None = None,
) -> Written:
    """Write the rows; `rules` score the contacts added, on PostgreSQL as they are
    inserted (`Written.unscored` says which contacts still need rescoring)."""
    writer = _Writer(session, team_id, member_id, now, rules)
    # Every lookup of the team's contacts before the first insert: the statistics of a
    # table that the import's own transaction is filling still say it is as it was, and
    # PostgreSQL then answers a lookup by reading every row written so far (quadratic).
    writer.look_up(rows)
    for start in range(0, len(rows), CHUNK):
        writer.chunk(rows[start : start + CHUNK])
        if progress is not None:
            progress(min(start + CHUNK, len(rows)))
    if writer.staged is not None:
        writer.written.scored = writer.made - writer.touched_again
    return writer.written


def matching_contacts(session: Session, *, team_id: int, rows: Sequence[ContactRow]) -> int:
    """How many of the rows match a contact the team has, as `write_rows` would match
    them (writing nothing)."""
    writer = _Writer(session, team_id, 0, datetime.min, None)
    writer.look_up(rows)
    count = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        writer._companies(chunk, create=False)
        count += sum(1 for row in chunk if writer._match(row) is not None)
    return count


class _Writer:
    """Writes the rows a chunk at a time. On PostgreSQL the contacts added are scored as
    they are inserted: a chunk's new contacts, tag links and deals are first copied into
    temporary tables (`_Staged`), the score (`storage.scoring`'s, read from those) is
    computed there, and the rows go into the real tables with one INSERT ... SELECT per
    table. Rescoring them afterwards would write every new contact a second time, into
    all of its indexes (an UPDATE of `score` cannot be HOT: it is indexed), which was a
    third of a PostgreSQL import. A contact added that a later row of the file matches
    again is rescored at the end, as are the team's contacts the rows matched. SQLite
    writes the rows straight in and rescores them all afterwards: for it, that costs
    little (see bench/NOTES.md)."""

    def __init__(
        self,
        session: Session,
        team_id: int,
        member_id: int,
        now: datetime,
        rules: ScoreRules | None,
    ) -> None:
        self.session = session
        self.connection = session.connection()
        self.team_id = team_id
        self.member_id = member_id
        self.now = now
        self.rules = rules
        postgres = self.connection.dialect.name == "postgresql"
        self.staged = _Staged(self.connection) if postgres and rules is not None else None
        self.touched_again: set[int] = set()  # contacts added that later rows matched
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
        new: list[ContactRow] = []
        ids: list[int | None] = []  # per row: the contact it matched or made
        placeholders: list[list[tuple[dict[Any, int], Any]]] = []
        for row in rows:
            found = self._match(row)
            if found is None and row.name:
                # A later row of the same chunk may match this one: it is remembered under
                # a placeholder (-1, -2, ...) until the new contacts have their ids.
                found = -(len(new) + 1)
                placeholders.append(self._remember(row, found))
                new.append(row)
            ids.append(found)
        contacts = self._contact_values(new)
        new_ids = [values["id"] for values in contacts]
        for entries, contact_id in zip(placeholders, new_ids, strict=True):
            for index, key in entries:
                index[key] = contact_id
        again: list[tuple[int, ContactRow]] = []  # rows that matched a contact
        for i, row in enumerate(rows):
            matched = ids[i]
            if matched is not None and matched < 0:
                ids[i] = new_ids[-matched - 1]
                if -matched - 1 < len(new) and new[-matched - 1] is row:
                    continue  # the row that made it
            if (contact_id := ids[i]) is not None:
                again.append((contact_id, row))
                if contact_id in self.made:
                    self.touched_again.add(contact_id)
        links = self._new_links(rows, ids)
        deals = self._new_deals(rows, ids)
        if self.staged is not None and contacts:
            self._insert_scored(contacts, links, deals)
        else:
            self._insert_rows(Contact, contacts)
            self._insert_rows(ContactTag, links)
            self._insert_rows(Deal, deals)
        tagged = {link["contact_id"] for link in links}
        for contact_id, row in again:
            self._fill(self.existing, contact_id, row, tagged=contact_id in tagged)
        self.session.flush()
        self._notes(rows, ids)
        self._stage_changes(deals)
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

    def _contact_values(self, rows: list[ContactRow]) -> list[dict[str, Any]]:
        """The new contacts' rows as they will be written, with their ids (counted as
        added from here on)."""
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
                    "city_key": city_key(city) if city else None,
                    # Put on the map in the background (bot.geocoding.geocode_pending): a
                    # geocoder asked 100,000 times would hold the import for hours.
                    "geocode_pending": placed,
                    "score": 0,
                    "archived": False,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
        rows_with_ids = self._with_ids(Contact, values)
        self.made.update(row["id"] for row in rows_with_ids)
        self.written.added += len(rows_with_ids)
        return rows_with_ids

    def _fill(
        self, existing: dict[int, Contact], contact_id: int, row: ContactRow, *, tagged: bool
    ) -> None:
        """Fill the contact's empty fields from the row (`tagged`: it gave the contact a
        tag it did not have)."""
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
                    contact.city_key = city_key(value)
                if key in ("address", "city", "country"):
                    contact.geocode_pending = True
        if row.company and contact.company_id is None:
            contact.company_id = self._company_id(row)
            changed = True
        if changed:
            contact.updated_at = self.now
            self.session.add(contact)
        if contact_id not in self.made:  # a contact this import added is counted as added
            if changed or tagged:
                self.written.filled.add(contact_id)
            else:
                self.written.unchanged += 1

    # --- what hangs off contacts -------------------------------------------------------

    def _new_links(
        self, rows: Sequence[ContactRow], ids: list[int | None]
    ) -> list[dict[str, Any]]:
        """The tag links the rows bring that are not there yet."""
        wanted = {
            (contact_id, self.tags[tag])
            for row, contact_id in zip(rows, ids, strict=True)
            if contact_id is not None
            for tag in row.tags
        }
        if not wanted:
            return []
        new = self._missing(
            wanted,
            self.links,
            lambda had: select(ContactTag.contact_id, ContactTag.tag_id).where(
                self._among(col(ContactTag.contact_id), had)
            ),
        )
        return [{"contact_id": c, "tag_id": t} for c, t in new]

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

    def _new_deals(
        self, rows: Sequence[ContactRow], ids: list[int | None]
    ) -> list[dict[str, Any]]:
        """The deals the rows bring that the team does not have, with their ids."""
        with_deals = [
            (row, contact_id)
            for row, contact_id in zip(rows, ids, strict=True)
            if row.deal is not None
        ]
        if not with_deals:
            return []
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
        self.written.deals += len(values)
        return self._with_ids(Deal, values)

    def _stage_changes(self, deals: list[dict[str, Any]]) -> None:
        """Each new deal's entry into its stage."""
        self._insert(
            StageChange,
            [
                {
                    "team_id": self.team_id,
                    "deal_id": deal["id"],
                    "to_stage_id": deal["stage_id"],
                    "member_id": self.member_id,
                    "at": self.now,
                }
                for deal in deals
            ],
        )

    # --- writing -----------------------------------------------------------------------

    def _insert(self, model: type[SQLModel], values: list[dict[str, Any]]) -> list[int]:
        """Insert the rows in as few statements as the database allows; their ids, in
        order (journaled)."""
        rows = self._with_ids(model, values)
        self._insert_rows(model, rows)
        return [row["id"] for row in rows]

    def _with_ids(
        self, model: type[SQLModel], values: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows to insert with every column given (its default where the row has
        none, so that the journal knows the rows as written without reading them back)
        and their ids. The ids are taken first (`reserve_ids`): RETURNING on a multi-row
        INSERT does not promise the rows' order, and SQLAlchemy, asked to keep it, sends
        SQLite one statement per row."""
        if not values:
            return []
        table: Table = model.__table__  # type: ignore[attr-defined]
        ids = reserve_ids(self.connection, table, len(values))
        defaults = _defaults(table)
        return [{**defaults, **v, "id": i} for v, i in zip(values, ids, strict=True)]

    def _insert_rows(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        insert_rows(self.connection, model.__table__, rows)  # type: ignore[attr-defined]
        note_inserted_rows(self.session, model, rows)

    def _insert_scored(
        self,
        contacts: list[dict[str, Any]],
        links: list[dict[str, Any]],
        deals: list[dict[str, Any]],
    ) -> None:
        """PostgreSQL: the chunk's new contacts inserted with their scores, then their
        tag links and deals (journaled, the contacts with the score written)."""
        assert self.staged is not None and self.rules is not None
        scores = self.staged.insert(contacts, links, deals, rules=self.rules, now=self.now)
        for contact in contacts:
            contact["score"] = scores[contact["id"]]
        note_inserted_rows(self.session, Contact, contacts)
        note_inserted_rows(self.session, ContactTag, links)
        note_inserted_rows(self.session, Deal, deals)


class _Staged:
    """PostgreSQL: temporary tables of the columns of contact, contacttag and deal
    (`_STAGED`, dropped at the commit), where a chunk's new rows wait while their scores
    are computed."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.created = False

    def insert(
        self,
        contacts: list[dict[str, Any]],
        links: list[dict[str, Any]],
        deals: list[dict[str, Any]],
        *,
        rules: ScoreRules,
        now: datetime,
    ) -> dict[int, int]:
        """Insert the rows into the real tables, the contacts with their scores; the
        score of each contact, by id."""
        if not self.created:
            for statement in _CREATE_STAGED:
                self.connection.execute(text(statement))
            self.created = True
        for table, rows in zip(_STAGED_TABLES, (contacts, links, deals), strict=True):
            insert_rows(self.connection, table, rows)
        written = self.connection.execute(_scored_insert(rules), recency_values(rules, now))
        scores = {contact_id: score for contact_id, score in written}
        if links:
            self.connection.execute(_LINKS_FROM_STAGED)
        if deals:
            self.connection.execute(_DEALS_FROM_STAGED)
        self.connection.execute(text(_EMPTY_STAGED))
        return scores


def _staging_table(table: Table) -> Table:
    """A temporary table of `table`'s written columns (not the computed ones)."""
    return Table(
        f"import_{table.name}",
        MetaData(),
        *(Column(c.name, c.type) for c in table.columns if c.computed is None),
    )


_STAGED = ScoredTables(
    *(_staging_table(table) for table in (SCORED.contacts, SCORED.links, SCORED.deals))
)
_STAGED_TABLES = (_STAGED.contacts, _STAGED.links, _STAGED.deals)
_CREATE_STAGED = [
    *(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staged.name} (LIKE {table.name}) ON COMMIT DROP"
        for staged, table in zip(
            _STAGED_TABLES, (SCORED.contacts, SCORED.links, SCORED.deals), strict=True
        )
    ),
    # The score reads a contact's links and deals by contact_id, once per contact.
    f"CREATE INDEX IF NOT EXISTS {_STAGED.links.name}_contact "
    f"ON {_STAGED.links.name} (contact_id)",
    f"CREATE INDEX IF NOT EXISTS {_STAGED.deals.name}_contact "
    f"ON {_STAGED.deals.name} (contact_id)",
]
_EMPTY_STAGED = f"TRUNCATE {', '.join(staged.name for staged in _STAGED_TABLES)}"


def _from_staged(staged: Table, table: Table) -> Insert:
    names = [c.name for c in staged.columns]
    return insert(table).from_select(names, select_columns(*(staged.c[name] for name in names)))


_LINKS_FROM_STAGED = _from_staged(_STAGED.links, SCORED.links)
_DEALS_FROM_STAGED = _from_staged(_STAGED.deals, SCORED.deals)


@lru_cache(maxsize=64)
def _scored_insert(rules: ScoreRules) -> ReturningInsert[int, int]:
    """The staged contacts into contact with their scores (`recency_values` its
    parameters): (id, score) of each."""
    staged = _STAGED.contacts
    names = [c.name for c in staged.columns if c.name != "score"]
    contact = SCORED.contacts
    return (
        insert(contact)
        .from_select(
            [*names, "score"],
            select_columns(*(staged.c[name] for name in names), score_total(rules, _STAGED)),
        )
        .returning(contact.c.id, contact.c.score)
    )


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
