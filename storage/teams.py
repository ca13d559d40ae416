"""Teams, members, identities, workspaces, invites and the pipeline's stages."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, event, func, or_
from sqlmodel import Session, col, select

from storage import core
from storage.keys import name_key
from storage.models import (
    Deal,
    Identity,
    Invite,
    Member,
    Role,
    Stage,
    StageChange,
    StageKind,
    Team,
    Workspace,
)

# name, probability, kind, rot days
DEFAULT_STAGES: tuple[tuple[str, int, StageKind, int], ...] = (
    ("Lead", 10, StageKind.open, 14),
    ("Qualified", 25, StageKind.open, 21),
    ("Proposal", 50, StageKind.open, 14),
    ("Negotiation", 75, StageKind.open, 10),
    ("Won", 100, StageKind.won, 0),
    ("Lost", 0, StageKind.lost, 0),
)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing that reads as 0/O or 1/I


def one_time_code(length: int) -> str:
    """A random code to type from one device into another (invites, /link): 5 bits a
    character, from the operating system's secure source."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def first_team(session: Session) -> Team | None:
    return session.exec(select(Team).order_by(col(Team.id)).limit(1)).first()


def create_team(
    session: Session,
    *,
    name: str,
    currency: str,
    timezone: str,
    locale: str,
    region: str,
    now: datetime,
) -> Team:
    """A new team with the default pipeline."""
    team = Team(
        name=name,
        currency=currency,
        timezone=timezone,
        locale=locale,
        region=region,
        created_at=now,
    )
    session.add(team)
    session.flush()
    assert team.id is not None
    for position, (stage_name, probability, kind, rot_days) in enumerate(DEFAULT_STAGES, 1):
        session.add(
            Stage(
                team_id=team.id,
                name=stage_name,
                position=position,
                probability=probability,
                kind=kind,
                rot_days=rot_days,
            )
        )
    session.flush()
    return team


# Built once: building a statement costs SQLAlchemy more than SQLite takes to run it, and
# these run on every message.
_MEMBER_AND_TEAM = (
    select(Member, Team)
    .join(Identity, col(Identity.member_id) == col(Member.id))
    .join(Team, col(Team.id) == col(Member.team_id))
    .where(
        col(Identity.platform) == bindparam("platform"),
        col(Identity.workspace_id) == bindparam("workspace_id"),
        col(Identity.external_id) == bindparam("external_id"),
    )
)
# A card names its owner and whoever did its latest things: one to a few members.
_MEMBER_NAMES = {
    count: select(Member.id, Member.name).where(
        col(Member.team_id) == bindparam("team_id"), core.among(col(Member.id), "id", count)
    )
    for count in core.AMONG_COUNTS
}
_STAGES = (
    select(Stage).where(col(Stage.team_id) == bindparam("team_id")).order_by(col(Stage.position))
)
_OPEN_STAGE_IDS = (
    select(Stage.id)
    .where(col(Stage.team_id) == bindparam("team_id"), col(Stage.kind) == StageKind.open)
    .order_by(col(Stage.position))
)


def member_and_team(
    session: Session, *, platform: str, external_id: str, workspace_id: str = ""
) -> tuple[Member, Team] | None:
    """Who sent a message, and their team (one query: every message asks)."""
    found = core.load_pair(
        session,
        Member,
        Team,
        _MEMBER_AND_TEAM,
        {"platform": platform, "workspace_id": workspace_id, "external_id": external_id},
    )
    return found[0] if found else None


def add_member(
    session: Session,
    *,
    team_id: int,
    name: str,
    role: Role,
    platform: str,
    external_id: str,
    now: datetime,
    workspace_id: str = "",
) -> Member:
    member = Member(team_id=team_id, name=name, name_key=name_key(name), role=role, created_at=now)
    session.add(member)
    session.flush()
    assert member.id is not None
    add_identity(
        session,
        member_id=member.id,
        platform=platform,
        external_id=external_id,
        workspace_id=workspace_id,
        now=now,
    )
    return member


def add_identity(
    session: Session,
    *,
    member_id: int,
    platform: str,
    external_id: str,
    workspace_id: str,
    now: datetime,
) -> Identity:
    identity = Identity(
        member_id=member_id,
        platform=platform,
        external_id=external_id,
        workspace_id=workspace_id,
        created_at=now,
    )
    session.add(identity)
    session.flush()
    return identity


def workspace_team(session: Session, *, platform: str, workspace_id: str) -> Team | None:
    """The team a chat workspace belongs to, if it was claimed."""
    return session.exec(
        select(Team)
        .join(Workspace, col(Workspace.team_id) == col(Team.id))
        .where(Workspace.platform == platform, Workspace.external_id == workspace_id)
    ).first()


def claim_workspace(session: Session, *, team_id: int, platform: str, workspace_id: str) -> None:
    """Record that the workspace belongs to the team (once: a workspace has one team)."""
    session.add(Workspace(team_id=team_id, platform=platform, external_id=workspace_id))
    session.flush()


def team_members(session: Session, *, team_id: int, active_only: bool = True) -> list[Member]:
    query = select(Member).where(Member.team_id == team_id)
    if active_only:
        query = query.where(col(Member.active).is_(True))
    return list(session.exec(query.order_by(col(Member.id))))


