"""The pipeline's numbers: SQL aggregates over deals and their stage history.

Every query groups on indexed columns and returns a handful of rows per stage, owner and
currency; nothing loads deals to loop over them. Money comes back as exact integer sums of
minor units, per currency (never added across currencies); durations as sums of seconds,
so the caller divides once and rounds once. Stage probabilities are constant per stage,
so a weighted value is the stage's exact sum times its probability, computed by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlmodel import Session, col

from storage.models import Deal, StageChange


class seconds_between(FunctionElement[float]):
    """`seconds_between(later, earlier)`: the seconds from one timestamp to another.

    SQLite keeps timestamps as text and has julianday(); PostgreSQL subtracts timestamptz.
    """

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@dataclass(frozen=True, slots=True)
class OpenGroup:
    """Open deals of one stage, owner and currency (currency None: deals with no amount)."""

    stage_id: int
    owner_id: int
    currency: str | None
    count: int
    amount: int


@dataclass(frozen=True, slots=True)
class ClosedGroup:
    """Deals closed in a period, per closing stage, owner and currency."""

    stage_id: int
    owner_id: int
    currency: str | None
    count: int
    priced: int  # how many of them have an amount
    amount: int
    cycle_seconds: float  # sum over the group of created -> closed


@dataclass(frozen=True, slots=True)
class ForecastGroup:
    """Open deals expected to close in one month bucket (0: before the first month)."""

    bucket: int
    stage_id: int
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class StageMoves:
    """Deals moved from one stage to another in a period, and how long they had stayed."""

    from_stage_id: int
    to_stage_id: int
    count: int
    timed: int  # how many of the stays have a known start (from_entered_at)
    seconds: float  # total length of those stays


def open_groups(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    created_before: datetime,
    owner_id: int | None = None,
) -> list[OpenGroup]:
    """Deals now in `stage_ids` (the open stages) created before `created_before`."""
    if not stage_ids:
        return []
    query = select(
        col(Deal.stage_id),
        col(Deal.owner_id),
        col(Deal.currency),
        func.count(),
        func.sum(Deal.amount),
    ).where(
        col(Deal.team_id) == team_id,
        col(Deal.stage_id).in_(stage_ids),
        col(Deal.created_at) < created_before,
    )
    if owner_id is not None:
        query = query.where(col(Deal.owner_id) == owner_id)
    query = query.group_by(col(Deal.stage_id), col(Deal.owner_id), col(Deal.currency))
    return [
        OpenGroup(stage_id, owner, currency, count, int(amount or 0))
        for stage_id, owner, currency, count, amount in session.execute(query)
    ]


def closed_groups(
    session: Session,
    *,
    team_id: int,
    start: datetime,
    end: datetime,
    owner_id: int | None = None,
) -> list[ClosedGroup]:
    """Deals whose closed_at falls in [start, end) (reopened deals have none)."""
    query = select(
        col(Deal.stage_id),
        col(Deal.owner_id),
        col(Deal.currency),
        func.count(),
        func.count(col(Deal.amount)),
        func.sum(Deal.amount),
        func.sum(seconds_between(col(Deal.closed_at), col(Deal.created_at))),
    ).where(
        col(Deal.team_id) == team_id,
        col(Deal.closed_at) >= start,
        col(Deal.closed_at) < end,
    )
    if owner_id is not None:
        query = query.where(col(Deal.owner_id) == owner_id)
    query = query.group_by(col(Deal.stage_id), col(Deal.owner_id), col(Deal.currency))
    return [
        ClosedGroup(stage_id, owner, currency, count, priced, int(amount or 0), float(seconds))
        for stage_id, owner, currency, count, priced, amount, seconds in session.execute(query)
    ]


def rotting_count(
    session: Session,
    *,
    team_id: int,
    cutoffs: dict[int, datetime],
    created_before: datetime,
    owner_id: int | None = None,
) -> int:
    """Open deals with no activity since their stage's cutoff (see cards.rotting_cutoffs)."""
    if not cutoffs:
        return 0
    query = (
        select(func.count())
        .select_from(Deal)
        .where(
            col(Deal.team_id) == team_id,
            col(Deal.created_at) < created_before,
            or_(
                *(
                    and_(col(Deal.stage_id) == stage_id, col(Deal.last_activity_at) < cutoff)
                    for stage_id, cutoff in cutoffs.items()
                )
            ),
        )
    )
    if owner_id is not None:
        query = query.where(col(Deal.owner_id) == owner_id)
    return session.execute(query).scalar_one()


def forecast_groups(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    month_starts: Sequence[date],
    owner_id: int | None = None,
) -> list[ForecastGroup]:
    """Open deals with an amount by expected-close bucket: bucket 0 is before
    month_starts[0] (overdue), bucket i is [month_starts[i-1], month_starts[i])."""
    if not stage_ids or not month_starts:
        return []
    expected = col(Deal.expected_close)
    bucket = case(
        *((expected < start, i) for i, start in enumerate(month_starts)),
        else_=len(month_starts),
    )
    query = select(bucket, col(Deal.stage_id), col(Deal.currency), func.sum(Deal.amount)).where(
        col(Deal.team_id) == team_id,
        col(Deal.stage_id).in_(stage_ids),
        expected < month_starts[-1],
        col(Deal.amount).is_not(None),
    )
    if owner_id is not None:
        query = query.where(col(Deal.owner_id) == owner_id)
    query = query.group_by(bucket, col(Deal.stage_id), col(Deal.currency))
    return [
        ForecastGroup(int(b), stage_id, currency, int(amount or 0))
        for b, stage_id, currency, amount in session.execute(query)
        if currency is not None
    ]


def stage_moves(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    start: datetime,
    end: datetime,
    owner_id: int | None = None,
) -> list[StageMoves]:
    """Stage changes in [start, end), per (from, to) pair, with the total length of the
    stays they ended: one pass over the period's history gives both where deals went from
    each stage and how long they had been there.

    `stage_ids` are the team's stages: naming them lets the index on (team, from, to, at)
    seek each pair's period directly and hand the rows over already grouped."""
    if not stage_ids:
        return []
    length = seconds_between(col(StageChange.at), col(StageChange.from_entered_at))
    query = select(
        col(StageChange.from_stage_id),
        col(StageChange.to_stage_id),
        func.count(),
        func.count(col(StageChange.from_entered_at)),
        func.sum(length),
    ).where(
        col(StageChange.team_id) == team_id,
        col(StageChange.at) >= start,
        col(StageChange.at) < end,
        col(StageChange.from_stage_id).in_(stage_ids),
        col(StageChange.to_stage_id).in_(stage_ids),
    )
    if owner_id is not None:
        query = query.join(Deal, col(Deal.id) == col(StageChange.deal_id)).where(
            col(Deal.team_id) == team_id, col(Deal.owner_id) == owner_id
        )
    query = query.group_by(col(StageChange.from_stage_id), col(StageChange.to_stage_id))
    return [
        StageMoves(from_id, to_id, count, timed, float(seconds or 0.0))
        for from_id, to_id, count, timed, seconds in session.execute(query)
        if from_id is not None
    ]
