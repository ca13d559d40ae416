"""A command happens when it was sent, not when the bot got round to it: after a restart
with a backlog, a visit is stamped when it was logged, and "in 2 hours" or "tomorrow"
count from then. Times that cannot be right fall back to the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from handlers.dispatcher import MAX_MESSAGE_AGE, message_time
from storage.models import Activity, Contact, Reminder, StageChange
from tests.conftest import START, TestBot


def _activities(engine: Engine, kind: str) -> list[Activity]:
    with Session(engine) as session:
        return list(session.exec(select(Activity).where(Activity.kind == kind)))


def test_a_backlog_is_stamped_when_it_was_sent(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    # The bot was down: the visit was sent at 13:00, the bot reads it the next morning.
    sent = START + timedelta(hours=4)
    testbot.clock.advance(hours=24)
    assert "Logged: visited Jane Doe (c1)" in testbot.say("/visit Jane Doe", sent_at=sent)
    [visit] = _activities(engine, "visit")
    assert visit.at == sent
    assert "20 hours ago · Alice visited Jane Doe" in testbot.say("/feed 1")
    with Session(engine) as session:
        jane = session.get(Contact, 1)
        assert jane is not None and jane.last_activity_at == sent


def test_relative_times_count_from_when_it_was_sent(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    # Sent on Monday 23:30, read on Tuesday 01:00: "tomorrow" is Tuesday, not Wednesday.
    monday_night = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    testbot.clock.now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    testbot.say("/remind Jane tomorrow 9am call back", sent_at=monday_night)
    testbot.say("/remind Jane in 2 hours send the quote", sent_at=monday_night)
    with Session(engine) as session:
        due = sorted(r.due_at for r in session.exec(select(Reminder)))
    assert due == [
        datetime(2026, 11, 24, 1, 30, tzinfo=UTC),
        datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    ]


def test_unbelievable_times_fall_back_to_the_clock(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/call Jane Doe", sent_at=START + timedelta(hours=1))  # ahead of the clock
    testbot.say("/meet Jane Doe", sent_at=START - timedelta(days=30))  # no backlog is that old
    testbot.say("/note Jane Doe prefers e-mail")  # no time given
    for kind in ("call", "meeting", "note"):
        assert [a.at for a in _activities(engine, kind)] == [START], kind


def test_message_time_bounds() -> None:
    assert message_time(None, START) == START
    assert message_time(START - MAX_MESSAGE_AGE, START) == START - MAX_MESSAGE_AGE
    assert message_time(START - MAX_MESSAGE_AGE - timedelta(seconds=1), START) == START
    assert message_time(START + timedelta(seconds=1), START) == START
    assert message_time(START - timedelta(minutes=5), START) == START - timedelta(minutes=5)


def test_a_late_message_never_moves_a_deal_before_its_last_move(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.say("/deal Website 5k")
    testbot.clock.advance(hours=20)
    testbot.say("/stage 1 qualified")  # a button pressed in the backlog: dated on arrival
    testbot.say("/stage 1 proposal", sent_at=START + timedelta(hours=1))  # sent before that
    with Session(engine) as session:
        stays = [c.stay_seconds for c in session.exec(select(StageChange)) if c.from_stage_id]
    assert stays == [20 * 3600, 0]
