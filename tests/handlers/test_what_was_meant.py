"""What a rep typed on a phone, and what they meant: each command stores that, or says
what it could not use and how to write it, rather than storing part of it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from storage.db import transaction
from storage.models import Team
from tests.conftest import TestBot
from tests.handlers.stored import last_contact, last_deal, last_reminder

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


def test_a_reminder_is_about_the_contact_its_text_names(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Greta Lind company:Nordic AB")
    reply = testbot.say("/remind tomorrow 9:00 call Greta Lind about the quote")
    assert "call Greta Lind about the quote — Greta Lind (c1)" in reply
    assert last_reminder(engine, TEAM)["about"] == "Greta Lind"
    testbot.say("/deal Website Greta Lind 5.000 €")
    testbot.say("/remind friday send the mockups for d1")
    assert last_reminder(engine, TEAM)["about"] == "Website"


@pytest.mark.parametrize(
    "text",
    [
        "call Greta about the quote",  # a first name alone: one of many, perhaps
        "call Greta Lind and José García",  # two people: which is no guess
        "call José García back",  # two José Garcías
        "order C1 parts",  # C1 is a product; the bot writes c1
    ],
)
def test_a_reminder_links_no_guess(testbot: TestBot, engine: Engine, text: str) -> None:
    testbot.say("/add Greta Lind")
    testbot.say("/add José García company:Acme")
    testbot.say("/add José García company:Initech")
    reply = testbot.say(f"/remind tomorrow 9:00 {text}")
    assert f"tomorrow): {text}\n" in reply
    stored = last_reminder(engine, TEAM)
    assert stored["text"] == text and "about" not in stored


@pytest.mark.parametrize(
    ("typed", "logged"),
    [
        # The possessive's word was taken into the name, a closer fuzzy match than the name.
        ("/note José’s Frau hat angerufen", "noted on José García: Frau hat angerufen"),
        ("/call Greta's assistant, moved the demo", "called Greta Lind: assistant, moved the"),
        ("/note Greta Lind’s boss wants 10% off", "noted on Greta Lind: boss wants 10% off"),
    ],
)
def test_a_possessive_is_the_name_and_its_word_the_text(
    testbot: TestBot, typed: str, logged: str
) -> None:
    testbot.say("/add Greta Lind company:Nordic AB")
    testbot.say("/add José García")
    assert "Logged:" in testbot.say(typed)
    assert logged in testbot.say("/feed 1")


@pytest.mark.parametrize(
    ("typed", "unused"),
    [
        ("/edit Greta Lind Stockholm status:customer", "Stockholm"),  # city: left out
        ("/edit Greta Stockholm status:customer", "Stockholm"),
        ("/tag Greta Lind Stockholm #fair", "Stockholm"),
        ("/delete Greta Lind Nordic", "Nordic"),
    ],
)
def test_a_word_after_a_name_is_not_swallowed_by_it(
    testbot: TestBot, engine: Engine, typed: str, unused: str
) -> None:
    testbot.say("/add Greta Lind")
    reply = testbot.say(typed)
    assert f"I don't know what “{unused}” is for" in reply
    assert last_contact(engine, TEAM) == {"name": "Greta Lind", "status": "lead"}


def test_a_misspelt_name_is_still_the_name(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Greta Lind")
    testbot.say("/add Anna")
    testbot.say("/add Anna Bergmann")
    assert "status: customer, was lead" in testbot.say("/edit Gretta Lindd status:customer")
    assert "Anna Bergmann  (c3)" in testbot.say("/show Anna Bergman")


@pytest.mark.parametrize(
    ("typed", "to_come", "remind"),
    [
        ("/meet Greta Lind tomorrow 10am demo", "tomorrow 10am", "/remind c1 tomorrow 10am demo"),
        ("/visit Greta in 2 days showroom", "in 2 days", "/remind c1 in 2 days showroom"),
        ("/call Greta next friday", "next friday", "/remind c1 next friday"),
        ("/email Greta tomorrow", "tomorrow", "/remind c1 tomorrow"),
    ],
)
def test_a_meeting_to_come_is_not_logged_as_held(
    testbot: TestBot, typed: str, to_come: str, remind: str
) -> None:
    testbot.say("/add Greta Lind")
    reply = testbot.say(typed)
    assert f"“{to_come}” is still to come" in reply and remind in reply
    assert testbot.say("/feed 1").endswith("Alice added Greta Lind")  # nothing logged


def test_a_german_teams_meeting_to_come_is_not_logged_as_held(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.say("/add Greta Lind")
    with transaction(engine) as session:
        team = session.exec(select(Team)).one()
        team.locale = "de_DE"
        session.add(team)
    for typed, to_come in (
        ("/meet Greta morgen 10 Uhr Demo", "morgen 10 Uhr"),
        ("/visit Greta übermorgen", "übermorgen"),
        ("/call Greta nächste Woche", "nächste Woche"),
    ):
        assert f"“{to_come}” is still to come" in testbot.say(typed)
    assert "Logged:" in testbot.say("/meet Greta heute Morgen, lief gut")
    assert "Logged:" in testbot.say("/call Greta morgen kommt sie vorbei")


@pytest.mark.parametrize(
    "typed",
    [
        "/call Greta tomorrow she comes by with the contract",  # what was said on the call
        "/meet Greta this morning, went well",
        "/meet Greta 10am standup",  # a time of today's
        "/email Greta tomorrow works for the demo",  # what the e-mail said
        "/note Greta tomorrow call back",  # a note may be about days to come
    ],
)
def test_what_took_place_is_logged(testbot: TestBot, typed: str) -> None:
    testbot.say("/add Greta Lind")
    assert "Logged:" in testbot.say(typed)


def test_either_apostrophe_names_the_contact(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Tom O’Brien")  # a phone's apostrophe; a computer types '
    opened = testbot.say("/deal Website Tom O'Brien 5k")
    assert "Opened Website (d1)" in opened and "contact: Tom O’Brien (c1)" in opened
    testbot.say("/remind tomorrow 9am call Tom O'Brien")
    assert last_reminder(engine, TEAM)["about"] == "Tom O’Brien"
    testbot.say("/add Siobhán O'Neill")
    assert "Opened Audit (d2)" in testbot.say("/deal Audit Siobhán O’Neill 2k")


def test_edit_points_a_stage_to_stage(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/deal Website 5k")
    reply = testbot.say("/edit d1 stage:won")
    assert "/stage d1 won" in reply and "city:" not in reply
    assert last_deal(engine, TEAM)["stage"] == "Lead"
