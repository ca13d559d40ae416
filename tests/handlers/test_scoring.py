"""The stored lead score and its reasons (handlers/scoring.py)."""

from __future__ import annotations

from handlers.scoring import score_reasons
from storage.models import Contact, ContactStatus
from tests.conftest import TestBot


def test_reasons_add_up() -> None:
    contact = Contact(
        team_id=1,
        name="Jane",
        name_key="jane",
        status=ContactStatus.qualified,
        email="j@x.de",
        phone="+49301234567",
    )
    reasons = score_reasons(contact, ["a", "b", "c", "d"])
    assert reasons == [
        ("status qualified", 30),
        ("3 tags", 15),
        ("has an e-mail", 5),
        ("has a phone", 5),
    ]
    assert score_reasons(Contact(team_id=1, name="x", name_key="x", status="inactive"), []) == [
        ("status inactive", 0)
    ]


def test_score_follows_every_change(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    assert "score 10" in testbot.say("/show c1")
    testbot.say("/tag c1 #hot")
    assert "score 15" in testbot.say("/show c1")
    testbot.say("/edit c1 status:qualified email:jane@acme.de")
    card = testbot.say("/show c1")
    assert "score 40" in card and "Score: status qualified +30, 1 tag +5, has an e-mail +5" in card
    testbot.say("/untag c1 #hot")
    assert "score 35" in testbot.say("/show c1")
