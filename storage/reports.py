"""The pipeline's numbers: SQL aggregates over deals and their stage history.

Every query reads a covering index and returns a handful of rows per stage, owner and
currency; nothing loads deals to loop over them. Money comes back as exact integer sums of
minor units, per currency (never added across currencies); durations as sums of seconds
stored with the rows (Deal.cycle_seconds, StageChange.stay_seconds: no date arithmetic
per row), so the caller divides once and rounds once. Stage probabilities are constant per
stage, so a weighted value is the stage's exact sum times its probability, computed by the
caller.

SQLite has no hash aggregation: a GROUP BY whose rows do not arrive in the index's order
goes through a sort of every row, which at a million deals costs more than the scan. So
each query names the values of its grouping columns (stages, owners, currencies) with IN
lists in index order: the rows then arrive grouped, and a period is a range seek inside
each group. Where the groups are few (stage pairs; stages and currencies), each is an
aggregate of its own in a UNION ALL instead: no grouping columns to compare on every row.
PostgreSQL plans the same SQL its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, String, func, literal, select, union_all
from sqlmodel import Session, col

from storage.models import Deal, Member, StageChange


@dataclass(frozen=True, slots=True)
class DealGroup:
    """Deals of one stage, owner (None: every owner's) and currency (None: deals with no
    amount)."""

    stage_id: int
    owner_id: int | None
    currency: str | None
    count: int
    priced: int  # how many of them have an amount
    amount: int
    cycle_seconds: float = 0.0  # closed deals: their created -> closed times, summed


@dataclass(frozen=True, slots=True)
class ForecastGroup:
    """Open deals of one stage and currency, their amounts by expected close:
    `buckets[0]` before the first month (overdue), `buckets[i]` in the i-th month; None
    where no deal is expected."""

    stage_id: int
    currency: str
    buckets: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class StageMoves:
    """Deals moved from one stage to another in a period, and how long they had stayed."""

    from_stage_id: int
    to_stage_id: int
    count: int
    timed: int  # how many of the stays have a known length (stay_seconds)
    seconds: float  # total length of those stays


def open_groups(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    created_before: datetime,
    owner_id: int | None = None,
    by_owner: bool = True,
) -> list[DealGroup]:
    """Deals now in `stage_ids` (the open stages) created before `created_before`, per
    owner in the order of ix_deal_team_stage_figures (team, stage, owner, currency), or
    unless `by_owner` per stage and currency (see _totals)."""
    if not stage_ids:
        return []
    where = (
        col(Deal.team_id) == team_id,
        _owned(session, team_id, owner_id),
        col(Deal.created_at) < created_before,
    )
    if not by_owner:
        return _totals(session, where, stage_ids, _team_currencies(session, team_id=team_id))
    query = (
        select(*_figures(), literal(0.0))  # open deals have no cycle yet
        .where(*where, col(Deal.stage_id).in_(stage_ids))
        .group_by(col(Deal.stage_id), col(Deal.owner_id), col(Deal.currency))
    )
    return _groups(session, query)


def closed_groups(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    start: datetime,
    end: datetime,
    owner_id: int | None = None,
    by_owner: bool = True,
) -> list[DealGroup]:
    """Deals in `stage_ids` (the closed stages) whose closed_at is in [start, end), per
    owner with their cycle times, or unless `by_owner` per stage and currency (see
    _totals).

    Read through ix_deal_team_currency_closed (team, currency, stage, owner, closed_at):
    for each currency the team uses, stage and owner, one range of the period."""
    if not stage_ids:
        return []
    where = (
        col(Deal.team_id) == team_id,
        _owned(session, team_id, owner_id),
        col(Deal.closed_at) >= start,
        col(Deal.closed_at) < end,
    )
    currencies = _team_currencies(session, team_id=team_id)
    if not by_owner:
        return _totals(session, where, stage_ids, currencies)
    parts = [
        select(*_figures(), func.sum(col(Deal.cycle_seconds)))
        .where(*where, currency, col(Deal.stage_id).in_(stage_ids))
        .group_by(col(Deal.currency), col(Deal.stage_id), col(Deal.owner_id))
        for currency in _currency_parts(currencies)
    ]
    return _groups(session, union_all(*parts))


def rotting_count(
    session: Session,
    *,
    team_id: int,
    cutoffs: dict[int, datetime],
    created_before: datetime,
    owner_id: int | None = None,
) -> int:
    """Open deals with no activity since their stage's cutoff (see cards.rotting_cutoffs):
    one count per stage and owner (ix_deal_team_stage_owner_activity), added up. An OR of the
    stages would leave the plan to chance; at a million deals it can pick a full scan."""
    counts = [
        select(func.count())
        .select_from(Deal)
        .where(
            col(Deal.team_id) == team_id,
            col(Deal.stage_id) == stage_id,
            _owned(session, team_id, owner_id),
            col(Deal.last_activity_at) < cutoff,
            col(Deal.created_at) < created_before,
        )
        .scalar_subquery()
        for stage_id, cutoff in cutoffs.items()
    ]
    if not counts:
        return 0
    total: ColumnElement[int] = counts[0]
    for more in counts[1:]:
        total = total + more
    return int(session.execute(select(total)).scalar_one())


def forecast_groups(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    month_starts: Sequence[date],
    owner_id: int | None = None,
) -> list[ForecastGroup]:
    """Open deals with an amount, their sums by expected close month (see ForecastGroup).

    A bucket is a range of ix_deal_team_stage_forecast (team, stage, currency,
    expected_close) per stage and currency, summed on its own: only the deals expected in
    those months are read, and a CASE per bucket on every row would cost more than
    reading the rows."""
    currencies = _team_currencies(session, team_id=team_id)
    if not stage_ids or not month_starts or not currencies:
        return []
    expected = col(Deal.expected_close)
    ranges = [expected < month_starts[0]] + [
        (expected >= low) & (expected < high) for low, high in pairwise(month_starts)
    ]
    owned = [col(Deal.owner_id) == owner_id] if owner_id is not None else []
    parts = [
        select(col(Deal.stage_id), col(Deal.currency), literal(bucket), func.sum(Deal.amount))
        .where(
            col(Deal.team_id) == team_id,
            col(Deal.stage_id).in_(stage_ids),
            col(Deal.currency).in_(currencies),
            within,
            *owned,
            col(Deal.amount).is_not(None),
        )
        .group_by(col(Deal.stage_id), col(Deal.currency))
        for bucket, within in enumerate(ranges)
    ]
    sums: dict[tuple[int, str], list[int | None]] = {}
    for stage_id, currency, bucket, amount in session.execute(union_all(*parts)):
        sums.setdefault((stage_id, currency), [None] * len(ranges))[bucket] = int(amount)
    return [
        ForecastGroup(stage_id, currency, tuple(buckets))
        for (stage_id, currency), buckets in sums.items()
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

    `stage_ids` are the team's stages: for the whole team, naming them lets
    ix_stagechange_team_moves (team, from, to, at) read each pair's period as one range.
    Each pair is its own aggregate rather than a group of one GROUP BY: a period holds
    millions of changes at scale, and SQLite compares the grouping columns on every row,
    which costs a third of the query; a range read whole needs no grouping."""
    if not stage_ids:
        return []
    stay = col(StageChange.stay_seconds)
    figures = (func.count(), func.count(stay), func.sum(stay))
    period = (col(StageChange.at) >= start, col(StageChange.at) < end)
    query: Any
    if owner_id is None:
        query = union_all(
            *(
                select(literal(source), literal(target), *figures).where(
                    col(StageChange.team_id) == team_id,
                    col(StageChange.from_stage_id) == source,
                    col(StageChange.to_stage_id) == target,
                    *period,
                )
                for source in stage_ids
                for target in stage_ids
            )
        )
    else:
        # Only the owner's deals, named by id (they are the team's): the one index that
        # fits is then the one on deal_id, so the history of those deals is read, a few
        # changes each, rather than the team's whole period checked deal by deal.
        owned = select(col(Deal.id)).where(
            col(Deal.team_id) == team_id, col(Deal.owner_id) == owner_id
        )
        query = (
            select(col(StageChange.from_stage_id), col(StageChange.to_stage_id), *figures)
            .where(
                col(StageChange.deal_id).in_(owned),
                col(StageChange.from_stage_id).is_not(None),
                *period,
            )
            .group_by(col(StageChange.from_stage_id), col(StageChange.to_stage_id))
        )
    return [
        StageMoves(from_id, to_id, count, timed, float(seconds or 0.0))
        for from_id, to_id, count, timed, seconds in session.execute(query)
        if from_id is not None and count
    ]


