"""What a handler gets: who is asking, from where, and the command's database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlmodel import Session

from handlers.errors import Forbidden
from handlers.places import Geocoder
from handlers.registry import Registry
from storage.models import Member, Platform, Role, Team


@dataclass(frozen=True)
class TeamDefaults:
    """What a new team starts with, from the settings."""

    currency: str = "EUR"
    timezone: str = "UTC"
    locale: str = "en_US"
    region: str = "DE"
    open_signup: bool = False
    # What a file sent to import may hold at most (IMPORT_MAX_MB, IMPORT_MAX_ROWS).
    import_max_bytes: int = 20 * 1024 * 1024
    import_max_rows: int = 200_000
    # Where `crmbot serve` is reached from outside (PUBLIC_URL): the board's links.
    public_url: str = "http://127.0.0.1:8080"


class ChatType(StrEnum):
    private = "private"
    group = "group"


@dataclass(frozen=True, slots=True)
class SharedContact:
    """A contact card shared from a phone."""

    name: str
    phone: str | None = None
    email: str | None = None
    company: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class SharedFile:
    """A file sent to the bot (a document in Telegram, a file shared in Slack, a path in
    the terminal), downloaded by the adapter."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Request:
    """One platform event, already translated by an adapter.

    Exactly one of `text`, `button`, `location`, `contact` or `file` is set (or none: an
    unsupported message such as a sticker).
    """

    platform: Platform
    user_id: str
    user_name: str
    workspace_id: str = ""
    chat_id: str = ""
    chat_type: ChatType = ChatType.private
    chat_name: str = ""
    text: str | None = None
    button: str | None = None  # encoded Button: "st:42:3"
    location: tuple[float, float] | None = None
    contact: SharedContact | None = None
    file: SharedFile | None = None
    # Platform's id of the update (Telegram update_id, Slack event_id): processed once.
    update_id: str | None = None
    # When the person sent it, by the platform's clock (Telegram's message date, Slack's
    # event ts) or, where the platform gives none, when the adapter received it: what
    # "now" means for the command (see handlers.dispatcher.message_time). None: unknown.
    sent_at: datetime | None = None
    # What an unsupported message was, in a few words ("a sticker"), for the reply.
    other: str | None = None


@dataclass
class Context:
    session: Session
    request: Request
    now: datetime
    registry: Registry
    defaults: TeamDefaults
    team: Team | None = None
    member: Member | None = None
    # Place names to coordinates (bot.geocoding picks the provider); None: none configured.
    geocoder: Geocoder | None = None
    # Choices made with buttons for ambiguous references: ref text -> "c12" or "d42".
    picks: dict[str, str] = field(default_factory=dict)
    # Set by "add anyway": skip the duplicate warning.
    force: bool = False
    # Set by "Merge" under a duplicate warning: the contact /add fills in instead.
    merge_into: int | None = None
    # The command being run (typed, or re-run from a button), to store for a later button.
    command_text: str | None = None
    # What the command changed, as /undo names it ("added Jane Doe (c3)").
    change_label: str | None = None
    # Whether the command runs in a savepoint (handlers/dispatcher.py).
    savepoint: bool = True

    @property
    def team_id(self) -> int:
        assert self.team is not None and self.team.id is not None
        return self.team.id

    @property
    def member_id(self) -> int:
        assert self.member is not None and self.member.id is not None
        return self.member.id

    @property
    def me(self) -> Member:
        assert self.member is not None
        return self.member

    @property
    def role(self) -> Role:
        return Role(self.member.role) if self.member else Role.rep

    @cached_property
    def tz(self) -> tzinfo:
        name = (self.member.timezone if self.member else None) or (
            self.team.timezone if self.team else "UTC"
        )
        return ZoneInfo(name)

    def require(self, role: Role, action: str) -> None:
        if self.role.rank < role.rank:
            raise Forbidden(f"Only {role.value}s and above can {action}. You are {self.role.a}.")

    def can_change_owned(self, owner_id: int | None) -> bool:
        """Reps change their own records; managers and admins change anyone's."""
        return owner_id == self.member_id or self.role.rank >= Role.manager.rank
