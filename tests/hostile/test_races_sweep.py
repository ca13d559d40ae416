"""Every state-changing command and button fired several times at once: no apology."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.senders import RecordingSender
from handlers.reply import Reply
from storage.models import ContactTag, Outbox, OutboxStatus, Platform, Reminder, Tag
from tests.conftest import START, Clock, TestBot
from tests.delivery import deliver
from tests.hostile.conftest import count, no_apology, race, same_press, same_text

SETUP = [
    "/add Jane Doe company:Acme #hot",
    "/deal Website Jane Doe 12k",
    "/remind Jane tomorrow 9am call her",
    "/location 52.52 13.40",
]


@pytest.mark.parametrize(
    "text",
    [
        "/tag Jane Doe #vip #new",
        "/untag Jane Doe #hot",
        "/tag d1 #q4",
        "/edit Jane Doe city:Berlin",
        "/edit d1 amount:13k",
        "/note Jane Doe called",
        "/done 1",
        "/snooze 1 friday 10am",
        "/undo",
        "/announce here",
        "/announce off",
        "/role Alice admin",
        "/stages add Demo",
        "/stages rename Proposal Offer",
        "/stages prob Lead 15",
        "/stages remove Negotiation",
        "/scoring #vip 30",
        "/tz Berlin",
        "/tz team Berlin",
        "/lost d1 too expensive",
        "/deal Website Jane Doe 12k",
        "/add Max Mustermann",
        "/invite",
        "/digest off",
        "/stage d1 proposal",
    ],
)
def test_a_command_sent_at_once_from_several_chats_is_answered(
    testbot: TestBot, text: str
) -> None:
    for line in SETUP:
        testbot.say(line)
    no_apology(race(testbot, "Alice", same_text(text)))


def _delivered_reminder(testbot: TestBot, clock: Clock, engine: Engine) -> Reply:
    """Alice's reminder, due and delivered: the message with Done / Snooze / Tomorrow."""
    testbot.say("/remind in 1 hour call Jane")
    clock.advance(hours=1)
    recorder = RecordingSender(platform=Platform.telegram)
    deliver(engine, clock, recorder)
    (message,) = recorder.to("alice")
    return message


def test_snooze_pressed_twice_snoozes_once(testbot: TestBot, clock: Clock, engine: Engine) -> None:
    message = _delivered_reminder(testbot, clock, engine)
    snooze = next(b for b in message.all_buttons if b.label.startswith("Snooze"))
    first = testbot.press_encoded(snooze.encode()).plain_text
    again = testbot.press_encoded(snooze.encode()).plain_text
    assert "snoozed until" in first and "already moved" in again
    with Session(engine) as session:
        (reminder,) = session.exec(select(Reminder)).all()
    assert reminder.due_at == START + timedelta(hours=2)


@pytest.mark.parametrize("label", ["Done", "Snooze", "Tomorrow"])
def test_a_reminder_button_pressed_at_once_acts_once(
    testbot: TestBot, clock: Clock, engine: Engine, label: str
) -> None:
    message = _delivered_reminder(testbot, clock, engine)
    button = next(b for b in message.all_buttons if b.label.startswith(label))
    replies = race(testbot, "Alice", same_press(button.encode()))
    no_apology(replies)
    with Session(engine) as session:
        (reminder,) = session.exec(select(Reminder)).all()
        queued = session.exec(select(Outbox).where(Outbox.status == OutboxStatus.pending)).all()
    if label == "Snooze":
        assert reminder.due_at == START + timedelta(hours=2)
    assert len(queued) == (0 if label == "Done" else 1)


def test_a_tag_made_at_once_on_two_records_is_made_once(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/add Max Muster")
    replies = race(
        testbot, "Alice", [{"text": "/tag Jane Doe #fair"}, {"text": "/tag Max Muster #fair"}] * 2
    )
    no_apology(replies)
    assert count(engine, Tag) == 1
    assert count(engine, ContactTag) == 2
