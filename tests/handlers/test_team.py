"""Running the team: /team, /role, /stages and its admin edits."""

from __future__ import annotations

from tests.conftest import TestBot


def test_team_lists_members_roles_and_platforms(testbot: TestBot) -> None:
    testbot.join("Bob")
    listing = testbot.say("/team")
    assert "Acme Sales (2)" in listing
    assert "Alice · admin · telegram" in listing and "Bob · rep · telegram" in listing


def test_roles_are_admin_only_and_keep_an_admin(testbot: TestBot) -> None:
    testbot.join("Bob")
    assert "Only admins" in testbot.say("/role Bob manager", who="Bob")
    assert "Bob is now a manager." in testbot.say("/role Bob manager")
    assert "Bob is now an admin." in testbot.say("/role @bob admin")
    assert "Alice is now a rep." in testbot.say("/role Alice rep", who="Bob")
    assert "at least one admin" in testbot.say("/role Bob rep", who="Bob")
    assert "No single teammate matches" in testbot.say("/role Zelda rep", who="Bob")
    assert "no role “king”" in testbot.say("/role Alice king", who="Bob")
    assert "Whose role" in testbot.say("/role rep", who="Bob")


def test_stages_view(testbot: TestBot) -> None:
    testbot.say("/deal Website")
    view = testbot.say("/stages")
    assert "1. Lead · 10% · rots after 14 days · 1 deal" in view
    assert "5. Won · 100% · won · 0 deals" in view


def test_admin_edits_the_pipeline(testbot: TestBot) -> None:
    added = testbot.say("/stages add Demo prob:40 rot:7 after:qualified")
    assert "Added the stage Demo." in added
    assert "3. Demo · 40% · rots after 7 days" in added
    assert "4. Proposal" in added
    assert "Renamed Proposal to Offer sent." in testbot.say(
        "/stages rename Proposal to Offer sent"
    )
    assert "Offer sent now counts at 60%." in testbot.say("/stages prob offer sent 60")
    assert "now rot after 0 days (never)" in testbot.say("/stages rot demo 0")
    moved = testbot.say("/stages move Demo 1")
    assert "1. Demo" in moved and "2. Lead" in moved
    assert "Removed the stage Demo." in testbot.say("/stages remove demo")
    assert "Demo" not in testbot.say("/stages")
    # New deals start in the first open stage, and stage buttons follow the new order.
    testbot.say("/deal Website")
    labels = [b.label for b in testbot.send("/stage 1").all_buttons]
    assert labels == ["Qualified", "Offer sent", "Negotiation", "Won", "Lost"]


def test_a_stage_added_as_said(testbot: TestBot) -> None:
    added = testbot.say("/stages add Demo after Qualified 40%")
    assert "Added the stage Demo." in added and "3. Demo · 40%" in added
    assert "Trial · 30%" in testbot.say("/stages add Trial 30 %")
    # `after` and what follows stay in the name unless they name a stage in full.
    assert "Added the stage Call back after lunch." in testbot.say(
        "/stages add Call back after lunch"
    )


def test_stage_edits_are_validated(testbot: TestBot) -> None:
    testbot.join("Bob")
    assert "Only admins" in testbot.say("/stages add Demo", who="Bob")
    assert "already is a stage called" in testbot.say("/stages add lead")
    assert "percentage from 0 to 100" in testbot.say("/stages prob Lead 120")
    assert "closed deals do not rot" in testbot.say("/stages rot Won 5")
    assert "position is a number from 1 to 6" in testbot.say("/stages move Lead 9")
    assert "can't “explode” stages" in testbot.say("/stages explode")
    assert "kind: is open, won or lost" in testbot.say("/stages add Limbo kind:maybe")
    assert "at least one won stage" in testbot.say("/stages remove Won")
    testbot.say("/deal Website")
    assert "still has deals" in testbot.say("/stages remove Lead")
    testbot.say("/stage 1 qualified")
    testbot.say("/stages move Lead 6")
    assert "part of deals' history" in testbot.say("/stages remove Lead")


def test_announce_in_a_group_and_listing(testbot: TestBot) -> None:
    from handlers.context import ChatType

    assert "in the group chat or channel" in testbot.say("/announce here")
    reply = testbot.request(
        "Alice", text="/announce here", chat_type=ChatType.group, chat_name="Sales floor"
    )
    assert reply is not None and "From now on Sales floor hears" in reply.plain_text
    assert "Sales floor (telegram)" in testbot.say("/announce")
    testbot.join("Bob")
    refused = testbot.request("Bob", text="/announce off", chat_type=ChatType.group)
    assert refused is not None and "Only managers" in refused.plain_text
    done = testbot.request(
        "Alice", text="/announce off", chat_type=ChatType.group, chat_name="Sales floor"
    )
    assert done is not None and "no longer hears" in done.plain_text
    assert "No chat announces" in testbot.say("/announce")
