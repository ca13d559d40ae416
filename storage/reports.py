"""The pipeline's numbers: SQL aggregates over running totals, deals and stage history.

Nothing loads deals to loop over them. Money comes back as exact integer sums of minor
units, per currency (never added across currencies); durations as sums of seconds stored
with the rows (Deal.cycle_seconds, StageChange.stay_seconds: no date arithmetic per row),
so the caller divides once and rounds once. Stage probabilities are constant per stage, so
a weighted value is the stage's exact sum times its probability, computed by the caller.

Most figures come from running totals that triggers keep in the same transaction as every
write (DealTotal, ClosedMonth, ExpectedMonth, MovesMonth; migration 0014), so a report
reads a few rows per stage, owner, currency and month, however long the team's history:

- the deals now in the open stages are DealTotal's rows, less the few created since the
  period's end when it is still to come (or the deals themselves, for a period long past);
- a period of closed deals or of stage changes is its whole UTC months from the monthly
  totals and, at each end, the part of a month inside the period read from the rows, or
  the month's totals less the part outside it, whichever spans less time up to now (see
  month_plan): a local month is a few hours off a UTC one, so hours of rows are read;
- the forecast is ExpectedMonth's rows by month of expected close.

What is read from the rows is a range of a covering index made for it. SQLite has no
statistics here and picks indexes by the shape of the terms alone, so a term that would
lure it into another index is marked _Unindexed. PostgreSQL plans the same SQL its own way.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from storage.models import (
    ClosedMonth,
    Deal,
    DealTotal,
    ExpectedMonth,
    Member,
    MovesMonth,
    StageChange,
)


class _Unindexed(FunctionElement[Any]):
    """A column SQLite must not read through an index: `+column` there (its documented
    way to say so), the column itself elsewhere.

    Without statistics, SQLite's planner picks an index by the shape of the terms alone:
    it would rather range over ix_deal_team_created when a query bounds created_at from
    above, and then look up every deal created before the bound, than seek the covering
    index each report is written for; and would rather seek a stage's deals than range
    over the few closed or created in a span of time."""

    inherit_cache = True

    def __init__(self, column: Mapped[Any]) -> None:
        super().__init__(column)
        (self.type,) = (clause.type for clause in self.clauses)


@compiles(_Unindexed, "sqlite")
def _unindexed_on_sqlite(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


@compiles(_Unindexed)
def _unindexed(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


_stay = col(StageChange.stay_seconds)
_MOVE_FIGURES = (
    col(StageChange.from_stage_id),
    col(StageChange.to_stage_id),
    func.count(),
    func.count(_stay),
    func.sum(_stay),
)
_MOVES_IN_MONTHS = (
    select(
        col(MovesMonth.from_stage_id),
        col(MovesMonth.to_stage_id),
        func.sum(MovesMonth.moves),
        func.sum(MovesMonth.timed),
        func.sum(MovesMonth.seconds),
    )
    .where(
        col(MovesMonth.team_id) == bindparam("team_id"),
        col(MovesMonth.month) >= bindparam("first"),
        col(MovesMonth.month) < bindparam("stop"),
    )
    .group_by(col(MovesMonth.from_stage_id), col(MovesMonth.to_stage_id))
)
# Deleted (archived) deals: in no figure read from the deals, as in none of the totals.
_LIVE = col(Deal.archived).is_(False)
# A span: one range of ix_stagechange_team_at (team, at, from, to, stay).
_MOVES_IN_SPAN = (
    select(*_MOVE_FIGURES)
    .where(
        col(StageChange.team_id) == bindparam("team_id"),
        col(StageChange.at) >= bindparam("start"),
        col(StageChange.at) < bindparam("end"),
        col(StageChange.from_stage_id).is_not(None),
    )
    .group_by(col(StageChange.from_stage_id), col(StageChange.to_stage_id))
)
_OWNERS_MOVES = (
    select(*_MOVE_FIGURES)
    .where(
        col(StageChange.deal_id).in_(
            select(col(Deal.id)).where(
                col(Deal.team_id) == bindparam("team_id"),
                col(Deal.owner_id) == bindparam("owner_id"),
            )
        ),
        col(StageChange.from_stage_id).is_not(None),
        col(StageChange.at) >= bindparam("start"),
        col(StageChange.at) < bindparam("end"),
    )
    .group_by(col(StageChange.from_stage_id), col(StageChange.to_stage_id))
)
# How many deals were created since a moment, counting no further than `enough`: a range
# of ix_deal_team_created.
_CREATED_SINCE = select(func.count()).select_from(
    select(literal(1))
    .where(
        col(Deal.team_id) == bindparam("team_id"),
        col(Deal.created_at) >= bindparam("since"),
    )
    .limit(bindparam("enough"))
    .subquery()
)


@dataclass(frozen=True, slots=True)
class DealGroup:
    """Deals of one stage (None: every stage's), owner (None: every owner's) and currency
    (None: deals with no amount)."""

    stage_id: int | None
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
    owner and currency (their stages together), or unless `by_owner` per stage and
    currency (their owners together).

    From the running totals less the deals created since `created_before` (none, for a
    period still running), when there are few enough of those: each is looked up by id,
    which costs about what reading three open deals from an index does. Otherwise from the
    open deals themselves (see _open_rows)."""
    if not stage_ids:
        return []
    group = col(DealTotal.owner_id) if by_owner else col(DealTotal.stage_id)
    totals = (
        select(
            null() if by_owner else group,
            group if by_owner else null(),
            col(DealTotal.currency),
            func.sum(DealTotal.deals),
            func.sum(DealTotal.priced),
            func.sum(DealTotal.amount),
        )
        .where(col(DealTotal.team_id) == team_id, col(DealTotal.stage_id).in_(stage_ids))
        .group_by(group, col(DealTotal.currency))
    )
    if owner_id is not None:
        totals = totals.where(col(DealTotal.owner_id) == owner_id)
    now_open = session.execute(totals).all()
    enough = sum(row[3] for row in now_open) // 3 + 1
    since = {"team_id": team_id, "since": created_before, "enough": enough}
    rows = _Rows(stage=not by_owner, owner=by_owner)
    if session.execute(_CREATED_SINCE, since).scalar_one() < enough:
        rows.add(now_open, 1)
        # By id from ix_deal_team_created: a covering index (the figures') would
        # otherwise look cheaper to SQLite to read whole than this one in a range.
        created = select(col(Deal.id)).where(
            col(Deal.team_id) == team_id, col(Deal.created_at) >= created_before
        )
        later = select(*_figures()).where(
            col(Deal.id).in_(created),
            _Unindexed(col(Deal.stage_id)).in_(stage_ids),
            *([_Unindexed(col(Deal.owner_id)) == owner_id] if owner_id is not None else []),
            _LIVE,
        )
        later = later.group_by(col(Deal.stage_id), col(Deal.owner_id), col(Deal.currency))
        rows.add(session.execute(later), -1)
    else:
        rows.add(_open_rows(session, team_id, stage_ids, created_before, owner_id, by_owner), 1)
    return rows.groups()


