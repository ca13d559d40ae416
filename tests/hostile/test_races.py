"""N identical presses, commands and first /starts at once: one effect each.

Every test runs on SQLite too (where BEGIN IMMEDIATE serialises the writers) but is
written for PostgreSQL, where several processes' transactions really interleave."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from handlers.dispatcher import Dispatcher
from storage.models import Identity, Member, Outbox, Platform, StageChange, Team
from tests.conftest import Clock, TestBot
from tests.hostile.conftest import RACERS, count, no_apology, race, same_press, same_text


def test_won_sent_at_once_from_several_chats_wins_the_deal_once(
    testbot: TestBot, engine: Engine
) -> None:
    assert "hears about every won deal" in testbot.in_group("/announce here")
    testbot.say("/deal Website 12k")
    replies = race(testbot, "Alice", same_text("/won d1"))
    no_apology(replies)
    assert sum("Congratulations" in r for r in replies) == 1, replies
    assert count(engine, StageChange) == 2  # opened, won
    assert count(engine, Outbox) == 1


def test_one_stage_button_pressed_at_once_moves_the_deal_once(
    testbot: TestBot, engine: Engine
) -> None:
    assert "hears about every won deal" in testbot.in_group("/announce here")
    testbot.say("/deal Website 12k")
    won = testbot.button("Won")  # under /deal's answer
    replies = race(testbot, "Alice", same_press(won.encode()))
    no_apology(replies)
    assert sum("Congratulations" in r for r in replies) == 1, replies
    assert count(engine, StageChange) == 2
    assert count(engine, Outbox) == 1


def test_a_deal_moved_to_different_stages_at_once_keeps_one_history(
    testbot: TestBot, engine: Engine
) -> None:
    """Every move's history starts where the previous one ended."""
    testbot.say("/deal Website 12k")
    stages = ["qualified", "proposal", "negotiation", "won", "lost"]
    replies = race(testbot, "Alice", [{"text": f"/stage d1 {s}"} for s in stages])
    no_apology(replies)
    with Session(engine) as session:
        changes = session.exec(select(StageChange).order_by(col(StageChange.id))).all()
    assert len(changes) == 1 + RACERS
    for before, after in pairwise(changes):
        assert after.from_stage_id == before.to_stage_id


def test_first_starts_at_once_make_one_team(dispatcher: Dispatcher, clock: Clock) -> None:
    bot = TestBot(dispatcher, clock)
    people = [f"Person{i}" for i in range(RACERS)]
    replies = race(bot, "", [{"who": who, "text": "/start"} for who in people])
    no_apology(replies)
    assert sum("created the team" in r for r in replies) == 1, replies
    assert count(dispatcher.engine, Team) == 1


def test_first_commands_of_a_new_slack_person_at_once_register_them_once(
    open_signup_bot: TestBot,
) -> None:
    bot = open_signup_bot
    slack = {"platform": Platform.slack, "workspace_id": "T1"}
    # Bob's workspace is nobody's yet: his first messages at once make one team for it.
    replies = race(bot, "Bob", [{**slack, "text": "/find Jane"}] * RACERS)
    no_apology(replies)
    engine = bot.dispatcher.engine
    assert count(engine, Team) == 1
    assert count(engine, Identity) == 1
    # Carol, from the same workspace, joins its team on her first messages, once.
    replies = race(bot, "Carol", [{**slack, "text": "/feed"}] * RACERS)
    no_apology(replies)
    assert sum("You joined" in r for r in replies) == 1, replies
    assert count(engine, Identity) == 2
    assert count(engine, Member) == 2


def test_one_invite_redeemed_at_once_lets_one_person_in(testbot: TestBot, engine: Engine) -> None:
    invite = testbot.send("/invite")
    code = next(s.text for line in invite.lines for s in line.spans if s.style == "code")
    people = [f"Person{i}" for i in range(RACERS)]
    replies = race(testbot, "", [{"who": who, "text": f"/join {code}"} for who in people])
    no_apology(replies)
    assert sum("Welcome" in r for r in replies) == 1, replies
    assert count(engine, Member) == 2
