"""The dispatcher's promises: at-most-once updates, nothing half-written, no traceback in
chat, and no input that makes it raise."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, event
from sqlmodel import Session, col, select

from handlers import build_registry
from handlers.context import Context, Request
from handlers.dispatcher import Dispatcher
from handlers.errors import CommandError
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Reply
from storage.db import make_engine
from storage.models import Platform, ProcessedUpdate
from tests.conftest import TestBot, end_connections


def _request(text: str, update_id: str | None = None, who: str = "alice") -> Request:
    return Request(
        platform=Platform.telegram,
        user_id=who,
        user_name=who.capitalize(),
        text=text,
        update_id=update_id,
    )


def test_a_redelivered_update_changes_nothing_twice(testbot: TestBot) -> None:
    dispatcher = testbot.dispatcher
    first = dispatcher.handle_sync(_request("/add Jane Doe", update_id="1001"))
    assert first is not None and "Added Jane Doe" in first.plain_text
    assert dispatcher.handle_sync(_request("/add Jane Doe", update_id="1001")) is None
    assert "(c2)" not in testbot.say("/find Jane Doe")
    # The same id on another platform is another update.
    other = Request(
        platform=Platform.slack, user_id="x", user_name="X", text="/help", update_id="1001"
    )
    assert dispatcher.handle_sync(other) is not None


def test_a_refused_command_is_still_recorded_as_processed(testbot: TestBot) -> None:
    dispatcher = testbot.dispatcher
    refused = dispatcher.handle_sync(_request("/add", update_id="7"))
    assert refused is not None and refused.error
    assert dispatcher.handle_sync(_request("/add", update_id="7")) is None


def _explode(ctx: Context, args: Args) -> Reply:
    """Write something, then fail unexpectedly."""
    ctx.registry.commands["add"].func(ctx, args)
    raise RuntimeError("boom: secret internals")


def _refuse(ctx: Context, args: Args) -> Reply:
    """Write something, then refuse."""
    ctx.registry.commands["add"].func(ctx, args)
    raise CommandError("No, and nothing was kept.")


def test_an_unexpected_error_is_logged_and_apologised_for_with_nothing_written(
    testbot: TestBot, caplog: pytest.LogCaptureFixture
) -> None:
    testbot.dispatcher.registry.command("explode", _explode)
    with caplog.at_level(logging.ERROR):
        reply = testbot.send("/explode Jane Doe")
    assert reply.error
    assert "Sorry, something went wrong" in reply.plain_text and "error " in reply.plain_text
    assert "boom" not in reply.plain_text and "Traceback" not in reply.plain_text
    error_id = reply.plain_text.split("error ")[1][:8]
    assert error_id in caplog.text and "boom: secret internals" in caplog.text
    assert "Nothing matches" in testbot.say("/find Jane Doe")


def test_a_refusal_rolls_back_what_the_command_wrote(testbot: TestBot) -> None:
    testbot.dispatcher.registry.command("refuse", _refuse)
    assert "nothing was kept" in testbot.say("/refuse Jane Doe")
    assert "Nothing matches" in testbot.say("/find Jane Doe")


def test_a_failure_is_apologised_for_and_logged_once(
    testbot: TestBot, caplog: pytest.LogCaptureFixture
) -> None:
    """On SQLite a failed command runs again in a savepoint for its reply: still one
    error, one id, one log line, and the update recorded once."""
    testbot.dispatcher.registry.command("explode", _explode)
    with caplog.at_level(logging.ERROR):
        reply = testbot.dispatcher.handle_sync(_request("/explode Jane Doe", update_id="31"))
    assert reply is not None and reply.failed
    assert [r.getMessage() for r in caplog.records].count(
        f"unexpected error {reply.plain_text.split('error ')[1][:8]}"
    ) == 1
    assert len(caplog.records) == 1
    assert testbot.dispatcher.handle_sync(_request("/explode Jane Doe", update_id="31")) is None


def test_a_failed_command_takes_back_only_its_own_writes(
    testbot: TestBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The button that re-ran it stays used up (one press, one effect)."""
    testbot.say("/add Jane Doe jane@acme.de")
    testbot.say("/add Jane Doe jane@acme.de")
    button = testbot.button("Add anyway").encode()
    commands = testbot.dispatcher.registry.commands
    add = commands["add"]

    def add_then_refuse(ctx: Context, args: Args) -> Reply:
        add.func(ctx, args)
        raise CommandError("No, and nothing was kept.")

    monkeypatch.setitem(commands, "add", replace(add, func=add_then_refuse))
    assert "nothing was kept" in testbot.press_encoded(button).plain_text
    assert "expired" in testbot.press_encoded(button).plain_text
    assert "(c2)" not in testbot.say("/find Jane Doe")