def _open_rows(
    session: Session,
    team_id: int,
    stage_ids: Sequence[int],
    created_before: datetime,
    owner_id: int | None,
    by_owner: bool,
) -> Iterable[Sequence[Any]]:
    """Open deals created before `created_before`, read from ix_deal_team_stage_figures
    (team, stage, owner, currency, created_at): per owner, or per stage and currency
    (see _totals)."""
    where = (
        col(Deal.team_id) == team_id,
        _owned(session, team_id, owner_id),
        _Unindexed(col(Deal.created_at)) < created_before,
        _LIVE,
    )
    if not by_owner:
        return _totals(session, where, stage_ids, _team_currencies(session, team_id=team_id))
    query = (
        select(*_figures())
        .where(*where, col(Deal.stage_id).in_(stage_ids))
        .group_by(col(Deal.stage_id), col(Deal.owner_id), col(Deal.currency))
    )
    return session.execute(query)


def closed_groups(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    start: datetime,
    end: datetime,
    now: datetime,
    owner_id: int | None = None,
    by_owner: bool = True,
) -> list[DealGroup]:
    """Deals in `stage_ids` (the closed stages) whose closed_at is in [start, end), per
    stage, owner (unless not `by_owner`) and currency, with their cycle times: whole months
    from ClosedMonth, the rest from the deals (see month_plan)."""
    if not stage_ids:
        return []
    plan = month_plan(start, end, now)
    rows = _Rows(stage=True, owner=by_owner)
    if plan.first < plan.stop:
        totals = select(
            col(ClosedMonth.stage_id),
            col(ClosedMonth.owner_id) if by_owner else null(),
            col(ClosedMonth.currency),
            func.sum(ClosedMonth.deals),
            func.sum(ClosedMonth.priced),
            func.sum(ClosedMonth.amount),
            func.sum(ClosedMonth.cycle_seconds),
        ).where(
            col(ClosedMonth.team_id) == team_id,
            col(ClosedMonth.month) >= plan.first,
            col(ClosedMonth.month) < plan.stop,
            col(ClosedMonth.stage_id).in_(stage_ids),
        )
        if owner_id is not None:
            totals = totals.where(col(ClosedMonth.owner_id) == owner_id)
        owner = [col(ClosedMonth.owner_id)] if by_owner else []
        totals = totals.group_by(col(ClosedMonth.stage_id), *owner, col(ClosedMonth.currency))
        rows.add(session.execute(totals), 1)
    for sign, low, high in plan.spans:
        rows.add(_closed_rows(session, team_id, stage_ids, low, high, owner_id), sign)
    return rows.groups()


