"""Contacts, companies and tags."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import Executable, and_, bindparam, union_all
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from storage import core
from storage.keys import city_key, company_keys, name_key
from storage.locks import lock_team_part
from storage.models import Company, Contact, ContactTag, Deal, DealTag, Tag

# --- contacts ------------------------------------------------------------------------------


def get_contact(session: Session, *, team_id: int, contact_id: int) -> Contact | None:
    contact = core.get(session, Contact, contact_id)
    if contact is None or contact.team_id != team_id or contact.archived:
        return None
    return contact


# Statements every card runs, built once (building costs SQLAlchemy more than running).
_CONTACTS_BY_IDS = {
    count: select(Contact).where(
        col(Contact.team_id) == bindparam("team_id"),
        core.among(col(Contact.id), "id", count),
        col(Contact.archived).is_(False),
    )
    for count in core.AMONG_COUNTS
}


def contacts_by_ids(session: Session, *, team_id: int, ids: Sequence[int]) -> list[Contact]:
    if not ids:
        return []
    count, values = core.among_values("id", ids)
    found = core.load(session, Contact, _CONTACTS_BY_IDS[count], {"team_id": team_id, **values})
    by_id = {contact.id: contact for contact in found}
    return [by_id[i] for i in ids if i in by_id]


def contacts_named(session: Session, *, team_id: int, keys: Sequence[str]) -> list[Contact]:
    """Contacts whose normalised name is exactly one of `keys` (by id, at most 50)."""
    if not keys:
        return []
    count, values = core.among_values("key", keys)
    found = core.load(session, Contact, _CONTACTS_NAMED[count], {"team_id": team_id, **values})
    # Sorted here, not in SQL: with ORDER BY id, SQLite walks the team's contacts in id
    # order looking for the names (a scan) instead of looking each name up. The index
    # gives each name's rows in id order, so the cap keeps the same first rows.
    return sorted(found, key=lambda contact: contact.id or 0)


# A reference's words are looked up as every leading run of them (refs.py): a few keys.
_CONTACTS_NAMED = {
    count: select(Contact)
    .where(
        col(Contact.team_id) == bindparam("team_id"),
        core.among(col(Contact.name_key), "key", count),
        col(Contact.archived).is_(False),
    )
    .limit(50)
    for count in core.AMONG_COUNTS
}


def contacts_with(
    session: Session,
    *,
    team_id: int,
    email: str | None = None,
    phone: str | None = None,
    phone_ending: str | None = None,
) -> list[Contact]:
    """Contacts with this e-mail or this phone number, or a number ending in these digits
    (a scan of the team's numbers in their index, 10 ms at 100k contacts: for the rare
    search that needs it)."""
    conditions = []
    if email:
        conditions.append(col(Contact.email) == email)
    if phone:
        conditions.append(col(Contact.phone) == phone)
    if phone_ending:
        # The numbers alone first: the (team_id, phone) index holds them, the table not.
        ending = select(Contact.id).where(
            Contact.team_id == team_id, col(Contact.phone).endswith(phone_ending, autoescape=True)
        )
        conditions.append(col(Contact.id).in_(session.exec(ending.limit(50)).all()))
    if not conditions:
        return []
    results: list[Contact] = []
    for condition in conditions:  # one indexed lookup each, rather than an OR that may scan
        results.extend(
            session.exec(
                select(Contact)
                .where(Contact.team_id == team_id, condition, col(Contact.archived).is_(False))
                .limit(10)
            )
        )
    return list({contact.id: contact for contact in results}.values())


# How many contacts of one company the duplicate check compares by name; past it, the
# name search finds the similar ones (`duplicate_candidates`).
COMPANY_PEERS = 200


class Candidate(NamedTuple):
    """A contact the duplicate check compares a new one with: what it compares and names."""

    id: int
    name: str
    name_key: str
    email: str | None
    phone: str | None
    company_id: int | None


def duplicate_candidates(
    session: Session,
    *,
    team_id: int,
    email: str | None,
    phone: str | None,
    key: str,
    company_id: int | None,
    at_company: bool,
) -> list[Candidate]:
    """In one statement, the contacts a new one may duplicate: the same e-mail, the same
    phone, the same normalised name (`key`), and the people of the same company (at most
    COMPANY_PEERS: whether a name is similar is for the caller to say). For a contact at a
    company (`at_company`: one the team has, or a new one), also those at none whose name
    starts as `key` does (`name_start`): the same person logged before in a hurry, with a
    slip in the last name (`Greta Lind` for Greta Lindh). Rows, not model instances: a
    company's two hundred people are compared, not shown."""
    start = name_start(key) if at_company else None
    params = {
        "team_id": team_id,
        "email": email,
        "phone": phone,
        "key": key,
        "company_id": company_id,
        "start_from": start[0] if start else None,
        "start_before": start[1] if start else None,
    }
    return [Candidate(*row) for row in core.execute(session, _DUPLICATE_CANDIDATES, params)]


