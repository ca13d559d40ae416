"""One member on several platforms: /link codes, their rate limit, identities joined and
taken apart, and two members of a team merged into one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from storage.models import (
    Activity,
    Change,
    Channel,
    Contact,
    Deal,
    Identity,
    Invite,
    LinkAttempt,
    LinkCode,
    Member,
    Outbox,
    PendingCommand,
    Reminder,
    Role,
    StageChange,
)
from storage.teams import one_time_code

# 10 characters of 32: 50 bits. With a handful of attempts per sender per window, guessing
# one of the few codes alive at any moment is hopeless.
CODE_LENGTH = 10


def create_link_code(
    session: Session,
    *,
    team_id: int,
    member_id: int,
    platform: str,
    now: datetime,
    expires_at: datetime,
) -> LinkCode:
    """A new code for the member; their earlier unused codes stop working."""
    session.execute(
        update(LinkCode)
        .where(
            col(LinkCode.team_id) == team_id,
            col(LinkCode.member_id) == member_id,
            col(LinkCode.used_at).is_(None),
        )
        .values(used_at=now),
        execution_options={"synchronize_session": False},
    )
    code = LinkCode(
        code=one_time_code(CODE_LENGTH),
        team_id=team_id,
        member_id=member_id,
        platform=platform,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(code)
    session.flush()
    return code


def link_code_by_code(session: Session, *, code: str) -> LinkCode | None:
    """The code as typed (any case, spaces and dashes ignored); codes are global: the code
    says which team."""
    typed = "".join(ch for ch in code.upper() if ch.isalnum())
    return session.exec(select(LinkCode).where(LinkCode.code == typed)).first()


def get_link_code(session: Session, *, team_id: int, code_id: int) -> LinkCode | None:
    code = session.get(LinkCode, code_id)
    return code if code is not None and code.team_id == team_id else None


def consume_link_code(session: Session, *, code_id: int, now: datetime) -> bool:
    """Use the code up; False when it already was (a second press, a second process)."""
    result = session.execute(
        update(LinkCode)
        .where(col(LinkCode.id) == code_id, col(LinkCode.used_at).is_(None))
        .values(used_at=now),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_failed_attempt(
    session: Session, *, platform: str, workspace_id: str, external_id: str, now: datetime
) -> None:
    session.add(
        LinkAttempt(platform=platform, workspace_id=workspace_id, external_id=external_id, at=now)
    )
    session.flush()


def latest_failed_attempts(
    session: Session,
    *,
    platform: str,
    workspace_id: str,
    external_id: str,
    since: datetime,
    limit: int,
) -> list[datetime]:
    """When this sender got a secret wrong after `since`: the `limit` latest, newest first."""
    return list(
        session.exec(
            select(LinkAttempt.at)
            .where(
                LinkAttempt.platform == platform,
                LinkAttempt.workspace_id == workspace_id,
                LinkAttempt.external_id == external_id,
                col(LinkAttempt.at) > since,
            )
            .order_by(col(LinkAttempt.at).desc())
            .limit(limit)
        )
    )


def prune_failed_attempts(session: Session, *, before: datetime) -> int:
    """Forget wrong codes older than `before` (long past any guessing window)."""
    result = session.execute(
        delete(LinkAttempt).where(col(LinkAttempt.at) < before),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def remove_identities(session: Session, *, member_id: int, platform: str) -> int:
    """Detach the member's identities on `platform`; returns how many."""
    result = session.execute(
        delete(Identity).where(
            col(Identity.member_id) == member_id, col(Identity.platform) == platform
        ),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Holdings:
    """What a member has, as a merge preview counts it."""

    contacts: int
    deals: int
    activities: int
    reminders: int


def member_holdings(session: Session, *, team_id: int, member_id: int) -> Holdings:
    def count(model: type[Contact | Deal | Activity | Reminder], column: object) -> int:
        return session.exec(
            select(func.count())
            .select_from(model)
            .where(model.team_id == team_id, column == member_id)
        ).one()

    return Holdings(
        contacts=count(Contact, col(Contact.owner_id)),
        deals=count(Deal, col(Deal.owner_id)),
        activities=count(Activity, col(Activity.member_id)),
        reminders=count(Reminder, col(Reminder.member_id)),
    )


# Every team-scoped column that names a member: (table, member column). A merge moves each.
_TEAM_MEMBER_COLUMNS = (
    (Contact, "owner_id"),
    (Deal, "owner_id"),
    (Activity, "member_id"),
    (Reminder, "member_id"),
    (StageChange, "member_id"),
    (Outbox, "member_id"),
    (PendingCommand, "member_id"),
    (Change, "member_id"),
    (Channel, "added_by"),
    (Invite, "created_by"),
    (Invite, "used_by"),
    (LinkCode, "member_id"),
    (LinkCode, "claimed_by"),
)


def merge_members(session: Session, *, team_id: int, keep: Member, gone: Member) -> None:
    """Move everything of `gone` onto `keep` (the higher role of the two stays), its
    identities too, and retire `gone`. Both must be in `team_id`; the caller's transaction
    makes it all or nothing."""
    assert keep.id is not None and gone.id is not None
    assert keep.team_id == team_id and gone.team_id == team_id
    for model, name in _TEAM_MEMBER_COLUMNS:
        column = getattr(model, name)
        session.execute(
            update(model)
            .where(col(model.team_id) == team_id, col(column) == gone.id)
            .values({name: keep.id}),
            execution_options={"synchronize_session": False},
        )
    session.execute(
        update(Identity).where(col(Identity.member_id) == gone.id).values(member_id=keep.id),
        execution_options={"synchronize_session": False},
    )
    if Role(gone.role).rank > Role(keep.role).rank:
        keep.role = gone.role
    keep.timezone = keep.timezone or gone.timezone
    if gone.located_at is not None and (
        keep.located_at is None or gone.located_at > keep.located_at
    ):
        keep.lat, keep.lon, keep.located_at = gone.lat, gone.lon, gone.located_at
    gone.active = False
    session.add(keep)
    session.add(gone)
    session.flush()
