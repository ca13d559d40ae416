"""Deals and their stage history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage import core
from storage.keys import name_key
from storage.models import Company, Contact, Deal, DealTotal, Stage, StageChange, StageKind
from storage.teams import StageRow


def get_deal(session: Session, *, team_id: int, deal_id: int) -> Deal | None:
    deal = core.get(session, Deal, deal_id)
    return deal if deal is not None and deal.team_id == team_id and not deal.archived else None


def party_names(
    session: Session, *, team_id: int, contact_id: int | None, company_id: int | None
) -> tuple[str | None, str | None]:
    """The names of a deal's contact and company (None: it has none, or its contact was
    deleted), in one statement: a card shows the names only."""
    values = {"team_id": team_id, "contact_id": contact_id, "company_id": company_id}
    row = core.execute(session, _PARTY_NAMES, values).one()
    return row[0], row[1]


_PARTY_NAMES = select(
    select(col(Contact.name))
    .where(
        col(Contact.id) == bindparam("contact_id"),
        col(Contact.team_id) == bindparam("team_id"),
        col(Contact.archived).is_(False),
    )
    .scalar_subquery(),
    select(col(Company.name))
    .where(
        col(Company.id) == bindparam("company_id"), col(Company.team_id) == bindparam("team_id")
    )
    .scalar_subquery(),
)


# Deleted (archived) deals are in none of the reads below.
_LIVE = col(Deal.archived).is_(False)
_DEALS_BY_IDS = {
    count: select(Deal).where(
        col(Deal.team_id) == bindparam("team_id"), core.among(col(Deal.id), "id", count), _LIVE
    )
    for count in core.AMONG_COUNTS
}


def deals_by_ids(session: Session, *, team_id: int, ids: Sequence[int]) -> list[Deal]:
    if not ids:
        return []
    count, values = core.among_values("id", ids)
    rows = core.load(session, Deal, _DEALS_BY_IDS[count], {"team_id": team_id, **values})
    found = {deal.id: deal for deal in rows}
    return [found[i] for i in ids if i in found]


def deals_titled(session: Session, *, team_id: int, keys: Sequence[str]) -> list[Deal]:
    """Deals whose normalised title is exactly one of `keys` (by id, at most 50)."""
    if not keys:
        return []
    count, values = core.among_values("key", keys)
    found = core.load(session, Deal, _DEALS_TITLED[count], {"team_id": team_id, **values})
    # Sorted here, not in SQL: see contacts_named.
    return sorted(found, key=lambda deal: deal.id or 0)


_DEALS_TITLED = {
    count: select(Deal)
    .where(
        col(Deal.team_id) == bindparam("team_id"),
        core.among(col(Deal.title_key), "key", count),
        _LIVE,
    )
    .limit(50)
    for count in core.AMONG_COUNTS
}


def save_deal(session: Session, *, deal: Deal) -> Deal:
    """Insert or update a deal, keeping its search key in step with its title."""
    deal.title_key = name_key(deal.title)
    session.add(deal)
    session.flush()
    return deal


def open_deal(session: Session, *, deal: Deal, member_id: int, now: datetime) -> Deal:
    """Insert a new deal and the first entry of its stage history."""
    deal.stage_entered_at = deal.last_activity_at = deal.created_at = deal.updated_at = now
    deal.title_key = name_key(deal.title)
    core.insert_row(session, deal)
    assert deal.id is not None
    core.insert_row(
        session,
        core.new_row(
            StageChange,
            team_id=deal.team_id,
            deal_id=deal.id,
            to_stage_id=deal.stage_id,
            member_id=member_id,
            at=now,
        ),
    )
    return deal


def currency_total(session: Session, *, team_id: int, currency: str) -> int:
    """What all the team's deals in `currency` add up to (from the running totals)."""
    values = {"team_id": team_id, "currency": currency}
    return int(core.execute(session, _CURRENCY_TOTAL, values).scalar_one())


