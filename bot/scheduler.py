"""The scheduler: APScheduler 3 (`AsyncIOScheduler`) on the bot's event loop runs

- the outbox dispatcher tick, every few seconds, and sooner when a row falls due
  sooner: after each tick it is moved to the next due time, and a commit that enqueues
  a row wakes it at once;
- the digests, every five minutes: the 08:00 agenda of each member whose local time has
  come, and the Monday 09:00 pipeline digest of each team;
- every hour, the lead scores whose recency part has moved on (handlers/scoring.py
  rescore_all_teams: only contacts whose last activity crossed a window since);
- on SQLite, every few seconds, a checkpoint of the write-ahead log (storage/db.py
  checkpoint), so that no command's commit has to do it;
- with a geocoder, every ten minutes: the addresses saved while the geocoding service
  was not answering are put on the map (bot/geocoding.py geocode_pending).

`stop` lets the runs in flight finish (for up to `stop_grace` seconds) before it shuts
APScheduler down, which would cancel them: a job cancelled mid-transaction is logged as a
failure with a CancelledError traceback, on the terminal at every other exit.

The jobs keep no state: the database does. After a restart nothing is lost. Several
processes on one PostgreSQL database all drain the outbox (claims keep them apart), but
only one of them, the leader (storage/locks.py, an advisory lock), runs the scans; the
others try for the lead before each run and take over within a run of the leader's end.
Were two ever to run one, they would only collide on dedupe keys (one row each).
`Scheduler` has the adapter shape (`start`, `stop`), so `crmbot run` starts it along with
the chat platforms and `crmbot chat` along with the terminal.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.geocoding import geocode_pending
from bot.outbox import OutboxDispatcher
from bot.senders import Sender
from handlers.notices import queue_agendas, queue_weekly_digests
from handlers.places import Geocoder
from handlers.scoring import rescore_all_teams
from storage import send_slots
from storage.db import busy, checkpoint, in_transaction
from storage.links import prune_failed_attempts
from storage.locks import Leader
from storage.outbox import on_enqueue, prune_sent
from storage.types import utcnow

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0
KEEP_SENT = timedelta(days=30)
KEEP_SEND_SLOTS = timedelta(hours=1)
KEEP_FAILED_ATTEMPTS = timedelta(days=1)
GEOCODE_EVERY = timedelta(minutes=10)
RESCORE_EVERY = timedelta(hours=1)
CHECKPOINT_EVERY = timedelta(seconds=5)
OUTBOX_JOB, DIGESTS_JOB, GEOCODE_JOB, RESCORE_JOB = "outbox", "digests", "geocode", "rescore"
CHECKPOINT_JOB = "checkpoint"
STOP_GRACE = 30.0


class Scheduler:
    name = "scheduler"

    def __init__(
        self,
        engine: Engine,
        senders: Iterable[Sender],
        *,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = TICK_SECONDS,
        outbox: OutboxDispatcher | None = None,
        geocoder: Geocoder | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.engine = engine
        self.stop_grace = stop_grace
        self.geocoder = geocoder
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.outbox = outbox or OutboxDispatcher(engine, senders, clock=clock)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.leader = Leader(engine, "scheduler")
        # (job, "ok" | "failed" | "skipped"): skipped when another process leads.
        self.runs: Counter[tuple[str, str]] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._runs: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        now = datetime.now(UTC)
        self._every(
            self.tick,
            "interval",
            OUTBOX_JOB,
            seconds=self.tick_seconds,
            next_run_time=now,
            scan=False,
        )
        # Catch up at once after a restart.
        self._every(
            self.digests, CronTrigger(minute="*/5", timezone=UTC), DIGESTS_JOB, next_run_time=now
        )
        self._every(
            self.rescore,
            "interval",
            RESCORE_JOB,
            seconds=RESCORE_EVERY.total_seconds(),
            next_run_time=now,
        )
        if self.engine.dialect.name == "sqlite":
            self._every(
                self.checkpoint,
                "interval",
                CHECKPOINT_JOB,
                seconds=CHECKPOINT_EVERY.total_seconds(),
            )
        if self.geocoder is not None:
            self._every(
                self.geocode, "interval", GEOCODE_JOB, seconds=GEOCODE_EVERY.total_seconds()
            )
        self._unsubscribe = on_enqueue(self.engine, self._enqueued)
        self.scheduler.start()
        log.info("scheduler running: outbox for %s", ", ".join(self.outbox.platforms) or "none")

    def _every(
        self,
        job: Callable[[], Awaitable[Any]],
        trigger: Any,
        job_id: str,
        *,
        scan: bool = True,
        **options: Any,
    ) -> None:
        # One run at a time; runs missed while the loop was busy become one, however late.
        self.scheduler.add_job(
            self._run,
            trigger,
            args=(job_id, job, scan),
            id=job_id,
            name=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **options,
        )

    async def _run(self, job_id: str, job: Callable[[], Awaitable[Any]], scan: bool) -> Any:
        """One run of a job, as a task that `stop` can wait for: a scan only in the leading
        process, and every run counted by its outcome (for /metrics)."""
        task = asyncio.current_task()
        assert task is not None
        self._runs.add(task)
        try:
            if scan and not await self.lead():
                self.runs[(job_id, "skipped")] += 1
                return None
            result = await job()
        except OperationalError as error:
            self.runs[(job_id, "failed")] += 1
            if not busy(error):
                raise
            # SQLite stayed locked by commands and other jobs past its busy timeout (a busy
            # or slow machine): nothing was written, and the job's next run does the work.
            log.warning("%s: the database was busy; it runs again at its next turn", job_id)
            return None
        except Exception:
            self.runs[(job_id, "failed")] += 1
            raise
        finally:
            self._runs.discard(task)
        self.runs[(job_id, "ok")] += 1
        return result

    async def lead(self) -> bool:
        """Whether this process runs the scans now (taking the lead when it is free)."""
        try:
            return await asyncio.to_thread(self.leader.try_lead)
        except Exception:
            log.exception("could not ask the database who runs the scans")
            return False

    @property
    def heartbeat(self) -> float | None:
        """The event loop's time when the outbox last looked for work (None: not yet)."""
        return self.outbox.last_round

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.scheduler.running:
            self.scheduler.pause()  # no new runs
            await asyncio.sleep(0)  # runs submitted just before have begun
        await self.outbox.close()
        if self._runs:
            _, late = await asyncio.wait(set(self._runs), timeout=self.stop_grace)
            if late:
                log.warning("%d scheduled job(s) still running; stopping them", len(late))
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # cancels what still runs
            await asyncio.sleep(0)  # the shutdown runs as a callback on this loop
        await asyncio.to_thread(self.leader.resign)

    async def tick(self) -> None:
        """Send what is due, then set the next tick for when something next falls due."""
        await self.outbox.drain()
        due = await self.outbox.next_due()
        if due is not None:
            self._wake(due)

    async def digests(self) -> None:
        await asyncio.to_thread(self.queue_digests)

    async def rescore(self) -> int:
        """Bring lead scores up to date as their recency ages; returns how many changed."""
        return await asyncio.to_thread(self._rescore)

    def _rescore(self) -> int:
        now = self.clock()
        # Reads, as a rule (writes only the scores that moved): no lock while it looks.
        return in_transaction(
            self.engine, lambda session: rescore_all_teams(session, now=now), reads=True
        )

    async def checkpoint(self) -> None:
        await asyncio.to_thread(checkpoint, self.engine)

    async def geocode(self) -> int:
        """Put on the map what was saved while the geocoder was down; returns how many.
        In a worker thread: the geocoding service may be slow, and the loop must not wait."""
        assert self.geocoder is not None
        return await asyncio.to_thread(
            geocode_pending, self.engine, self.geocoder, now=self.clock()
        )

    def queue_digests(self) -> int:
        """Write the agendas and weekly digests due now, and forget long-sent messages;
        returns how many messages were written."""
        now = self.clock()
        # Each a transaction of its own, run again while SQLite is busy; the scans write
        # only what has fallen due, and take no lock while they look.
        written = in_transaction(
            self.engine, lambda session: queue_agendas(session, now=now), reads=True
        )
        written += in_transaction(
            self.engine, lambda session: queue_weekly_digests(session, now=now), reads=True
        )
        in_transaction(self.engine, lambda session: _prune(session, now=now))
        if written:
            log.info("queued %d agendas and digests", written)
        return written

    def _enqueued(self, due: datetime) -> None:
        """From the thread that committed: a row was enqueued."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake, due)

    def _wake(self, due: datetime) -> None:
        """Run the outbox tick at `due` when that is sooner than the next planned tick."""
        if not self.scheduler.running:
            return
        if self.outbox.draining:
            # The running tick looks again before it stops, and plans the next one.
            if due <= self.clock():
                self.outbox.again()
            return
        job = self.scheduler.get_job(OUTBOX_JOB)
        if job is None or job.next_run_time is None:
            return
        # The job runs on the scheduler's wall clock; `due` is on ours.
        at = datetime.now(UTC) + max(timedelta(0), due - self.clock())
        if at < job.next_run_time:
            job.modify(next_run_time=at)


def _prune(session: Session, *, now: datetime) -> None:
    prune_sent(session, before=now - KEEP_SENT)
    send_slots.prune(session, before=now - KEEP_SEND_SLOTS)
    prune_failed_attempts(session, before=now - KEEP_FAILED_ATTEMPTS)
