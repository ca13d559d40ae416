"""Keeping to the platforms' send rates, so a burst drains at the limit without 429s.

Telegram: about 30 messages a second per bot, 1 a second per chat, 20 a minute per group
(group ids are negative). Slack: about 1 a second per channel. The pacer hands out send
times: the bot-wide limit as a grid of slots `1/rate` apart (any one-second window holds
at most `rate` of them), each chat's limit as the earliest time its next message may go.
Both run a little under the published figure (`MARGIN`), since the platform's clock and
ours never agree exactly. Times are the event loop's clock (seconds), so a simulated
loop paces in simulated time.

The pacer paces one process's outbox; `crmbot serve` also passes every send through
bot/throttle.py's slots, which several processes share (the 429 handling in the dispatcher
catches what the two miss).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

MARGIN = 0.02
_PRUNE_AT = 4096


def _never_group(chat_id: str) -> bool:
    return False


def telegram_group(chat_id: str) -> bool:
    """Telegram groups, supergroups and channels have negative ids; people positive."""
    return chat_id.startswith("-")


@dataclass(frozen=True, slots=True)
class Limits:
    """Messages per second: for the whole bot, to one chat, to one group chat."""

    per_bot: float | None = None
    per_chat: float | None = None
    per_group: float | None = None
    is_group: Callable[[str], bool] = _never_group

    def chat_rate(self, chat_id: str) -> float | None:
        rates = [self.per_chat]
        if self.is_group(chat_id):
            rates.append(self.per_group)
        known = [rate for rate in rates if rate]
        return min(known) if known else None


LIMITS: Mapping[str, Limits] = {
    "telegram": Limits(per_bot=30, per_chat=1, per_group=20 / 60, is_group=telegram_group),
    "slack": Limits(per_chat=1),
}


def with_telegram_rate(per_second: float) -> Mapping[str, Limits]:
    """LIMITS for a bot whose limit Telegram raised (TELEGRAM_MESSAGES_PER_SECOND)."""
    return {**LIMITS, "telegram": replace(LIMITS["telegram"], per_bot=per_second)}


class Pacer:
    def __init__(self, limits: Mapping[str, Limits] = LIMITS, *, margin: float = MARGIN) -> None:
        self.limits = limits
        self.margin = margin
        self._taken: dict[str, set[int]] = {}  # platform -> bot-wide slots handed out
        self._next: dict[tuple[str, str], float] = {}  # (platform, chat) -> earliest next send
        self._held: dict[tuple[str, str], float] = {}  # chats told to wait by a 429

    def earliest(self, platform: str, chat_id: str, now: float) -> float:
        """When a message to `chat_id` may go, at the soonest (nothing is reserved)."""
        at, _ = self._slot(platform, chat_id, now)
        return at

    def reserve(self, platform: str, chat_id: str, now: float) -> float:
        """Take the soonest send time for a message to `chat_id`."""
        at, slot = self._slot(platform, chat_id, now)
        limits = self.limits.get(platform, Limits())
        if slot is not None:
            taken = self._taken.setdefault(platform, set())
            taken.add(slot)
            if len(taken) > _PRUNE_AT:
                first = math.floor(now / self._interval(limits.per_bot))
                self._taken[platform] = {s for s in taken if s >= first}
        rate = limits.chat_rate(chat_id)
        if rate:
            self._next[(platform, chat_id)] = at + self._interval(rate)
            if len(self._next) > _PRUNE_AT:
                self._next = {key: t for key, t in self._next.items() if t > now}
        return at

    def budget(self, platform: str, now: float, horizon: float) -> int | None:
        """How many bot-wide slots are free in the next `horizon` seconds (None: no
        bot-wide limit)."""
        per_bot = self.limits.get(platform, Limits()).per_bot
        if not per_bot:
            return None
        interval = self._interval(per_bot)
        first, last = math.ceil(now / interval), math.floor((now + horizon) / interval)
        # Counted over the slots taken, not the window's: a raised limit (thousands a
        # second) makes the window long, and the outbox asks before every claim.
        taken = self._taken.get(platform, set())
        return max(0, last - first + 1) - sum(1 for slot in taken if first <= slot <= last)

    def hold(self, platform: str, chat_id: str, until: float) -> None:
        """The platform said "wait": nothing more to this chat before `until`."""
        key = (platform, chat_id)
        self._held[key] = max(until, self._held.get(key, 0.0))

    def _slot(self, platform: str, chat_id: str, now: float) -> tuple[float, int | None]:
        key = (platform, chat_id)
        at = max(now, self._next.get(key, now), self._held.get(key, now))
        per_bot = self.limits.get(platform, Limits()).per_bot
        if not per_bot:
            return at, None
        interval = self._interval(per_bot)
        slot = math.ceil(at / interval)
        taken = self._taken.get(platform, set())
        while slot in taken:
            slot += 1
        return slot * interval, slot

    def _interval(self, rate: float | None) -> float:
        assert rate
        return 1 / (rate * (1 - self.margin))
