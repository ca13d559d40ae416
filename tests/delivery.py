"""Deliver what the outbox holds through recording senders, on simulated time."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from bot.outbox import OutboxDispatcher, inline
from bot.senders import RecordingSender, Sender
from bot.virtual_time import VirtualClock, run_virtual
from storage.db import transaction
from storage.models import Outbox
from tests.conftest import Clock


def deliver(engine: Engine, clock: Clock, *senders: Sender) -> OutboxDispatcher:
    """Send everything due at `clock`'s time; returns the dispatcher (its stats)."""
    dispatcher = OutboxDispatcher(engine, senders, clock=clock, run_sync=inline)

    async def main(_: VirtualClock) -> None:
        await dispatcher.drain()

    run_virtual(main, start=clock.now)
    return dispatcher


def telegram() -> RecordingSender:
    return RecordingSender(platform="telegram")


def outbox_rows(engine: Engine) -> list[Outbox]:
    with transaction(engine) as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))))
