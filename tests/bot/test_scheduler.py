"""The scheduler: its jobs, waking the outbox tick early, and the digest job."""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from bot.console import ConsoleChat, run_console
from bot.geocoding import OfflineGeocoder
from bot.scheduler import (
    CHECKPOINT_JOB,
    DIGESTS_JOB,
    GEOCODE_JOB,
    OUTBOX_JOB,
    RESCORE_JOB,
    Scheduler,
)
from bot.senders import ConsoleSender, RecordingSender
from handlers import build_registry
from handlers.context import ChatType, Request
from handlers.dispatcher import Dispatcher
from handlers.reply import Reply
from storage.db import busy
from storage.models import Contact, LinkAttempt, Platform
from tests.conftest import Clock, TestBot


@dataclass
class Notifying(RecordingSender):
    delivered: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, chat_id: str, reply: Reply, *, workspace_id: str = "") -> str | None:
        ref = await super().send(chat_id, reply, workspace_id=workspace_id)
        self.delivered.set()
        return ref


class Watched(Scheduler):
    """A scheduler that says when a tick has run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticked = asyncio.Event()

    async def tick(self) -> None:
        await super().tick()
        self.ticked.set()


async def test_jobs_run_on_the_loop_and_a_new_row_wakes_the_outbox(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # no agenda due at this hour
    testbot.dispatcher.handle_sync(
        Request(
            platform=Platform.telegram,
            user_id="alice",
            user_name="Alice",
            chat_id="-100",
            chat_type=ChatType.group,
            text="/announce here",
        )
    )
    testbot.say("/deal Website 5k")
    sender = Notifying()
    scheduler = Watched(engine, [sender], clock=clock, tick_seconds=3600)
    await scheduler.start()
    try:
        jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
        # No geocoder: no geocode job; PostgreSQL has no write-ahead log to checkpoint.
        checkpoints = {CHECKPOINT_JOB} if engine.dialect.name == "sqlite" else set()
        assert set(jobs) == {OUTBOX_JOB, DIGESTS_JOB, RESCORE_JOB, *checkpoints}
        assert str(jobs[DIGESTS_JOB].trigger) == "cron[minute='*/5']"
        await asyncio.wait_for(scheduler.ticked.wait(), timeout=30)  # the first tick: idle
        # The next tick is an hour away; the announcement goes out at once all the same.
        await asyncio.to_thread(testbot.say, "/won 1")
        await asyncio.wait_for(sender.delivered.wait(), timeout=30)
        assert sender.to("-100")[0].plain_text.startswith("🎉 Alice won Website")
    finally:
        await scheduler.stop()
    assert not scheduler.scheduler.running


def test_the_digest_job_writes_what_is_due(testbot: TestBot, engine: Engine, clock: Clock) -> None:
    testbot.say("/remind tomorrow 10am call Jane")
    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    scheduler = Scheduler(engine, [], clock=clock)
    assert scheduler.queue_digests() == 1
    assert scheduler.queue_digests() == 0


def test_the_digest_job_forgets_day_old_wrong_codes(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.say("/join WRONG1", who="Mallory")
    clock.advance(hours=23)
    testbot.say("/join WRONG2", who="Mallory")
    clock.advance(hours=2)
    Scheduler(engine, [], clock=clock).queue_digests()
    with Session(engine) as session:
        assert len(session.exec(select(LinkAttempt)).all()) == 1


async def test_the_terminal_prints_a_reminder_and_presses_its_buttons(
    engine: Engine, clock: Clock
) -> None:
    dispatcher = Dispatcher(engine, build_registry(), clock=clock)
    out = io.StringIO()
    chat = ConsoleChat(dispatcher, "Alice", out=out)
    scheduler = Scheduler(engine, [ConsoleSender(out=out, on_reply=chat.delivered)], clock=clock)
    await run_console(chat, source=io.StringIO("/announce here\n/deal Website 5k\n"))
    await chat.say("/remind in 10 seconds call Jane")
    await chat.say("/won 1")
    clock.advance(seconds=10)
    await scheduler.tick()
    await chat.say("1")  # the reminder's first button: Done
    dispatcher.close()
    text = out.getvalue()
    assert "→ #terminal: 🎉 Alice won Website (d1) for €5,000" in text
    assert "→ @alice (direct message): ⏰ call Jane" in text
    assert "[1] Done  [2] Snooze 1h  [3] Tomorrow 9:00" in text
    assert text.rstrip().endswith("✓ Done: call Jane")


async def test_addresses_saved_while_the_geocoder_was_down_are_placed_by_a_job(
    engine: Engine, clock: Clock
) -> None:
    # No geocoder at /add time: the contact is saved with its city, waiting for the map.
    offline = Dispatcher(engine, build_registry(), clock=clock)
    bot = TestBot(offline, clock)
    bot.say("/start Acme Sales")
    assert "put this address on the map later" in bot.say("/add Jane Doe city:Potsdam")
    offline.close()
    without = Scheduler(engine, [], clock=clock)
    await without.start()
    assert without.scheduler.get_job(GEOCODE_JOB) is None
    await without.stop()
    scheduler = Scheduler(engine, [], clock=clock, geocoder=OfflineGeocoder())
    await scheduler.start()
    assert scheduler.scheduler.get_job(GEOCODE_JOB) is not None
    assert await scheduler.geocode() == 1
    await scheduler.stop()
    with Session(engine) as session:
        jane = session.exec(select(Contact)).one()
    assert not jane.geocode_pending and jane.lat is not None


async def test_lead_scores_are_brought_up_to_date_by_a_job(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/call Jane Doe")
    scheduler = Scheduler(engine, [], clock=clock)
    await scheduler.start()
    assert scheduler.scheduler.get_job(RESCORE_JOB) is not None
    before = testbot.say("/show c1")
    # The job's first run starts at once: it ends before the clock moves, or it would
    # rescore at the moved time itself and leave nothing to the run this test makes.
    async with asyncio.timeout(30):
        while not any(n for (job, _), n in scheduler.runs.items() if job == RESCORE_JOB):
            await asyncio.sleep(0.01)
    clock.advance(days=40)  # the call is no longer recent
    assert await scheduler.rescore() >= 1
    await scheduler.stop()
    assert testbot.say("/show c1") != before


class Slow(Scheduler):
    """A scheduler whose rescoring job waits until the test lets it finish."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.finished = False

    async def rescore(self) -> int:
        self.started.set()
        await self.release.wait()
        self.finished = True
        return 0


