"""Joining: /start, /join, /help, and what strangers may do."""

from __future__ import annotations

from handlers.reply import Style
from storage.models import Platform
from tests.conftest import TestBot


def test_first_start_creates_the_team_and_later_ones_are_told_to_join(testbot: TestBot) -> None:
    assert "Welcome back, Alice. You are an admin in Acme Sales." in testbot.say("/start")
    stranger = testbot.say("/start", who="Mallory")
    assert "belongs to the team Acme Sales" in stranger and "/join CODE" in stranger


def test_strangers_may_only_start_join_and_help(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    for command in (
        "/add Eve",
        "/find Jane",
        "/show 1",
        "/deals",
        "/feed",
        "/team",
        "/invite",
        "/stages",
        "/note 1 hi",
        "/announce here",
    ):
        reply = testbot.send(command, who="Mallory")
        assert reply.error and "not in a team yet" in reply.plain_text, command
    assert "Jane" not in testbot.say("/find Jane", who="Mallory")
    help_text = testbot.say("/help", who="Mallory")
    assert "/join" in help_text and "/add" not in help_text
    assert testbot.location(1.0, 2.0, who="Mallory").error
    assert "not in a team yet" in testbot.press_encoded("st:1:2", who="Mallory").plain_text


def test_invite_codes_are_single_use_and_expire(testbot: TestBot) -> None:
    invite = testbot.send("/invite")
    code = next(s.text for line in invite.lines for s in line.spans if s.style == Style.code)
    assert "Welcome, Bob! You joined Acme Sales as a rep." in testbot.say(
        f"/join {code}", who="Bob"
    )
    assert "already been used" in testbot.say(f"/join {code}", who="Carol")
    assert "already in this team" in testbot.say(f"/join {code}", who="Bob")
    assert "no invite code" in testbot.say("/join NOPE1234", who="Carol")
    assert "Which invite code" in testbot.say("/join", who="Carol")
    invite = testbot.send("/invite manager")
    code = next(s.text for line in invite.lines for s in line.spans if s.style == Style.code)
    testbot.clock.advance(days=8)
    assert "expired" in testbot.say(f"/join {code.lower()}", who="Carol")


def test_invites_for_managers_and_admins_need_an_admin(testbot: TestBot) -> None:
    testbot.join("Bob")
    assert "Only admins" in testbot.say("/invite manager", who="Bob")
    assert "Invite code for a new rep" in testbot.say("/invite", who="Bob")
    assert "no role “boss”" in testbot.say("/invite boss")
    testbot.join("Carla", "manager")
    assert "You are a manager" in testbot.say("/start", who="Carla")


def test_open_signup_gives_each_stranger_a_team(open_signup_bot: TestBot) -> None:
    bot = open_signup_bot
    assert "created the team Red" in bot.say("/start Red", who="Ann")
    assert "created the team Ben's team" in bot.say("/start", who="Ben")


def test_a_deep_link_opens_the_deal_for_its_team_only(open_signup_bot: TestBot) -> None:
    """`/start d1`, as Telegram sends an announcement's link: the card for a member of the
    deal's team; another team's member and a stranger learn nothing, and no team is made."""
    bot = open_signup_bot
    bot.say("/start Red", who="Ann")
    bot.say("/deal Website redesign 12k", who="Ann")
    card = bot.say("/start d1", who="Ann")
    assert "Website redesign" in card and "owner Ann" in card
    refused = bot.say("/start d1", who="Stranger")
    assert "opens a deal for the members of its team" in refused
    assert "Website" not in refused and "created" not in refused
    bot.say("/start Blue", who="Ben")
    assert "Website" not in bot.say("/start d1", who="Ben")
    assert "Ben's team" not in bot.say("/team", who="Ann")


def test_terminal_names_join_as_reps(testbot: TestBot) -> None:
    testbot.platform = Platform.console
    assert "Welcome, Zed! You joined Acme Sales as a rep." in testbot.say("/start", who="Zed")
    assert "Welcome back, Zed. You are a rep" in testbot.say("/start", who="Zed")
    assert "Zed · rep · console" in testbot.say("/team", who="Zed")


def test_help_lists_families_and_explains_one_command(testbot: TestBot) -> None:
    listing = testbot.say("/help")
    for heading in ("Getting started", "Contacts", "Activities", "Deals", "Team and settings"):
        assert heading in listing
    # One line a family: a phone shows the whole index.
    assert "Contacts: /add /find /show /edit /tag /untag /leads" in listing
    assert "Undo: /undo" in listing
    assert len(listing.splitlines()) <= 16
    detail = testbot.say("/help add")
    assert detail.startswith("/add") and "Example: /add Jane Doe" in detail
    assert "/stage DEAL [STAGE|next]" in testbot.say("/help /stage")
    assert "Did you mean /deals" in testbot.say("/help deels")


def test_unknown_commands_suggest_the_closest(testbot: TestBot) -> None:
    reply = testbot.send("/fnd Jane")
    assert reply.error and "I don't know /fnd" in reply.plain_text
    assert "Did you mean /find" in reply.plain_text
    forecast = testbot.say("/forecast")
    assert "Did you mean /stats?" in forecast and "/forget" not in forecast
    assert "Did you mean /add?" in testbot.say("/help new")
    plain = testbot.say("hello there")
    assert "Commands start with a slash" in plain and "What I understand" in plain


def test_a_team_started_without_a_name_takes_the_one_its_admin_gives(
    open_signup_bot: TestBot,
) -> None:
    """The terminal registers whoever starts it, under a name given for want of one; their
    `/start Acme` names the team. A team with a name of its own keeps it."""
    bot = open_signup_bot
    assert "created the team Ben's team" in bot.say("/start", who="Ben")
    assert "Your team is now called Ben & Co." in bot.say("/start Ben & Co.", who="Ben")
    assert "You are an admin in Ben & Co." in bot.say("/start Other", who="Ben")
    bot.say("/start Red", who="Ann")
    assert "You are an admin in Red." in bot.say("/start Blue", who="Ann")
