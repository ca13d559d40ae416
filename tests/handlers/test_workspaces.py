"""Who joins which team. A chat workspace (Slack) belongs to one team and its people join
it on first use; Telegram and the terminal work as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers.dispatcher import Dispatcher
from handlers.reply import Reply
from storage.models import Platform
from tests.conftest import Clock, TestBot


@pytest.fixture
def slackbot(dispatcher: Dispatcher, clock: Clock) -> TestBot:
    """An installation with no team yet, used from Slack."""
    return TestBot(dispatcher, clock, platform=Platform.slack)


@pytest.fixture
def open_slackbot(open_signup_bot: TestBot) -> Iterator[TestBot]:
    open_signup_bot.platform = Platform.slack
    yield open_signup_bot


def say(bot: TestBot, text: str, *, who: str, workspace: str = "T1") -> Reply:
    reply = bot.request(who, text=text, workspace_id=workspace)
    assert reply is not None
    return reply


def code_of(reply: Reply) -> str:
    return next(span.text for line in reply.lines for span in line.spans if span.style == "code")


def test_a_workspace_joins_the_team_of_its_first_person(slackbot: TestBot) -> None:
    first = say(slackbot, "/leads", who="Alice")
    assert "You created the team Alice's team and you are its admin." in first.plain_text
    assert "No leads match" in first.plain_text  # and the command itself ran

    second = say(slackbot, "/team", who="Bob")
    assert second.plain_text.startswith("Welcome, Bob! You joined Alice's team as a rep.")
    assert "Bob · rep · slack" in second.plain_text
    assert "Welcome" not in say(slackbot, "/team", who="Bob").plain_text  # once only

    started = say(slackbot, "/start", who="Carla")
    assert "You joined Alice's team as a rep" in started.plain_text
    assert "Welcome back, Carla" in say(slackbot, "/start", who="Carla").plain_text


def test_on_a_one_team_installation_a_new_workspace_joins_with_a_code(
    testbot: TestBot,
) -> None:
    # Alice made "Acme Sales" on Telegram; Zoe comes from a Slack workspace.
    slack = TestBot(testbot.dispatcher, testbot.clock, platform=Platform.slack)
    refused = say(slack, "/leads", who="Zoe")
    assert refused.error and "You are not in a team yet" in refused.plain_text
    assert "belongs to the team Acme Sales" in say(slack, "/start", who="Zoe").plain_text

    code = code_of(testbot.send("/invite manager"))
    joined = say(slack, f"/join {code}", who="Zoe")
    assert "You joined Acme Sales as a manager" in joined.plain_text

    # The workspace is Acme Sales' now: Yann joins on his first message.
    team = say(slack, "/team", who="Yann")
    assert "You joined Acme Sales as a rep" in team.plain_text
    assert "Alice · admin · telegram" in team.plain_text
    assert "Zoe · manager · slack" in team.plain_text
    assert "Yann · rep · slack" in team.plain_text


def test_a_claimed_workspace_refuses_another_teams_code(open_slackbot: TestBot) -> None:
    say(open_slackbot, "/start Red", who="Alice")
    blue = TestBot(open_slackbot.dispatcher, open_slackbot.clock)  # Telegram
    assert "created the team Blue" in blue.say("/start Blue", who="Bob")
    blue_code = code_of(blue.send("/invite", who="Bob"))

    refused = say(open_slackbot, f"/join {blue_code}", who="Carol")
    assert refused.error
    assert "This workspace belongs to the team Red; that code is for another team." in (
        refused.plain_text
    )
    red_code = code_of(say(open_slackbot, "/invite manager", who="Alice"))
    assert "as a manager" in say(open_slackbot, f"/join {red_code}", who="Carol").plain_text


def test_with_open_signup_each_new_workspace_gets_its_own_team(open_slackbot: TestBot) -> None:
    say(open_slackbot, "/start Red", who="Alice")
    zoe = say(open_slackbot, "/help", who="Zoe", workspace="T2")
    assert "You created the team Zoe's team" in zoe.plain_text
    say(open_slackbot, "/add Jane Doe", who="Yann", workspace="T2")
    team = say(open_slackbot, "/team", who="Zoe", workspace="T2").plain_text
    assert "Zoe · admin" in team and "Yann · rep" in team and "Alice" not in team
    assert "Nothing matches" in say(open_slackbot, "/find Jane Doe", who="Alice").plain_text


def test_telegram_people_still_need_an_invite(testbot: TestBot) -> None:
    refused = testbot.send("/leads", who="Bob")
    assert refused.error and "You are not in a team yet" in refused.plain_text
    assert "Ask a teammate for an invite code" in testbot.say("/start", who="Bob")
