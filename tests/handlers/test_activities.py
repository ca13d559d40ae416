"""The timeline: /note, /call, /meet, /visit, /feed, shared locations."""

from __future__ import annotations

import pytest

from handlers import activities
from tests.conftest import TestBot


def test_each_kind_is_logged_and_shown(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Website Jane Doe 5k")
    assert "Logged: noted Jane Doe (c1)" in testbot.say("/note Jane Doe wants a quote")
    assert "Logged: called Jane Doe (c1)" in testbot.say("/call c1")
    assert "Logged: met Website (d1)" in testbot.say("/meet Website demo went well")
    assert "Logged: visited Jane Doe (c1)" in testbot.say("/visit jane doe")
    feed = testbot.say("/feed 4")
    assert feed.splitlines()[1:] == [
        "• just now · Alice visited Jane Doe",
        "• just now · Alice met Website: demo went well",
        "• just now · Alice called Jane Doe",
        "• just now · Alice noted on Jane Doe: wants a quote",
    ]
    card = testbot.say("/show c1")
    assert "Last activity: just now" in card and "met: demo went well" in card
    assert "Alice noted: wants a quote" in card  # on its own card, not "noted on:"
    assert "Logged: e-mailed Jane Doe (c1)" in testbot.say("/email c1 sent the pricing")
    assert "Logged: e-mailed Website (d1)" in testbot.say("/mail Website")
    assert testbot.say("/feed 2").splitlines()[1:] == [
        "• just now · Alice e-mailed Website",
        "• just now · Alice e-mailed Jane Doe: sent the pricing",
    ]


def test_note_needs_text_and_a_reference(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    assert "What should the note say" in testbot.say("/note Jane Doe")
    assert "Say which contact or deal" in testbot.say("/note")
    assert "at most 4000 characters" in testbot.say("/note Jane Doe " + "x" * 4001)


def test_note_text_keeps_hashtags_and_punctuation(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/note Jane Doe re: #pricing — 10% off? company:none")
    assert "re: #pricing — 10% off? company:none" in testbot.say("/feed 1")


def test_heads_up_when_a_teammate_was_in_touch(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.join("Bob")
    testbot.say("/call Jane Doe", who="Bob")
    testbot.clock.advance(hours=20)
    warned = testbot.say("/call Jane Doe about the renewal")
    assert "Heads-up: Bob called Jane Doe 20 hours ago." in warned
    assert "Logged: called Jane Doe" in warned
    testbot.clock.advance(days=2)
    assert "Heads-up" not in testbot.say("/call Jane Doe")
    assert "Heads-up" not in testbot.say("/note Jane Doe my own note")


def test_logging_resets_rotting(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Website Jane Doe")
    testbot.clock.advance(days=40)
    assert "rotting" in testbot.say("/deals")
    assert "Last activity: 1 month ago" in testbot.say("/show c1")
    testbot.say("/call Website")
    assert "rotting" not in testbot.say("/deals")
    assert "Last activity: just now" in testbot.say("/show c1")


def test_feed_limits_and_bad_numbers(testbot: TestBot) -> None:
    for i in range(12):
        testbot.say(f"/add Person {i}")
    assert len(testbot.say("/feed").splitlines()) == 11  # heading + 10
    assert len(testbot.say("/feed 3").splitlines()) == 4
    assert "from 1 to 50" in testbot.say("/feed 500")
    assert "from 1 to 50" in testbot.say("/feed lots")
    assert "takes only a number" in testbot.say("/feed #web")  # no filter it cannot apply


def test_shared_location_is_stored_and_attached_to_fresh_visits(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    assert "Got your location; visits you log" in testbot.location(52.52, 13.405).plain_text
    assert "With your current location" in testbot.say("/visit Jane Doe")
    testbot.clock.advance(hours=3)
    assert "With your current location" not in testbot.say("/visit Jane Doe")
    assert "not a place on Earth" in testbot.location(95.0, 13.4).plain_text


def test_deleted_records_leave_the_feed_and_the_contacts_card(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/add Max Muster")
    testbot.say("/deal Website relaunch Jane Doe 5k")
    testbot.say("/meet Website relaunch demo went well")
    testbot.say("/note Max Muster wants a quote")
    testbot.say("/call Jane Doe")
    testbot.say("/delete Website relaunch")
    testbot.say("/delete Max Muster")
    feed = testbot.say("/feed 50")
    assert "demo went well" not in feed and "Website" not in feed and "Max" not in feed
    assert "Alice called Jane Doe" in feed
    assert "demo went well" not in testbot.say("/show Jane Doe")
    assert testbot.say("/undo") == "Undone: deleted Max Muster (c2)."
    assert testbot.press_encoded("rsd:1").plain_text == "Restored Website relaunch (d1)."
    feed = testbot.say("/feed 50")
    assert "Alice met Website relaunch: demo went well" in feed and "wants a quote" in feed
    assert "demo went well" in testbot.say("/show Jane Doe")


def test_a_command_that_fails_after_writing_leaves_nothing(
    testbot: TestBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its savepoint takes back what it wrote, on the driver too (storage/core.py)."""
    testbot.say("/add Jane Doe")
    for n in range(3):  # the note's INSERT runs on the driver from the second on
        assert "Logged" in testbot.say(f"/note c1 call {n}")

    def fail(record: object) -> str:
        raise RuntimeError("after the write")

    monkeypatch.setattr(activities, "label", fail)
    assert "Sorry" in testbot.say("/note c1 lost")
    monkeypatch.undo()
    card = testbot.say("/show c1")
    assert "call 2" in card and "lost" not in card