def test_a_command_that_succeeds_on_sqlite_runs_without_a_savepoint(
    testbot: TestBot, engine: Engine
) -> None:
    """SQLite copies each page a savepoint changes to a sub-journal first: a command
    only needs one when it fails (handlers/dispatcher.py)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps the savepoint (the chat's lock)")
    testbot.say("/add Jane Doe")
    statements: list[str] = []

    def traced(dbapi_connection: Any, _record: object, _proxy: object) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(engine, "checkout", traced)
    try:
        assert "Logged" in testbot.say("/note c1 called about the quote")
    finally:
        event.remove(engine, "checkout", traced)
        engine.dispose()
    assert any(s.startswith("INSERT INTO activity") for s in statements)
    assert not any("SAVEPOINT" in s.upper() for s in statements)


def test_a_command_that_finds_its_connection_dead_runs_again_once_on_a_new_one(
    testbot: TestBot, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL restarted under the bot: its pooled connections are dead, and the pool
    does not ping them before use (storage/db.py make_engine)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    testbot.say("/add Jane Doe")
    _pooled_and_ended(engine)
    with caplog.at_level(logging.WARNING):
        added = testbot.dispatcher.handle_sync(
            _request("/add John Roe company:Müller & Söhne", "41")
        )
        assert added is not None and not added.error
        assert "Added John Roe (c2)" in added.plain_text
        _pooled_and_ended(engine)
        shown = testbot.dispatcher.handle_sync(_request("/show c2", "42"))
        assert shown is not None and not shown.error and "John Roe" in shown.plain_text
    assert [r.getMessage() for r in caplog.records] == 2 * [
        "the database connection was lost; trying again on a new one"
    ]
    assert (
        testbot.dispatcher.handle_sync(_request("/add John Roe company:Müller & Söhne", "41"))
        is None
    )
    with Session(engine) as session:
        recorded = session.exec(
            select(ProcessedUpdate.external_id).where(
                col(ProcessedUpdate.external_id).in_(["41", "42"])
            )
        ).all()
    assert sorted(recorded) == ["41", "42"]
    assert "(c3)" not in testbot.say("/find Roe") and "(c2)" in testbot.say("/find Roe")


def test_a_connection_lost_while_saving_is_not_said_to_have_changed_nothing(
    testbot: TestBot, engine: Engine
) -> None:
    """The COMMIT may have reached the database before its connection went: the reply
    says it can't tell, instead of "Nothing was changed", and the command is not run again."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    testbot.say("/add Jane Doe")

    def end_itself(conn: Connection) -> None:
        conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    event.listen(engine, "commit", end_itself)
    try:
        reply = testbot.dispatcher.handle_sync(_request("/note Jane called back", "51"))
    finally:
        event.remove(engine, "commit", end_itself)
    assert reply is not None and reply.error
    assert "can't tell whether that was saved" in reply.plain_text
    assert "Nothing was changed" not in reply.plain_text
    assert testbot.say("/show Jane").count("called back") <= 1


def _pooled_and_ended(engine: Engine) -> None:
    """Two connections made and put back in the pool, then ended by the database."""
    with engine.connect() as one, engine.connect() as two:
        one.exec_driver_sql("SELECT 1")
        two.exec_driver_sql("SELECT 1")
    assert end_connections(engine) >= 2


