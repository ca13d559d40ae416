"""The issue's "done when" tour, as one conversation."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from tests.conftest import TestBot
from tests.handlers.stored import last_contact, last_deal
from tests.phones import LANDLINE


def test_the_whole_tour(testbot: TestBot) -> None:
    added = testbot.say(
        f"/add Jane Doe company:Acme {LANDLINE.international} jane@acme.de city:Berlin "
        "#hot #berlin"
    )
    assert "Added Jane Doe" in added
    assert LANDLINE.international in added and "jane@acme.de" in added and "Berlin" in added
    assert "#berlin #hot" in added

    found = testbot.say("/find Jnae Deo")
    assert "Jane Doe" in found and "Acme" in found

    opened = testbot.say("/deal Website redesign Jane Doe 12k")
    assert "Opened Website redesign (d1)" in opened
    assert "€12,000" in opened and "Lead" in opened and "Jane Doe (c1)" in opened

    assert "Moved to Qualified" in testbot.press("Qualified").plain_text
    assert "Moved to Proposal" in testbot.say("/stage 1 proposal")
    assert "Moved to Negotiation" in testbot.say("/stage Website redesign negotiation")
    won = testbot.say("/won 1")
    assert "Won €12,000" in won

    feed = testbot.say("/feed")
    assert "Alice won Website redesign" in feed
    assert "Alice added Jane Doe" in feed

    testbot.join("Bob")
    assert "Jane Doe" in testbot.say("/show Jane Doe", who="Bob")
    testbot.say("/deal Renewal Jane Doe 5k")
    refused = testbot.say("/stage 2 proposal", who="Bob")
    assert "belongs to a teammate" in refused
    assert "Lead (10%)" in testbot.say("/show d2")


def test_the_readmes_tour_reads_as_it_says(testbot: TestBot, engine: Engine) -> None:
    """The README's tour, line by line (the comments after two spaces left out): no line
    is refused, and the unquoted values land where the README says they do."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A short tour", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    for line in tour.strip().splitlines():
        message = re.split(r"\s{2,}", line.strip())[0]
        # The README's number stands for any; the installed numbering plan's own example
        # is one that stays valid.
        message = message.replace("+49 30 1234567", LANDLINE.international)
        reply = testbot.send(message)
        assert not reply.error, (message, reply.plain_text)
    contact = last_contact(engine, 1)
    assert (contact["company"], contact["title"], contact["city"]) == (
        "Acme Corp",
        "Head of Sales",
        "Frankfurt am Main",
    )
    assert last_deal(engine, 1)["amount"] == "12000.00 EUR"
