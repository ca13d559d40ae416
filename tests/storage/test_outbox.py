"""The outbox table: dedupe keys, atomic claims, expiring claims, wake-ups after commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from storage.db import transaction
from storage.models import Outbox, OutboxKind, OutboxStatus, Reminder, ReminderStatus, Role
from storage.outbox import (
    claim,
    enqueue,
    mark_failed,
    mark_sent,
    next_due,
    on_enqueue,
    prune_sent,
    release_expired,
    retry_later,
)
from storage.teams import add_member, create_team
from tests.conftest import START

LATER = START + timedelta(minutes=5)


def _setup(engine: Engine) -> tuple[int, int]:
    with transaction(engine) as session:
        team = create_team(
            session,
            name="T",
            currency="EUR",
            timezone="UTC",
            locale="en_US",
            region="DE",
            now=START,
        )
        member = add_member(
            session,
            team_id=team.id or 0,
            name="Ann",
            role=Role.rep,
            platform="telegram",
            external_id="1",
            now=START,
        )
        return team.id or 0, member.id or 0


def _row(
    team_id: int, key: str, *, due: datetime = START, platform: str = "telegram", **fields: Any
) -> Outbox:
    return Outbox(
        team_id=team_id,
        kind=OutboxKind.reminder,
        platform=platform,
        chat_id="1",
        payload={"reply": {}},
        due_at=due,
        dedupe_key=key,
        **fields,
    )


def test_a_dedupe_key_makes_one_row(engine: Engine) -> None:
    team, _ = _setup(engine)
    with transaction(engine) as session:
        assert enqueue(session, row=_row(team, "digest:1:2026-W48:1")) is True
    with transaction(engine) as session:
        assert enqueue(session, row=_row(team, "digest:1:2026-W48:1")) is False
        assert enqueue(session, row=_row(team, "digest:1:2026-W49:1")) is True


def test_claims_are_taken_once_oldest_first_and_only_when_due(engine: Engine) -> None:
    team, _ = _setup(engine)
    with transaction(engine) as session:
        enqueue(session, row=_row(team, "b", due=START))
        enqueue(session, row=_row(team, "a", due=START - timedelta(minutes=1)))
        enqueue(session, row=_row(team, "later", due=LATER))
        enqueue(session, row=_row(team, "slack", platform="slack"))
    until = START + timedelta(minutes=2)
    with transaction(engine) as session:
        first = claim(session, platform="telegram", limit=10, now=START, until=until, worker="w1")
    with transaction(engine) as session:
        second = claim(session, platform="telegram", limit=10, now=START, until=until, worker="w2")
    assert [row.dedupe_key for row in first] == ["a", "b"]
    assert {(row.status, row.claimed_by) for row in first} == {(OutboxStatus.sending, "w1")}
    assert second == []
    with transaction(engine) as session:
        assert next_due(session, platforms=["telegram"]) == until  # the claims run out
        assert release_expired(session, now=until - timedelta(seconds=1)) == 0
        assert release_expired(session, now=until) == 2
        assert next_due(session, platforms=["telegram"]) == START - timedelta(minutes=1)
        again = claim(session, platform="telegram", limit=1, now=START, until=until, worker="w2")
    assert [row.dedupe_key for row in again] == ["a"]


def test_outcomes_and_the_reminder_they_belong_to(engine: Engine) -> None:
    team, member = _setup(engine)
    with transaction(engine) as session:
        reminders = [
            Reminder(team_id=team, member_id=member, text=t, due_at=START, platform="telegram")
            for t in ("sent", "failed", "snoozed")
        ]
        session.add_all(reminders)
        session.flush()
        for reminder in reminders:
            enqueue(session, row=_row(team, reminder.text, reminder_id=reminder.id))
    with transaction(engine) as session:
        rows = {
            row.dedupe_key: row
            for row in claim(
                session, platform="telegram", limit=10, now=START, until=LATER, worker="w"
            )
        }
        mark_sent(session, row=rows["sent"], now=START)
        assert mark_failed(session, row=rows["failed"], error="blocked", now=START)
        assert not mark_failed(session, row=rows["failed"], error="blocked", now=START)
        snoozed = session.get(Reminder, rows["snoozed"].reminder_id)
        assert snoozed is not None
        snoozed.due_at = LATER  # snoozed while its message was on its way
        session.add(snoozed)
        session.flush()
        mark_sent(session, row=rows["snoozed"], now=START)
        retry_later(session, row=rows["sent"], due_at=LATER, error="x", worker="w")
    with transaction(engine) as session:
        statuses = {r.text: r.status for r in session.exec(select(Reminder))}
        assert statuses == {
            "sent": ReminderStatus.sent,
            "failed": ReminderStatus.failed,
            "snoozed": ReminderStatus.pending,
        }
        sent = session.get(Outbox, rows["sent"].id)
        assert sent is not None and sent.status == OutboxStatus.sent  # retry_later: not ours


def test_a_commit_that_enqueues_wakes_the_dispatcher(engine: Engine) -> None:
    team, _ = _setup(engine)
    woken: list[datetime] = []
    unsubscribe = on_enqueue(engine, woken.append)
    with transaction(engine) as session:
        enqueue(session, row=_row(team, "one", due=LATER))
        enqueue(session, row=_row(team, "two", due=START))
        assert woken == []  # not before the commit
    assert woken == [START]
    with pytest.raises(RuntimeError), transaction(engine) as session:
        enqueue(session, row=_row(team, "rolled back"))
        raise RuntimeError
    with transaction(engine) as session:
        enqueue(session, row=_row(team, "one", due=LATER))  # a duplicate: nothing new
    unsubscribe()
    with transaction(engine) as session:
        enqueue(session, row=_row(team, "three"))
    assert woken == [START]


def test_long_sent_messages_are_forgotten_failures_kept(engine: Engine) -> None:
    team, _ = _setup(engine)
    old = START - timedelta(days=40)
    with transaction(engine) as session:
        enqueue(session, row=_row(team, "old sent", due=old, status=OutboxStatus.sent))
        enqueue(session, row=_row(team, "old failed", due=old, status=OutboxStatus.failed))
        enqueue(session, row=_row(team, "new sent", due=START, status=OutboxStatus.sent))
    with transaction(engine) as session:
        assert prune_sent(session, before=START - timedelta(days=30)) == 1
        kept = sorted(row.dedupe_key for row in session.exec(select(Outbox)))
    assert kept == ["new sent", "old failed"]
