"""`crmbot run`: every configured chat platform on one asyncio loop.

An adapter receives platform events, turns them into `Request`s for the dispatcher, and
renders the replies. The runtime starts each adapter, waits for SIGINT/SIGTERM, and stops
them in reverse order, so a Ctrl-C never leaves a platform half-connected.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Sequence
from contextlib import AsyncExitStack, suppress
from typing import Protocol

log = logging.getLogger(__name__)


class Adapter(Protocol):
    name: str

    async def start(self) -> None:
        """Connect and begin receiving; return once running."""

    async def stop(self) -> None:
        """Stop receiving, finish in-flight work, disconnect."""


async def run_adapters(adapters: Sequence[Adapter], *, stop: asyncio.Event | None = None) -> None:
    """Start every adapter, run until `stop` is set (or a signal arrives), stop them all."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not possible outside the main thread (tests) or on some platforms; fine there.
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        for adapter in adapters:
            await adapter.start()
            stack.push_async_callback(_stopped, adapter)
            log.info("%s adapter running", adapter.name)
        await stop.wait()
        log.info("shutting down")


class HeapSettler:
    """Keeps a serving process's long-lived objects (modules, the commands, the schema, the
    adapters, then the caches its first messages fill: compiled statements, the driver's
    prepared ones, parsers imported on first use) out of the garbage collector's walks. A
    full collection otherwise walks them all, some 200,000 objects: a pause of 0.05-0.15 s
    that every message in flight waits out (bench/SERVE.md, "GC")."""

    # After how many messages the heap is frozen again, the caches having filled. Without a
    # collection first, so without a pause, for the little cyclic garbage of that instant,
    # kept for good.
    AGAIN_AFTER = frozenset({1_000, 10_000})

    def __init__(self) -> None:
        self.handled = 0

    async def settle(self) -> None:
        """At start: what start-up made, collected once and frozen."""
        gc.collect()
        gc.freeze()

    def handled_one(self) -> None:
        self.handled += 1
        if self.handled in self.AGAIN_AFTER:
            gc.freeze()


async def _stopped(adapter: Adapter) -> None:
    try:
        await adapter.stop()
    except Exception:
        log.exception("%s adapter did not stop cleanly", adapter.name)
