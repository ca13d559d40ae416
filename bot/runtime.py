"""`crmbot run`: every configured chat platform on one asyncio loop.

An adapter receives platform events, turns them into `Request`s for the dispatcher, and
renders the replies. The runtime starts each adapter, waits for SIGINT/SIGTERM, and stops
them in reverse order, so a Ctrl-C never leaves a platform half-connected.
"""

from __future__ import annotations

import asyncio
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


async def _stopped(adapter: Adapter) -> None:
    try:
        await adapter.stop()
    except Exception:
        log.exception("%s adapter did not stop cleanly", adapter.name)
