"""The team's contacts, deals and activities as rows of plain values, read a thousand at a
time by id (keyset pages), so an export of a million contacts holds one page in memory.

A rep's export is their own records (`owner_id`); a manager's or admin's, the team's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from storage.contacts import tags_of
from storage.models import Activity, Company, Contact, Deal, Member, Stage

PAGE = 1000
Cell = str | int | float | Decimal | date | datetime | None

CONTACT_HEADER = (
    "Name",
    "Company",
    "Email",
    "Phone",
    "Title",
    "Address",
    "City",
    "Country",
    "Status",
    "Source",
    "Owner",
    "Tags",
    "Created",
)
DEAL_HEADER = (
    "Deal",
    "Amount",
    "Currency",
    "Stage",
    "Close Date",
    "Name",
    "Company",
    "Owner",
    "Tags",
    "Created",
    "Closed",
)
ACTIVITY_HEADER = ("Date", "Kind", "Name", "Deal", "Member", "Text")


def _pages(session: Session, query: Any, id_column: Any) -> Iterator[Sequence[Any]]:
    last = 0
    while True:
        page = session.execute(query.where(id_column > last).order_by(id_column).limit(PAGE)).all()
        if not page:
            return
        yield page
        last = page[-1][0].id


def contact_rows(
    session: Session, *, team_id: int, owner_id: int | None = None
) -> Iterator[tuple[Cell, ...]]:
    owner = aliased(Member)
    query = (
        select(Contact, col(Company.name), col(owner.name))
        .outerjoin(Company, col(Company.id) == col(Contact.company_id))
        .outerjoin(owner, col(owner.id) == col(Contact.owner_id))
        .where(col(Contact.team_id) == team_id, col(Contact.archived).is_(False))
    )
    if owner_id is not None:
        query = query.where(col(Contact.owner_id) == owner_id)
    for page in _pages(session, query, col(Contact.id)):
        tags = tags_of(
            session, team_id=team_id, target="contact", ids=[c.id for c, *_ in page if c.id]
        )
        for contact, company, owner_name in page:
            yield (
                contact.name,
                company,
                contact.email,
                contact.phone,
                contact.title,
                contact.address,
                contact.city,
                contact.country,
                contact.status,
                contact.source,
                owner_name,
                " ".join(f"#{t}" for t in tags.get(contact.id or 0, [])),
                contact.created_at,
            )


def deal_rows(
    session: Session, *, team_id: int, owner_id: int | None = None
) -> Iterator[tuple[Cell, ...]]:
    owner = aliased(Member)
    query = (
        select(Deal, col(Stage.name), col(Contact.name), col(Company.name), col(owner.name))
        .join(Stage, col(Stage.id) == col(Deal.stage_id))
        .outerjoin(Contact, col(Contact.id) == col(Deal.contact_id))
        .outerjoin(Company, col(Company.id) == col(Deal.company_id))
        .outerjoin(owner, col(owner.id) == col(Deal.owner_id))
        .where(col(Deal.team_id) == team_id, col(Deal.archived).is_(False))
    )
    if owner_id is not None:
        query = query.where(col(Deal.owner_id) == owner_id)
    for page in _pages(session, query, col(Deal.id)):
        tags = tags_of(
            session, team_id=team_id, target="deal", ids=[d.id for d, *_ in page if d.id]
        )
        for deal, stage, contact, company, owner_name in page:
            yield (
                deal.title,
                _major(deal.amount, deal.currency),
                deal.currency,
                stage,
                deal.expected_close,
                contact,
                company,
                owner_name,
                " ".join(f"#{t}" for t in tags.get(deal.id or 0, [])),
                deal.created_at,
                deal.closed_at,
            )


def activity_rows(
    session: Session, *, team_id: int, member_id: int | None = None
) -> Iterator[tuple[Cell, ...]]:
    query = (
        select(Activity, col(Contact.name), col(Deal.title), col(Member.name))
        .outerjoin(Contact, col(Contact.id) == col(Activity.contact_id))
        .outerjoin(Deal, col(Deal.id) == col(Activity.deal_id))
        .outerjoin(Member, col(Member.id) == col(Activity.member_id))
        .where(col(Activity.team_id) == team_id)
    )
    if member_id is not None:
        query = query.where(col(Activity.member_id) == member_id)
    for page in _pages(session, query, col(Activity.id)):
        for activity, contact, deal, member in page:
            yield (activity.at, activity.kind, contact, deal, member, activity.text)


def _major(minor: int | None, currency: str | None) -> Decimal | None:
    """An amount in the currency's units (12000.50), as a spreadsheet sums it."""
    if minor is None:
        return None
    return Decimal(minor).scaleb(-get_currency_precision(currency or "EUR"))
