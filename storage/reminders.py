"""Reminders: what a member asked to be told, and when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage import core
from storage.models import Outbox, OutboxStatus, Reminder, ReminderStatus

# Reminders a member still has to act on: not delivered yet, delivered, or undeliverable.
OPEN = (ReminderStatus.pending, ReminderStatus.sent, ReminderStatus.failed)


def add_reminder(session: Session, *, reminder: Reminder) -> Reminder:
    core.insert_row(session, reminder)
    return reminder


def get_reminder(
    session: Session, *, team_id: int, member_id: int, reminder_id: int
) -> Reminder | None:
    """One of the member's own reminders, its row held until the transaction ends and read
    afresh: two presses of Done or Snooze at once take turns, the second seeing the
    first's change."""
    reminder = session.get(Reminder, reminder_id, with_for_update=True, populate_existing=True)
    if reminder is None or reminder.team_id != team_id or reminder.member_id != member_id:
        return None
    return reminder


def member_reminders(
    session: Session,
    *,
    team_id: int,
    member_id: int,
    statuses: Sequence[str] = OPEN,
    due_before: datetime | None = None,
    due_from: datetime | None = None,
    limit: int = 20,
) -> list[Reminder]:
    """The member's reminders in `statuses`, soonest first, optionally within a window."""
    if not statuses:
        return []
    count, values = core.among_values("status", [str(status) for status in statuses])
    query = _member_reminders(count, due_before is not None, due_from is not None)
    params = {
        "team_id": team_id,
        "member_id": member_id,
        "due_before": due_before,
        "due_from": due_from,
        "limit": limit,
        **values,
    }
    return core.load(session, Reminder, query, params)


@cache
def _member_reminders(count: int, before: bool, since: bool) -> SelectOfScalar[Reminder]:
    # Built once per shape: /today and the morning agenda ask on every call.
    query = select(Reminder).where(
        col(Reminder.team_id) == bindparam("team_id"),
        col(Reminder.member_id) == bindparam("member_id"),
        core.among(col(Reminder.status), "status", count),
    )
    if before:
        query = query.where(col(Reminder.due_at) < bindparam("due_before"))
    if since:
        query = query.where(col(Reminder.due_at) >= bindparam("due_from"))
    return query.order_by(col(Reminder.due_at), col(Reminder.id)).limit(bindparam("limit"))


def delivery_errors(session: Session, *, reminder_ids: Sequence[int]) -> dict[int, str]:
    """Why each of these reminders could not be delivered (the latest failure)."""
    if not reminder_ids:
        return {}
    rows = session.exec(
        select(Outbox.reminder_id, Outbox.last_error)
        .where(
            col(Outbox.reminder_id).in_(reminder_ids),
            Outbox.status == OutboxStatus.failed,
        )
        .order_by(col(Outbox.id))
    )
    return {reminder_id: error or "" for reminder_id, error in rows if reminder_id is not None}


def save_reminder(session: Session, *, reminder: Reminder, now: datetime) -> Reminder:
    reminder.updated_at = now
    session.add(reminder)
    session.flush()
    return reminder
