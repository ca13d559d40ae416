"""Whatever arrives, through the whole grammar and dispatcher: a clear answer, never an
apology, never a traceback in the log, and a refusal leaves the data as it was.

The words are what a hostile sender (or a broken client) puts in: lone surrogates,
zero-width and direction characters, control characters, figures far past any bound,
dates at the calendar's edges, ids that no row has, markup of every platform."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from handlers import build_registry
from storage import models
from tests.conftest import TestBot

HOSTILE_WORDS = [
    "\ud800",
    "\udfff",
    "a\ud83dz",
    "\u200b",
    "\u200b\u200d\ufeff",
    "\u202eevil\u202c",
    "\u2066x\u2069",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    "9" * 30,
    "99999999999999999999999",
    "1e308",
    "-1",
    "-5k",
    "0",
    "²",
    "١٢٣",
    "NaN",
    "inf",
    "€99999999999999999",
    "1,000,000,000,000,000,000,000",
    "999999999999m",
    "0x10",
    "0001-01-01",
    "9999-12-31",
    "31.12.9999",
    "29.02.2027",
    "Feb 30",
    "24:61",
    "in 99999 years",
    "in -5 minutes",
    "UTC-14",
    "d99999999999999999999",
    "c0",
    "d1",
    "c1",
    "1",
    "#",
    "##",
    "#" + "x" * 200,
    "amount:",
    "close:",
    "due:",
    "stage:",
    "owner:@",
    ":",
    "<!channel>",
    "<b>",
    "&amp;",
    "*bold*",
    "@Alice",
    "Jane",
    "Doe",
    "Jane Doe",
    "won",
    "x" * 300,
    "🙂",
    "👨‍👩‍👧",
    "Ｊａｎｅ",
]
words = st.one_of(
    st.sampled_from(HOSTILE_WORDS),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=8),
)
messages = st.lists(words, max_size=8).map(" ".join)
COMMANDS = sorted(set(build_registry().commands) - {"start", "join"})
BUTTONS = [*sorted(build_registry().buttons), "pk", "fa"]
ARGS = st.one_of(
    st.sampled_from(["1", "2", "0", "c1", "d1", "60", "99999999999999999999999", "", "-1"]),
    st.text(max_size=6),
)
COUNTED = (
    models.Activity,
    models.Change,
    models.Contact,
    models.ContactTag,
    models.Deal,
    models.DealTag,
    models.Member,
    models.Outbox,
    models.Reminder,
    models.StageChange,
    models.Tag,
    models.Team,
)
ON_THE_BOT = settings(
    deadline=None,
    max_examples=10,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in COUNTED
        }


@pytest.fixture
def hostile_bot(testbot: TestBot) -> TestBot:
    for line in (
        "/add Jane Doe company:Acme #hot",
        "/deal Website Jane Doe 12k",
        "/remind Jane tomorrow 9am call her",
    ):
        testbot.say(line)
    testbot.join("Bob")
    return testbot


def _answered(
    bot: TestBot, engine: Engine, caplog: pytest.LogCaptureFixture, **event: str
) -> None:
    before = _counts(engine)
    caplog.clear()
    reply = bot.request("Alice", **event)
    assert reply is not None
    assert not reply.failed, (event, reply.plain_text)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == [], event
    if reply.error:
        assert _counts(engine) == before, (event, reply.plain_text)


@pytest.mark.parametrize("command", COMMANDS)
@settings(ON_THE_BOT)
@given(text=messages)
def test_any_words_after_any_command_get_an_answer(
    hostile_bot: TestBot,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    command: str,
    text: str,
) -> None:
    _answered(hostile_bot, engine, caplog, text=f"/{command} {text}")


@settings(ON_THE_BOT, max_examples=40)
@given(text=messages)
def test_any_text_at_all_gets_an_answer(
    hostile_bot: TestBot, engine: Engine, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    _answered(hostile_bot, engine, caplog, text=text)


@settings(ON_THE_BOT, max_examples=60)
@given(code=st.sampled_from(BUTTONS), args=st.lists(ARGS, max_size=3))
def test_any_button_data_gets_an_answer(
    hostile_bot: TestBot,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    code: str,
    args: list[str],
) -> None:
    _answered(hostile_bot, engine, caplog, button=":".join([code, *args]))
