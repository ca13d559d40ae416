"""Buttons are pressed twice, forged and replayed: each effect happens once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from handlers.dispatcher import STALE_BUTTON
from storage.models import Activity, ActivityKind, Contact
from tests.conftest import TestBot
from tests.hostile.conftest import count, no_apology, race, same_press


def _notes(engine: Engine) -> int:
    return count(engine, Activity, Activity.kind == ActivityKind.note)


def test_add_anyway_pressed_twice_adds_one_contact(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    testbot.send("/add Jane Doe")
    anyway = testbot.button("Add anyway")
    assert "Added Jane Doe (c2)" in testbot.press_encoded(anyway.encode()).plain_text
    assert STALE_BUTTON in testbot.press_encoded(anyway.encode()).plain_text
    assert count(engine, Contact) == 2


def test_a_pick_pressed_twice_logs_one_note(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe company:Acme")
    testbot.say("/add Jane Doe company:Initech")
    testbot.send("/note Jane Doe wants a quote")
    first, second = testbot.last["Alice"].all_buttons[:2]
    assert "Logged: noted Jane Doe (c1)" in testbot.press_encoded(first.encode()).plain_text
    # The same button again, or the other candidate of the same question: used up.
    assert STALE_BUTTON in testbot.press_encoded(first.encode()).plain_text
    assert STALE_BUTTON in testbot.press_encoded(second.encode()).plain_text
    assert _notes(engine) == 1


def test_add_anyway_pressed_at_once_adds_one_contact(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    testbot.send("/add Jane Doe")
    replies = race(testbot, "Alice", same_press(testbot.button("Add anyway").encode()))
    no_apology(replies)
    assert sum("Added Jane Doe" in r for r in replies) == 1, replies
    assert count(engine, Contact) == 2


def test_a_pick_pressed_at_once_logs_one_note(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe company:Acme")
    testbot.say("/add Jane Doe company:Initech")
    testbot.send("/note Jane Doe wants a quote")
    replies = race(testbot, "Alice", same_press(testbot.button("Jane Doe").encode()))
    no_apology(replies)
    assert _notes(engine) == 1


@pytest.mark.parametrize(
    "data",
    [
        "fa:12345678901234567890123",
        "pk:12345678901234567890123:c1",
        "st:12345678901234567890123:1",
        "st:1:99999999999999999999",
        "dn:12345678901234567890123",
        "un:12345678901234567890123",
        "fa:²",
        "st:¹:²",
        "st:" + "1" * 5000,
        "fa:\ud800",
    ],
)
def test_a_forged_button_is_refused_calmly(testbot: TestBot, data: str) -> None:
    testbot.say("/deal Website 12k")
    reply = testbot.press_encoded(data)
    assert not reply.failed, reply.plain_text


def test_log_visit_pressed_twice_or_at_once_logs_one_visit(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.say("/add Jane Doe city:Berlin")
    testbot.location(52.52, 13.40)
    testbot.send("/nearby")
    visit = testbot.button("Log visit c1").encode()
    replies = race(testbot, "Alice", same_press(visit))
    no_apology(replies)
    assert (
        "Your visit to Jane Doe today is logged already."
        in testbot.press_encoded(visit).plain_text
    )
    assert count(engine, Activity, Activity.kind == ActivityKind.visit) == 1
