"""Several processes on one SQLite file, as people run them (issue 15, item 4): four
`crmbot chat` at once, and `crmbot run` (Telegram, long polling from the stand-in Bot API)
beside two `crmbot chat`. Reads take no lock and writers wait for theirs: every message
is answered, none with an apology or a lock error, no row and no registration is lost,
and no log says the database was locked."""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from bench.botapi import BotApi, message_update
from bench.processes import TOKEN
from storage.db import make_engine
from storage.models import Contact, Member

ROUNDS = 20  # an /add, its card and the leads list each
# What no output or log may say: the lock surfacing, an apology, a lost registration.
BAD = re.compile(r"locked|went wrong|not in a team|Too much is going on|Traceback", re.I)
TIMEOUT = 240.0
TERMINALS = ("Eve", "Fay")  # beside `crmbot run`


def _name(rng: random.Random) -> str:
    """A made-up name no other one in the run resembles (no duplicate warnings)."""

    def word() -> str:
        return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(4))

    return f"{word().capitalize()} {word().capitalize()}"


def _script(who: str, rng: random.Random) -> str:
    lines = []
    for _ in range(ROUNDS):
        name = _name(rng)
        lines += [f"/add {name} #{who.lower()}", f"/show {name}", "/leads"]
    return "\n".join(lines) + "\n"


def _env(database: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "TELEGRAM_"))}
    env.update(DATABASE_URL=f"sqlite:///{database}", LOG_LEVEL="INFO", **settings)
    return env


def _chat(database: Path, who: str, folder: Path) -> subprocess.Popen[str]:
    script = folder / f"{who}.in"
    script.write_text(_script(who, random.Random(who)), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--as", who, "--log-file", f"{folder / who}.log"],
        stdin=script.open(encoding="utf-8"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(database),
    )


def _check_chat(process: subprocess.Popen[str], out: str, who: str, folder: Path) -> None:
    log = Path(f"{folder / who}.log").read_text(encoding="utf-8")
    assert process.returncode == 0, out[-2000:]
    assert not BAD.search(out), BAD.search(out)
    assert not BAD.search(log), log[-2000:]
    assert len(re.findall(r"^Added ", out, re.M)) == ROUNDS, out[-2000:]


def _counts(database: Path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            contacts = session.exec(select(func.count()).select_from(Contact)).one()
            members = session.exec(select(func.count()).select_from(Member)).one()
    finally:
        engine.dispose()
    return contacts, members


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    return path


def test_four_terminals_on_one_file(database: Path, tmp_path: Path) -> None:
    chatters = ("Ann", "Ben", "Cat", "Dan")
    processes = {who: _chat(database, who, tmp_path) for who in chatters}
    for who, process in processes.items():
        out, _ = process.communicate(timeout=TIMEOUT)
        _check_chat(process, out, who, tmp_path)
    assert _counts(database) == (len(chatters) * ROUNDS, len(chatters))


@pytest.fixture
async def botapi() -> AsyncIterator[BotApi]:
    api = BotApi()
    await api.start()
    yield api
    await api.stop()


async def test_run_beside_terminals(database: Path, tmp_path: Path, botapi: BotApi) -> None:
    """`crmbot run` answers Telegram (its scheduler running too) while two terminals work
    on the same file."""
    telegram_users = range(101, 106)
    log = tmp_path / "run.log"
    run = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w", encoding="utf-8"),
        env=_env(
            database,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=botapi.base_url("run"),
            OPEN_SIGNUP="true",
        ),
    )
    try:
        chats = {who: _chat(database, who, tmp_path) for who in TERMINALS}
        rng = random.Random(5)
        update_ids = iter(range(1, 10**6))
        for user in telegram_users:
            await botapi.push(message_update(next(update_ids), user, f"/start Team {user}"))
        # Telegram's updates are handled at once (a person's next message waits for
        # nothing): registered first, as a person waits for the welcome.
        await botapi.until(
            lambda: len(botapi.of("sendMessage")) >= len(telegram_users), timeout=TIMEOUT
        )
        for _ in range(ROUNDS):
            for user in telegram_users:
                await botapi.push(message_update(next(update_ids), user, f"/add {_name(rng)}"))
                await botapi.push(message_update(next(update_ids), user, "/leads"))
        expected = len(botapi.updates)
        await botapi.until(lambda: len(botapi.of("sendMessage")) >= expected, timeout=TIMEOUT)
        for who, process in chats.items():
            out, _ = await asyncio.to_thread(process.communicate, timeout=TIMEOUT)
            _check_chat(process, out, who, tmp_path)
    finally:
        run.terminate()
        # Off the loop: the stand-in answers the bot's last calls as it stops.
        await asyncio.to_thread(run.wait, 60)
    replies = [str(params["text"]) for params in botapi.of("sendMessage")]
    assert len(replies) == expected
    assert not [reply for reply in replies if BAD.search(reply)]
    assert sum(reply.startswith("Added ") for reply in replies) == len(telegram_users) * ROUNDS
    assert not BAD.search(log.read_text(encoding="utf-8"))
    people = len(TERMINALS) + len(telegram_users)
    assert _counts(database) == (people * ROUNDS, people)
