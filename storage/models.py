"""The tables. Every row that belongs to a team carries `team_id`; all timestamps are UTC.

Families: the team and its people (Team, Member, Identity, Invite), what the team sells to
(Company, Contact, Tag and its links), the pipeline (Stage, Deal, StageChange), the
timeline (Activity), and the bot's own bookkeeping (ProcessedUpdate, PendingCommand).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _ts(*, index: bool = False, nullable: bool = False) -> Any:
    """A UTC timestamp column; `nullable=False` ones default to now."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, index=index, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, index=index, nullable=False)


class Role(StrEnum):
    rep = "rep"
    manager = "manager"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"rep": 1, "manager": 2, "admin": 3}[self.value]

    @property
    def a(self) -> str:
        """With its article: "a rep", "an admin"."""
        return f"an {self.value}" if self.value[0] in "aeiou" else f"a {self.value}"


class Platform(StrEnum):
    telegram = "telegram"
    slack = "slack"
    console = "console"


class ContactStatus(StrEnum):
    lead = "lead"
    qualified = "qualified"
    customer = "customer"
    inactive = "inactive"


class StageKind(StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class ActivityKind(StrEnum):
    note = "note"
    call = "call"
    meeting = "meeting"
    visit = "visit"
    email = "email"
    created = "created"
    edited = "edited"
    stage = "stage"
    won = "won"
    lost = "lost"
    tagged = "tagged"
    untagged = "untagged"
    joined = "joined"


# Kinds that mean "someone talked to this person" (the 48-hour teammate warning, recency).
CONTACT_KINDS = (ActivityKind.note, ActivityKind.call, ActivityKind.meeting, ActivityKind.visit)


# --- the team and its people -------------------------------------------------------------


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    timezone: str = Field(max_length=64)
    locale: str = Field(max_length=16)
    region: str = Field(max_length=2, description="default country for phone numbers")
    # When the recency part of the team's lead scores was last brought up to date (None:
    # never, so every score is recomputed on the next read; see handlers/scoring.py).
    scores_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Member(SQLModel, table=True):
    __table_args__ = (Index("ix_member_team_name_key", "team_id", "name_key"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200)
    role: str = Field(default=Role.rep, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    lat: float | None = None
    lon: float | None = None
    located_at: datetime | None = _ts(nullable=True)
    active: bool = True
    created_at: datetime = _ts()


class Identity(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("platform", "workspace_id", "external_id", name="uq_identity_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    workspace_id: str = Field(default="", max_length=128)
    created_at: datetime = _ts()


class ChannelPurpose(StrEnum):
    announcements = "announcements"


class Channel(SQLModel, table=True):
    """A group chat or channel the bot posts to for the team (won deals, digests)."""

    __table_args__ = (
        UniqueConstraint(
            "platform", "workspace_id", "chat_id", "purpose", name="uq_channel_chat_purpose"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    platform: str = Field(max_length=16)
    workspace_id: str = Field(default="", max_length=128)
    chat_id: str = Field(max_length=128)
    name: str = Field(default="", max_length=200)
    purpose: str = Field(default=ChannelPurpose.announcements, max_length=32)
    added_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _ts()


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    role: str = Field(default=Role.rep, max_length=16)
    created_by: int = Field(foreign_key="member.id")
    expires_at: datetime = _ts()
    used_by: int | None = Field(default=None, foreign_key="member.id")
    used_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


# --- who the team sells to -----------------------------------------------------------------


class Company(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "name_key", name="uq_company_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=100)
    lat: float | None = None
    lon: float | None = None
    created_at: datetime = _ts()


class Contact(SQLModel, table=True):
    __table_args__ = (
        Index("ix_contact_team_name_key", "team_id", "name_key"),
        Index("ix_contact_team_email", "team_id", "email"),
        Index("ix_contact_team_phone", "team_id", "phone"),
        Index("ix_contact_team_status_score", "team_id", "status", "score"),
        Index("ix_contact_team_city_key", "team_id", "city_key"),
        Index("ix_contact_team_last_activity", "team_id", "last_activity_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    title: str | None = Field(default=None, max_length=200)
    status: str = Field(default=ContactStatus.lead, max_length=16)
    source: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=100)
    city_key: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=100)
    lat: float | None = None
    lon: float | None = None
    geocoded_from: str | None = Field(default=None, max_length=300)
    score: int = 0
    last_activity_at: datetime | None = _ts(nullable=True)
    archived: bool = False
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Tag(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "name", name="uq_tag_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str = Field(max_length=64)


class ContactTag(SQLModel, table=True):
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")


class DealTag(SQLModel, table=True):
    deal_id: int = Field(foreign_key="deal.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")


class TagWeight(SQLModel, table=True):
    """What a tag is worth in the lead score, as the team's admins set it (`#hot` +20)."""

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    tag_id: int = Field(foreign_key="tag.id", unique=True, ondelete="CASCADE")
    points: int = Field(ge=-100, le=100)


# --- the pipeline ------------------------------------------------------------------------


class Stage(SQLModel, table=True):
    __table_args__ = (Index("ix_stage_team_position", "team_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str = Field(max_length=64)
    position: int
    probability: int = Field(ge=0, le=100)
    kind: str = Field(default=StageKind.open, max_length=8)
    rot_days: int = 30


class Deal(SQLModel, table=True):
    __table_args__ = (
        Index("ix_deal_team_owner_stage", "team_id", "owner_id", "stage_id"),
        Index("ix_deal_team_title_key", "team_id", "title_key"),
        # The pipeline's aggregates read only these indexes, never the table: open deals
        # per stage (and their forecast), deals closed in a period, rotting deals (see
        # storage/reports.py for why the columns are in this order).
        Index(
            "ix_deal_team_stage_figures",
            "team_id",
            "stage_id",
            "owner_id",
            "currency",
            "created_at",
            "amount",
            "expected_close",
        ),
        Index(
            "ix_deal_team_currency_closed",
            "team_id",
            "currency",
            "stage_id",
            "owner_id",
            "closed_at",
            "amount",
            "created_at",
        ),
        Index(
            "ix_deal_team_stage_activity",
            "team_id",
            "stage_id",
            "owner_id",
            "last_activity_at",
            "created_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    owner_id: int = Field(foreign_key="member.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    title: str = Field(max_length=200)
    title_key: str = Field(max_length=200)
    amount: int | None = Field(default=None, sa_type=BigInteger, description="minor units")
    currency: str | None = Field(default=None, max_length=3)
    stage_id: int = Field(foreign_key="stage.id")
    expected_close: date | None = None
    stage_entered_at: datetime = _ts()
    last_activity_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)
    lost_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class StageChange(SQLModel, table=True):
    __table_args__ = (
        # Where deals went from each stage in a period, and how long they had stayed.
        Index(
            "ix_stagechange_team_moves",
            "team_id",
            "from_stage_id",
            "to_stage_id",
            "at",
            "from_entered_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    deal_id: int = Field(foreign_key="deal.id", index=True, ondelete="CASCADE")
    from_stage_id: int | None = Field(default=None, foreign_key="stage.id")
    to_stage_id: int = Field(foreign_key="stage.id")
    member_id: int | None = Field(default=None, foreign_key="member.id")
    at: datetime = _ts()
    # When the deal had entered `from_stage_id`: the stay this change ends is
    # [from_entered_at, at), so time in stage is one column subtraction, no self-join.
    from_entered_at: datetime | None = _ts(nullable=True)


# --- the timeline ------------------------------------------------------------------------


class Activity(SQLModel, table=True):
    __table_args__ = (
        Index("ix_activity_team_at", "team_id", "at"),
        Index("ix_activity_contact_at", "contact_id", "at"),
        Index("ix_activity_deal_at", "deal_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    member_id: int | None = Field(default=None, foreign_key="member.id")
    kind: str = Field(max_length=16)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="CASCADE")
    deal_id: int | None = Field(default=None, foreign_key="deal.id", ondelete="CASCADE")
    text: str | None = Field(default=None, max_length=4000)
    lat: float | None = None
    lon: float | None = None
    at: datetime = _ts()


# --- the bot's bookkeeping ---------------------------------------------------------------


class ProcessedUpdate(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_processed_update"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    at: datetime = _ts(index=True)


class PendingCommand(SQLModel, table=True):
    """A command waiting for a button press ("add anyway", which of these did you mean?).

    Buttons carry only this row's id, because Telegram allows 64 bytes of callback data
    and user text must never travel in it.
    """

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    text: str = Field(max_length=6000)
    # The reference that was ambiguous; the pressed button supplies the record it meant.
    ref: str = Field(default="", max_length=500)
    picks: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(index=True)