def _figures() -> tuple[Any, ...]:
    """What a DealGroup is made of, in its order."""
    return (
        col(Deal.stage_id),
        col(Deal.owner_id),
        col(Deal.currency),
        func.count(),
        func.count(col(Deal.amount)),
        func.sum(Deal.amount),
    )


def _groups(session: Session, query: Any) -> list[DealGroup]:
    """DealGroups from rows of _figures() and a sum of cycle seconds."""
    return [
        DealGroup(stage_id, owner, currency, count, priced, int(amount or 0), float(cycle or 0))
        for stage_id, owner, currency, count, priced, amount, cycle in session.execute(query)
    ]


def _totals(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    stage_ids: Sequence[int],
    currencies: Sequence[str],
) -> list[DealGroup]:
    """The deals `where` says, per stage and currency (and with none), owners added up.

    Each (stage, currency) is an aggregate of its own, not a group of a GROUP BY: its rows
    are the ranges of one stage and currency in the index, read whole, while a GROUP BY
    over the owners' ranges would either hand over a group per owner (thousands of rows at
    a million contacts) or sort every row; SQLite also compares the grouping columns on
    each row. About a third less at 2M deals."""
    currency = col(Deal.currency)
    amount = col(Deal.amount)
    parts = [
        select(
            literal(stage_id),
            literal(code, String),
            func.count(),
            func.count(amount),
            func.sum(amount),
        ).where(
            *where,
            col(Deal.stage_id) == stage_id,
            currency.is_(None) if code is None else currency == code,
        )
        for stage_id in stage_ids
        for code in [*currencies, None]
    ]
    return [
        DealGroup(stage_id, None, code, int(count), int(priced), int(total or 0))
        for stage_id, code, count, priced, total in session.execute(union_all(*parts))
        if count
    ]