# Built once: every /deal with an amount asks.
_CURRENCY_TOTAL = select(func.coalesce(func.sum(DealTotal.amount), 0)).where(
    col(DealTotal.team_id) == bindparam("team_id"),
    col(DealTotal.currency) == bindparam("currency"),
)


def lock_deal(session: Session, *, deal: Deal) -> None:
    """Hold `deal`'s row until the transaction ends and read it afresh: what it is now,
    after any move another process committed meanwhile (PostgreSQL; SQLite's writers
    are one at a time anyway). Two "Won" presses at once: the second sees it won.

    On SQLite there is nothing to read again: the command read the deal in its own
    transaction, and a write transaction whose snapshot another writer has moved past
    fails (and is retried) rather than writing over it."""
    if session.get_bind().dialect.name != "sqlite":
        session.refresh(deal, with_for_update=True)


def move_deal(
    session: Session,
    *,
    deal: Deal,
    stage: Stage | StageRow,
    member_id: int,
    now: datetime,
    lost_reason: str | None = None,
) -> StageChange:
    """Put `deal` in `stage`, closing or reopening it as the stage's kind says."""
    assert deal.id is not None and stage.id is not None
    # Never before the deal entered its stage: a message read late is dated when it was
    # sent, and a button pressed before it, which has no date, when it arrived.
    now = max(now, deal.stage_entered_at)
    change = core.new_row(
        StageChange,
        team_id=deal.team_id,
        deal_id=deal.id,
        from_stage_id=deal.stage_id,
        to_stage_id=stage.id,
        member_id=member_id,
        at=now,
        from_entered_at=deal.stage_entered_at,
        stay_seconds=(now - deal.stage_entered_at).total_seconds(),
    )
    closed = stage.kind != StageKind.open
    core.update_row(
        session,
        deal,
        stage_id=stage.id,
        stage_entered_at=now,
        last_activity_at=now,
        updated_at=now,
        closed_at=now if closed else None,
        cycle_seconds=(now - deal.created_at).total_seconds() if closed else None,
        lost_reason=lost_reason if stage.kind == StageKind.lost else None,
    )
    core.insert_row(session, change)
    return change


def stage_before(session: Session, *, deal: Deal) -> int | None:
    """The stage the deal was in before it entered its current one (None: it began there)."""
    rows = core.execute(
        session, _STAGE_BEFORE, {"deal_id": deal.id, "team_id": deal.team_id, "to": deal.stage_id}
    )
    return next((row[0] for row in rows), None)


_STAGE_BEFORE = (
    select(StageChange.from_stage_id)
    .where(
        col(StageChange.deal_id) == bindparam("deal_id"),
        col(StageChange.team_id) == bindparam("team_id"),
        col(StageChange.to_stage_id) == bindparam("to"),
    )
    .order_by(col(StageChange.at).desc(), col(StageChange.id).desc())
    .limit(1)
)


def list_deals(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    owner_id: int | None = None,
    contact_id: int | None = None,
    rotting_before: Mapping[int, datetime] | None = None,
    limit: int = 30,
) -> list[Deal]:
    """Deals in `stage_ids`, most recently active first.

    `rotting_before` maps a stage id to its cutoff: only deals of those stages with no
    activity since the cutoff are returned.
    """
    values = {"team_id": team_id, "owner_id": owner_id, "contact_id": contact_id, "limit": limit}
    by_owner, by_contact = owner_id is not None, contact_id is not None
    if not stage_ids:
        return []
    if rotting_before is None:
        count, stages = core.among_values("stage", stage_ids)
        query = _deals_in_stages(by_owner, by_contact, count=count)
        return core.load(session, Deal, query, {**values, **stages})
    # One range per stage, read backwards from its cutoff on (team_id, stage_id,
    # last_activity_at) and stopped at the limit, then merged. As a single query with an
    # OR of the stages, SQLite walked the team's deals from the newest, past every closed
    # or fresh one, until it had met `limit` rotting deals.
    query = _deals_in_stages(by_owner, by_contact, count=1, rotting=True)
    found: list[Deal] = []
    for stage_id, cutoff in rotting_before.items():
        if stage_id in stage_ids:
            params = {**values, "stage_0": stage_id, "cutoff": cutoff}
            found += core.load(session, Deal, query, params)
    found.sort(key=lambda deal: (deal.last_activity_at, deal.id or 0), reverse=True)
    return found[:limit]