def _closed_rows(
    session: Session,
    team_id: int,
    stage_ids: Sequence[int],
    start: datetime,
    end: datetime,
    owner_id: int | None,
) -> Iterable[Sequence[Any]]:
    """Deals closed in [start, end) per stage, owner and currency: one range of
    ix_deal_team_closed (team, closed_at, stage, owner, currency, amount, cycle)."""
    owned = [_Unindexed(col(Deal.owner_id)) == owner_id] if owner_id is not None else []
    query = (
        select(*_figures(), func.sum(col(Deal.cycle_seconds)))
        .where(
            col(Deal.team_id) == team_id,
            col(Deal.closed_at) >= start,
            col(Deal.closed_at) < end,
            _Unindexed(col(Deal.stage_id)).in_(stage_ids),
            *owned,
            _LIVE,
        )
        .group_by(col(Deal.stage_id), col(Deal.owner_id), col(Deal.currency))
    )
    return session.execute(query)


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
            _Unindexed(col(Deal.created_at)) < created_before,
            _LIVE,
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
    """Deals now in `stage_ids` (the open stages) with an amount, their sums by expected
    close month (see ForecastGroup): the team's from ExpectedMonth, a few rows per stage,
    currency and month; one owner's from the deals (see _owners_forecast)."""
    if not stage_ids or not month_starts:
        return []
    rows: Iterable[tuple[int, str, int, int]]
    if owner_id is None:
        months = select(
            col(ExpectedMonth.stage_id),
            col(ExpectedMonth.currency),
            col(ExpectedMonth.month),
            col(ExpectedMonth.amount),
        ).where(
            col(ExpectedMonth.team_id) == team_id,
            col(ExpectedMonth.stage_id).in_(stage_ids),
            col(ExpectedMonth.month) < month_starts[-1],
            col(ExpectedMonth.deals) > 0,
        )
        rows = (
            (stage_id, currency, bisect_right(month_starts, month), amount)
            for stage_id, currency, month, amount in session.execute(months)
        )
    else:
        rows = _owners_forecast(session, team_id, stage_ids, month_starts, owner_id)
    sums: dict[tuple[int, str], list[int | None]] = {}
    for stage_id, currency, bucket, amount in rows:
        buckets = sums.setdefault((stage_id, currency), [None] * len(month_starts))
        buckets[bucket] = (buckets[bucket] or 0) + int(amount)
    return [
        ForecastGroup(stage_id, currency, tuple(buckets))
        for (stage_id, currency), buckets in sums.items()
    ]


