"""The outbox: messages the bot sends on its own (reminders, announcements, digests).

A producer calls `enqueue` in the same transaction as the change that caused the message,
so the message exists exactly when the change does. The dispatcher (bot/outbox.py)
`claim`s due rows atomically, sends them, and records the outcome. A claim expires
(`claimed_until`): rows held by a process that died are released and sent by another.

Claiming: PostgreSQL picks the due rows with `FOR UPDATE SKIP LOCKED`, so concurrent
dispatchers never wait for or take each other's rows; SQLite (one writer at a time)
marks them with a compare-and-set `UPDATE ... WHERE status = 'pending'` and takes only
the rows that statement changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from threading import Lock
from typing import Any

from sqlalchemy import Engine, Executable, bindparam, delete, event, func, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from storage import core
from storage.db import upsert_into
from storage.journal import note_inserted_rows
from storage.models import Identity, Member, Outbox, OutboxStatus, Reminder, ReminderStatus

# Member.notify: every platform the member is on.
NOTIFY_BOTH = "both"

WakeCallback = Callable[[datetime], None]
_wakers: dict[int, list[WakeCallback]] = {}
_wakers_lock = Lock()
_DUE_KEY = "outbox_due"
ERROR_LIMIT = 500


def enqueue(session: Session, *, row: Outbox) -> bool:
    """Insert `row` unless a row with its `dedupe_key` exists; True when inserted.

    Jobs that fire twice (two processes, a restart) therefore write one row."""
    values = row.model_dump(exclude={"id"})
    statement = _enqueue_statement(session.get_bind().dialect.name)
    # RETURNING, not rowcount: psycopg reports -1 for this statement.
    returned = core.execute(session, statement, values).first()
    if returned is None:
        return False
    # Journaled with the values written (every column): not read back for the journal.
    note_inserted_rows(session, Outbox, [{**values, "id": returned[0]}])
    earliest = session.info.get(_DUE_KEY)
    session.info[_DUE_KEY] = row.due_at if earliest is None else min(earliest, row.due_at)
    return True


@cache
def _enqueue_statement(dialect: str) -> Executable:
    # Built once: a reminder queues a row on every /remind. The columns are the row's
    # values (every one given, so that the driver path runs it: storage/core.py).
    return (
        upsert_into(dialect, Outbox)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(col(Outbox.id))
    )


def on_enqueue(engine: Engine, callback: WakeCallback) -> Callable[[], None]:
    """Call `callback(earliest due)` after each commit on `engine` that enqueued rows
    (from the committing thread). Returns the function that unsubscribes."""
    with _wakers_lock:
        _wakers.setdefault(id(engine), []).append(callback)

    def unsubscribe() -> None:
        with _wakers_lock:
            callbacks = _wakers.get(id(engine), [])
            if callback in callbacks:
                callbacks.remove(callback)

    return unsubscribe


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    due = session.info.pop(_DUE_KEY, None)
    if due is None or session.bind is None:
        return
    with _wakers_lock:
        callbacks = list(_wakers.get(id(session.bind), []))
    for callback in callbacks:
        callback(due)


@event.listens_for(OrmSession, "after_rollback")
def _after_rollback(session: OrmSession) -> None:
    if not session.in_transaction():
        session.info.pop(_DUE_KEY, None)


def claim(
    session: Session,
    *,
    platform: str,
    limit: int,
    now: datetime,
    until: datetime,
    worker: str,
) -> list[Outbox]:
    """Take up to `limit` due rows of `platform` for `worker` until `until`, oldest first."""
    if limit <= 0:
        return []
    due = (
        select(Outbox.id)
        .where(
            Outbox.status == OutboxStatus.pending,
            Outbox.platform == platform,
            col(Outbox.due_at) <= now,
        )
        .order_by(col(Outbox.due_at), col(Outbox.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due))
    if not ids:
        return []
    claimed = session.scalars(
        update(Outbox)
        .where(col(Outbox.id).in_(ids), col(Outbox.status) == OutboxStatus.pending)
        .values(status=OutboxStatus.sending, claimed_by=worker, claimed_until=until)
        .returning(Outbox),
        execution_options={"synchronize_session": False},
    ).all()
    return sorted(claimed, key=lambda row: (row.due_at, row.id or 0))


def release_expired(session: Session, *, now: datetime) -> int:
    """Hand back rows whose claim ran out (their process died or hung); returns how many."""
    result = session.execute(
        update(Outbox)
        .where(col(Outbox.status) == OutboxStatus.sending, col(Outbox.claimed_until) <= now)
        .values(status=OutboxStatus.pending, claimed_by=None, claimed_until=None),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(session: Session, *, row: Outbox, now: datetime, ref: str | None = None) -> None:
    """Record a delivery, and the platform's id of the message (`ref`). Whoever holds the
    claim now, the message went out: never again."""
    session.execute(
        update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status).in_((OutboxStatus.sending, OutboxStatus.pending)),
        )
        .values(
            status=OutboxStatus.sent,
            sent_at=now,
            attempts=Outbox.attempts + 1,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
            **({} if ref is None else {"message_ref": ref}),
        ),
        execution_options={"synchronize_session": False},
    )
    if row.reminder_id is not None:
        # A reminder snoozed meanwhile has a later due time and stays pending. One that
        # failed on the member's other platform (/notify both) reached them after all.
        _set_reminder_status(
            session,
            row.reminder_id,
            ReminderStatus.sent,
            now,
            was=(ReminderStatus.pending, ReminderStatus.failed),
        )


def retry_later(
    session: Session,
    *,
    row: Outbox,
    due_at: datetime,
    error: str | None,
    worker: str,
    attempt: bool = True,
) -> None:
    """Put a claimed row back to be tried at `due_at`; `attempt` counts this try."""
    values: dict[str, Any] = {
        "status": OutboxStatus.pending,
        "due_at": due_at,
        "claimed_by": None,
        "claimed_until": None,
    }
    if attempt:
        values["attempts"] = Outbox.attempts + 1
    if error is not None:
        values["last_error"] = error[:ERROR_LIMIT]
    session.execute(
        update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status) == OutboxStatus.sending,
            col(Outbox.claimed_by) == worker,
        )
        .values(**values),
        execution_options={"synchronize_session": False},
    )


def mark_failed(session: Session, *, row: Outbox, error: str, now: datetime) -> bool:
    """Give up on a row; True when this call did it (so the owner is told once)."""
    result = session.execute(
        update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status).in_((OutboxStatus.sending, OutboxStatus.pending)),
        )
        .values(
            status=OutboxStatus.failed,
            last_error=error[:ERROR_LIMIT],
            attempts=Outbox.attempts + 1,
            claimed_by=None,
            claimed_until=None,
        ),
        execution_options={"synchronize_session": False},
    )
    failed = bool(result.rowcount)  # type: ignore[attr-defined]
    if failed and row.reminder_id is not None:
        _set_reminder_status(session, row.reminder_id, ReminderStatus.failed, now)
    return failed


def _set_reminder_status(
    session: Session,
    reminder_id: int,
    status: ReminderStatus,
    now: datetime,
    *,
    was: tuple[ReminderStatus, ...] = (ReminderStatus.pending,),
) -> None:
    session.execute(
        update(Reminder)
        .where(
            col(Reminder.id) == reminder_id,
            col(Reminder.status).in_(was),
            col(Reminder.due_at) <= now,
        )
        .values(status=status, updated_at=now),
        execution_options={"synchronize_session": False},
    )


def next_due(session: Session, *, platforms: Sequence[str]) -> datetime | None:
    """When the dispatcher next has work on `platforms`: the earliest pending row, or the
    earliest claim that will run out."""
    if not platforms:
        return None
    pending = session.exec(
        select(func.min(Outbox.due_at)).where(
            Outbox.status == OutboxStatus.pending, col(Outbox.platform).in_(platforms)
        )
    ).one()
    expiring = session.exec(
        select(func.min(Outbox.claimed_until)).where(
            Outbox.status == OutboxStatus.sending, col(Outbox.platform).in_(platforms)
        )
    ).one()
    moments = [moment for moment in (pending, expiring) if moment is not None]
    return min(moments) if moments else None


def prune_sent(session: Session, *, before: datetime) -> int:
    """Forget messages sent before `before` (their dedupe keys matter for hours, not
    months); failed ones stay, /reminders shows them."""
    result = session.execute(
        delete(Outbox).where(col(Outbox.status) == OutboxStatus.sent, col(Outbox.due_at) < before),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_pending(session: Session, *, reminder_id: int) -> None:
    """Drop a reminder's undelivered message (it was done, cancelled or snoozed)."""
    rows = session.exec(
        select(Outbox).where(
            Outbox.reminder_id == reminder_id, Outbox.status == OutboxStatus.pending
        )
    )
    for row in rows:
        session.delete(row)
    session.flush()


