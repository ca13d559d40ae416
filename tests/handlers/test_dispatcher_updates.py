"""The dispatcher's door: a redelivered update is answered once; reads do not wait for
writers, and a read that writes after all is run again when it has to."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from handlers.context import Context, Request
from handlers.dispatcher import Dispatcher
from storage.db import SQLITE_BUSY_TIMEOUT_MS, transaction
from storage.locks import lock_chat, shared
from storage.models import Platform
from tests.conftest import TestBot
from tests.storage.test_locks import _until_waiting


def _note(update_id: str) -> Request:
    return Request(
        platform=Platform.telegram,
        user_id="alice",
        user_name="Alice",
        text="/add Jane Doe",
        update_id=update_id,
    )


def test_a_redelivered_update_changes_nothing(testbot: TestBot, dispatcher: Dispatcher) -> None:
    first = dispatcher.handle_sync(_note("u-1"))
    assert first is not None and "Added Jane Doe" in first.plain_text
    assert dispatcher.handle_sync(_note("u-1")) is None  # the same update again
    again = dispatcher.handle_sync(_note("u-2"))  # a new message: the duplicate warning
    assert again is not None and "looks like a contact you already have" in again.plain_text
    # The same id from another platform is another update.
    other = Request(
        platform=Platform.slack, user_id="U1", user_name="Alice", text="/help", update_id="u-1"
    )
    assert dispatcher.handle_sync(other) is not None


def _show(update_id: str | None) -> Request:
    return Request(
        platform=Platform.telegram,
        user_id="alice",
        user_name="Alice",
        text="/show Jane",
        update_id=update_id,
    )


def test_a_redelivered_read_is_answered_once(testbot: TestBot, dispatcher: Dispatcher) -> None:
    testbot.say("/add Jane Doe")
    first = dispatcher.handle_sync(_show("u-7"))
    assert first is not None and "Jane Doe" in first.plain_text
    assert dispatcher.handle_sync(_show("u-7")) is None


def test_a_message_waits_for_its_chat_and_reads_what_the_holder_committed(
    testbot: TestBot, dispatcher: Dispatcher, engine: Engine
) -> None:
    """On PostgreSQL the chat's lock and the update id are one statement: the message
    still waits for the transaction holding its chat, and reads after it committed."""
    if not shared(engine):
        pytest.skip("PostgreSQL only")
    testbot.say("/add Jane Doe")
    holding, go = threading.Event(), threading.Event()

    def hold_the_chat() -> None:
        with transaction(engine) as session:
            lock_chat(session, platform=Platform.telegram, workspace_id="", chat_id="c-1")
            session.execute(text("UPDATE contact SET title = 'CEO'"))
            holding.set()
            go.wait(timeout=30)

    holder = threading.Thread(target=hold_the_chat)
    holder.start()
    assert holding.wait(timeout=30)
    replies: list[str] = []
    request = Request(
        platform=Platform.telegram,
        user_id="alice",
        user_name="Alice",
        chat_id="c-1",
        text="/show Jane",
        update_id="u-9",
    )

    def send() -> None:
        reply = dispatcher.handle_sync(request)
        replies.append("" if reply is None else reply.plain_text)

    message = threading.Thread(target=send)
    message.start()
    _until_waiting(engine)
    assert replies == []
    go.set()
    holder.join(timeout=30)
    message.join(timeout=30)
    assert len(replies) == 1 and "CEO" in replies[0]
    assert dispatcher.handle_sync(request) is None  # recorded once


def test_reads_are_answered_while_another_connection_writes(
    testbot: TestBot, dispatcher: Dispatcher, engine: Engine
) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/leads")  # brings the scores' recency up to date: a write, once a minute
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    with engine.connect() as writer, writer.begin():  # holds the write lock throughout
        writer.execute(text("UPDATE contact SET title = 'CEO'"))
        started = time.monotonic()
        for command in ("/show Jane", "/find Jane", "/leads", "/deals", "/help"):
            assert not testbot.send(command).error, command
        # No read waited for the lock (the busy timeout is 5 s).
        assert time.monotonic() - started < SQLITE_BUSY_TIMEOUT_MS / 1000
    assert "CEO" in testbot.say("/show Jane")


def test_a_read_that_writes_runs_again_when_another_wrote_first(
    testbot: TestBot, dispatcher: Dispatcher, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/show` of an ambiguous name stores the question (a write): when another process
    wrote after the read began, the read is run again as a writer, unseen."""
    testbot.say("/add Jane Doe")
    testbot.say("/add Jane Roe")
    context = Dispatcher._context
    interrupted: list[bool] = []

    def other_process_writes(self: Dispatcher, session: Session, request: Request) -> Context:
        found = context(self, session, request)
        if not interrupted:
            interrupted.append(True)
            with transaction(engine) as other:
                other.execute(text("UPDATE contact SET title = 'CEO'"))
        return found

    monkeypatch.setattr(Dispatcher, "_context", other_process_writes)
    reply = testbot.send("/show Jane")
    assert "Which one do you mean" in reply.plain_text
    assert "Jane Roe" in testbot.press("Jane Roe").plain_text