async def test_stop_lets_a_running_job_finish_and_logs_no_failure(
    engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Slow(engine, [], clock=clock)
    await scheduler.start()
    await asyncio.wait_for(scheduler.started.wait(), timeout=30)
    stopping = asyncio.create_task(scheduler.stop())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not stopping.done()  # it waits for the job
    scheduler.release.set()
    await stopping
    assert scheduler.finished and not scheduler.scheduler.running
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_stop_cancels_a_job_that_outlasts_the_grace(
    engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Slow(engine, [], clock=clock, stop_grace=0.01)
    await scheduler.start()
    await asyncio.wait_for(scheduler.started.wait(), timeout=30)
    await scheduler.stop()  # the job never finishes by itself
    assert not scheduler.finished and not scheduler.scheduler.running
    assert "scheduled job(s) still running; stopping them" in caplog.text


class Locked(Scheduler):
    """A scheduler whose digest job finds the database locked, as a busy machine can."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tried = asyncio.Event()

    async def digests(self) -> None:
        self.tried.set()
        locked = sqlite3.OperationalError("database is locked")
        raise OperationalError("BEGIN IMMEDIATE", {}, locked)


async def test_a_job_that_finds_the_database_busy_says_so_in_a_line(
    engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Locked(engine, [], clock=clock)
    await scheduler.start()
    await asyncio.wait_for(scheduler.tried.wait(), timeout=30)
    await scheduler.stop()
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage() == "digests: the database was busy; it runs again at its next turn"
    assert record.exc_info is None  # no traceback on the terminal


def test_busy_is_only_a_locked_database() -> None:
    assert busy(OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")))
    assert not busy(OperationalError("SELECT", {}, sqlite3.OperationalError("no such table")))
    assert not busy(ValueError("database is locked"))


async def test_the_scans_run_in_the_leading_process_only(engine: Engine, clock: Clock) -> None:
    """Two processes' schedulers on one database: one runs the digests, the other skips them
    until the first is gone. On SQLite (one process) every scheduler leads."""
    ran: list[str] = []
    first = Scheduler(engine, [], clock=clock)
    second = Scheduler(engine, [], clock=clock)

    async def scan(name: str) -> None:
        ran.append(name)

    try:
        await first._run(DIGESTS_JOB, lambda: scan("first"), True)
        await second._run(DIGESTS_JOB, lambda: scan("second"), True)
        await second._run(OUTBOX_JOB, lambda: scan("second's outbox"), False)  # everyone
        if engine.dialect.name == "sqlite":
            assert ran == ["first", "second", "second's outbox"]
            return
        assert ran == ["first", "second's outbox"]
        assert second.runs[(DIGESTS_JOB, "skipped")] == 1
        assert first.runs[(DIGESTS_JOB, "ok")] == 1
        await first.stop()  # a clean stop gives the lead up at once
        await second._run(DIGESTS_JOB, lambda: scan("second"), True)
        assert ran[-1] == "second" and second.runs[(DIGESTS_JOB, "ok")] == 1
    finally:
        await first.stop()
        await second.stop()
