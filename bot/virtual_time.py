"""An asyncio event loop on simulated time, for tests and benchmarks of timed behaviour.

Whenever every task is waiting for a timer, the loop's clock jumps to the next timer
instead of sleeping, so `asyncio.sleep(300)` returns at once with `loop.time()` 300
seconds later. Real I/O still works; work in other threads does not mix with it (the
clock would run ahead while a thread works), so database calls run on the loop itself
(bot.outbox.inline).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class _Selector(selectors.SelectSelector):
    def __init__(self) -> None:
        super().__init__()
        self.advance: Callable[[float], None] = lambda seconds: None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None:  # no timer at all: only real I/O can wake us
            return super().select(None)
        self.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 0.0) -> None:
        selector = _Selector()
        super().__init__(selector)
        self._virtual_now = start
        selector.advance = self._advance

    def time(self) -> float:
        return self._virtual_now

    def _advance(self, seconds: float) -> None:
        self._virtual_now += seconds


@dataclass(frozen=True)
class VirtualClock:
    """Wall-clock time on a virtual loop: `start` plus the loop's elapsed seconds."""

    loop: asyncio.AbstractEventLoop
    start: datetime

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.loop.time())


def run_virtual(main: Callable[[VirtualClock], Coroutine[Any, Any, T]], *, start: datetime) -> T:
    """Run `main(clock)` on a fresh virtual-time loop whose clock starts at `start`."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(VirtualClock(loop, start)))
    finally:
        loop.close()
