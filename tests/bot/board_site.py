"""The board's web app on a loopback port over the test database, a team to look at, and
Telegram's initData signed as Telegram signs it (with a test bot token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Engine

from bench.botapi import init_data as telegram_init_data
from bot.board import BoardApp
from bot.web import Server
from handlers.context import ChatType, Request
from handlers.dispatcher import Dispatcher
from storage.models import Platform
from tests.conftest import Clock

BOT_TOKEN = "7000001:AAFakeBoardTokenForTestsOnly-0123456"
ALICE, BOB, CAROL = 111, 222, 333  # admin, rep, rep (Telegram user ids)
MALLORY = 999  # the admin of another team
NAMES = {ALICE: "Alice", BOB: "Bob", CAROL: "Carol", MALLORY: "Mallory"}


def init_data(user_id: int, *, at: datetime, token: str = BOT_TOKEN) -> str:
    """Telegram's initData for one of the team, signed with the test bot's token."""
    return telegram_init_data(user_id, at=at, token=token, name=NAMES.get(user_id, ""))


def say(dispatcher: Dispatcher, user_id: int, text: str, *, group: bool = False) -> str:
    reply = dispatcher.handle_sync(
        Request(
            platform=Platform.telegram,
            user_id=str(user_id),
            user_name=NAMES[user_id],
            chat_id="-100" if group else str(user_id),
            chat_type=ChatType.group if group else ChatType.private,
            chat_name="Sales" if group else "",
            text=text,
        )
    )
    assert reply is not None
    return reply.plain_text


def invite_code(dispatcher: Dispatcher, role: str) -> str:
    text = say(dispatcher, ALICE, f"/invite {role}")
    return next(word for word in text.split() if word.isupper() and len(word) >= 6)


@dataclass
class Team:
    """Alice (admin) with Bob and Carol (reps) in Acme; Mallory alone in another team."""

    deals: dict[str, int]


def make_team(dispatcher: Dispatcher, *, other_team: bool = True) -> Team:
    say(dispatcher, ALICE, "/start Acme Sales")
    for user_id in (BOB, CAROL):
        code = invite_code(dispatcher, "rep")
        assert "Welcome" in say(dispatcher, user_id, f"/join {code}")
    say(dispatcher, ALICE, "/announce here", group=True)
    deals: dict[str, int] = {}
    for user_id, title in (
        (BOB, "Bäckerei Groß oven <b>"),
        (BOB, "Café Sonne espresso bar"),
        (CAROL, "Carol's kiosk"),
        (ALICE, "Alice's warehouse"),
    ):
        text = say(dispatcher, user_id, f"/deal {title} 12.000 €")
        deals[title] = int(text.split("(d", 1)[1].split(")", 1)[0])
    if other_team:
        dispatcher.defaults = replace(dispatcher.defaults, open_signup=True)
        say(dispatcher, MALLORY, "/start Rivals")
        deals["rival"] = int(
            say(dispatcher, MALLORY, "/deal Rival deal 5k").split("(d", 1)[1].split(")", 1)[0]
        )
    return Team(deals)


@asynccontextmanager
async def board_site(engine: Engine, dispatcher: Dispatcher, clock: Clock) -> AsyncIterator[str]:
    """The board on a free loopback port; yields its base URL."""
    server = Server(port=0)
    BoardApp(engine, dispatcher, telegram_token=BOT_TOKEN, clock=clock).register(server)
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()