def open_deals_of(session: Session, *, team_id: int, contact_id: int, limit: int) -> list[Deal]:
    """The contact's deals in the team's open stages, most recently active first (its
    card's). The open stages are the statement's own subquery, not a list of ids: a list
    parameter makes SQLAlchemy render the SQL again at every execution, and keeps the
    statement off the driver (storage/core.py)."""
    values = {"team_id": team_id, "contact_id": contact_id, "limit": limit}
    return core.load(session, Deal, _deals_in_stages(False, True, open_stages=True), values)


_LATEST_FIRST = (col(Deal.last_activity_at).desc(), col(Deal.id).desc())
_OPEN_STAGES = select(col(Stage.id)).where(
    col(Stage.team_id) == bindparam("team_id"), col(Stage.kind) == StageKind.open
)


@cache
def _deals_in_stages(
    by_owner: bool,
    by_contact: bool,
    *,
    count: int = 0,
    open_stages: bool = False,
    rotting: bool = False,
) -> SelectOfScalar[Deal]:
    # Built once per shape: the card and the lists run it on every call. The stages are
    # the team's open ones (a subquery) or `count` parameters (core.among).
    stage_id = col(Deal.stage_id)
    in_stages = stage_id.in_(_OPEN_STAGES) if open_stages else core.among(stage_id, "stage", count)
    query = select(Deal).where(col(Deal.team_id) == bindparam("team_id"), in_stages, _LIVE)
    if by_owner:
        query = query.where(col(Deal.owner_id) == bindparam("owner_id"))
    if by_contact:
        query = query.where(col(Deal.contact_id) == bindparam("contact_id"))
    if rotting:
        query = query.where(col(Deal.last_activity_at) < bindparam("cutoff"))
    return query.order_by(*_LATEST_FIRST).limit(bindparam("limit"))


class StageTotal(NamedTuple):
    stage_id: int
    currency: str | None  # None: deals without an amount
    deals: int
    amount: int  # minor units of `currency`


def stage_totals(
    session: Session, *, team_id: int, stage_ids: Sequence[int], owner_id: int | None = None
) -> list[StageTotal]:
    """Per stage and currency, how many deals and their summed amount (never summed across
    currencies)."""
    query = (
        select(
            col(Deal.stage_id),
            col(Deal.currency),
            func.count(),
            func.sum(col(Deal.amount)),
        )
        .where(Deal.team_id == team_id, col(Deal.stage_id).in_(stage_ids), _LIVE)
        .group_by(col(Deal.stage_id), col(Deal.currency))
    )
    if owner_id is not None:
        query = query.where(Deal.owner_id == owner_id)
    return [
        StageTotal(stage_id, currency, deals, amount or 0)
        for stage_id, currency, deals, amount in session.exec(query)
    ]


def open_value_by_contact(
    session: Session, *, team_id: int, contact_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Per contact, the amounts of its open deals summed per currency (minor units)."""
    if not contact_ids:
        return {}
    rows = session.exec(
        select(Deal.contact_id, Deal.currency, func.sum(Deal.amount))
        .join(Stage, col(Stage.id) == col(Deal.stage_id))
        .where(
            Deal.team_id == team_id,
            col(Deal.contact_id).in_(contact_ids),
            Stage.kind == StageKind.open,
            col(Deal.amount).is_not(None),
            _LIVE,
        )
        .group_by(col(Deal.contact_id), col(Deal.currency))
        .order_by(col(Deal.currency))
    )
    values: dict[int, dict[str, int]] = {}
    for contact_id, currency, total in rows:
        if contact_id is not None and currency is not None:
            values.setdefault(contact_id, {})[currency] = int(total or 0)
    return values
