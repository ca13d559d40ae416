"""The tables. Every row that belongs to a team carries `team_id`; all timestamps are UTC.

Families: the team and its people (Team, Member, Identity, Workspace, Invite), what the
team sells to (Company, Contact, Tag and its links), the pipeline (Stage, Deal,
StageChange), the timeline (Activity), what the bot says first (Reminder, Outbox), and
the bot's own bookkeeping (GeocodeCache, ProcessedUpdate, PendingCommand), and the undo
journal (Change, ChangeRow).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Computed,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
    true,
)
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from storage.types import UTCDateTime, utcnow


class _Table(SQLModel):
    # Pydantic's validator and serializer of a table are built on first use, not when the
    # module is imported: SQLModel makes table rows without validating them, and most are
    # never serialized (10-15 ms of the tables' import, bench/NOTES.md issue 17, h22).
    model_config = SQLModelConfig(defer_build=True)


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


class Team(_Table, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    timezone: str = Field(max_length=64)
    locale: str = Field(max_length=16)
    region: str = Field(max_length=2, description="default country for phone numbers")
    # The Monday pipeline digest to the announcement channels.
    weekly_digest: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # When the recency part of the team's lead scores was last brought up to date (None:
    # never, so every score is recomputed on the next read; see handlers/scoring.py).
    scores_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Member(_Table, table=True):
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
    # The 08:00 agenda in a direct message.
    morning_agenda: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # Where the bot reaches them first (/notify): a platform, "both", or None: wherever
    # they were last active (`last_platform`).
    notify: str | None = Field(default=None, max_length=16)
    last_platform: str | None = Field(default=None, max_length=16)
    created_at: datetime = _ts()


class Identity(_Table, table=True):
    __table_args__ = (
        UniqueConstraint("platform", "workspace_id", "external_id", name="uq_identity_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    workspace_id: str = Field(default="", max_length=128)
    created_at: datetime = _ts()


class Workspace(_Table, table=True):
    """A chat workspace (a Slack workspace) and the team it belongs to: its people join that
    team on first use."""

    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_workspace_external"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    created_at: datetime = _ts()


class ChannelPurpose(StrEnum):
    announcements = "announcements"


class Channel(_Table, table=True):
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


class LinkCode(_Table, table=True):
    """A one-time code from /link: sent from another platform, it joins that identity to
    `member_id` (or, when the sender is a teammate already, merges them after a preview:
    `claimed_by` holds the sender's member while the Link / Cancel buttons wait)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    platform: str = Field(max_length=16)
    expires_at: datetime = _ts()
    claimed_by: int | None = Field(default=None, foreign_key="member.id")
    used_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class LinkAttempt(_Table, table=True):
    """A wrong invite or link code (handlers/guesses.py): counted per sender to stop
    guessing."""

    __table_args__ = (
        Index("ix_linkattempt_sender_at", "platform", "workspace_id", "external_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    workspace_id: str = Field(default="", max_length=128)
    external_id: str = Field(max_length=128)
    at: datetime = _ts()


class Invite(_Table, table=True):
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


class Company(_Table, table=True):
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
    # The place text the coordinates (or their absence) came from.
    geocoded_from: str | None = Field(default=None, max_length=300)
    # The geocoder did not answer: geocode again later (bot.geocoding.geocode_pending).
    geocode_pending: bool = Field(default=False, index=True)
    created_at: datetime = _ts()


class Contact(_Table, table=True):
    __table_args__ = (
        Index("ix_contact_team_name_key", "team_id", "name_key"),
        Index("ix_contact_team_email", "team_id", "email"),
        Index("ix_contact_team_phone", "team_id", "phone"),
        # /leads walks these best score first and stops at the limit, rather than sorting
        # every lead of the team (or of the city). `id` breaks ties in the same order.
        Index("ix_contact_team_score", "team_id", "score", "id"),
        Index("ix_contact_team_city_score", "team_id", "city_key", "score", "id"),
        # The people at a company, in id order (/find's company lines): with team_id in
        # it, SQLite prefers it to walking the team's contacts in id order.
        Index("ix_contact_company_team", "company_id", "team_id", "id"),
        # The bounding box of /nearby: one range of longitudes per latitude band, and every
        # column the search filters on, so it never reads the table (storage/nearby.py).
        Index(
            "ix_contact_team_band_lon",
            "team_id",
            "lat_band",
            "lon",
            "lat",
            "status",
            "archived",
            "id",
        ),
        Index("ix_contact_team_last_activity", "team_id", "last_activity_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    company_id: int | None = Field(default=None, foreign_key="company.id")
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
    # floor(lat * 10) + 900: latitude bands of 0.1° (11 km), computed by the database
    # (migration 0004 spells floor in each dialect; SQLite's CAST truncates, lat*10+900 >= 0).
    lat_band: int | None = Field(
        default=None,
        sa_column=Column(Integer, Computed("CAST(lat * 10 + 900 AS INTEGER)"), nullable=True),
    )
    geocoded_from: str | None = Field(default=None, max_length=300)
    geocode_pending: bool = Field(default=False, index=True)
    score: int = 0
    last_activity_at: datetime | None = _ts(nullable=True)
    archived: bool = False
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Tag(_Table, table=True):
    __table_args__ = (UniqueConstraint("team_id", "name", name="uq_tag_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str = Field(max_length=64)


class ContactTag(_Table, table=True):
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")


class DealTag(_Table, table=True):
    deal_id: int = Field(foreign_key="deal.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")


class TagWeight(_Table, table=True):
    """What a tag is worth in the lead score, as the team's admins set it (`#hot` +20)."""

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    tag_id: int = Field(foreign_key="tag.id", unique=True, ondelete="CASCADE")
    points: int = Field(ge=-100, le=100)


# --- the pipeline ------------------------------------------------------------------------


class Stage(_Table, table=True):
    __table_args__ = (Index("ix_stage_team_position", "team_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str = Field(max_length=64)
    position: int
    probability: int = Field(ge=0, le=100)
    kind: str = Field(default=StageKind.open, max_length=8)
    rot_days: int = 30


class Deal(_Table, table=True):
    __table_args__ = (
        # A stage's deals, latest first (/deals rotting reads one range per stage).
        Index("ix_deal_team_stage_activity", "team_id", "stage_id", "last_activity_at", "id"),
        Index("ix_deal_team_title_key", "team_id", "title_key"),
        # A contact's open deals, latest first (the contact card).
        Index("ix_deal_contact_team_activity", "contact_id", "team_id", "last_activity_at"),
        # /deals, and /deals mine: most recently active first, read in order up to the limit.
        Index("ix_deal_team_activity", "team_id", "last_activity_at", "id"),
        Index("ix_deal_team_owner_activity", "team_id", "owner_id", "last_activity_at", "id"),
        # The deals created since a moment (the open pipeline as of a period's end).
        Index("ix_deal_team_created", "team_id", "created_at", "archived"),
        # What the pipeline's reports read from the deals rather than the running totals,
        # from these indexes alone: open deals as of a period long past, one rep's
        # forecast, deals closed in the hours at a period's ends, rotting deals (see
        # storage/reports.py).
        Index(
            "ix_deal_team_stage_figures",
            "team_id",
            "stage_id",
            "owner_id",
            "currency",
            "created_at",
            "amount",
            "archived",
        ),
        Index(
            "ix_deal_team_stage_forecast",
            "team_id",
            "stage_id",
            "currency",
            "expected_close",
            "owner_id",
            "amount",
            "archived",
        ),
        # Closed deals only: every read of it asks for a span of closing times, and a move
        # between open stages then leaves it alone. Migration 0026 makes it so on both
        # databases; said here for SQLite alone, as a `postgresql_where` would import
        # PostgreSQL's dialect into every start (tests/bot/test_startup.py).
        Index(
            "ix_deal_team_closed",
            "team_id",
            "closed_at",
            "stage_id",
            "owner_id",
            "currency",
            "amount",
            "cycle_seconds",
            "archived",
            sqlite_where=sql_text("closed_at IS NOT NULL"),
        ),
        # The currencies a team's deals are in, one seek each.
        Index("ix_deal_team_currency", "team_id", "currency"),
        Index(
            "ix_deal_team_stage_owner_activity",
            "team_id",
            "stage_id",
            "owner_id",
            "last_activity_at",
            "created_at",
            "archived",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    owner_id: int = Field(foreign_key="member.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
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
    # closed_at - created_at while closed, stored for the same reason as
    # StageChange.stay_seconds: the cycle time of a period's won deals is a plain sum.
    cycle_seconds: float | None = None
    lost_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # Deleted (/delete): in no list, search or running total; /undo or Restore brings it back.
    archived: bool = False


class StageChange(_Table, table=True):
    __table_args__ = (
        # Where deals went from each stage in a span of time, and how long they had stayed
        # (the ends of a period that are not whole months of MovesMonth).
        Index(
            "ix_stagechange_team_at",
            "team_id",
            "at",
            "from_stage_id",
            "to_stage_id",
            "stay_seconds",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: ix_stagechange_team_at begins with it (migration 0026).
    team_id: int = Field(foreign_key="team.id")
    deal_id: int = Field(foreign_key="deal.id", index=True, ondelete="CASCADE")
    from_stage_id: int | None = Field(default=None, foreign_key="stage.id")
    to_stage_id: int = Field(foreign_key="stage.id")
    member_id: int | None = Field(default=None, foreign_key="member.id")
    at: datetime = _ts()
    # When the deal had entered `from_stage_id`: the stay this change ends is
    # [from_entered_at, at), so time in stage needs no self-join.
    from_entered_at: datetime | None = _ts(nullable=True)
    # That stay's length, at - from_entered_at, stored: summing a number is about half the
    # cost of parsing two timestamps per row, over the millions of changes of a period.
    stay_seconds: float | None = None


# --- the pipeline's running totals -------------------------------------------------------
# Kept by database triggers (migration 0014) in the same transaction as every write to
# deal and stagechange, whatever makes it: the reports read a few rows per stage, owner
# and month instead of every deal of a big team's history. Deals with no currency are
# under currency "" (a key column cannot be NULL); months are UTC calendar months.


class DealTotal(_Table, table=True):
    """The team's deals now, per stage, owner and currency."""

    # A new deal's amount is checked against its currency's total (handlers/deals.py).
    __table_args__ = (Index("ix_dealtotal_team_currency", "team_id", "currency", "amount"),)

    team_id: int = Field(primary_key=True)
    stage_id: int = Field(primary_key=True)
    owner_id: int = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    deals: int = 0
    priced: int = 0  # how many of them have an amount
    amount: int = Field(default=0, sa_type=BigInteger)


class ClosedMonth(_Table, table=True):
    """Deals closed (closed_at set) per month of closed_at, stage, owner and currency."""

    team_id: int = Field(primary_key=True)
    month: date = Field(primary_key=True)
    stage_id: int = Field(primary_key=True)
    owner_id: int = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    deals: int = 0
    priced: int = 0
    amount: int = Field(default=0, sa_type=BigInteger)
    cycle_seconds: float = 0.0


class ExpectedMonth(_Table, table=True):
    """Deals with an amount, a currency and an expected close, per stage, currency and
    month of expected_close (a calendar date: no time zone)."""

    team_id: int = Field(primary_key=True)
    stage_id: int = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    month: date = Field(primary_key=True)
    deals: int = 0
    amount: int = Field(default=0, sa_type=BigInteger)


class MovesMonth(_Table, table=True):
    """Stage changes out of a stage (from_stage_id set) per month and (from, to) pair."""

    team_id: int = Field(primary_key=True)
    month: date = Field(primary_key=True)
    from_stage_id: int = Field(primary_key=True)
    to_stage_id: int = Field(primary_key=True)
    moves: int = 0
    timed: int = 0  # how many of the stays they ended have a known length
    seconds: float = 0.0


# --- the timeline ------------------------------------------------------------------------


class Activity(_Table, table=True):
    __table_args__ = (
        Index("ix_activity_team_at", "team_id", "at"),
        # The record's own column first, then team_id: with team_id in the index, SQLite's
        # planner (which has no statistics) prefers it to walking the team's whole
        # timeline by (team_id, at) and filtering.
        Index("ix_activity_contact_team_at", "contact_id", "team_id", "at"),
        Index("ix_activity_deal_team_at", "deal_id", "team_id", "at"),
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


# --- what the bot says first --------------------------------------------------------------


class ReminderStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    done = "done"
    cancelled = "cancelled"
    failed = "failed"  # delivery refused for good (the bot was blocked, ...): see /reminders


class Reminder(_Table, table=True):
    __table_args__ = (
        Index("ix_reminder_member_status_due", "member_id", "status", "due_at"),
        # The board's cards: each deal's next pending reminder.
        Index("ix_reminder_deal_status_due", "deal_id", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="CASCADE")
    deal_id: int | None = Field(default=None, foreign_key="deal.id", ondelete="CASCADE")
    text: str = Field(max_length=500)
    due_at: datetime = _ts()
    status: str = Field(default=ReminderStatus.pending, max_length=16)
    # The platform it was set from; it is delivered where the member hears from the bot
    # (Member.notify, storage/outbox.notify_targets).
    platform: str = Field(max_length=16)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OutboxKind(StrEnum):
    reminder = "reminder"
    announcement = "announcement"
    digest = "digest"
    notice = "notice"  # "I could not deliver ...", to the member concerned
    edit = "edit"  # a message sent earlier, changed (its `message_ref`)


class OutboxStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class Outbox(_Table, table=True):
    """A message the bot sends on its own, written in the transaction that caused it and
    delivered by the outbox dispatcher (bot/outbox.py): nothing is lost across restarts.

    `chat_id` is the platform's chat; for a direct message it is the member's user id on
    that platform (see bot/senders.py). `payload` holds the rendered Reply.
    """

    __table_args__ = (
        Index("ix_outbox_status_platform_due", "status", "platform", "due_at"),
        Index("ix_outbox_status_claimed_until", "status", "claimed_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    kind: str = Field(max_length=16)
    platform: str = Field(max_length=16)
    workspace_id: str = Field(default="", max_length=128)
    chat_id: str = Field(max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    due_at: datetime = _ts()
    status: str = Field(default=OutboxStatus.pending, max_length=16)
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    # Who hears about a delivery that failed for good (the recipient, or who set the channel).
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    reminder_id: int | None = Field(
        default=None, foreign_key="reminder.id", index=True, ondelete="CASCADE"
    )
    dedupe_key: str = Field(max_length=200, unique=True)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    # The platform's id of the message once sent (bot/senders.py); of an `edit` row, the
    # message it changes.
    message_ref: str | None = Field(default=None, max_length=200)


# --- the bot's bookkeeping ---------------------------------------------------------------


class GeocodeCache(_Table, table=True):
    """What a geocoding provider answered for a place text (no coordinates: nothing found).

    Not team data: the same address gets the same coordinates for everyone.
    """

    __table_args__ = (UniqueConstraint("provider", "query", name="uq_geocodecache_query"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=200)
    query: str = Field(max_length=600)
    lat: float | None = None
    lon: float | None = None
    label: str | None = Field(default=None, max_length=500)
    at: datetime = _ts()


class ProcessedUpdate(_Table, table=True):
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_processed_update"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    at: datetime = _ts(index=True)


class InstallSecret(_Table, table=True):
    """A key every process of the installation shares, generated once (the board's signed
    links: bot/board/auth.py)."""

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)


class PendingCommand(_Table, table=True):
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


# --- the undo journal (storage/journal.py) -----------------------------------------------


class Change(_Table, table=True):
    """One change a member made to the team's data (a command, and later an import or a
    deletion), as /undo takes it back: what it did is in its ChangeRows."""

    __table_args__ = (Index("ix_change_team_member_at", "team_id", "member_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    member_id: int = Field(foreign_key="member.id")
    # What it was, as /undo names it: "added Jane Doe (c3)".
    label: str = Field(max_length=500)
    at: datetime = _ts()
    undone_at: datetime | None = _ts(nullable=True)


class ChangeRow(_Table, table=True):
    """One row a Change inserted, updated or deleted: its primary key and its values
    before and after (JSON, by column; None: the row did not exist). An update keeps only
    the columns it changed. The rows a change inserted into a table are stored together,
    up to 5,000 in one: `row_key` {"inserted": n}, `after` {"columns": [...], "rows":
    [[...], ...]} (`journal.journal_rows` reads either form)."""

    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="change.id", index=True, ondelete="CASCADE")
    table_name: str = Field(max_length=64)
    row_key: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


# --- imports (handlers/imports.py) --------------------------------------------------------


class ImportStatus(StrEnum):
    pending = "pending"  # previewed, waiting for the Import button
    done = "done"
    cancelled = "cancelled"


class ImportFile(_Table, table=True):
    """A file sent to import: kept from the preview until Import or Cancel is pressed (the
    button carries only this row's id), then emptied; what stays is the count, the change
    that undoes it and the rejected rows to send back."""

    __table_args__ = (Index("ix_importfile_team_member_at", "team_id", "member_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    member_id: int = Field(foreign_key="member.id")
    filename: str = Field(max_length=200)
    content: bytes = Field(default=b"", sa_type=LargeBinary)
    status: str = Field(default=ImportStatus.pending, max_length=16)
    rows: int = 0
    added: int = 0
    updated: int = 0
    deals: int = 0
    rejected: int = 0
    # The rejected rows as a CSV file, with the reason in a last column.
    rejects: bytes | None = Field(default=None, sa_type=LargeBinary)
    change_id: int | None = Field(default=None, foreign_key="change.id", ondelete="SET NULL")
    created_at: datetime = _ts()
    done_at: datetime | None = _ts(nullable=True)


class Erasure(_Table, table=True):
    """That a person's data was erased on request (/forget), when and by whom: the audit
    trail, which holds nothing of the person (the contact row that is left is emptied)."""

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    at: datetime = _ts()


class SlackInstallation(_Table, table=True):
    """A Slack workspace that installed the app through Slack's OAuth flow (hosted mode):
    its bot, and the bot's token encrypted (bot/slack_oauth.py seals it; nothing here is
    plaintext). Which team the workspace belongs to is `Workspace`'s business: uninstalling
    removes this row and keeps the team's data."""

    __table_args__ = (
        UniqueConstraint("enterprise_id", "workspace_id", name="uq_slackinstallation_workspace"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: str = Field(default="", max_length=32)
    workspace_id: str = Field(max_length=32)
    workspace_name: str = Field(default="", max_length=255)
    app_id: str = Field(default="", max_length=32)
    bot_id: str = Field(max_length=32)
    bot_user_id: str = Field(max_length=32)
    bot_token: str = Field(max_length=1024)
    bot_refresh_token: str | None = Field(default=None, max_length=1024)
    bot_token_expires_at: datetime | None = _ts(nullable=True)
    bot_scopes: str = Field(default="", max_length=1000)
    installer_id: str = Field(default="", max_length=32)
    installed_at: datetime = _ts()


class SlackOAuthState(_Table, table=True):
    """An install begun at /slack/install: its `state`, checked once at the redirect."""

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(max_length=64, unique=True)
    expires_at: datetime = _ts(index=True)
