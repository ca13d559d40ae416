"""What the pipeline board reads: a stage's cards a page at a time, the columns' totals, and
the installation's shared key for signed board links.

Cards are read in keyset pages (the last card's sort key, never an OFFSET), each page one
range of an index: open stages by last activity from ix_deal_team_stage_activity (or
ix_deal_team_stage_owner_activity for one owner), closed stages by closing time from
ix_deal_team_closed. A column's 50 cards cost the same at 20 deals as at 200k.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
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
    Reminder,
    ReminderStatus,
    Tag,
)

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


Cursor = tuple[datetime, int]  # the last card's (sort time, id)


@dataclass(frozen=True, slots=True)
class ColumnTotal:
    stage_id: int
    currency: str | None  # None: deals without an amount
    deals: int
    amount: int


def stage_cards(
    session: Session,
    *,
    team_id: int,
    stage_id: int,
    filters: Filters,
    closed: Closed | None = None,
    after: Cursor | None = None,
    limit: int = 50,
) -> list[Deal]:
    """One page of a stage's deals: open stages latest activity first, closed ones latest
    closed first (only those closed in `closed`); after `after` when given."""
    key = col(Deal.closed_at) if closed is not None else col(Deal.last_activity_at)
    query = select(Deal).where(
        col(Deal.team_id) == team_id, col(Deal.stage_id) == stage_id, *_narrowed(filters)
    )
    if closed is not None:
        query = query.where(key >= closed.since, key < closed.until)
    if after is not None:
        query = query.where(tuple_(key, col(Deal.id)) < tuple_(after[0], after[1]))
    query = query.order_by(key.desc(), col(Deal.id).desc()).limit(limit)
    return list(session.scalars(query))


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
        out: list[ColumnTotal] = []
        for stage_id, currency, deals, priced, amount in session.execute(totals):
            if priced:
                out.append(ColumnTotal(stage_id, currency or None, int(priced), int(amount)))
            if deals - priced:
                out.append(ColumnTotal(stage_id, None, int(deals - priced), 0))
        return out
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


def _narrowed(filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.owner_id is not None:
        where.append(col(Deal.owner_id) == filters.owner_id)
    if filters.tag_id is not None:
        tagged = select(col(DealTag.deal_id)).where(col(DealTag.tag_id) == filters.tag_id)
        where.append(col(Deal.id).in_(tagged))
    if filters.text:
        # Words in the title, in any case and with or without accents (title_key is the
        # title's name_key); LIKE's own wildcards in the words are matched as themselves.
        escaped = name_key(filters.text).replace("\\", "\\\\").replace("%", "\\%")
        escaped = escaped.replace("_", "\\_")
        where.append(col(Deal.title_key).like(f"%{escaped}%", escape="\\"))
    return where


def tag_named(session: Session, *, team_id: int, name: str) -> Tag | None:
    return session.scalars(
        select(Tag).where(col(Tag.team_id) == team_id, col(Tag.name) == name.lower())
    ).first()


def parties(
    session: Session, *, team_id: int, deals: Sequence[Deal]
) -> tuple[dict[int, str], dict[int, str]]:
    """The names of the deals' contacts and companies, by id."""
    contact_ids = {deal.contact_id for deal in deals if deal.contact_id is not None}
    company_ids = {deal.company_id for deal in deals if deal.company_id is not None}
    contacts: dict[int, str] = {}
    companies: dict[int, str] = {}
    if contact_ids:
        rows = session.execute(
            select(col(Contact.id), col(Contact.name), col(Contact.company_id)).where(
                col(Contact.team_id) == team_id, col(Contact.id).in_(contact_ids)
            )
        )
        for contact_id, name, company_id in rows:
            contacts[contact_id] = name
            if company_id is not None:
                company_ids.add(company_id)
    if company_ids:
        companies = dict(
            session.execute(
                select(col(Company.id), col(Company.name)).where(
                    col(Company.team_id) == team_id, col(Company.id).in_(company_ids)
                )
            ).all()
        )
    return contacts, companies


def next_reminders(
    session: Session, *, team_id: int, deal_ids: Sequence[int]
) -> dict[int, datetime]:
    """Each deal's soonest pending reminder (from ix_reminder_deal_status_due)."""
    if not deal_ids:
        return {}
    rows: Any = session.execute(
        select(col(Reminder.deal_id), func.min(col(Reminder.due_at)))
        .where(
            col(Reminder.deal_id).in_(deal_ids),
            col(Reminder.status) == ReminderStatus.pending,
            col(Reminder.team_id) == team_id,
        )
        .group_by(col(Reminder.deal_id))
    )
    return dict(rows.all())


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
