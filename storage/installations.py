"""Slack workspaces installed through OAuth (hosted mode) and the OAuth flow's states.

The bot tokens arrive here sealed (bot/slack_oauth.py encrypts them): this module never
sees a token in the clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.db import upsert_into
from storage.models import SlackInstallation, SlackOAuthState


def save_installation(session: Session, *, installation: SlackInstallation) -> None:
    """Record the workspace's bot, replacing the one from an earlier install (one bot per
    workspace: a reinstall brings a new token)."""
    values: dict[str, Any] = installation.model_dump(exclude={"id"})
    insert = upsert_into(session.get_bind().dialect.name, SlackInstallation).values(**values)
    keys = {"enterprise_id", "workspace_id"}
    session.execute(
        insert.on_conflict_do_update(
            index_elements=sorted(keys),
            set_={name: insert.excluded[name] for name in values if name not in keys},
        )
    )


def find_installation(
    session: Session, *, enterprise_id: str, workspace_id: str
) -> SlackInstallation | None:
    return session.exec(
        select(SlackInstallation).where(
            SlackInstallation.enterprise_id == enterprise_id,
            SlackInstallation.workspace_id == workspace_id,
        )
    ).first()


def workspace_installer(session: Session, *, workspace_id: str) -> str | None:
    """Who installed the app in the workspace through OAuth (their Slack user id), if
    anyone did."""
    return session.exec(
        select(SlackInstallation.installer_id).where(
            SlackInstallation.workspace_id == workspace_id
        )
    ).first()


def delete_installation(session: Session, *, enterprise_id: str, workspace_id: str) -> None:
    session.execute(
        delete(SlackInstallation).where(
            col(SlackInstallation.enterprise_id) == enterprise_id,
            col(SlackInstallation.workspace_id) == workspace_id,
        )
    )


def issue_state(session: Session, *, state: str, expires_at: datetime) -> None:
    session.add(SlackOAuthState(state=state, expires_at=expires_at))


def consume_state(session: Session, *, state: str, now: datetime) -> bool:
    """Whether `state` was issued and is still fresh; it works once. Expired states are
    cleared on the way (abandoned installs leave them behind)."""
    session.execute(delete(SlackOAuthState).where(col(SlackOAuthState.expires_at) <= now))
    used = session.execute(delete(SlackOAuthState).where(col(SlackOAuthState.state) == state))
    return bool(used.rowcount)  # type: ignore[attr-defined]