def delivered_copies(session: Session, *, reminder_id: int, key: str) -> list[Outbox]:
    """The messages of one delivery of a reminder (its outbox rows' `key`, one per
    platform) that went out and can still be changed (the platform gave their id)."""
    rows = session.exec(
        select(Outbox).where(
            Outbox.reminder_id == reminder_id,
            Outbox.status == OutboxStatus.sent,
            col(Outbox.message_ref).is_not(None),
        )
    )
    # One platform's delivery is keyed `key`, each of several platforms' `key:PLATFORM`.
    return [row for row in rows if row.dedupe_key in (key, f"{key}:{row.platform}")]


def notify_targets(session: Session, *, member: Member) -> list[Identity]:
    """Where the bot reaches the member on its own (reminders, the agenda, failure notices):
    the platform they chose with /notify, every one for "both", else the platform they were
    last active on; an identity they no longer have falls back to the one they joined with."""
    identities = member_identities(session, member_id=member.id or 0)
    by_platform: dict[str, Identity] = {}
    for identity in identities:
        by_platform.setdefault(identity.platform, identity)
    if not by_platform:
        return []
    if member.notify == NOTIFY_BOTH:
        return list(by_platform.values())
    chosen = by_platform.get(member.notify or "") or by_platform.get(member.last_platform or "")
    return [chosen or identities[0]]


def member_identities(session: Session, *, member_id: int) -> list[Identity]:
    return core.load(session, Identity, _MEMBER_IDENTITIES, {"member_id": member_id})


# Built once: every reminder set and every notice sent asks where the member is reached.
_MEMBER_IDENTITIES = (
    select(Identity)
    .where(col(Identity.member_id) == bindparam("member_id"))
    .order_by(col(Identity.id))
)
