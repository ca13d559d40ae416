"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when
CRM_TEST_POSTGRES_URL is set), an injected clock, and `testbot`, which pushes a message
through the dispatcher and hands back the reply (after Errbot's testbot)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from bot.geocoding import OfflineGeocoder
from handlers import build_registry
from handlers.context import ChatType, Request, SharedContact, TeamDefaults
from handlers.dispatcher import Dispatcher
from handlers.reply import Button, Reply
from storage.db import in_transaction, make_engine, upgrade
from storage.models import Platform


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist, each worker gets a database of its own next to the given one
    (tests truncate every table between them, which two workers on one database would
    do to each other); the processes tests start read the variable, so it is set too."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    given = make_url(url)
    name = f"{given.database}_{worker}"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if known.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    mine = given.set(database=name).render_as_string(hide_password=False)
    os.environ["CRM_TEST_POSTGRES_URL"] = mine
    return mine


POSTGRES_URL = _worker_database(os.environ.get("CRM_TEST_POSTGRES_URL"))
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


def _backends() -> list[object]:
    skip = pytest.mark.skipif(not POSTGRES_URL, reason="CRM_TEST_POSTGRES_URL is not set")
    return ["sqlite", pytest.param("postgres", marks=[skip, pytest.mark.postgres])]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "crm.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    assert POSTGRES_URL
    engine = make_engine(POSTGRES_URL)
    upgrade(engine)
    yield engine
    engine.dispose()


def end_connections(engine: Engine) -> int:
    """End every connection to the engine's PostgreSQL database (its pooled ones among
    them), as a restart of PostgreSQL would, waiting until each is gone; how many. Asked
    on a connection of its own, outside the engine's pool."""
    asking = create_engine(engine.url, poolclass=NullPool)
    try:
        with asking.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
                    "FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        asking.dispose()
    return int(ended)


def _truncate_all(engine: Engine) -> None:
    # In a retried transaction: a test may have left dead connections in the pool
    # (`end_connections`).
    in_transaction(engine, _truncate)


def _truncate(session: Session) -> None:
    tables = [
        row[0]
        for row in session.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        )
    ]
    session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=_backends())
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Engine]:
    if request.param == "postgres":
        pg: Engine = request.getfixturevalue("postgres_engine")
        _truncate_all(pg)
        yield pg
        return
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    sqlite = make_engine(f"sqlite:///{path}")
    yield sqlite
    sqlite.dispose()


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class TestBot:
    """Push a message as someone, get the reply; press buttons of the last reply."""

    __test__ = False  # not a test class, despite the name

    dispatcher: Dispatcher
    clock: Clock
    platform: Platform = Platform.telegram
    last: dict[str, Reply] = field(default_factory=dict)

    def request(self, who: str, **event: Any) -> Reply | None:
        request = Request(
            platform=self.platform,
            user_id=who.lower(),
            user_name=who,
            chat_id=who.lower(),
            **event,
        )
        reply = self.dispatcher.handle_sync(request)
        if reply is not None:
            self.last[who] = reply
        return reply

    def send(self, text: str, *, who: str = "Alice", sent_at: datetime | None = None) -> Reply:
        """`sent_at`: when the platform says the message was sent (None: unknown)."""
        reply = self.request(who, text=text, sent_at=sent_at)
        assert reply is not None
        return reply

    def say(self, text: str, *, who: str = "Alice", sent_at: datetime | None = None) -> str:
        """The reply's plain text."""
        return self.send(text, who=who, sent_at=sent_at).plain_text

    def press(self, label: str, *, who: str = "Alice") -> Reply:
        """Press the button of `who`'s last reply whose label starts with `label`."""
        button = self.button(label, who=who)
        reply = self.request(who, button=button.encode())
        assert reply is not None
        return reply

    def press_encoded(self, data: str, *, who: str = "Alice") -> Reply:
        """Press a button by its encoded data (a stale or forged button)."""
        reply = self.request(who, button=data)
        assert reply is not None
        return reply

    def button(self, label: str, *, who: str = "Alice") -> Button:
        buttons = self.last[who].all_buttons
        matches = [b for b in buttons if b.label.startswith(label)]
        assert matches, f"no button {label!r} in {[b.label for b in buttons]}"
        return matches[0]

    def in_group(
        self, text: str, *, who: str = "Alice", chat_id: str = "-100", chat_name: str = "Sales"
    ) -> str:
        """Send `text` in a group chat (`/announce here` makes it an announcement chat)."""
        reply = self.dispatcher.handle_sync(
            Request(
                platform=self.platform,
                user_id=who.lower(),
                user_name=who,
                chat_id=chat_id,
                chat_type=ChatType.group,
                chat_name=chat_name,
                text=text,
            )
        )
        assert reply is not None
        return reply.plain_text

    def location(self, lat: float, lon: float, *, who: str = "Alice") -> Reply:
        reply = self.request(who, location=(lat, lon))
        assert reply is not None
        return reply

    def contact_card(self, card: SharedContact, *, who: str = "Alice") -> Reply:
        reply = self.request(who, contact=card)
        assert reply is not None
        return reply

    def join(self, who: str, role: str = "rep", *, inviter: str = "Alice") -> None:
        """Make `who` a member: `inviter` sends /invite, `who` sends /join CODE."""
        invite = self.send(f"/invite {role}", who=inviter)
        code = next(
            span.text for line in invite.lines for span in line.spans if span.style == "code"
        )
        reply = self.say(f"/join {code}", who=who)
        assert "Welcome" in reply, reply


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(engine: Engine, clock: Clock) -> Iterator[Dispatcher]:
    dispatcher = Dispatcher(
        engine, build_registry(), defaults=TeamDefaults(), clock=clock, geocoder=OfflineGeocoder()
    )
    yield dispatcher
    dispatcher.close()


@pytest.fixture
def testbot(dispatcher: Dispatcher, clock: Clock) -> TestBot:
    """A bot whose first user, Alice, has created the team (she is its admin)."""
    bot = TestBot(dispatcher, clock)
    assert "created the team" in bot.say("/start Acme Sales")
    return bot


@pytest.fixture
def open_signup_bot(engine: Engine, clock: Clock) -> Iterator[TestBot]:
    """A hosted installation: every stranger's /start creates a separate team."""
    dispatcher = Dispatcher(
        engine,
        build_registry(),
        defaults=TeamDefaults(open_signup=True),
        clock=clock,
        geocoder=OfflineGeocoder(),
    )
    yield TestBot(dispatcher, clock)
    dispatcher.close()


__all__ = ["START", "ChatType", "Clock", "TestBot"]
