"""Commands waiting for a button press (PendingCommand): taken once."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col

from storage.models import PendingCommand


def take_pending(
    session: Session, *, pending_id: int, team_id: int, member_id: int
) -> PendingCommand | None:
    """Remove and return the member's pending command: of two presses of its button, even
    at once in two processes, one gets it and the other None (a DELETE … RETURNING, which
    the second runs after the first has committed, finding nothing)."""
    table = PendingCommand.__table__  # type: ignore[attr-defined]
    row = (
        session.connection()
        .execute(
            delete(table)
            .where(
                col(PendingCommand.id) == pending_id,
                col(PendingCommand.team_id) == team_id,
                col(PendingCommand.member_id) == member_id,
            )
            .returning(*table.c)
        )
        .mappings()
        .first()
    )
    return None if row is None else PendingCommand.model_validate(dict(row))