def _owners_forecast(
    session: Session,
    team_id: int,
    stage_ids: Sequence[int],
    month_starts: Sequence[date],
    owner_id: int,
) -> Iterable[tuple[int, str, int, int]]:
    """One owner's amounts per stage, currency and bucket: a bucket is a range of
    ix_deal_team_stage_forecast (team, stage, currency, expected_close, owner) per stage
    and currency, summed on its own."""
    currencies = _team_currencies(session, team_id=team_id)
    if not currencies:
        return []
    expected = col(Deal.expected_close)
    ranges = [expected < month_starts[0]] + [
        (expected >= low) & (expected < high) for low, high in pairwise(month_starts)
    ]
    parts = [
        select(col(Deal.stage_id), col(Deal.currency), literal(bucket), func.sum(Deal.amount))
        .where(
            col(Deal.team_id) == team_id,
            col(Deal.stage_id).in_(stage_ids),
            col(Deal.currency).in_(currencies),
            within,
            col(Deal.owner_id) == owner_id,
            col(Deal.amount).is_not(None),
            _LIVE,
        )
        .group_by(col(Deal.stage_id), col(Deal.currency))
        for bucket, within in enumerate(ranges)
    ]
    return session.execute(union_all(*parts))


def stage_moves(
    session: Session,
    *,
    team_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    owner_id: int | None = None,
) -> list[StageMoves]:
    """Stage changes in [start, end), per (from, to) pair, with the total length of the
    stays they ended: one pass over the period's history gives both where deals went from
    each stage and how long they had been there.

    For the whole team, whole months come from MovesMonth and the rest from the changes
    (see month_plan). For one owner, only their deals' history is read, named by id (they
    are the team's): the one index that fits is then the one on deal_id, so the history of
    those deals is read, a few changes each, rather than the team's whole period checked
    deal by deal."""
    parts: list[tuple[int, Iterable[Sequence[Any]]]] = []
    if owner_id is None:
        plan = month_plan(start, end, now)
        if plan.first < plan.stop:
            months = {"team_id": team_id, "first": plan.first, "stop": plan.stop}
            parts.append((1, session.execute(_MOVES_IN_MONTHS, months)))
        for sign, low, high in plan.spans:
            span = {"team_id": team_id, "start": low, "end": high}
            parts.append((sign, session.execute(_MOVES_IN_SPAN, span)))
    else:
        owned = {"team_id": team_id, "owner_id": owner_id, "start": start, "end": end}
        parts.append((1, session.execute(_OWNERS_MOVES, owned)))
    sums: dict[tuple[int, int], list[Any]] = {}
    for sign, rows in parts:
        for from_id, to_id, *figures in rows:
            _accumulate(sums.setdefault((from_id, to_id), [0, 0, 0.0]), figures, sign)
    return [
        StageMoves(from_id, to_id, int(count), int(timed), float(seconds))
        for (from_id, to_id), (count, timed, seconds) in sums.items()
        if count
    ]


@dataclass(frozen=True, slots=True)
class MonthPlan:
    """How to read a period from monthly totals: the UTC months [first, stop) whole, and
    `spans` of rows (sign, start, end) to add (+1) or take away (-1)."""

    first: date
    stop: date
    spans: tuple[tuple[int, datetime, datetime], ...]