def member_names(session: Session, *, team_id: int, ids: Iterable[int | None]) -> dict[int, str]:
    """The names of these members by id, former members too (cards name whoever did
    something). Only the ones asked for: a team has hundreds."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    count, values = core.among_values("id", wanted)
    rows = core.execute(session, _MEMBER_NAMES[count], {"team_id": team_id, **values})
    return {member_id: name for member_id, name in rows if member_id is not None}


def member_platforms(
    session: Session, *, team_id: int, member_ids: Sequence[int]
) -> dict[int, list[str]]:
    """Which platforms each member is reachable on."""
    platforms: dict[int, list[str]] = {member_id: [] for member_id in member_ids}
    if not member_ids:
        return platforms
    rows = session.exec(
        select(Identity.member_id, Identity.platform)
        .join(Member, col(Member.id) == col(Identity.member_id))
        .where(col(Identity.member_id).in_(member_ids), Member.team_id == team_id)
        .order_by(col(Identity.id))
    )
    for member_id, platform in rows:
        if platform not in platforms[member_id]:
            platforms[member_id].append(platform)
    return platforms


def count_admins(session: Session, *, team_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(Member)
        .where(Member.team_id == team_id, Member.role == Role.admin, col(Member.active).is_(True))
    ).one()


def create_invite(
    session: Session,
    *,
    team_id: int,
    role: Role,
    created_by: int,
    now: datetime,
    expires_at: datetime,
) -> Invite:
    invite = Invite(
        code=one_time_code(8),
        team_id=team_id,
        role=role,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(invite)
    session.flush()
    return invite


def invite_by_code(session: Session, *, code: str) -> Invite | None:
    """The invite for `code` (codes are global: the code is what says which team), locked
    until the transaction ends and read afresh: of several people redeeming one code at
    once, the second sees it used."""
    query = select(Invite).where(Invite.code == code.strip().upper()).with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


# --- stages ------------------------------------------------------------------------------


def team_stages(session: Session, *, team_id: int) -> list[Stage]:
    """The team's pipeline in order. Kept for the rest of the session (a request asks for
    it several times); a flush that adds, removes or changes a stage forgets it."""
    cache: dict[int, list[Stage]] = session.info.setdefault(_STAGES_KEY, {})
    if team_id not in cache:
        cache[team_id] = core.load(session, Stage, _STAGES, {"team_id": team_id})
    return list(cache[team_id])


class StageRow(NamedTuple):
    """A stage as a card shows it: a row, not a model instance (the ORM takes some 90 µs
    to make a team's six Stage instances, a row statement 20)."""

    id: int
    name: str
    position: int
    probability: int
    kind: str
    rot_days: int


_STAGE_ROWS = (
    select(*(col(getattr(Stage, name)) for name in StageRow._fields))
    .where(col(Stage.team_id) == bindparam("team_id"))
    .order_by(col(Stage.position))
)


def stage_rows(session: Session, *, team_id: int) -> list[StageRow]:
    """The team's pipeline in order, as rows: made from the stages the session holds
    (`team_stages`) when it does, else read and kept as `team_stages` keeps its own."""
    held = session.info.get(_STAGES_KEY, {}).get(team_id)
    if held is not None:
        return [StageRow(*(getattr(s, name) for name in StageRow._fields)) for s in held]
    cache: dict[int, list[StageRow]] = session.info.setdefault(_STAGE_ROWS_KEY, {})
    if team_id not in cache:
        rows = core.execute(session, _STAGE_ROWS, {"team_id": team_id})
        cache[team_id] = [StageRow(*row) for row in rows]
    return list(cache[team_id])


def stage_of(stages: Sequence[StageRow], stage_id: int) -> StageRow:
    """The stage with this id among the team's `stages` (a deal's own: always there)."""
    return next(s for s in stages if s.id == stage_id)


def open_stage_ids(session: Session, *, team_id: int) -> tuple[int, ...]:
    """The ids of the team's open stages in pipeline order: from the stages the session
    holds, else as bare ids (rescoring after a note or a tag needs no Stage instances)."""
    for key in (_STAGES_KEY, _STAGE_ROWS_KEY):
        cached = session.info.get(key, {}).get(team_id)
        if cached is not None:
            return tuple(s.id for s in cached if s.kind == StageKind.open and s.id is not None)
    return tuple(core.execute(session, _OPEN_STAGE_IDS, {"team_id": team_id}).scalars())


_STAGES_KEY = "crm.team_stages"
_STAGE_ROWS_KEY = "crm.stage_rows"


@event.listens_for(Session, "after_flush")
def _forget_changed_stages(session: Session, _context: object) -> None:
    if (_STAGES_KEY in session.info or _STAGE_ROWS_KEY in session.info) and any(
        isinstance(row, Stage) for row in (*session.new, *session.dirty, *session.deleted)
    ):
        _forget_stages(session, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_stages(session: Session, _transaction: object) -> None:
    session.info.pop(_STAGES_KEY, None)
    session.info.pop(_STAGE_ROWS_KEY, None)


def deals_in_stage(session: Session, *, team_id: int, stage_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(Deal)
        .where(Deal.team_id == team_id, Deal.stage_id == stage_id)
    ).one()


def stage_in_history(session: Session, *, team_id: int, stage_id: int) -> bool:
    """Whether any deal ever passed through this stage (its history must stay readable)."""
    passed = select(StageChange.id).where(
        StageChange.team_id == team_id,
        or_(col(StageChange.to_stage_id) == stage_id, col(StageChange.from_stage_id) == stage_id),
    )
    return session.exec(passed.limit(1)).first() is not None


def renumber_stages(session: Session, *, stages: Sequence[Stage]) -> None:
    """Store `stages` with positions 1..n in the given order."""
    for position, stage in enumerate(stages, 1):
        if stage.position != position:
            stage.position = position
            session.add(stage)
    session.flush()
