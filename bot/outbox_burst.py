"""The burst scenario: 10,000 reminders due in the same minute, delivered to a recording
Telegram that enforces Telegram's limits, on simulated time (for bench/).

`run_burst(engine)` fills the outbox, runs the real dispatcher on a virtual-time loop and
reports the drain time, the 429s, the duplicates and the losses. With `kill_after` the
first dispatcher is abandoned mid-burst with rows claimed (a killed process: nothing is
cleaned up) and a second one takes over, picking the abandoned rows up when their claims
run out.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import col, select

from bot.outbox import OutboxDispatcher, inline
from bot.senders import RateLimited
from bot.virtual_time import VirtualClock, run_virtual
from handlers.reply import Reply
from storage.db import transaction
from storage.models import Identity, Member, Outbox, OutboxKind, OutboxStatus, Platform
from storage.outbox import enqueue
from storage.teams import create_team

BURST_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CLAIM_FOR = timedelta(minutes=2)


@dataclass
class TelegramLimits:
    """A recording Telegram that answers 429 to anything over its limits: 30 messages in
    any second per bot, one a second per chat, 20 in any minute per group."""

    latency: float = 0.05
    per_bot: int = 30
    per_group_minute: int = 20
    platform: str = Platform.telegram
    accepted: list[tuple[str, str, float]] = field(default_factory=list)  # chat, text, at
    refused: int = 0
    _recent: deque[float] = field(default_factory=deque)
    _last: dict[str, float] = field(default_factory=dict)
    _groups: dict[str, deque[float]] = field(default_factory=dict)

    async def send(self, chat_id: str, reply: Reply, *, workspace_id: str = "") -> str | None:
        await self._accept(chat_id, reply)
        return str(len(self.accepted))

    async def edit(self, chat_id: str, ref: str, reply: Reply, *, workspace_id: str = "") -> None:
        await self._accept(chat_id, reply)  # an edit counts against the limits as a send

    async def _accept(self, chat_id: str, reply: Reply) -> None:
        await asyncio.sleep(self.latency)  # the request travels
        now = asyncio.get_running_loop().time()
        retry_after = self._over_limit(chat_id, now)
        if retry_after is not None:
            self.refused += 1
            raise RateLimited(retry_after)
        self._recent.append(now)
        self._last[chat_id] = now
        if chat_id.startswith("-"):
            self._groups.setdefault(chat_id, deque()).append(now)
        self.accepted.append((chat_id, reply.plain_text, now))
        await asyncio.sleep(self.latency)  # the answer travels back

    def _over_limit(self, chat_id: str, now: float) -> float | None:
        while self._recent and self._recent[0] <= now - 1:
            self._recent.popleft()
        if len(self._recent) >= self.per_bot:
            return 1.0
        if now - self._last.get(chat_id, -1e9) < 1:
            return 1.0
        group = self._groups.get(chat_id)
        if group is not None:
            while group and group[0] <= now - 60:
                group.popleft()
            if len(group) >= self.per_group_minute:
                return 60 - (now - group[0])
        return None


@dataclass(frozen=True)
class BurstResult:
    reminders: int
    delivered: int  # distinct reminders the platform accepted
    duplicates: int  # accepted more than once
    lost: int  # never accepted
    rate_limited: int  # 429s the platform answered
    drain_seconds: float  # from the first due time to the last message accepted
    ideal_seconds: float  # reminders / 30 per second
    in_flight_at_kill: int  # rows claimed by the killed dispatcher

    @property
    def over_ideal(self) -> float:
        return self.drain_seconds / self.ideal_seconds - 1


def run_burst(
    engine: Engine,
    *,
    reminders: int = 10_000,
    people: int = 7_000,
    spread: float = 59.0,
    kill_after: float | None = None,
    seed: int = 1,
) -> BurstResult:
    """Run the burst on `engine` (a migrated, empty database): `reminders` for `people`
    due within `spread` seconds; kill the first dispatcher `kill_after` seconds in."""
    _fill(engine, reminders=reminders, people=people, spread=spread, seed=seed)
    telegram = TelegramLimits()

    async def main(clock: VirtualClock) -> int:
        # The loop's clock reads 0 at BURST_AT: its times are seconds into the burst.
        first = _dispatcher(engine, telegram, clock)
        if kill_after is None:
            await _run_until_empty(first, clock)
            return 0
        running = asyncio.create_task(_run_until_empty(first, clock))
        await asyncio.sleep(kill_after)
        first.abandon()
        running.cancel()
        in_flight = _claimed_by(engine, first.worker)
        await _run_until_empty(_dispatcher(engine, telegram, clock), clock)
        return in_flight

    in_flight = run_virtual(main, start=BURST_AT)
    texts = Counter(text for _, text, _ in telegram.accepted)
    last = max((at for _, _, at in telegram.accepted), default=0.0)
    return BurstResult(
        reminders=reminders,
        delivered=len(texts),
        duplicates=sum(count - 1 for count in texts.values()),
        lost=reminders - len(texts),
        rate_limited=telegram.refused,
        drain_seconds=last,
        ideal_seconds=reminders / telegram.per_bot,
        in_flight_at_kill=in_flight,
    )


def _dispatcher(engine: Engine, telegram: TelegramLimits, clock: VirtualClock) -> OutboxDispatcher:
    return OutboxDispatcher(engine, [telegram], clock=clock, run_sync=inline, claim_for=CLAIM_FOR)


async def _run_until_empty(dispatcher: OutboxDispatcher, clock: VirtualClock) -> None:
    """What the scheduler does: drain, then wait for the next due row."""
    while True:
        await dispatcher.drain()
        due = await dispatcher.next_due()
        if due is None:
            return
        await asyncio.sleep(max(0.0, (due - clock()).total_seconds()))


def _fill(engine: Engine, *, reminders: int, people: int, spread: float, seed: int) -> None:
    rng = random.Random(seed)
    with transaction(engine) as session:
        team = create_team(
            session,
            name="Burst",
            currency="EUR",
            timezone="UTC",
            locale="en_US",
            region="DE",
            now=BURST_AT,
        )
        assert team.id is not None
        members = [
            Member(team_id=team.id, name=f"Rep {i}", name_key=f"rep {i}") for i in range(people)
        ]
        session.add_all(members)
        session.flush()
        session.add_all(
            Identity(member_id=m.id or 0, platform=Platform.telegram, external_id=str(100 + i))
            for i, m in enumerate(members)
        )
        for n in range(reminders):
            who = rng.randrange(people)
            enqueue(
                session,
                row=Outbox(
                    team_id=team.id,
                    kind=OutboxKind.reminder,
                    platform=Platform.telegram,
                    chat_id=str(100 + who),
                    payload={"reply": Reply().heading(f"⏰ burst reminder {n}").to_json()},
                    due_at=BURST_AT + timedelta(seconds=rng.uniform(0, spread)),
                    member_id=members[who].id,
                    dedupe_key=f"burst:{n}",
                ),
            )


def _claimed_by(engine: Engine, worker: str) -> int:
    with transaction(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.status == OutboxStatus.sending, col(Outbox.claimed_by) == worker)
        ).one()
