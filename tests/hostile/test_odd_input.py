"""Odd input gets a clear answer: invisible names, direction overrides, fullwidth letters,
negative and astronomic figures, dates at the calendar's edges."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.geocoding import OfflineGeocoder
from handlers import build_registry
from handlers.context import TeamDefaults
from handlers.dispatcher import Dispatcher
from storage.models import Contact
from tests.conftest import Clock, TestBot


def test_a_name_of_invisible_characters_is_no_name(testbot: TestBot, engine: Engine) -> None:
    reply = testbot.send("/add \u200b\u200c\u200d\u2060\ufeff")
    assert reply.error and "Give a name" in reply.plain_text
    with Session(engine) as session:
        assert session.exec(select(Contact)).all() == []


def test_direction_overrides_are_not_stored(testbot: TestBot, engine: Engine) -> None:
    assert "Added Jane Doe (c1)" in testbot.say(
        "/add \u202eJane\u202c Doe\u2066 company:\u202dAcme"
    )
    with Session(engine) as session:
        (contact,) = session.exec(select(Contact)).all()
    assert contact.name == "Jane Doe"
    assert not any(
        0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in contact.name
    )


def test_fullwidth_letters_are_the_same_name(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    warning = testbot.say("/add Ｊａｎｅ Ｄｏｅ")
    assert "This looks like a contact you already have" in warning
    assert "Jane Doe" in testbot.say("/find Ｄｏｅ")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/remind in -5 minutes call", "has already passed"),
        ("/nearby 1e308km", "could not find a place"),
        ("/nearby -5km", "The radius must be more than 0"),
        ("/nearby 100000km", "500"),
        ("/deal Far close:9999-12-31", "more than ten years"),
        ("/deal Far close:0001-01-01", "more than ten years"),
        ("/stats since 0001-01-01", "Reports cover the years"),
        ("/pipeline 0001-01-01 to 9999-12-31", "Reports cover the years"),
        ("/tz UTC-13", "I don't know the timezone"),
        ("/tz UTC-14", "I don't know the timezone"),
    ],
)
def test_figures_and_dates_past_the_edges_get_a_clear_answer(
    testbot: TestBot, text: str, answer: str
) -> None:
    reply = testbot.send(text)
    assert not reply.failed, reply.plain_text
    assert answer in reply.plain_text


def test_guessing_invite_codes_is_throttled(testbot: TestBot, clock: Clock) -> None:
    """Five wrong codes in a quarter of an hour, then a pause: 31 guesses a second were
    answered before."""
    for guess in range(5):
        assert "There is no invite code" in testbot.say(f"/join GUESS{guess}", who="Mallory")
    invite = testbot.send("/invite")
    code = next(s.text for line in invite.lines for s in line.spans if s.style == "code")
    refused = testbot.say(f"/join {code}", who="Mallory")  # even the right one waits
    assert "Too many wrong invite codes. Try again in 15 minutes" in refused
    assert "Welcome" in testbot.say(f"/join {code}", who="Bob")  # others are not held up
    clock.advance(minutes=15)  # the wrong ones have aged out: answered again
    assert "That invite code has already been used" in testbot.say(f"/join {code}", who="Mallory")
    assert "There is no invite code" in testbot.say("/join GUESS6", who="Mallory")


def test_guesses_count_across_processes(testbot: TestBot, engine: Engine, clock: Clock) -> None:
    """Two processes on one database (two dispatchers here) share the count: spreading the
    guesses over them buys nothing."""
    other = Dispatcher(
        engine, build_registry(), defaults=TeamDefaults(), clock=clock, geocoder=OfflineGeocoder()
    )
    try:
        elsewhere = TestBot(other, clock)
        for guess in range(5):
            bot = testbot if guess % 2 else elsewhere
            assert "There is no invite code" in bot.say(f"/join GUESS{guess}", who="Mallory")
        for bot in (testbot, elsewhere):
            assert "Too many wrong invite codes" in bot.say("/join GUESS9", who="Mallory")
        # /link codes are secrets too: the same count holds them back.
        assert "Too many wrong link codes" in elsewhere.say("/link AAAAAAAAAA", who="Mallory")
    finally:
        other.close()
