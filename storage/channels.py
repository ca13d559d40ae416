"""The chats and channels the bot posts to for a team."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.models import Channel, ChannelPurpose


def team_channels(
    session: Session, *, team_id: int, purpose: str = ChannelPurpose.announcements
) -> list[Channel]:
    return list(
        session.exec(
            select(Channel)
            .where(Channel.team_id == team_id, Channel.purpose == purpose)
            .order_by(col(Channel.id))
        )
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