def month_plan(start: datetime, end: datetime, now: datetime) -> MonthPlan:
    """The months wholly inside [start, end) from the totals; a month the period only
    partly covers either from its rows inside the period, or from its totals less its rows
    outside the period, whichever spans less time before `now` (there are rarely rows in
    the future): a period of local months starts and ends a few hours off UTC months."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return MonthPlan(date.min, date.min, ())
    first = _month_of(start)
    stop = _month_of(end)
    if stop < end:
        stop = _following(stop)
    spans: list[tuple[int, datetime, datetime]] = []

    def whole(low: datetime, high: datetime) -> bool:
        inside = (max(start, low), min(end, high))
        outside = [(low, inside[0]), (inside[1], high)]
        if inside == (low, high):
            return True
        if sum(_before(now, *span) for span in outside) < _before(now, *inside):
            spans.extend((-1, *span) for span in outside if span[0] < span[1])
            return True
        spans.append((1, *inside))
        return False

    last = _month_of(stop - timedelta(days=1))
    low = first if whole(first, _following(first)) else _following(first)
    high = stop
    if last != first and not whole(last, stop):
        high = last
    return MonthPlan(low.date(), max(low, high).date(), tuple(spans))


def _month_of(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _following(month: datetime) -> datetime:
    return (month + timedelta(days=32)).replace(day=1)


def _before(now: datetime, start: datetime, end: datetime) -> float:
    """How long of [start, end) lies before now, in seconds."""
    return max(0.0, (min(end, now) - start).total_seconds())


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


def _accumulate(sums: list[Any], figures: Iterable[Any], sign: int) -> None:
    """Add (sign 1) or take away (sign -1) a row's figures; a NULL sum is nothing."""
    for i, value in enumerate(figures):
        sums[i] += sign * (value or 0)


class _Rows:
    """Rows of figures (stage, owner, currency, count, priced, amount and maybe cycle
    seconds) from the totals and the deals, added or taken away, per currency and per
    stage and/or owner as asked."""

    def __init__(self, *, stage: bool, owner: bool) -> None:
        self.stage, self.owner = stage, owner
        self.sums: dict[tuple[int | None, int | None, str | None], list[Any]] = {}

    def add(self, rows: Iterable[Sequence[Any]], sign: int) -> None:
        for stage_id, owner_id, currency, *figures in rows:
            # The totals file deals without a currency under "".
            key = (
                stage_id if self.stage else None,
                owner_id if self.owner else None,
                currency or None,
            )
            _accumulate(self.sums.setdefault(key, [0, 0, 0, 0.0]), figures, sign)

    def groups(self) -> list[DealGroup]:
        return [
            DealGroup(
                stage_id, owner_id, currency, int(count), int(priced), int(amount), float(cycle)
            )
            for (stage_id, owner_id, currency), (count, priced, amount, cycle) in self.sums.items()
            if count
        ]


def _totals(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    stage_ids: Sequence[int],
    currencies: Sequence[str],
) -> Iterable[Sequence[Any]]:
    """Rows of figures of the deals `where` says, per stage and currency (and with none),
    owners added up.

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
            null(),
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
    return session.execute(union_all(*parts))


def _owned(session: Session, team_id: int, owner_id: int | None) -> ColumnElement[bool]:
    """One owner's deals, or every member's, named as a list of ids so the index can seek
    (a subquery instead leaves PostgreSQL guessing how many there are)."""
    if owner_id is not None:
        return col(Deal.owner_id) == owner_id
    members = session.execute(select(col(Member.id)).where(col(Member.team_id) == team_id))
    return col(Deal.owner_id).in_(members.scalars().all())


def _team_currencies(session: Session, *, team_id: int) -> list[str]:
    """The currencies of the team's deals, read by skipping from one to the next in
    ix_deal_team_currency (a loose index scan: one seek per currency, not a scan
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
