"""Team isolation: a member of one team never sees or touches another team's records,
by id, by name, or by pressing a forged button."""

from __future__ import annotations

import re

import pytest

from tests.conftest import TestBot


@pytest.fixture
def two_teams(open_signup_bot: TestBot) -> TestBot:
    bot = open_signup_bot
    bot.say("/start Red", who="Ann")
    bot.say("/add Rita Red company:RedCo rita@red.example #secret", who="Ann")
    bot.say("/deal Red secret deal Rita Red 99k", who="Ann")
    bot.say("/start Blue", who="Ben")
    return bot


@pytest.mark.parametrize(
    "command",
    [
        "/show 1",
        "/show c1",
        "/show d1",
        "/show Rita Red",
        "/note 1 hello",
        "/call Rita Red",
        "/meet c1",
        "/visit Rita",
        "/tag c1 #mine",
        "/untag c1 #secret",
        "/edit c1 city:Oslo",
        "/stage 1 won",
        "/won 1",
        "/lost 1 nope",
        "/stage Red secret deal",
        "/edit d1 amount:1",
        "/deal Grab contact:'Rita Red'",
    ],
)
def test_references_never_cross_teams(two_teams: TestBot, command: str) -> None:
    reply = two_teams.say(command, who="Ben")
    assert not _leaks(reply), reply
    assert not any(
        word in reply
        for word in ("Logged", "Tagged", "Untagged", "Updated", "Moved", "Won", "opened")
    )
    assert "(c1)" not in two_teams.say("/feed", who="Ben")


def test_lists_and_searches_never_cross_teams(two_teams: TestBot) -> None:
    for command in (
        "/find Rita",
        "/find rita@red.example",
        "/find RedCo",
        "/leads",
        "/leads #secret",
        "/deals",
        "/feed",
        "/team",
        "/deals won",
        "/pipeline",
        "/pipeline @ann all time",
        "/stats all time",
        "/scoring",
    ):
        reply = two_teams.say(command, who="Ben")
        assert not _leaks(reply), command
    assert "Open: 0 deals\n" in two_teams.say("/pipeline team all time", who="Ben")


def test_forged_buttons_never_cross_teams(two_teams: TestBot) -> None:
    assert "no longer exists" in two_teams.press_encoded("st:1:5", who="Ben").plain_text
    assert "no contact c1 in your team" in two_teams.press_encoded("sh:c1", who="Ben").plain_text
    ann_pending = two_teams.send("/add Rita Red rita@red.example", who="Ann")
    forged = ann_pending.all_buttons[0].encode()
    assert "expired" in two_teams.press_encoded(forged, who="Ben").plain_text
    assert "Ann" in two_teams.say("/show c1", who="Ann")


def test_ann_still_sees_her_own(two_teams: TestBot) -> None:
    assert "Open: 1 deal · €99,000" in two_teams.say("/pipeline", who="Ann")
    assert "Rita Red" in two_teams.say("/find Rita", who="Ann")
    assert "Deals (1)" in two_teams.say("/deals", who="Ann")
    assert "Won" in two_teams.say("/won 1", who="Ann")


def _leaks(reply: str) -> bool:
    """Whether a reply shows anything of team Red that Ben did not type himself (echoes of
    his own words are quoted “like this”)."""
    reply = re.sub(r"“[^”]*”", "", reply)
    return any(
        marker in reply
        for marker in (
            "RedCo",
            "rita@red.example",
            "99,000",
            "Ann",
            "(c1)",
            "(d1)",
            "Red secret deal (",
        )
    )
