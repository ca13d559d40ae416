"""/home, the desk (Slack's Home tab): my open deals; the pipeline for managers."""

from __future__ import annotations

from tests.conftest import TestBot


def test_a_rep_sees_their_own_open_deals(testbot: TestBot) -> None:
    testbot.join("Bob")
    testbot.say("/deal Alice's deal 1k")
    for n in range(17):
        testbot.say(f"/deal Bob deal {n} 2k close:2026-12-15", who="Bob")
    testbot.say("/won Bob deal 0", who="Bob")

    home = testbot.say("/home", who="Bob")
    assert home.startswith("Your open deals (16)")
    assert "• Bob deal 16 (d18) · €2,000 · Lead · closes Tue 15 Dec" in home
    assert "Bob deal 0 " not in home and "Alice's deal" not in home
    assert home.count("• Bob deal") == 15
    assert "and 1 more: /deals mine" in home
    assert "Team pipeline" not in home


def test_a_manager_sees_the_pipeline_per_stage_and_currency(testbot: TestBot) -> None:
    testbot.say("/deal Website 12k")
    testbot.say("/deal Support 500 USD")
    testbot.say("/deal Audit 3k stage:proposal")
    testbot.say("/deal Pilot")
    testbot.say("/deal Lost one 9k")
    testbot.say("/lost Lost one")

    home = testbot.say("/home")
    assert "Your open deals (4)" in home
    assert "Team pipeline" in home
    assert "• Lead · 3 deals · €12,000 + $500" in home
    assert "• Qualified · 0 deals" in home
    assert "• Proposal · 1 deal · €3,000" in home
    assert "All open deals: 4 deals · €15,000 + $500" in home


def test_the_pipeline_is_the_teams_own(open_signup_bot: TestBot) -> None:
    open_signup_bot.say("/start Red", who="Alice")
    open_signup_bot.say("/start Blue", who="Zoe")
    open_signup_bot.say("/deal Blue deal 50k", who="Zoe")
    home = open_signup_bot.say("/home", who="Alice")
    assert "Your open deals (0)" in home
    assert "You have no open deals. Open one with /deal." in home
    assert "All open deals: 0 deals" in home


def test_home_takes_no_arguments(testbot: TestBot) -> None:
    reply = testbot.send("/home team")
    assert reply.error and "/home takes no arguments." in reply.plain_text
    assert "Your open deals" in testbot.say("/desk")
