"""The hostile suite's harness: the same request fired by several threads at once, each
through the dispatcher with a session of its own, as several bot processes sharing one
PostgreSQL database would run them.

The requests come from different chats of the same person (a private chat and groups),
so the per-chat lock (storage/locks.py) does not serialise them: what keeps the effect
single is the state transition itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel

from handlers.context import ChatType, Request
from tests.conftest import TestBot

RACERS = 5


def race(bot: TestBot, who: str, events: Sequence[dict[str, Any]]) -> list[str]:
    """Send every event at once (one thread each, released together), each from a chat of
    its own; their replies."""
    start = threading.Barrier(len(events))
    replies: list[str] = [""] * len(events)
    failures: list[BaseException] = []

    def run(index: int, event: dict[str, Any]) -> None:
        # An event may name its own sender, platform and workspace (other people at once).
        fields = {"platform": bot.platform, "who": who, **event}
        person = fields.pop("who")
        request = Request(
            user_id=person.lower(),
            user_name=person,
            chat_id=f"{person.lower()}-chat-{index}",
            chat_type=ChatType.private if index == 0 else ChatType.group,
            **fields,
        )
        start.wait()
        try:
            reply = bot.dispatcher.handle_sync(request)
            replies[index] = reply.plain_text if reply is not None else ""
        except BaseException as error:  # re-raised below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i, event)) for i, event in enumerate(events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return replies


def same_text(text: str, n: int = RACERS) -> list[dict[str, Any]]:
    return [{"text": text}] * n


def same_press(data: str, n: int = RACERS) -> list[dict[str, Any]]:
    return [{"button": data}] * n


def count(engine: Engine, model: type[SQLModel], *where: Any) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def no_apology(replies: Sequence[str]) -> None:
    for reply in replies:
        assert "went wrong" not in reply, reply


@pytest.fixture
def pg_engine(engine: Engine) -> Iterator[Engine]:
    """The PostgreSQL engine only: SQLite serialises its writers (BEGIN IMMEDIATE)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("races between processes are a PostgreSQL matter")
    yield engine