def test_stale_and_forged_buttons(testbot: TestBot) -> None:
    for data in ("zz:1", "pk:999:c1", "pk:abc", "fa:", "st:x:y", "st:1", "sh:", ""):
        reply = testbot.press_encoded(data)
        assert reply.error or "Which" not in reply.plain_text, data


def test_pending_buttons_expire_and_belong_to_their_member(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe jane@acme.de")
    testbot.say("/add Jane Doe jane@acme.de")
    button = testbot.button("Add anyway").encode()
    testbot.join("Bob")
    assert "expired" in testbot.press_encoded(button, who="Bob").plain_text
    testbot.clock.advance(days=3)
    assert "expired" in testbot.press_encoded(button).plain_text


def test_unsupported_messages_get_a_helpful_line(testbot: TestBot) -> None:
    reply = testbot.dispatcher.handle_sync(
        Request(platform=Platform.telegram, user_id="alice", user_name="Alice")
    )
    assert reply is not None
    assert reply.plain_text.splitlines() == [
        "What I understand:",
        "• commands: /help lists them, /help add explains one",
        "• a location you share (📎 → Location): your prospects nearby",
        "• a contact card you share (📎 → Contact): logged like /add",
        "• a CSV, Excel or vCard file you send: imported after a preview (/import)",
    ]


async def test_handle_runs_off_the_event_loop(testbot: TestBot) -> None:
    replies = await asyncio.gather(
        *(testbot.dispatcher.handle(_request(f"/add Person {i}")) for i in range(8))
    )
    assert all(r is not None and "Added Person" in r.plain_text for r in replies)
    assert "Latest activity" in testbot.say("/feed 20")


COMMANDS = [
    "/add",
    "/find",
    "/show",
    "/edit",
    "/note",
    "/call",
    "/tag",
    "/untag",
    "/leads",
    "/deal",
    "/deals",
    "/stage",
    "/won",
    "/lost",
    "/feed",
    "/team",
    "/invite",
    "/role",
    "/stages",
    "/stages add",
    "/stages rename",
    "/join",
    "/help",
    "/announce",
    "",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=st.sampled_from(COMMANDS), rest=st.text(max_size=80))
def test_no_input_makes_the_dispatcher_raise_or_apologise(
    testbot: TestBot, command: str, rest: str
) -> None:
    reply = testbot.dispatcher.handle_sync(_request(f"{command} {rest}"))
    assert reply is not None
    assert "something went wrong" not in reply.plain_text, (command, rest)


def test_the_dispatcher_survives_an_unreachable_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 2}
    )
    dispatcher = Dispatcher(engine, build_registry())
    with caplog.at_level(logging.ERROR):
        reply = dispatcher.handle_sync(_request("/help"))
    dispatcher.close()
    assert reply is not None and "something went wrong" in reply.plain_text
    assert "OperationalError" in caplog.text


def test_control_characters_are_dropped_before_anything_is_stored(testbot: TestBot) -> None:
    added = testbot.say("/add Nul\x00 Byte\x1b[31m company:Ac\x00me")
    assert "Added Nul Byte[31m" in added and "Acme" in added
    assert "Nul Byte" in testbot.say("/find nul byte")


def test_a_registry_builder_is_called_once_by_the_first_requests(engine: Engine) -> None:
    built: list[Registry] = []
    first = threading.Barrier(4)

    def registry() -> Registry:
        built.append(build_registry())
        return built[-1]

    dispatcher = Dispatcher(engine, registry)
    try:

        def ask() -> Registry:
            first.wait()  # four worker threads at once, as four first updates would
            return dispatcher.registry

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: ask(), range(4)))
        (made,) = built
        assert all(answer is made for answer in answers)
        reply = dispatcher.handle_sync(_request("/help"))
        assert reply is not None and "/start" in reply.plain_text  # the registry answered
    finally:
        dispatcher.close()