def _owned(session: Session, team_id: int, owner_id: int | None) -> ColumnElement[bool]:
    """One owner's deals, or every member's, named as a list of ids so the index can seek
    (a subquery instead leaves PostgreSQL guessing how many there are)."""
    if owner_id is not None:
        return col(Deal.owner_id) == owner_id
    members = session.execute(select(col(Member.id)).where(col(Member.team_id) == team_id))
    return col(Deal.owner_id).in_(members.scalars().all())


def _currency_parts(
    currencies: Sequence[str],
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Deals in one of the team's `currencies`, and deals with none: IN cannot match NULL,
    so a query by currency is the union of the two."""
    currency = col(Deal.currency)
    return currency.in_(currencies), currency.is_(None)


def _team_currencies(session: Session, *, team_id: int) -> list[str]:
    """The currencies of the team's deals, read by skipping from one to the next in
    ix_deal_team_currency_closed (a loose index scan: one seek per currency, not a scan
    of every deal). A recursive CTE, as neither database skips by itself."""
    first = select(func.min(Deal.currency).label("currency")).where(col(Deal.team_id) == team_id)
    found = first.cte("team_currencies", recursive=True)
    following = (
        select(func.min(Deal.currency))
        .where(col(Deal.team_id) == team_id, col(Deal.currency) > found.c.currency)
        .scalar_subquery()
    )
    found = found.union_all(select(following).where(found.c.currency.is_not(None)))
    return [c for c in session.execute(select(found.c.currency)).scalars() if c is not None]
