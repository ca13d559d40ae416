"""The outbox dispatcher: claims due outbox rows, sends them at the platforms' pace, and
records each outcome.

Delivery is at least once. A row is marked sent right after the platform accepted it;
a process that dies between the two leaves the row claimed, and once the claim runs out
another process sends it again. That window (one send, per row in flight) is the only
way to get a duplicate: a row is never claimed by two live processes at once.

Outcomes: accepted -> sent. 429 -> back to pending after the platform's `retry_after`,
and nothing more to that chat until then. A 5xx or network error -> back to pending with
exponential backoff, failed after `max_attempts`. Permanent refusal (blocked, channel
gone) -> failed with the reason, and the member concerned is told where possible
(handlers/notices.py). Platforms without a sender in this process keep their rows
pending for a process that has one.

Time comes from outside: `clock` for the stored times (due, claimed until), the event
loop's clock for pacing and sleeping, so a simulated loop (bot/virtual_time.py) runs a
ten-minute burst in a moment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from bot.pacing import Pacer
from bot.senders import PermanentError, RateLimited, Sender, TransientError
from handlers.notices import tell_failure
from handlers.reply import Reply
from storage import outbox as store
from storage.db import in_transaction
from storage.models import Outbox, OutboxKind
from storage.types import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
RunSync = Callable[..., Awaitable[Any]]


class FailureHook(Protocol):
    def __call__(self, session: Session, *, row: Outbox, reason: str, now: datetime) -> bool: ...


@dataclass
class Stats:
    """What this dispatcher did (for logs and benchmarks)."""

    sent: int = 0
    rate_limited: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0


def backoff(attempts: int, *, base: float = 5.0, cap: float = 900.0) -> float:
    """Seconds to wait after the `attempts`-th failed try: 5, 10, 20, ... 15 minutes."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class OutboxDispatcher:
    def __init__(
        self,
        engine: Engine,
        senders: Iterable[Sender],
        *,
        clock: Callable[[], datetime] = utcnow,
        pacer: Pacer | None = None,
        worker: str | None = None,
        claim_for: timedelta = timedelta(minutes=2),
        horizon: float = 1.0,
        defer_after: float = 10.0,
        max_in_flight: int = 200,
        batch: int = 100,
        max_attempts: int = 10,
        run_sync: RunSync = asyncio.to_thread,
        on_failed: FailureHook = tell_failure,
    ) -> None:
        self.engine = engine
        self.senders = {sender.platform: sender for sender in senders}
        self.clock = clock
        self.pacer = pacer or Pacer()
        self.worker = worker or worker_name()
        self.claim_for = claim_for
        self.horizon = horizon
        self.defer_after = defer_after
        self.max_in_flight = max_in_flight
        self.batch = batch
        self.max_attempts = max_attempts
        self.run_sync = run_sync
        self.on_failed = on_failed
        self.stats = Stats()
        self._tasks: set[asyncio.Task[None]] = set()
        # Rows claimed and waiting for their send time: given back on close.
        self._queued: set[asyncio.Task[Any]] = set()
        # The event loop's time of the latest claim round (the health check's heartbeat).
        self.last_round: float | None = None
        self._again = False
        self._closing = False
        self._lock = asyncio.Lock()

    @property
    def platforms(self) -> list[str]:
        return list(self.senders)

    @property
    def draining(self) -> bool:
        return self._lock.locked()

    def again(self) -> None:
        """Something fell due while draining: look once more before stopping."""
        self._again = True

    async def drain(self) -> None:
        """Send everything that is due, as fast as the platforms allow; return when nothing
        due is left and nothing is in flight."""
        async with self._lock:
            while True:
                claimed = 0 if self._closing else await self._claim_round()
                if not claimed and not self._tasks:
                    if not self._again or self._closing:
                        return
                    self._again = False
                    continue
                if self._tasks:
                    # After a claim, give the pacer's budget time to refill; otherwise
                    # look again as soon as a send frees room.
                    await asyncio.wait(
                        set(self._tasks),
                        timeout=self.horizon / 2,
                        return_when=asyncio.ALL_COMPLETED if claimed else asyncio.FIRST_COMPLETED,
                    )

    async def next_due(self) -> datetime | None:
        """When there is next something to do (a row falls due or a claim runs out)."""
        return await self._db(store.next_due, platforms=self.platforms)

    async def close(self) -> None:
        """A clean shutdown: claim nothing more, give back the rows still waiting for their
        send time, let the sends under way complete. What is pending stays for the next
        start, or for another process at once."""
        self._closing = True
        for task in self._queued:
            task.cancel()
        async with self._lock:
            if self._tasks:
                await asyncio.wait(set(self._tasks))

    def abandon(self) -> None:
        """Stop dead, as a killed process would: no send completes, nothing is recorded."""
        for task in self._tasks:
            task.cancel()

    async def _claim_round(self) -> int:
        self.last_round = asyncio.get_running_loop().time()
        now = self.clock()
        await self._db(store.release_expired, now=now)
        claimed = 0
        for platform, sender in self.senders.items():
            room = self._room(platform)
            if room <= 0:
                continue
            rows = await self._db(
                store.claim,
                platform=platform,
                limit=room,
                now=now,
                until=now + self.claim_for,
                worker=self.worker,
            )
            claimed += len(rows)
            for row in rows:
                await self._schedule(sender, row)
        return claimed

    def _room(self, platform: str) -> int:
        room = min(self.batch, self.max_in_flight - len(self._tasks))
        budget = self.pacer.budget(platform, asyncio.get_running_loop().time(), self.horizon)
        return room if budget is None else min(room, budget)

    async def _schedule(self, sender: Sender, row: Outbox) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        wait = self.pacer.earliest(row.platform, row.chat_id, now) - now
        if wait > self.defer_after:
            # A busy chat (a group's 20 a minute): give the row back rather than hold it.
            self.stats.deferred += 1
            await self._db(
                store.retry_later,
                row=row,
                due_at=self.clock() + timedelta(seconds=wait),
                error=None,
                worker=self.worker,
                attempt=False,
            )
            return
        at = self.pacer.reserve(row.platform, row.chat_id, now)
        task = asyncio.create_task(self._deliver(sender, row, at))
        self._tasks.add(task)
        self._queued.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sender: Sender, row: Outbox, at: float) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        try:
            if self._closing:
                raise asyncio.CancelledError
            if at > loop.time():
                await asyncio.sleep(at - loop.time())
        except asyncio.CancelledError:
            if not self._closing:
                raise  # abandoned: a killed process records nothing
            # Given back unclaimed and due now, not counted as a try.
            await self._db(
                store.retry_later,
                row=row,
                due_at=self.clock(),
                error=None,
                worker=self.worker,
                attempt=False,
            )
            return
        finally:
            self._queued.discard(task)
        try:
            reply = Reply.of_message(row.payload)
        except (KeyError, TypeError, ValueError) as error:
            await self._fail(row, f"unreadable message ({error})")
            return
        ref = None
        try:
            if row.kind == OutboxKind.edit:
                await sender.edit(
                    row.chat_id, row.message_ref or "", reply, workspace_id=row.workspace_id
                )
            else:
                ref = await sender.send(row.chat_id, reply, workspace_id=row.workspace_id)
        except RateLimited as limited:
            self.stats.rate_limited += 1
            self.pacer.hold(row.platform, row.chat_id, loop.time() + limited.retry_after)
            await self._retry(row, limited.retry_after, str(limited), attempt=False)
        except PermanentError as refused:
            await self._fail(row, refused.reason)
        except Exception as error:  # TransientError, or whatever else broke: try again
            tries = row.attempts + 1
            if isinstance(error, TransientError):
                log.warning("outbox row %s: try %d failed: %s", row.id, tries, error)
            else:
                log.exception("outbox row %s: the %s sender broke", row.id, row.platform)
            if tries >= self.max_attempts:
                await self._fail(row, f"gave up after {tries} tries: {error}")
            else:
                await self._retry(row, backoff(tries), str(error) or type(error).__name__)
        else:
            self.stats.sent += 1
            await self._db(store.mark_sent, row=row, now=self.clock(), ref=ref)

    async def _retry(
        self, row: Outbox, seconds: float, error: str, *, attempt: bool = True
    ) -> None:
        self.stats.retried += 1
        await self._db(
            store.retry_later,
            row=row,
            due_at=self.clock() + timedelta(seconds=seconds),
            error=error,
            worker=self.worker,
            attempt=attempt,
        )

    async def _fail(self, row: Outbox, reason: str) -> None:
        self.stats.failed += 1
        log.warning("outbox row %s (%s) failed for good: %s", row.id, row.kind, reason)
        await self._db(self._record_failure, row=row, reason=reason)

    def _record_failure(self, session: Session, *, row: Outbox, reason: str) -> None:
        now = self.clock()
        if store.mark_failed(session, row=row, error=reason, now=now):
            self.on_failed(session, row=row, reason=reason, now=now)

    async def _db(self, func: Callable[..., T], **kwargs: Any) -> T:
        """Run `func(session, **kwargs)` in one transaction, off the event loop."""
        result: T = await self.run_sync(partial(_in_transaction, self.engine, func, kwargs))
        return result


def _in_transaction(engine: Engine, func: Callable[..., T], kwargs: dict[str, Any]) -> T:
    # Database work only (sending happens between these calls): safe to run again while
    # SQLite is busy.
    return in_transaction(engine, partial(func, **kwargs))


async def inline(func: Callable[[], T]) -> T:
    """Run database work right on the event loop (simulated time: no thread to wait for)."""
    return func()
