"""Shared send slots (PostgreSQL): reservations from several connections, as from several
processes, are spaced by each key's gap and never given twice."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from storage import send_slots
from storage.db import transaction


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    return engine


async def test_reservations_from_two_connections_are_spaced_by_the_gap(pg: Engine) -> None:
    first, second = await send_slots.connect(pg), await send_slots.connect(pg)
    gap = 0.05

    async def take(conn: send_slots.Connection, count: int) -> list[datetime]:
        return [
            (await send_slots.reserve(conn, keys=["telegram"], gaps=[gap]))[0]
            for _ in range(count)
        ]

    try:
        slots = sorted(
            slot
            for taken in await asyncio.gather(take(first, 20), take(second, 20))
            for slot in taken
        )
    finally:
        await first.close()
        await second.close()
    assert len(set(slots)) == 40
    spacing = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert min(spacing) >= timedelta(seconds=gap)


async def test_a_message_waits_for_the_latest_of_its_keys(pg: Engine) -> None:
    conn = await send_slots.connect(pg)
    try:
        group = "telegram:-100"
        await send_slots.hold(conn, key=group, seconds=30)
        slot, wait = await send_slots.reserve(conn, keys=["telegram", group], gaps=[0.01, 3.0])
        assert 29 < wait <= 30
        # The bot-wide key moved on from that slot too: another chat's message waits for it.
        later, other_wait = await send_slots.reserve(conn, keys=["telegram"], gaps=[0.01])
        assert later - slot == timedelta(seconds=0.01)
        assert other_wait > 29
    finally:
        await conn.close()
    with transaction(pg) as session:
        assert send_slots.prune(session, before=slot + timedelta(days=1)) == 2
