"""What the agenda and the weekly digest need: who is due one, and the pipeline's numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import and_, bindparam, func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage import core
from storage.models import Channel, ChannelPurpose, Deal, Member, Outbox, Stage, StageKind, Team


@dataclass(frozen=True, slots=True)
class StageTotal:
    stage_id: int
    currency: str | None
    count: int
    amount: int


def effective_timezones(session: Session) -> list[str]:
    """Every timezone an active member lives in (their own, or their team's)."""
    zone = func.coalesce(Member.timezone, Team.timezone)
    return [
        name
        for name in session.exec(
            select(zone)
            .distinct()
            .join(Team, col(Team.id) == col(Member.team_id))
            .where(col(Member.active).is_(True))
        )
        if name
    ]


def agenda_members(session: Session, *, timezones: Sequence[str]) -> list[tuple[Member, Team]]:
    """Active members who want the morning agenda and live in one of `timezones`."""
    if not timezones:
        return []
    zone = func.coalesce(Member.timezone, Team.timezone)
    return list(
        session.exec(
            select(Member, Team)
            .join(Team, col(Team.id) == col(Member.team_id))
            .where(
                col(Member.active).is_(True),
                col(Member.morning_agenda).is_(True),
                zone.in_(timezones),
            )
            .order_by(col(Member.id))
        )
    )


def digest_teams(session: Session) -> list[Team]:
    """Teams that want the weekly digest and have a channel to post it to."""
    has_channel = (
        select(Channel.id)
        .where(Channel.team_id == Team.id, Channel.purpose == ChannelPurpose.announcements)
        .exists()
    )
    return list(
        session.exec(
            select(Team)
            .where(col(Team.weekly_digest).is_(True), has_channel)
            .order_by(col(Team.id))
        )
    )


def existing_keys(session: Session, *, keys: Sequence[str]) -> set[str]:
    """Which of these outbox dedupe keys are taken already."""
    if not keys:
        return set()
    return set(session.exec(select(Outbox.dedupe_key).where(col(Outbox.dedupe_key).in_(keys))))


def deals_closing(
    session: Session,
    *,
    team_id: int,
    stage_ids: Sequence[int],
    by: date,
    owner_id: int | None = None,
    limit: int = 10,
) -> list[Deal]:
    """Open deals expected to close on or before `by` (overdue ones included), soonest
    first."""
    if not stage_ids:
        return []
    count, stages = core.among_values("stage", stage_ids)
    params = {"team_id": team_id, "by": by, "owner_id": owner_id, "limit": limit, **stages}
    return core.load(session, Deal, _deals_closing(count, owner_id is not None), params)


@cache
def _deals_closing(count: int, by_owner: bool) -> SelectOfScalar[Deal]:
    # Built once per shape: the agenda (/today) asks on every call.
    query = select(Deal).where(
        col(Deal.team_id) == bindparam("team_id"),
        core.among(col(Deal.stage_id), "stage", count),
        col(Deal.expected_close).is_not(None),
        col(Deal.expected_close) <= bindparam("by"),
        col(Deal.archived).is_(False),
    )
    if by_owner:
        query = query.where(col(Deal.owner_id) == bindparam("owner_id"))
    return query.order_by(col(Deal.expected_close), col(Deal.id)).limit(bindparam("limit"))


def count_rotting(
    session: Session, *, team_id: int, cutoffs: Mapping[int, datetime], owner_id: int | None = None
) -> int:
    """How many deals sit in an open stage with no activity since that stage's cutoff."""
    if not cutoffs:
        return 0
    query = (
        select(func.count())
        .select_from(Deal)
        .where(
            Deal.team_id == team_id,
            col(Deal.archived).is_(False),
            or_(
                *(
                    and_(col(Deal.stage_id) == stage_id, col(Deal.last_activity_at) < cutoff)
                    for stage_id, cutoff in cutoffs.items()
                )
            ),
        )
    )
    if owner_id is not None:
        query = query.where(Deal.owner_id == owner_id)
    return session.exec(query).one()


def won_between(
    session: Session, *, team_id: int, start: datetime, end: datetime, limit: int = 200
) -> list[Deal]:
    """Deals closed as won in [start, end), biggest first."""
    return list(
        session.exec(
            select(Deal)
            .join(Stage, col(Stage.id) == col(Deal.stage_id))
            .where(
                Deal.team_id == team_id,
                Stage.kind == StageKind.won,
                col(Deal.archived).is_(False),
                col(Deal.closed_at) >= start,
                col(Deal.closed_at) < end,
            )
            .order_by(col(Deal.amount).desc(), col(Deal.id))
            .limit(limit)
        )
    )


def open_by_stage(session: Session, *, team_id: int, stage_ids: Sequence[int]) -> list[StageTotal]:
    """Per stage and currency: how many deals, and their summed amount."""
    if not stage_ids:
        return []
    rows = session.exec(
        select(
            Deal.stage_id,
            Deal.currency,
            func.count(),
            func.coalesce(func.sum(Deal.amount), 0),
        )
        .where(
            Deal.team_id == team_id,
            col(Deal.stage_id).in_(stage_ids),
            col(Deal.archived).is_(False),
        )
        .group_by(col(Deal.stage_id), col(Deal.currency))
    )
    return [
        StageTotal(stage_id, currency, count, int(amount or 0))
        for stage_id, currency, count, amount in rows
    ]
