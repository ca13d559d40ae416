"""`crmbot run`'s runtime starts adapters in order and stops them in reverse."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.runtime import run_adapters


@dataclass
class Recording:
    name: str
    log: list[str] = field(default_factory=list)
    fail_on_stop: bool = False

    async def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_on_stop:
            raise RuntimeError("stuck")


async def test_adapters_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    stop = asyncio.Event()
    adapters = [Recording("telegram", log, fail_on_stop=True), Recording("slack", log)]
    runner = asyncio.create_task(run_adapters(adapters, stop=stop))
    await asyncio.sleep(0)
    while len(log) < 2:
        await asyncio.sleep(0)
    stop.set()
    await runner
    assert log == ["start telegram", "start slack", "stop slack", "stop telegram"]
