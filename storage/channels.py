"""The chats and channels the bot posts to for a team."""

from __future__ import annotations

from sqlalchemy import bindparam, delete
from sqlmodel import Session, col, select

from storage import core
from storage.models import Channel, ChannelPurpose


def team_channels(
    session: Session, *, team_id: int, purpose: str = ChannelPurpose.announcements
) -> list[Channel]:
    return core.load(session, Channel, _TEAM_CHANNELS, {"team_id": team_id, "purpose": purpose})


# Built once: every won deal asks (a statement built per call, and the ORM's loading,
# cost /won more than its own writes, issue 17).
_TEAM_CHANNELS = (
    select(Channel)
    .where(
        col(Channel.team_id) == bindparam("team_id"), col(Channel.purpose) == bindparam("purpose")
    )
    .order_by(col(Channel.id))
)


def channel_for_chat(
    session: Session,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    purpose: str = ChannelPurpose.announcements,
) -> Channel | None:
    """The registration of this chat, whichever team made it."""
    return session.exec(
        select(Channel).where(
            Channel.platform == platform,
            Channel.workspace_id == workspace_id,
            Channel.chat_id == chat_id,
            Channel.purpose == purpose,
        )
    ).first()


def add_channel(session: Session, *, channel: Channel) -> Channel:
    session.add(channel)
    session.flush()
    return channel


def remove_channel(session: Session, *, team_id: int, channel_id: int) -> None:
    session.execute(
        delete(Channel).where(col(Channel.team_id) == team_id, col(Channel.id) == channel_id)
    )
