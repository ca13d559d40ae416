"""The outbox dispatcher: 429, 5xx and permanent refusals, restarts with rows pending and
claimed, pacing, and two dispatchers sharing one database. Time is simulated."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from bot.outbox import OutboxDispatcher, backoff, inline
from bot.outbox_burst import TelegramLimits
from bot.senders import (
    DeliveryError,
    PermanentError,
    RateLimited,
    RecordingSender,
    TransientError,
)
from bot.virtual_time import VirtualClock, run_virtual
from handlers.reply import Reply
from storage.db import transaction
from storage.models import Identity, Outbox, OutboxKind, OutboxStatus, Platform
from storage.outbox import enqueue
from storage.teams import create_team
from tests.conftest import START, Clock, TestBot
from tests.delivery import deliver, outbox_rows


def _team(engine: Engine) -> int:
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
        assert team.id is not None
        return team.id


def _enqueue(
    engine: Engine,
    team_id: int,
    count: int,
    *,
    chat: str = "1",
    platform: str = Platform.telegram,
    due: datetime = START,
    key: str = "row",
    kind: str = OutboxKind.reminder,
    **fields: Any,
) -> None:
    with transaction(engine) as session:
        for n in range(count):
            enqueue(
                session,
                row=Outbox(
                    team_id=team_id,
                    kind=kind,
                    platform=platform,
                    chat_id=chat,
                    payload={"reply": Reply().add(f"{key} {n}").to_json()},
                    due_at=due,
                    dedupe_key=f"{key}:{n}",
                    **fields,
                ),
            )


def _scripted(*answers: DeliveryError | None) -> RecordingSender:
    """A Telegram whose n-th answer to a chat is answers[n-1] (then it accepts)."""
    return RecordingSender(answer=lambda chat, n: answers[n - 1] if n <= len(answers) else None)


def test_a_429_waits_exactly_as_long_as_the_platform_says(engine: Engine) -> None:
    _enqueue(engine, _team(engine), 1)
    sender = _scripted(RateLimited(7))

    async def main(clock: VirtualClock) -> None:
        dispatcher = OutboxDispatcher(engine, [sender], clock=clock, run_sync=inline)
        await dispatcher.drain()
        [row] = outbox_rows(engine)
        assert row.status == OutboxStatus.pending and row.attempts == 0
        assert timedelta(seconds=7) <= row.due_at - START < timedelta(seconds=8)
        assert row.last_error == "rate limited, retry after 7s"
        await asyncio.sleep(6)
        await dispatcher.drain()
        assert sender.sent == []
        await asyncio.sleep(2)
        await dispatcher.drain()
        assert len(sender.sent) == 1 and dispatcher.stats.rate_limited == 1

    run_virtual(main, start=START)
    [row] = outbox_rows(engine)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.sent, 1, None)


def test_a_sent_message_keeps_its_platform_id_and_an_edit_row_changes_it(
    engine: Engine,
) -> None:
    team_id = _team(engine)
    _enqueue(engine, team_id, 1)
    sender = RecordingSender()
    asyncio.run(OutboxDispatcher(engine, [sender], clock=Clock(), run_sync=inline).drain())
    [row] = outbox_rows(engine)
    assert (row.status, row.message_ref) == (OutboxStatus.sent, "1")
    _enqueue(engine, team_id, 1, key="edit", kind=OutboxKind.edit, message_ref="1")
    asyncio.run(OutboxDispatcher(engine, [sender], clock=Clock(), run_sync=inline).drain())
    [_, edit] = outbox_rows(engine)
    assert edit.status == OutboxStatus.sent and edit.message_ref == "1"  # the one it changed
    assert [(s.edits, s.reply.plain_text) for s in sender.sent] == [
        (None, "row 0"),
        ("1", "edit 0"),
    ]


def test_server_errors_back_off_exponentially_then_succeed(engine: Engine) -> None:
    _enqueue(engine, _team(engine), 1)
    sender = _scripted(TransientError("502 Bad Gateway"), TransientError("timed out"))

    async def main(clock: VirtualClock) -> None:
        dispatcher = OutboxDispatcher(engine, [sender], clock=clock, run_sync=inline)
        waits = []
        for _ in range(2):
            await dispatcher.drain()
            [row] = outbox_rows(engine)
            waits.append(round((row.due_at - clock()).total_seconds()))
            await asyncio.sleep(waits[-1] + 1)
        await dispatcher.drain()
        assert waits == [backoff(1), backoff(2)] == [5, 10]

    run_virtual(main, start=START)
    [row] = outbox_rows(engine)
    assert (row.status, row.attempts) == (OutboxStatus.sent, 3)
    assert backoff(20) == 900  # capped at 15 minutes


def test_endless_errors_give_up_after_the_last_attempt(engine: Engine) -> None:
    _enqueue(engine, _team(engine), 1)
    sender = RecordingSender(answer=lambda chat, n: TransientError("503 Service Unavailable"))

    async def main(clock: VirtualClock) -> None:
        dispatcher = OutboxDispatcher(
            engine, [sender], clock=clock, run_sync=inline, max_attempts=3
        )
        while (due := await dispatcher.next_due()) is not None:
            await asyncio.sleep(max(0.0, (due - clock()).total_seconds()))
            await dispatcher.drain()

    run_virtual(main, start=START)
    [row] = outbox_rows(engine)
    assert (row.status, row.attempts) == (OutboxStatus.failed, 3)
    assert row.last_error == "gave up after 3 tries: 503 Service Unavailable"


def test_a_broken_sender_or_payload_never_stops_the_others(engine: Engine) -> None:
    team = _team(engine)
    _enqueue(engine, team, 1, chat="1", key="boom")
    _enqueue(engine, team, 1, chat="2", key="fine")
    with transaction(engine) as session:
        enqueue(
            session,
            row=Outbox(
                team_id=team,
                kind=OutboxKind.notice,
                platform=Platform.telegram,
                chat_id="3",
                payload={"nothing": "here"},
                due_at=START,
                dedupe_key="garbled",
            ),
        )

    def answer(chat: str, n: int) -> DeliveryError | None:
        if chat == "1" and n == 1:
            raise RuntimeError("bug in the sender")
        return None

    sender = RecordingSender(answer=answer)
    clock = Clock()
    deliver(engine, clock, sender)
    by_key = {row.dedupe_key: row for row in outbox_rows(engine)}
    assert by_key["fine:0"].status == OutboxStatus.sent
    assert by_key["boom:0"].status == OutboxStatus.pending  # retried later
    assert by_key["boom:0"].last_error == "bug in the sender"
    assert by_key["garbled"].status == OutboxStatus.failed
    assert by_key["garbled"].last_error is not None
    assert by_key["garbled"].last_error.startswith("unreadable message")
    clock.advance(seconds=5)
    deliver(engine, clock, sender)
    assert [sent.chat_id for sent in sender.sent] == ["2", "1"]


def test_a_blocked_bot_fails_the_reminder_and_says_where_possible(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.say("/remind in 1 minute call Jane")
    testbot.say("/remind in 2 minutes call Joe")
    clock.advance(minutes=1)
    blocked = RecordingSender(
        answer=lambda chat, n: PermanentError("Forbidden: bot was blocked by the user")
    )
    deliver(engine, clock, blocked)
    listing = testbot.say("/reminders")
    assert "Could not be delivered" in listing
    assert "#1 · 09:01 · call Jane — Forbidden: bot was blocked by the user" in listing
    assert "#2 · 09:02 · call Joe" in listing.split("Could not be delivered")[0]
    assert [row.kind for row in outbox_rows(engine)] == ["reminder", "reminder"]  # no notice

    # With a second way to reach her (the terminal), Alice is told there.
    with transaction(engine) as session:
        session.add(Identity(member_id=1, platform=Platform.console, external_id="alice"))
    clock.advance(minutes=1)
    console = RecordingSender(platform=Platform.console)
    deliver(engine, clock, blocked, console)
    deliver(engine, clock, blocked, console)
    [notice] = console.to("alice")
    assert notice.plain_text == (
        "I could not deliver your reminder #2 “call Joe” on Telegram: Forbidden: bot was "
        "blocked by the user. See /reminders."
    )
    # Snoozing retries it; done clears it.
    assert "moved to" in testbot.say("/snooze 1 in 5 minutes")
    assert "Could not be delivered" in testbot.say("/reminders")  # #2 still
    testbot.say("/done 2")
    assert "Could not be delivered" not in testbot.say("/reminders")


def test_a_channel_gone_tells_whoever_set_it_up(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.in_group("/announce here")
    testbot.say("/deal Website 5k")
    testbot.say("/won 1")
    sender = RecordingSender(
        answer=lambda chat, n: (
            PermanentError("Forbidden: bot was kicked") if chat == "-100" else None
        )
    )
    deliver(engine, clock, sender)
    deliver(engine, clock, sender)
    assert [r.plain_text for r in sender.to("alice")] == [
        "I could not deliver the announcement of Website (d1) on Telegram: Forbidden: bot was "
        "kicked. Check /announce."
    ]
    assert [row.status for row in outbox_rows(engine)] == [OutboxStatus.failed, OutboxStatus.sent]


def test_a_restart_loses_nothing(engine: Engine) -> None:
    team = _team(engine)
    _enqueue(engine, team, 3, key="pending")
    # A process that died while holding rows: two claims still running, one run out.
    _enqueue(engine, team, 2, key="held", status=OutboxStatus.sending, claimed_by="dead")
    _enqueue(engine, team, 1, key="stale", status=OutboxStatus.sending, claimed_by="dead")
    with transaction(engine) as session:
        for row in session.exec(select(Outbox)):
            if row.dedupe_key.startswith("held"):
                row.claimed_until = START + timedelta(minutes=2)
            elif row.dedupe_key.startswith("stale"):
                row.claimed_until = START - timedelta(seconds=1)
            session.add(row)
    sender = RecordingSender()

    async def main(clock: VirtualClock) -> None:
        dispatcher = OutboxDispatcher(engine, [sender], clock=clock, run_sync=inline)
        await dispatcher.drain()
        assert sorted(r.plain_text for r in sender.to("1")) == [
            "pending 0",
            "pending 1",
            "pending 2",
            "stale 0",
        ]
        due = await dispatcher.next_due()
        assert due == START + timedelta(minutes=2)  # when the dead claims run out
        await asyncio.sleep((due - clock()).total_seconds() + 0.001)
        await dispatcher.drain()

    run_virtual(main, start=START)
    texts = Counter(r.plain_text for r in sender.to("1"))
    assert sorted(texts) == ["held 0", "held 1", "pending 0", "pending 1", "pending 2", "stale 0"]
    assert set(texts.values()) == {1}
    assert {row.status for row in outbox_rows(engine)} == {OutboxStatus.sent}


def test_rows_of_a_platform_without_a_sender_wait(engine: Engine) -> None:
    _enqueue(engine, _team(engine), 1, platform=Platform.slack, chat="C1")
    deliver(engine, Clock(), RecordingSender(platform=Platform.telegram))
    [row] = outbox_rows(engine)
    assert row.status == OutboxStatus.pending


def test_a_busy_group_is_paced_at_twenty_a_minute_without_a_429(engine: Engine) -> None:
    team = _team(engine)
    _enqueue(engine, team, 25, chat="-500", key="group")
    _enqueue(engine, team, 40, chat="7", key="person")
    platform = TelegramLimits(latency=0.05)
    dispatcher_stats = []

    async def main(clock: VirtualClock) -> None:
        dispatcher = OutboxDispatcher(engine, [platform], clock=clock, run_sync=inline)
        while (due := await dispatcher.next_due()) is not None:
            await asyncio.sleep(max(0.0, (due - clock()).total_seconds()))
            await dispatcher.drain()
        dispatcher_stats.append(dispatcher.stats)

    run_virtual(main, start=START)
    assert platform.refused == 0
    group = [at for chat, _, at in platform.accepted if chat == "-500"]
    person = [at for chat, _, at in platform.accepted if chat == "7"]
    assert len(group) == 25 and len(person) == 40
    assert min(b - a for a, b in itertools.pairwise(group)) >= 3
    assert min(b - a for a, b in itertools.pairwise(person)) >= 1
    assert dispatcher_stats[0].deferred > 0  # the group's tail went back to the database


def test_two_dispatchers_on_one_database_send_each_row_once(engine: Engine) -> None:
    """Two dispatchers, each on its own thread and event loop, really at the same time."""
    _enqueue(engine, _team(engine), 1000, chat="9", platform=Platform.console)
    senders = [RecordingSender(platform=Platform.console) for _ in range(2)]
    start = threading.Barrier(2)

    def run(sender: RecordingSender) -> None:
        dispatcher = OutboxDispatcher(engine, [sender], clock=lambda: START, batch=20)
        start.wait()
        asyncio.run(dispatcher.drain())

    threads = [threading.Thread(target=run, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = Counter(sent.reply.plain_text for sender in senders for sent in sender.sent)
    assert len(texts) == 1000 and set(texts.values()) == {1}
    assert all(sender.sent for sender in senders)  # both took part
    assert {row.status for row in outbox_rows(engine)} == {OutboxStatus.sent}


def test_a_clean_shutdown_gives_back_the_rows_waiting_for_their_send_time(
    engine: Engine,
) -> None:
    # Five messages to one chat: one goes at once, the others wait a second each.
    _enqueue(engine, _team(engine), 5)
    sender = RecordingSender(latency=0.2)

    async def main(clock: VirtualClock) -> None:
        dispatcher = OutboxDispatcher(engine, [sender], clock=clock, run_sync=inline)
        draining = asyncio.create_task(dispatcher.drain())
        while not sender.tries:  # the first one is on its way
            await asyncio.sleep(0.01)
        await dispatcher.close()
        await draining

    run_virtual(main, start=START)
    rows = sorted(outbox_rows(engine), key=lambda row: row.id or 0)
    assert [r.plain_text for r in sender.to("1")] == ["row 0"]  # the send under way finished
    assert [row.status for row in rows] == [OutboxStatus.sent] + [OutboxStatus.pending] * 4
    # Given back unclaimed, for any process to send at once, and not counted as a try.
    assert {(row.claimed_by, row.claimed_until, row.attempts) for row in rows[1:]} == {
        (None, None, 0)
    }
