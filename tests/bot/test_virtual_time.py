"""The simulated-time event loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.virtual_time import VirtualClock, run_virtual


def test_sleeping_takes_no_time_and_keeps_order() -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    order: list[str] = []

    async def sleeper(name: str, seconds: float) -> float:
        await asyncio.sleep(seconds)
        order.append(name)
        return asyncio.get_running_loop().time()

    async def main(clock: VirtualClock) -> datetime:
        done = await asyncio.gather(sleeper("hour", 3600), sleeper("second", 1))
        assert done == [3600.0, 1.0]
        return clock()

    assert run_virtual(main, start=start) == start + timedelta(hours=1)
    assert order == ["second", "hour"]
