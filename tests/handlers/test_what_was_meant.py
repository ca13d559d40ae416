"""What a rep typed on a phone, and what they meant: each command stores that, or says
what it could not use and how to write it, rather than storing part of it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.conftest import TestBot
from tests.handlers.stored import last_contact

TEAM = 1  # Alice's, the first on a fresh database


@pytest.mark.parametrize(
    ("typed", "refused", "again"),
    [
        ("/tag c1 #hot 🔥", "“🔥” is not a tag", "/tag c1 #hot"),
        ("/tag Greta Lind #hot vip", "“vip” has no #", "/tag Greta Lind #hot #vip"),
        ("/tag Greta #hot, vip, 🔥", "“🔥” is not a tag", "/tag Greta #hot #vip"),
        ("/untag c1 #vip 🔥", "“🔥” is not a tag", "/untag c1 #vip"),
        ("/untag Greta Lind #vip hot", "“hot” has no #", "/untag Greta Lind #vip #hot"),
    ],
)
def test_a_word_after_the_tags_is_refused_not_dropped(
    testbot: TestBot, engine: Engine, typed: str, refused: str, again: str
) -> None:
    testbot.say("/add Greta Lind #vip")
    reply = testbot.say(typed)
    assert refused in reply and again in reply
    assert "did not" in reply and "Tagged" not in reply and "Untagged" not in reply
    assert last_contact(engine, TEAM)["tags"] == "#vip"  # nothing changed


def test_tags_listed_with_commas_are_all_tags(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Søren Kierkegaard #hot, #vip")
    assert last_contact(engine, TEAM)["name"] == "Søren Kierkegaard"
    assert last_contact(engine, TEAM)["tags"] == "#hot #vip"
    assert "Untagged Søren Kierkegaard (c1): #hot #vip" in testbot.say("/untag Søren #hot, #vip")
    assert "Tagged Søren Kierkegaard (c1): #fair" in testbot.say("/tag #fair Søren Kierkegaard")