def name_start(key: str) -> tuple[str, str] | None:
    """The range of name keys that start with `key`'s first word and its last word's first
    letter (`greta l` up to `greta m` for `greta lindh`): one range of the name index, the
    people a slip in the last name would hide. None for a one-word name."""
    words = key.split()
    if len(words) < 2:
        return None
    start = f"{words[0]} {words[-1][0]}"
    return start, start[:-1] + chr(ord(start[-1]) + 1)


def candidates_by_ids(session: Session, *, team_id: int, ids: Sequence[int]) -> list[Candidate]:
    """The team's contacts with these ids (similar names found by the name search), in
    the order of `ids`."""
    if not ids:
        return []
    rows = core.execute(session, _CANDIDATES_BY_IDS, {"team_id": team_id, "ids": list(ids)})
    by_id = {row.id: Candidate(*row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _ids_where(condition: Any, limit: int) -> SelectOfScalar[Any]:
    matching = (
        select(col(Contact.id))
        .where(
            col(Contact.team_id) == bindparam("team_id"),
            condition,
            col(Contact.archived).is_(False),
        )
        .limit(limit)
        .subquery()
    )
    return select(matching.c.id)


_CANDIDATE_COLUMNS = (
    col(Contact.id),
    col(Contact.name),
    col(Contact.name_key),
    col(Contact.email),
    col(Contact.phone),
    col(Contact.company_id),
)
# Each branch one index lookup (an OR of them may scan the team's contacts); built once.
_DUPLICATE_CANDIDATES = select_columns(*_CANDIDATE_COLUMNS).where(
    col(Contact.id).in_(
        union_all(
            _ids_where(col(Contact.email) == bindparam("email"), 10),
            _ids_where(col(Contact.phone) == bindparam("phone"), 10),
            _ids_where(col(Contact.name_key) == bindparam("key"), 50),
            _ids_where(col(Contact.company_id) == bindparam("company_id"), COMPANY_PEERS),
            _ids_where(
                and_(
                    col(Contact.name_key) >= bindparam("start_from"),
                    col(Contact.name_key) < bindparam("start_before"),
                    col(Contact.company_id).is_(None),
                ),
                20,
            ),
        )
    )
)
_CANDIDATES_BY_IDS = select_columns(*_CANDIDATE_COLUMNS).where(
    col(Contact.team_id) == bindparam("team_id"),
    col(Contact.id).in_(bindparam("ids", expanding=True)),
    col(Contact.archived).is_(False),
)


def save_contact(session: Session, *, contact: Contact) -> Contact:
    """Insert or update a contact, keeping its search keys in step with its fields."""
    contact.name_key = name_key(contact.name)
    contact.city_key = city_key(contact.city) if contact.city else None
    if contact.id is None:
        core.insert_row(session, contact)
    else:
        session.add(contact)
        session.flush()
    return contact


class Lead(NamedTuple):
    """A row of /leads: the contact's columns it shows, and its company's name."""

    id: int
    name: str
    city: str | None
    status: str
    score: int
    company: str | None


def leads(
    session: Session,
    *,
    team_id: int,
    statuses: Sequence[str],
    tag: str | None = None,
    city: str | None = None,
    owner_id: int | None = None,
    limit: int = 20,
) -> list[Lead]:
    """Best score first, then the most recently active."""
    if not statuses:
        return []
    count, values = core.among_values("status", [str(status) for status in statuses])
    params = {
        "team_id": team_id,
        "city_key": city_key(city) if city else None,
        "tag": tag,
        "owner_id": owner_id,
        "limit": limit,
        **values,
    }
    shape = _leads(count, city is not None, tag is not None, owner_id is not None)
    rows = core.execute(session, shape, params)
    return [Lead(*row) for row in rows]


@cache
def _leads(count: int, by_city: bool, by_tag: bool, by_owner: bool) -> Executable:
    # Built once per shape, rows with the company's name: /leads is a hot list.
    query = (
        select_columns(
            col(Contact.id),
            col(Contact.name),
            col(Contact.city),
            col(Contact.status),
            col(Contact.score),
            col(Company.name),
        )
        .outerjoin(Company, col(Company.id) == col(Contact.company_id))
        .where(
            col(Contact.team_id) == bindparam("team_id"),
            core.among(col(Contact.status), "status", count),
            col(Contact.archived).is_(False),
        )
    )
    if by_city:
        query = query.where(col(Contact.city_key) == bindparam("city_key"))
    if by_owner:
        query = query.where(col(Contact.owner_id) == bindparam("owner_id"))
    if by_tag:
        query = (
            query.join(ContactTag, col(ContactTag.contact_id) == col(Contact.id))
            .join(Tag, col(Tag.id) == col(ContactTag.tag_id))
            .where(col(Tag.team_id) == bindparam("team_id"), col(Tag.name) == bindparam("tag"))
        )
    return query.order_by(col(Contact.score).desc(), col(Contact.id).desc()).limit(
        bindparam("limit")
    )


# --- companies -----------------------------------------------------------------------------


def get_company(session: Session, *, team_id: int, company_id: int) -> Company | None:
    company = core.get(session, Company, company_id)
    return company if company is not None and company.team_id == team_id else None


def companies_by_ids(session: Session, *, team_id: int, ids: Iterable[int]) -> dict[int, Company]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    count, values = core.among_values("id", wanted)
    rows = core.load(session, Company, _COMPANIES_BY_IDS[count], {"team_id": team_id, **values})
    return {company.id: company for company in rows if company.id is not None}


# /find's and the reference's answers name the companies of the records they list.
_COMPANIES_BY_IDS = {
    count: select(Company).where(
        col(Company.team_id) == bindparam("team_id"), core.among(col(Company.id), "id", count)
    )
    for count in core.AMONG_COUNTS
}


def company_named(session: Session, *, team_id: int, name: str) -> Company | None:
    params = {"team_id": team_id, "key": name_key(name)}
    return next(iter(core.load(session, Company, _COMPANY_NAMED, params)), None)


# Built once: /add and /deal with a company ask on every call.
_COMPANY_NAMED = (
    select(Company)
    .where(col(Company.team_id) == bindparam("team_id"), col(Company.name_key) == bindparam("key"))
    .limit(1)
)


# A company's other spellings (`company_keys`: its name without a legal form, and with each
# one) as parameters of their own, the last repeated to fill them: a list parameter has
# SQLAlchemy render the statement at every execution, off the driver (0.15 ms).
_SPELLINGS = len(company_keys("x")) + 1
# No ORDER BY id LIMIT 1: SQLite would walk the team's companies in id order for it (3 ms
# at 100k contacts when none matches) rather than probe the name index for each key.
_COMPANY_ANY_OF = select(Company).where(
    col(Company.team_id) == bindparam("team_id"),
    core.among(col(Company.name_key), "key", _SPELLINGS),
)


def get_or_create_company(session: Session, *, team_id: int, name: str, now: datetime) -> Company:
    """The team's company of this name, or written with or without its legal form
    (`company:Nordic` for Nordic AB), or a new one."""
    found = find_company(session, team_id=team_id, name=name)
    return found or create_company(session, team_id=team_id, name=name, now=now)


def find_company(session: Session, *, team_id: int, name: str) -> Company | None:
    """The team's company of this name, or written with or without its legal form
    (`company:Nordic` for Nordic AB)."""
    existing = company_named(session, team_id=team_id, name=name)
    if existing is not None:
        return existing
    keys = company_keys(name_key(name))
    assert 0 < len(keys) <= _SPELLINGS  # its core, and it with each form but its own
    padded = [*keys, *[keys[-1]] * (_SPELLINGS - len(keys))]
    params = {"team_id": team_id, **{f"key_{i}": key for i, key in enumerate(padded)}}
    written_otherwise = core.load(session, Company, _COMPANY_ANY_OF, params)
    return min(written_otherwise, key=lambda company: company.id or 0, default=None)


def create_company(session: Session, *, team_id: int, name: str, now: datetime) -> Company:
    # One INSERT, not the ORM's flush of a new instance (0.5 ms: /add with a new company).
    company = core.new_row(
        Company, team_id=team_id, name=name.strip(), name_key=name_key(name), created_at=now
    )
    core.insert_row(session, company)
    return company


def contacts_at_company(
    session: Session, *, team_id: int, company_id: int, limit: int = 10
) -> list[Contact]:
    return list(
        session.exec(
            select(Contact)
            .where(
                Contact.team_id == team_id,
                Contact.company_id == company_id,
                col(Contact.archived).is_(False),
            )
            .order_by(col(Contact.id))
            .limit(limit)
        )
    )


# --- tags --------------------------------------------------------------------------------


def ensure_tags(session: Session, *, team_id: int, names: Sequence[str]) -> list[Tag]:
    """The team's tags with these names, creating the missing ones."""
    if not names:
        return []
    existing = _tags_named(session, team_id=team_id, names=names)
    if len(existing) < len(set(names)):
        # Some are new: made one command at a time (two at once would make one twice),
        # after a second look at what the command before made.
        lock_team_part(session, team_id=team_id, part="tags")
        existing = _tags_named(session, team_id=team_id, names=names)
    for tag_name in names:
        if tag_name not in existing:
            tag = Tag(team_id=team_id, name=tag_name)
            session.add(tag)
            existing[tag_name] = tag
    session.flush()
    return [existing[tag_name] for tag_name in names]


def _tags_named(session: Session, *, team_id: int, names: Sequence[str]) -> dict[str, Tag]:
    count, values = core.among_values("name", list(dict.fromkeys(names)))
    params = {"team_id": team_id, **values}
    return {tag.name: tag for tag in core.load(session, Tag, _TAGS_NAMED[count], params)}


# A tag or a few per command, each form on the driver (a list parameter makes SQLAlchemy
# render the statement again at every execution: 0.2 ms for /add with two tags).
_TAGS_NAMED = {
    count: select(Tag).where(
        col(Tag.team_id) == bindparam("team_id"), core.among(col(Tag.name), "name", count)
    )
    for count in core.AMONG_COUNTS
}

TagTarget = Literal["contact", "deal"]


def _link(target: TagTarget) -> tuple[type[ContactTag] | type[DealTag], Any]:
    if target == "contact":
        return ContactTag, col(ContactTag.contact_id)
    return DealTag, col(DealTag.deal_id)


def lock_record(session: Session, *, target: TagTarget, target_id: int) -> None:
    """Hold a contact's or deal's row until the transaction ends: two commands changing
    it at once (tagging it, logging a visit) take turns, the second reading what the
    first left (PostgreSQL; SQLite's writers take turns, and it has no row locks: there
    the statement would only read the id)."""
    if session.get_bind().dialect.name != "sqlite":
        core.execute(session, _LOCK_RECORD[target], {"id": target_id}).all()


_LOCK_RECORD = {
    "contact": select_columns(col(Contact.id))
    .where(col(Contact.id) == bindparam("id"))
    .with_for_update(),
    "deal": select_columns(col(Deal.id)).where(col(Deal.id) == bindparam("id")).with_for_update(),
}


def _tags_of(target: TagTarget, *, count: int) -> Select[Any, str]:
    link, owner = _link(target)
    return (
        select(owner, Tag.name)
        .join(Tag, col(Tag.id) == col(link.tag_id))
        .where(core.among(owner, "id", count), Tag.team_id == bindparam("team_id"))
        .order_by(col(Tag.name))
    )


_TAGS_OF = {
    (target, count): _tags_of(target, count=count)
    for target in ("contact", "deal")
    for count in core.AMONG_COUNTS
}


def tags_of(
    session: Session, *, team_id: int, target: TagTarget, ids: Sequence[int]
) -> dict[int, list[str]]:
    """Tag names per contact (or deal) id, alphabetically."""
    tags: dict[int, list[str]] = {}
    if not ids:
        return tags
    count, values = core.among_values("id", ids)
    rows = core.execute(session, _TAGS_OF[target, count], {"team_id": team_id, **values})
    for owner_id, tag_name in rows:
        tags.setdefault(owner_id, []).append(tag_name)
    return tags


def add_tags(
    session: Session,
    *,
    team_id: int,
    target: TagTarget,
    target_id: int,
    names: Sequence[str],
    inserted: bool = False,
) -> list[str]:
    """Tag a contact or deal; returns the names that were new on it. `inserted`: the
    record is one this transaction inserted, which has no tags yet and which no other
    command can see (nothing to lock or to read)."""
    current: set[str] = set()
    if not inserted:
        lock_record(session, target=target, target_id=target_id)
        current.update(
            tags_of(session, team_id=team_id, target=target, ids=[target_id]).get(target_id, [])
        )
    added = [name for name in names if name not in current]
    link, owner = _link(target)
    rows = [
        {owner.key: target_id, "tag_id": tag.id}
        for tag in ensure_tags(session, team_id=team_id, names=added)
    ]
    core.insert_links(session, link, rows)
    return added


def remove_tags(
    session: Session, *, team_id: int, target: TagTarget, target_id: int, names: Sequence[str]
) -> list[str]:
    """Untag a contact or deal; returns the names that were on it."""
    lock_record(session, target=target, target_id=target_id)
    current = set(
        tags_of(session, team_id=team_id, target=target, ids=[target_id]).get(target_id, [])
    )
    tag_ids = _tag_ids(session, team_id=team_id, names=[n for n in names if n in current])
    if not tag_ids:
        return []
    link, owner = _link(target)
    # Row by row through the ORM, not one DELETE statement: the undo journal sees each.
    for row in session.exec(select(link).where(owner == target_id, col(link.tag_id).in_(tag_ids))):
        session.delete(row)
    session.flush()
    return [name for name in names if name in current]


def _tag_ids(session: Session, *, team_id: int, names: Sequence[str]) -> list[int]:
    if not names:
        return []
    return [
        tag_id
        for tag_id in session.exec(
            select(Tag.id).where(Tag.team_id == team_id, col(Tag.name).in_(names))
        )
        if tag_id is not None
    ]
