"""Keeping every message the bot sends, replies included, within the platforms' limits
for the whole installation (`crmbot serve`).

Before a message goes, its sender asks for a slot under a few keys: the bot (Telegram's
30 a second), the chat when it is a group (20 a minute) and, for proactive messages and
for Slack's channels, the chat itself (1 a second). `LocalThrottle` keeps the slots in
memory, which is all one process needs; `SharedThrottle` keeps them in PostgreSQL
(storage/send_slots.py), so that any number of processes together keep to the limits.
The figures are bot/pacing.py's, a little under the published ones.

A direct reply in a private Telegram chat waits only for the bot-wide slot, as it did with
python-telegram-bot's own limiter: a person who sends two messages in a row gets both
answers at once.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bot.pacing import LIMITS, MARGIN, Limits
from storage import send_slots

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

Key = tuple[str, float]  # what is limited, and the seconds between two of its messages
_PRUNE_AT = 4096


class Throttle(ABC):
    def __init__(self, limits: Mapping[str, Limits] = LIMITS) -> None:
        self.limits = limits

    def keys(self, platform: str, chat_id: str, *, per_chat: bool) -> list[Key]:
        """The limits a message to `chat_id` counts against. `per_chat`: the chat's own
        limit too (proactive messages; Slack channels), not only a group's."""
        limits = self.limits.get(platform, Limits())
        keys: list[Key] = []
        if limits.per_bot:
            keys.append((bot_key(platform), _gap(limits.per_bot)))
        group = limits.is_group(chat_id)
        rate = limits.chat_rate(chat_id) if per_chat else (limits.per_group if group else None)
        if rate:
            keys.append((chat_key(platform, chat_id), _gap(rate)))
        return keys

    @abstractmethod
    async def wait(self, keys: Sequence[Key]) -> None:
        """Return when a message limited by `keys` may go (its slot is taken)."""

    @abstractmethod
    async def hold(self, key: str, seconds: float) -> None:
        """The platform said to wait: nothing under `key` for `seconds`."""

    @abstractmethod
    async def close(self) -> None: ...


def bot_key(platform: str) -> str:
    return platform


def chat_key(platform: str, chat_id: str) -> str:
    return f"{platform}:{chat_id}"


def _gap(rate: float) -> float:
    return 1 / (rate * (1 - MARGIN))


class LocalThrottle(Throttle):
    """Slots of one process, on the event loop's clock."""

    def __init__(self, limits: Mapping[str, Limits] = LIMITS) -> None:
        super().__init__(limits)
        self._next: dict[str, float] = {}

    async def wait(self, keys: Sequence[Key]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max([now, *(self._next.get(key, now) for key, _ in keys)])
        for key, gap in keys:
            self._next[key] = at + gap
        if len(self._next) > _PRUNE_AT:
            self._next = {key: t for key, t in self._next.items() if t > now}
        if at > now:
            await asyncio.sleep(at - now)

    async def hold(self, key: str, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        self._next[key] = max(self._next.get(key, now), now + seconds)

    async def close(self) -> None:
        pass


class SharedThrottle(Throttle):
    """Slots in PostgreSQL, shared by every process on the database. When the database
    does not answer, a message falls back to this process's own slots rather than wait
    for it: the platform's 429s (and the senders' retries) cover the rest."""

    def __init__(self, engine: Engine, limits: Mapping[str, Limits] = LIMITS) -> None:
        super().__init__(limits)
        self.engine = engine
        self.fallback = LocalThrottle(limits)
        self._conn: send_slots.Connection | None = None
        self._connecting = asyncio.Lock()
        self._failing = False

    async def wait(self, keys: Sequence[Key]) -> None:
        import psycopg  # loaded with the engine's PostgreSQL dialect: only bound here

        try:
            conn = await self._connection()
            _, seconds = await send_slots.reserve(
                conn, keys=[key for key, _ in keys], gaps=[gap for _, gap in keys]
            )
            self._failing = False
        except psycopg.Error as error:
            await self._lost(error)
            await self.fallback.wait(keys)
            return
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def hold(self, key: str, seconds: float) -> None:
        import psycopg

        await self.fallback.hold(key, seconds)
        try:
            await send_slots.hold(await self._connection(), key=key, seconds=seconds)
        except psycopg.Error as error:
            await self._lost(error)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connection(self) -> send_slots.Connection:
        async with self._connecting:
            if self._conn is None or self._conn.closed:
                self._conn = await send_slots.connect(self.engine)
            return self._conn

    async def _lost(self, error: psycopg.Error) -> None:
        if self._conn is not None or not self._failing:
            log.warning("shared send slots unavailable (%s); pacing this process alone", error)
        self._failing = True
        await self.close()


def make_throttle(engine: Engine, limits: Mapping[str, Limits] = LIMITS) -> Throttle:
    """Shared slots when other processes may share the database, else local ones."""
    if engine.dialect.name == "postgresql":
        return SharedThrottle(engine, limits)
    return LocalThrottle(limits)
