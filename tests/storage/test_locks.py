"""Advisory locks: a chat's commands wait for each other across connections (processes),
one leader at a time, and nothing of the kind on SQLite."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import Engine, text

from storage.db import transaction
from storage.locks import Leader, lock_chat, lock_key, migrating, shared
from tests.conftest import end_connections


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    key = lock_key("chat:telegram::111")
    assert key == lock_key("chat:telegram::111") != lock_key("chat:telegram::112")
    assert -(2**63) <= key < 2**63


def _hold_chat(
    engine: Engine, chat_id: str, holding: threading.Event, go: threading.Event
) -> None:
    with transaction(engine) as session:
        lock_chat(session, platform="telegram", workspace_id="", chat_id=chat_id)
        holding.set()
        go.wait(timeout=30)


def test_a_chat_waits_for_the_transaction_that_holds_it(engine: Engine) -> None:
    if not shared(engine):
        pytest.skip("PostgreSQL only")
    holding, go = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold_chat, args=(engine, "111", holding, go))
    first.start()
    assert holding.wait(timeout=30)
    order: list[str] = []

    def second(chat_id: str) -> None:
        with transaction(engine) as session:
            lock_chat(session, platform="telegram", workspace_id="", chat_id=chat_id)
            order.append(chat_id)

    # Another chat goes through at once; the same chat only after the first commits.
    other = threading.Thread(target=second, args=("222",))
    other.start()
    other.join(timeout=30)
    assert order == ["222"]
    same = threading.Thread(target=second, args=("111",))
    same.start()
    _until_waiting(engine)  # it is queued behind the first
    assert order == ["222"]
    go.set()
    first.join(timeout=30)
    same.join(timeout=30)
    assert order == ["222", "111"]


def _until_waiting(engine: Engine) -> None:
    """Until some connection waits for an advisory lock."""
    for _ in range(3000):
        with engine.connect() as conn:
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("nobody waits for the chat")


def test_sqlite_grants_every_lock_at_once(engine: Engine) -> None:
    if shared(engine):
        pytest.skip("SQLite only")
    with transaction(engine) as session:
        lock_chat(session, platform="telegram", workspace_id="", chat_id="111")
    assert Leader(engine, "scheduler").try_lead()
    assert Leader(engine, "scheduler").try_lead()  # one process: always its own leader
    with migrating(engine):
        pass


def test_one_leader_at_a_time_and_the_next_takes_over(engine: Engine) -> None:
    if not shared(engine):
        pytest.skip("PostgreSQL only")
    first, second = Leader(engine, "scheduler"), Leader(engine, "scheduler")
    assert first.try_lead() and first.leading
    assert not second.try_lead() and not second.leading
    assert first.try_lead()  # still leading: its connection is alive
    first.resign()
    assert not first.leading and not first.try_lead()  # resigned for good
    assert second.try_lead()
    # A leader whose connection is gone (its process died) frees the lead with it.
    third = Leader(engine, "scheduler")
    assert second._conn is not None
    second._conn.invalidate()
    # The server notices the closed connection a moment later: the lead is free by then.
    for _ in range(3000):
        if third.try_lead():
            break
        time.sleep(0.01)
    assert third.leading
    third.resign()
    second.resign()


def test_the_lead_is_taken_when_the_pooled_connections_are_dead(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL restarted: the scheduler's ask for the lead meets a dead connection of
    the pool (none is pinged before use) and asks again on a new one."""
    if not shared(engine):
        pytest.skip("PostgreSQL only")
    engine.dispose()  # a pool of the two connections below only
    with engine.connect() as one, engine.connect() as two:
        one.exec_driver_sql("SELECT 1")
        two.exec_driver_sql("SELECT 1")
    assert end_connections(engine) >= 2
    leader = Leader(engine, "scheduler")
    with caplog.at_level(logging.WARNING):
        assert leader.try_lead() and leader.leading
    assert "the database connection was lost" in caplog.text
    leader.resign()


def test_no_lead_is_taken_after_resigning_even_by_a_try_under_way(engine: Engine) -> None:
    """A scheduler that stops while one of its jobs asks for the lead in a worker thread:
    the lead must not be left held on a connection that goes back to the pool."""
    if not shared(engine):
        pytest.skip("PostgreSQL only")
    leader = Leader(engine, "scheduler")
    with leader._turn:  # a try under way...
        resigning = threading.Thread(target=leader.resign)
        resigning.start()  # ...when the stop comes: it waits its turn
    resigning.join(timeout=30)
    assert not leader.try_lead() and leader._conn is None
    other = Leader(engine, "scheduler")
    assert other.try_lead()  # the lead is free for the next process
    other.resign()
