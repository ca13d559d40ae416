"""Two `crmbot serve` processes on one PostgreSQL database, driven as Telegram drives a bot:
each chat's updates one after another (the next once the previous was acknowledged),
alternately to either process, some delivered twice (again later, or to both at once).
The stand-in Bot API answers 429 beyond 30 messages a second, counted over both.
Then a process is killed mid-send: the other delivers what it had claimed.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bench.botapi import BotApi, message_update
from bench.processes import WEBHOOK_SECRET, ServeProcess, serve_env
from bot.telegram_webhook import SECRET_HEADER
from handlers.reply import Reply
from storage.models import Identity, Outbox, OutboxStatus, ProcessedUpdate, Reminder
from storage.outbox import enqueue
from storage.types import utcnow

USERS = 25
PER_USER = 40  # 1,000 updates in all
STEP = re.compile(r"step (\d+)")


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("several processes need PostgreSQL")
    return engine


@pytest.fixture
async def botapi() -> AsyncIterator[BotApi]:
    api = BotApi(per_second=30)
    await api.start()
    yield api
    await api.stop()


def processes(
    pg: Engine, botapi: BotApi, tmp_path: Path, names: str, **settings: str
) -> list[ServeProcess]:
    url = pg.url.render_as_string(hide_password=False)
    return [
        ServeProcess(
            name,
            serve_env(url, botapi.base_url(name), OPEN_SIGNUP="true", **settings),
            tmp_path / f"{name}.log",
        )
        for name in names
    ]


async def post(session: aiohttp.ClientSession, process: ServeProcess, update: Any) -> int:
    headers = {SECRET_HEADER: WEBHOOK_SECRET}
    async with session.post(
        f"{process.url}/telegram/webhook", json=update, headers=headers
    ) as response:
        return response.status


def messages_of(user: int) -> list[str]:
    return [
        f"/start Team {user}",
        f"/add Zed Quark{user}",
        *(f"/remind Zed in 3 days step {n}" for n in range(1, PER_USER - 1)),
    ]


async def test_two_processes_handle_each_update_once_in_order_within_the_limits(
    pg: Engine, botapi: BotApi, tmp_path: Path
) -> None:
    servers = processes(pg, botapi, tmp_path, "ab")
    for server in servers:
        server.start()
    try:
        await asyncio.gather(*(server.ready() for server in servers))
        update_ids = itertools.count(1)
        turn = itertools.count()
        acked: list[int] = []

        async def chat(session: aiohttp.ClientSession, user: int) -> None:
            for text in messages_of(user):
                update = message_update(next(update_ids), user, text)
                n = next(turn)
                first, other = servers[n % 2], servers[(n + 1) % 2]
                statuses: list[int]
                if n % 7 == 3:  # delivered to both at once
                    statuses = list(
                        await asyncio.gather(
                            post(session, first, update), post(session, other, update)
                        )
                    )
                else:
                    statuses = [await post(session, first, update)]
                if n % 5 == 1:  # delivered again later (its acknowledgement was lost)
                    statuses.append(await post(session, other, update))
                assert set(statuses) == {200}
                acked.append(update["update_id"])

        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            await asyncio.gather(*(chat(http, 1000 + user) for user in range(USERS)))
    finally:
        codes = [server.stop() for server in servers]
    assert codes == [0, 0], [server.log_tail() for server in servers]
    updates = USERS * PER_USER
    assert len(set(acked)) == updates  # nothing lost: every update acknowledged
    with Session(pg) as session:
        assert session.exec(select(func.count()).select_from(ProcessedUpdate)).one() == updates
        reminders = session.exec(
            select(Identity.external_id, Reminder.text)
            .join(Identity, col(Identity.member_id) == col(Reminder.member_id))
            .order_by(col(Reminder.id))
        ).all()
    # Each reminder once, and each person's in the order they were sent.
    steps: dict[str, list[int]] = {}
    for external_id, text in reminders:
        match = STEP.search(text)
        assert match is not None
        steps.setdefault(external_id, []).append(int(match[1]))
    expected = list(range(1, PER_USER - 1))
    assert steps == {str(1000 + n): expected for n in range(USERS)}
    # One answer per update, delivered in the order the updates came.
    for n in range(USERS):
        answers = botapi.to(1000 + n)
        assert len(answers) == PER_USER
        assert "created the team" in answers[0].text
        answered = [int(m[1]) for a in answers if (m := STEP.search(a.text))]
        assert answered == expected
    # Both processes took their send slots from one schedule of 30 a second. A slot is
    # kept only as well as the process wakes for it on a busy machine: now and then a late
    # one reaches Telegram next to the following ones, Telegram refuses it, and it goes
    # again after the retry_after (every answer above arrived, in order). Two processes
    # pacing themselves alone would ask for twice the limit.
    assert botapi.refused <= len(botapi.sent) // 50
    assert {sent.process for sent in botapi.sent} == {"a", "b"}


async def test_a_killed_process_outbox_rows_are_sent_by_the_other(
    pg: Engine, botapi: BotApi, tmp_path: Path
) -> None:
    first, second = processes(pg, botapi, tmp_path, "ab", OUTBOX_CLAIM_SECONDS="3")
    first.start()
    await first.ready()
    async with aiohttp.ClientSession() as session:
        assert await post(session, first, message_update(1, 1000, "/start Team")) == 200
    rows = 40
    botapi.hold("a")  # what the first process sends does not get through
    with Session(pg) as session:
        now = utcnow()
        for n in range(rows):
            message = Reply().add(f"row {n}").as_message("a test message")
            enqueue(
                session,
                row=Outbox(
                    team_id=1,
                    kind="reminder",
                    platform="telegram",
                    chat_id=str(2000 + n),
                    payload=message,
                    due_at=now,
                    dedupe_key=f"kill-test:{n}",
                    created_at=now,
                ),
            )
        session.commit()
    # The first process claims them, starts sending, and dies with them in flight.
    await botapi.until(lambda: len(botapi.of("sendMessage")) >= 10, timeout=60)
    with Session(pg) as session:
        claimed = session.exec(
            select(func.count())
            .select_from(Outbox)
            .where(
                col(Outbox.status) == OutboxStatus.sending,
                col(Outbox.claimed_by).contains(f":{first.pid}:"),
            )
        ).one()
    first.kill()
    await botapi.disconnected("a", timeout=30)
    botapi.release("a")
    assert claimed >= 10
    second.start()
    await second.ready()
    try:
        await botapi.until(lambda: len(botapi.sent) >= rows + 1, timeout=60)
    finally:
        assert second.stop() == 0, second.log_tail()
    delivered = sorted(sent.text for sent in botapi.sent if sent.chat_id != 1000)
    twice = [sent for sent in botapi.sent if delivered.count(sent.text) > 1]
    assert delivered == sorted(f"row {n}" for n in range(rows)), twice  # each once
    assert {sent.process for sent in botapi.sent if sent.chat_id != 1000} == {"b"}
    with Session(pg) as session:
        statuses = session.exec(select(Outbox.status).where(col(Outbox.kind) == "reminder"))
        assert set(statuses) == {OutboxStatus.sent}
