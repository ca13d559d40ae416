"""What the pipeline board reads: a stage's cards a page at a time, the columns' totals, and
the installation's shared key for signed board links.

Cards are read in keyset pages (the last card's sort key, never an OFFSET), each page one
range of an index: open stages by last activity from ix_deal_team_stage_activity (or
ix_deal_team_stage_owner_activity for one owner), closed stages by closing time from
ix_deal_team_closed. A column's 50 cards cost the same at 20 deals as at 200k.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, func, select, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from storage.db import upsert_into
from storage.keys import name_key
from storage.models import (
    Company,
    Contact,
    Deal,
    DealTag,
    DealTotal,
    InstallSecret,
    Member,
    Reminder,
    ReminderStatus,
    Tag,
)
from storage.reports import closed_groups

BOARD_KEY = "board"


@dataclass(frozen=True, slots=True)
class Filters:
    """Whose deals (None: the team's), with a tag (its id), with words in the title."""

    owner_id: int | None = None
    tag_id: int | None = None
    text: str | None = None

    @property
    def narrow(self) -> bool:
        """Whether the running totals (per stage, owner and currency) cannot answer."""
        return self.tag_id is not None or bool(self.text)


@dataclass(frozen=True, slots=True)
class Closed:
    """Closed deals of a span of time [since, until): the Won and Lost columns."""

    since: datetime
    until: datetime
    now: datetime


Cursor = tuple[datetime, int]  # the last card's (sort time, id)


@dataclass(frozen=True, slots=True)
class ColumnTotal:
    stage_id: int
    currency: str | None  # None: deals without an amount
    deals: int
    amount: int


class CardRow(NamedTuple):
    """What a card shows of a deal, read in one statement with its parties' names."""

    id: int
    title: str
    amount: int | None
    currency: str | None
    owner_id: int
    owner: str | None
    contact: str | None
    company: str | None
    stage_entered_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None
    next_due: datetime | None
    stage_id: int
    contact_id: int | None


def stage_cards(
    session: Session,
    *,
    team_id: int,
    stage_id: int,
    filters: Filters,
    closed: Closed | None = None,
    after: Cursor | None = None,
    limit: int = 50,
) -> list[CardRow]:
    """One page of a stage's deals: open stages latest activity first, closed ones latest
    closed first (only those closed in `closed`); after `after` when given."""
    query = _cards_query(
        closed is not None,
        filters.owner_id is not None,
        filters.tag_id is not None,
        bool(filters.text),
        after is not None,
    )
    params: dict[str, Any] = {
        "team_id": team_id,
        "stage_id": stage_id,
        "owner_id": filters.owner_id,
        "tag_id": filters.tag_id,
        "words": _like(filters.text or ""),
        "limit": limit,
    }
    if closed is not None:
        params.update(since=closed.since, until=closed.until)
    if after is not None:
        params.update(after_at=after[0], after_id=after[1])
    return [CardRow(*row) for row in session.execute(query, params)]


def deal_card(session: Session, *, team_id: int, deal_id: int) -> CardRow | None:
    """One deal's card (None: no such deal in the team)."""
    query = _cards().where(col(Deal.id) == deal_id, col(Deal.team_id) == team_id)
    row = session.execute(query).first()
    return None if row is None else CardRow(*row)


@cache
def _cards_query(
    closed: bool, owned: bool, tagged: bool, worded: bool, paged: bool
) -> Select[*tuple[Any, ...]]:
    # Built once per shape, with bound parameters: building a statement costs more than
    # SQLite takes to run it.
    key = col(Deal.closed_at) if closed else col(Deal.last_activity_at)
    query = _cards().where(
        col(Deal.team_id) == bindparam("team_id"), col(Deal.stage_id) == bindparam("stage_id")
    )
    if closed:
        query = query.where(key >= bindparam("since"), key < bindparam("until"))
    if owned:
        query = query.where(col(Deal.owner_id) == bindparam("owner_id"))
    if tagged:
        tagged_deals = select(col(DealTag.deal_id)).where(
            col(DealTag.tag_id) == bindparam("tag_id")
        )
        query = query.where(col(Deal.id).in_(tagged_deals))
    if worded:
        query = query.where(col(Deal.title_key).like(bindparam("words"), escape="\\"))
    if paged:
        query = query.where(
            tuple_(key, col(Deal.id)) < tuple_(bindparam("after_at"), bindparam("after_id"))
        )
    return query.order_by(key.desc(), col(Deal.id).desc()).limit(bindparam("limit"))


def _cards() -> Select[*tuple[Any, ...]]:
    """CardRow's columns: the names from primary-key joins, the next reminder from
    ix_reminder_deal_status_due, for the page's cards only."""
    contact_company = aliased(Company)
    next_due = (
        select(func.min(col(Reminder.due_at)))
        .where(
            col(Reminder.deal_id) == col(Deal.id),
            col(Reminder.status) == ReminderStatus.pending,
        )
        .scalar_subquery()
    )
    return (
        select(
            col(Deal.id),
            col(Deal.title),
            col(Deal.amount),
            col(Deal.currency),
            col(Deal.owner_id),
            col(Member.name),
            col(Contact.name),
            func.coalesce(col(Company.name), col(contact_company.name)),
            col(Deal.stage_entered_at),
            col(Deal.last_activity_at),
            col(Deal.closed_at),
            next_due,
            col(Deal.stage_id),
            col(Deal.contact_id),
        )
        .outerjoin(Member, col(Member.id) == col(Deal.owner_id))
        .outerjoin(Contact, col(Contact.id) == col(Deal.contact_id))
        .outerjoin(Company, col(Company.id) == col(Deal.company_id))
        .outerjoin(contact_company, col(contact_company.id) == col(Contact.company_id))
    )


def column_totals(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    filters: Filters,
    closed: Closed | None = None,
) -> list[ColumnTotal]:
    """Per stage and currency, the deals and their summed amount: open stages from the
    running totals (a few rows) unless a tag or words narrow them, closed ones of `closed`."""
    if not stage_ids:
        return []
    if closed is not None and not filters.narrow:
        # Whole months from the running totals, the hours at the ends from the deals.
        groups = closed_groups(
            session,
            team_id=team_id,
            stage_ids=stage_ids,
            start=closed.since,
            end=closed.until,
            now=closed.now,
            owner_id=filters.owner_id,
            by_owner=False,
        )
        rows: Iterable[Sequence[Any]] = (
            (g.stage_id, g.currency, g.count, g.priced, g.amount) for g in groups
        )
        return _priced_apart(rows)
    if closed is None and not filters.narrow:
        totals = (
            select(
                col(DealTotal.stage_id),
                col(DealTotal.currency),
                func.sum(DealTotal.deals),
                func.sum(DealTotal.priced),
                func.sum(DealTotal.amount),
            )
            .where(col(DealTotal.team_id) == team_id, col(DealTotal.stage_id).in_(stage_ids))
            .group_by(col(DealTotal.stage_id), col(DealTotal.currency))
        )
        if filters.owner_id is not None:
            totals = totals.where(col(DealTotal.owner_id) == filters.owner_id)
        return _priced_apart(session.execute(totals))
    query = select(
        col(Deal.stage_id), col(Deal.currency), func.count(), func.sum(col(Deal.amount))
    ).where(col(Deal.team_id) == team_id, col(Deal.stage_id).in_(stage_ids), *_narrowed(filters))
    if closed is not None:
        query = query.where(
            col(Deal.closed_at) >= closed.since, col(Deal.closed_at) < closed.until
        )
    query = query.group_by(col(Deal.stage_id), col(Deal.currency))
    return [
        ColumnTotal(stage_id, currency if amount is not None else None, deals, amount or 0)
        for stage_id, currency, deals, amount in session.execute(query)
    ]


def _priced_apart(rows: Iterable[Sequence[Any]]) -> list[ColumnTotal]:
    """(stage, currency, deals, priced, amount) rows as totals, the deals without an
    amount apart (currency None)."""
    out: list[ColumnTotal] = []
    for stage_id, currency, deals, priced, amount in rows:
        if priced:
            out.append(ColumnTotal(stage_id, currency or None, int(priced), int(amount)))
        if deals - priced:
            out.append(ColumnTotal(stage_id, None, int(deals - priced), 0))
    return out


def _narrowed(filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.owner_id is not None:
        where.append(col(Deal.owner_id) == filters.owner_id)
    if filters.tag_id is not None:
        tagged = select(col(DealTag.deal_id)).where(col(DealTag.tag_id) == filters.tag_id)
        where.append(col(Deal.id).in_(tagged))
    if filters.text:
        where.append(col(Deal.title_key).like(_like(filters.text), escape="\\"))
    return where


def _like(text: str) -> str:
    """Words in the title, in any case and with or without accents (title_key is the
    title's name_key); LIKE's own wildcards in them match themselves."""
    escaped = name_key(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def tag_named(session: Session, *, team_id: int, name: str) -> Tag | None:
    return session.scalars(
        select(Tag).where(col(Tag.team_id) == team_id, col(Tag.name) == name.lower())
    ).first()


def install_secret(session: Session, *, name: str = BOARD_KEY) -> bytes:
    """The installation's key `name`, made on first use; every process reads the same one
    (two making it at once: the first insert wins, both read it back)."""
    found = session.get(InstallSecret, name)
    if found is None:
        table = InstallSecret.__table__  # type: ignore[attr-defined]
        insert = upsert_into(session.get_bind().dialect.name, table)
        session.execute(
            insert.values(name=name, value=secrets.token_hex(32)).on_conflict_do_nothing()
        )
        found = session.get(InstallSecret, name)
        assert found is not None
    return bytes.fromhex(found.value)
