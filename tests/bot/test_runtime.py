"""`crmbot run`'s runtime starts adapters in order and stops them in reverse."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, field

import pytest

from bot.runtime import HeapSettler, run_adapters


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


def test_a_serving_heap_is_frozen_at_start_and_again_once_its_caches_filled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frozen, the start-up's objects and then the first messages' caches are left out of
    every full collection (the test process's own heap is left alone: gc is stood in)."""
    calls: list[str] = []

    def collect(*_args: object) -> int:
        calls.append("collect")
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    settler = HeapSettler()
    asyncio.run(settler.settle())
    assert calls == ["collect", "freeze"]
    for _ in range(999):
        settler.handled_one()
    assert calls == ["collect", "freeze"]
    settler.handled_one()  # the thousandth: frozen again, without a collection's pause
    assert calls == ["collect", "freeze", "freeze"]
    for _ in range(10_000):
        settler.handled_one()
    assert calls == ["collect", "freeze", "freeze", "freeze"]
