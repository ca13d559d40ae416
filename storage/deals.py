"""Deals and their stage history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from storage.keys import name_key
from storage.models import Deal, Stage, StageChange, StageKind


def get_deal(session: Session, *, team_id: int, deal_id: int) -> Deal | None:
    deal = session.get(Deal, deal_id)
    return deal if deal is not None and deal.team_id == team_id else None


def deals_by_ids(session: Session, *, team_id: int, ids: Sequence[int]) -> list[Deal]:
    if not ids:
        return []
    found = {
        deal.id: deal
        for deal in session.exec(
            select(Deal).where(Deal.team_id == team_id, col(Deal.id).in_(ids))
        )
    }
    return [found[i] for i in ids if i in found]


def deals_titled(session: Session, *, team_id: int, keys: Sequence[str]) -> list[Deal]:
    """Deals whose normalised title is exactly one of `keys`."""
    if not keys:
        return []
    return list(
        session.exec(
            select(Deal)
            .where(Deal.team_id == team_id, col(Deal.title_key).in_(keys))
            .order_by(col(Deal.id))
            .limit(50)
        )
    )


def save_deal(session: Session, *, deal: Deal) -> Deal:
    """Insert or update a deal, keeping its search key in step with its title."""
    deal.title_key = name_key(deal.title)
    session.add(deal)
    session.flush()
    return deal


def open_deal(session: Session, *, deal: Deal, member_id: int, now: datetime) -> Deal:
    """Insert a new deal and the first entry of its stage history."""
    deal.stage_entered_at = deal.last_activity_at = deal.created_at = deal.updated_at = now
    save_deal(session, deal=deal)
    assert deal.id is not None
    session.add(
        StageChange(
            team_id=deal.team_id,
            deal_id=deal.id,
            to_stage_id=deal.stage_id,
            member_id=member_id,
            at=now,
        )
    )
    session.flush()
    return deal


def move_deal(
    session: Session,
    *,
    deal: Deal,
    stage: Stage,
    member_id: int,
    now: datetime,
    lost_reason: str | None = None,
) -> StageChange:
    """Put `deal` in `stage`, closing or reopening it as the stage's kind says."""
    assert deal.id is not None and stage.id is not None
    change = StageChange(
        team_id=deal.team_id,
        deal_id=deal.id,
        from_stage_id=deal.stage_id,
        to_stage_id=stage.id,
        member_id=member_id,
        at=now,
        from_entered_at=deal.stage_entered_at,
    )
    deal.stage_id = stage.id
    deal.stage_entered_at = deal.last_activity_at = deal.updated_at = now
    closed = stage.kind != StageKind.open
    deal.closed_at = now if closed else None
    deal.lost_reason = lost_reason if stage.kind == StageKind.lost else None
    session.add(deal)
    session.add(change)
    session.flush()
    return change


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
    query = select(Deal).where(Deal.team_id == team_id, col(Deal.stage_id).in_(stage_ids))
    if owner_id is not None:
        query = query.where(Deal.owner_id == owner_id)
    if contact_id is not None:
        query = query.where(Deal.contact_id == contact_id)
    if rotting_before is not None:
        if not rotting_before:
            return []
        query = query.where(
            or_(
                *(
                    and_(col(Deal.stage_id) == stage_id, col(Deal.last_activity_at) < cutoff)
                    for stage_id, cutoff in rotting_before.items()
                )
            )
        )
    query = query.order_by(col(Deal.last_activity_at).desc(), col(Deal.id).desc()).limit(limit)
    return list(session.exec(query))
