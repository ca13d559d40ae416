"""Reminders: /remind, /reminders, /done, /snooze, /today, /tz, and the buttons on a
delivered reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from bot.senders import RecordingSender
from handlers.context import ChatType, Request
from storage.models import OutboxStatus, Platform
from tests import towns
from tests.conftest import Clock, TestBot
from tests.delivery import deliver, outbox_rows, telegram
from tests.phones import LANDLINE

# The clock says Monday 23 Nov 2026, 09:00 UTC; the team's timezone is UTC.


def test_remind_about_a_contact_with_a_time_and_a_text(testbot: TestBot, engine: Engine) -> None:
    testbot.say(f"/add Jane Doe company:Acme {LANDLINE.international}")
    reply = testbot.say("/remind Jane tomorrow 9am call about the renewal")
    assert "OK, I'll remind you Tue 24 Nov 09:00 (tomorrow): call about the renewal" in reply
    assert "— Jane Doe (c1)" in reply
    assert "/snooze 1 WHEN" in reply and "/done 1" in reply
    [row] = outbox_rows(engine)
    assert (row.kind, row.platform, row.chat_id, row.status) == (
        "reminder",
        "telegram",
        "alice",
        OutboxStatus.pending,
    )
    assert row.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert row.dedupe_key == f"reminder:1:{int(row.due_at.timestamp())}"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/remind in 2 hours send the quote", "Mon 23 Nov 11:00 (in 2 hours): send the quote"),
        ("/remind call Bob tomorrow at 14:00", "Tue 24 Nov 14:00 (tomorrow): call Bob"),
        ("/remind next friday to chase the invoice", "Fri 27 Nov 09:00 (in 4 days): chase the"),
        ("/remind 30m #hot lead: ring back", "Mon 23 Nov 09:30 (in 30 minutes): #hot lead"),
    ],
)
def test_remind_without_a_reference(testbot: TestBot, command: str, expected: str) -> None:
    reply = testbot.say(command)
    assert expected in reply, reply
    assert "—" not in reply.splitlines()[0]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/remind c1 please call 14:00", "Mon 23 Nov 14:00 (in 5 hours): please call — Jane"),
        ("/remind c1 re the offer 🙂 tomorrow", "Tue 24 Nov 09:00 (tomorrow): re the offer 🙂 —"),
        ("/remind d1 send the contract 17:30", "Mon 23 Nov 17:30 (in 8 hours): send the"),
        ("/remind c1 tuesday next week call back", "Tue 1 Dec 09:00 (in 8 days): call back —"),
        ("/remind c1 next week tuesday call back", "Tue 1 Dec 09:00 (in 8 days): call back —"),
        ("/remind c1 friday eod send the deck", "Fri 27 Nov 17:00 (in 4 days): send the deck"),
        ("/remind c1 end of week chase", "Fri 27 Nov 17:00 (in 4 days): chase —"),
    ],
)
def test_words_between_an_id_and_the_time_are_the_reminders(
    testbot: TestBot, command: str, expected: str
) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Acme renewal 5k")
    reply = testbot.say(command)
    assert expected in reply, reply


def test_remind_about_a_deal_and_names_that_look_like_dates(testbot: TestBot) -> None:
    testbot.say("/deal Acme renewal 5k")
    deal = testbot.say("/remind Acme renewal next friday follow up")
    assert "Fri 27 Nov 09:00" in deal and ": follow up — Acme renewal (d1)" in deal
    testbot.say("/add May Smith")
    may = testbot.say("/remind May Smith tomorrow call her back")
    assert "Tue 24 Nov 09:00" in may and "call her back — May Smith (c1)" in may
    by_id = testbot.say("/remind c1 in 3 days")
    assert "Thu 26 Nov 09:00" in by_id and "Follow up — May Smith (c1)" in by_id


def test_an_ambiguous_name_asks_which_one(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/add Jane Roe")
    question = testbot.send("/remind Jane tomorrow call")
    assert "Which one" in question.plain_text
    picked = testbot.press("Jane Roe")
    assert "call — Jane Roe (c2)" in picked.plain_text


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/remind", "When, and what about?"),
        ("/remind someday call Jane", "I can't tell when"),
        ("/remind call Jane", "tomorrow 9am, in 2 hours"),
        ("/remind am call Jane", "I can't tell when"),  # not "a m(inute)"
        ("/remind yesterday call Jane", "has already passed"),
        ("/remind 2020-01-01 call Jane", "has already passed"),
        ("/remind tomorrow", "What should I remind you of?"),
        ("/remind 2040-01-01 retire", "more than five years"),
        ("/remind tomorrow " + "x" * 600, "at most 500 characters"),
        # A time of day typed apart from its day would be text, the reminder due at 09:00.
        ("/remind Jane am 15.12. um 14:30 Termin", "“14:30” is a time"),
        ("/remind Jane tomorrow call her at 3pm", "“3pm” is a time"),
    ],
)
def test_bad_reminders_get_a_clear_answer(
    testbot: TestBot, engine: Engine, command: str, answer: str
) -> None:
    reply = testbot.send(command)
    assert reply.error and answer in reply.plain_text, reply.plain_text
    assert outbox_rows(engine) == []


def test_reminders_in_the_members_timezone(testbot: TestBot, engine: Engine) -> None:
    zone = ZoneInfo(towns.town(towns.MUNICH)["timezone"])  # Europe/Berlin
    there = testbot.clock.now.astimezone(zone).strftime("%H:%M")
    assert f"{zone} ({towns.city(towns.MUNICH)}); it is {there} there" in testbot.say("/tz Munich")
    reply = testbot.say("/remind tomorrow 9am call Jane")
    assert "Tue 24 Nov 09:00" in reply
    [row] = outbox_rows(engine)
    assert row.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=zone)


def test_tz_shows_sets_and_refuses(testbot: TestBot) -> None:
    shown = testbot.say("/tz")
    assert "Your timezone: UTC (the team's)" in shown
    assert "America/New_York" in testbot.say("/tz New York")
    assert "Etc/GMT-2" in testbot.say("/tz UTC+2")
    assert "don't know the timezone “Narnia”" in testbot.say("/tz Narnia")
    assert "follow the team's timezone, UTC" in testbot.say("/tz default")
    assert "The team's timezone is now Asia/Tokyo" in testbot.say("/tz team Asia/Tokyo")
    testbot.join("Bob")
    assert "Only admins" in testbot.say("/tz team Europe/Paris", who="Bob")


def test_reminders_done_and_snooze(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/remind tomorrow 9am first")
    testbot.say("/remind in 2 hours second")
    listing = testbot.say("/reminders")
    assert listing.index("#2 · 11:00 · second") < listing.index("#1 · Tue 24 Nov 09:00 · first")
    assert "Done: #2 second." in testbot.say("/done 2")
    assert "already done" in testbot.say("/done #2")
    assert "no reminder #9" in testbot.say("/done 9")
    assert "not a reminder number" in testbot.say("/done soon")
    assert "#1 moved to Wed 25 Nov 10:00 (in 2 days): first" in testbot.say(
        "/snooze 1 wednesday 10am"
    )
    # An hour later than it was due, not an hour from now, which would be earlier.
    assert "#1 moved to Wed 25 Nov 11:00 (in 2 days)" in testbot.say("/snooze 1")
    assert "#1 moved to Wed 25 Nov 11:30 (in 2 days)" in testbot.say("/snooze 1 30m")
    # A time named outright is taken even when it is earlier.
    assert "#1 moved to Mon 23 Nov 10:00 (in 1 hour)" in testbot.say("/snooze 1 10am")
    assert "has already passed" in testbot.say("/snooze 1 yesterday")
    assert "has already passed" in testbot.say("/snooze 1 in -5 minutes")
    assert "can't read “whenever”" in testbot.say("/snooze 1 whenever")
    pending = [row for row in outbox_rows(engine) if row.status == OutboxStatus.pending]
    assert [(row.reminder_id, row.due_at) for row in pending] == [
        (1, datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    ]
    assert "second" not in testbot.say("/reminders")


def test_reminders_are_private_to_their_owner(testbot: TestBot, open_signup_bot: TestBot) -> None:
    testbot.say("/add Rita Red")
    testbot.say("/remind tomorrow 9am secret plan")
    open_signup_bot.say("/start Blue", who="Zoe")
    assert "no reminder #1" in open_signup_bot.say("/done 1", who="Zoe")
    assert "no reminder #1" in open_signup_bot.press_encoded("rd:1", who="Zoe").plain_text
    # Another team's contact is no reference: the words are just the reminder's text.
    other = open_signup_bot.say("/remind Rita Red tomorrow call", who="Zoe")
    assert "Rita Red call" in other and "(c1)" not in other
    testbot.join("Bob")
    assert "no reminder #1" in testbot.say("/done 1", who="Bob")
    assert "no reminder #1" in testbot.say("/snooze 1 friday", who="Bob")
    assert "secret" not in testbot.say("/reminders", who="Bob")
    for data in ("rd:1", "rz:1:60", "rt:1"):
        assert "no reminder #1" in testbot.press_encoded(data, who="Bob").plain_text
    assert "secret plan" in testbot.say("/reminders")


def test_delivery_with_buttons_snooze_and_done(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.say(f"/add Jane Doe company:Acme {LANDLINE.international}")
    testbot.say("/remind Jane in 10 minutes call about the renewal")
    sender = telegram()
    deliver(engine, clock, sender)
    assert sender.sent == []  # not due yet
    clock.advance(minutes=10)
    deliver(engine, clock, sender)
    [message] = sender.to("alice")
    text = message.plain_text
    assert text.startswith("⏰ call about the renewal")
    assert f"Contact: Jane Doe (c1) · Acme · {LANDLINE.international}" in text
    # Snooze carries the due time it snoozes from (minutes since 1970): pressed twice,
    # it snoozes once.
    due = int(clock.now.timestamp()) // 60
    assert [(b.label, b.encode()) for b in message.all_buttons] == [
        ("Done", "rd:1"),
        ("Snooze 1h", f"rz:1:60:{due}"),
        ("Tomorrow 9:00", "rt:1"),
    ]
    assert "Delivered, not done yet" in testbot.say("/reminders")

    snoozed = testbot.press_encoded(f"rz:1:60:{due}")
    assert (
        "already moved, to Mon 23 Nov 10:10" in testbot.press_encoded(f"rz:1:60:{due}").plain_text
    )
    assert snoozed.edit and "snoozed until Mon 23 Nov 10:10" in snoozed.plain_text
    clock.advance(minutes=59)
    deliver(engine, clock, sender)
    assert len(sender.sent) == 1
    clock.advance(minutes=1)
    deliver(engine, clock, sender)
    assert len(sender.sent) == 2

    tomorrow = testbot.press_encoded("rt:1")
    assert "snoozed until Tue 24 Nov 09:00" in tomorrow.plain_text
    done = testbot.press_encoded("rd:1")
    assert done.edit and "✓ Done: call about the renewal — Jane Doe (c1)" in done.plain_text
    clock.advance(days=1)
    deliver(engine, clock, sender)
    assert len(sender.sent) == 2  # done before it was due: never sent
    assert "No reminders" in testbot.say("/reminders")
    assert "no longer valid" in testbot.press_encoded("rz:1").plain_text


@pytest.mark.parametrize("platform", [Platform.telegram, Platform.slack, Platform.console])
def test_a_reminder_goes_to_a_direct_message_on_the_platform_it_was_set_from(
    testbot: TestBot, engine: Engine, clock: Clock, platform: Platform
) -> None:
    # Carla works from a group chat; her reminders come to her directly.
    def carla(text: str) -> str:
        request = Request(
            platform=platform,
            user_id="U42",
            user_name="Carla",
            chat_id="-100" if platform == Platform.telegram else "C1",
            chat_type=ChatType.group,
            text=text,
        )
        reply = testbot.dispatcher.handle_sync(request)
        assert reply is not None
        return reply.plain_text

    invite = testbot.send("/invite")
    code = next(span.text for line in invite.lines for span in line.spans if span.style == "code")
    # In the terminal, new names join at once.
    assert "Welcome" in carla("/start" if platform == Platform.console else f"/join {code}")
    assert "OK, I'll remind you" in carla("/remind in 5 minutes stretch")
    clock.advance(minutes=5)
    sender = RecordingSender(platform=platform)
    deliver(engine, clock, sender)
    assert [sent.chat_id for sent in sender.sent] == ["U42"]
    assert sender.sent[0].reply.plain_text.startswith("⏰ stretch")


def test_today_and_the_agenda_switch(testbot: TestBot, clock: Clock) -> None:
    assert "Nothing due today" in testbot.say("/today")
    testbot.say("/deal Website 12k close:2026-11-25")
    testbot.say("/deal Hosting 2k stage:proposal")
    testbot.say("/remind in 3 hours call Jane")
    clock.advance(days=15)  # Hosting rots (14 days in Proposal); Website (Lead, 14) too
    testbot.say("/note Website still interested")  # activity resets Website's clock
    testbot.say("/remind in 1 hour send the quote")
    today = testbot.say("/today")
    assert "Your day, Tuesday 8 Dec" in today
    assert "#2 · 10:00 · send the quote" in today
    assert "call Jane" not in today  # that was two weeks ago
    assert "Hosting (d2) · €2,000 · Proposal · rotting, no activity for 15 days" in today
    assert "Website (d1) · €12,000 · Lead · expected Wed 25 Nov · overdue" in today
    assert "Website (d1) · €12,000 · Lead · rotting" not in today
    assert "arrives at 08:00 your time when there is something: on" in today
    assert "agenda is now off" in testbot.say("/today off")
    assert "something: off (/today on)" in testbot.say("/today")
    assert "I don't understand" in testbot.say("/today maybe")


def test_snooze_tomorrow_button_uses_the_local_morning(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.say("/tz America/Los_Angeles")  # 01:00 there
    testbot.say("/remind in 1 minute stand up")
    pressed = testbot.press_encoded("rt:1")
    assert "snoozed until Tue 24 Nov 09:00" in pressed.plain_text
    pending = [row for row in outbox_rows(engine) if row.status == OutboxStatus.pending]
    assert pending[0].due_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert pending[0].due_at - clock.now == timedelta(days=1, hours=8)


def test_when_a_reminder_comes_is_counted_in_calendar_days(testbot: TestBot, clock: Clock) -> None:
    clock.advance(hours=7)  # Monday 16:00: Wednesday 9:30 is 41.5 hours away
    assert "Wed 25 Nov 09:30 (in 2 days)" in testbot.say("/remind the day after tomorrow 9:30 x")
    assert "Tue 24 Nov 08:00 (tomorrow)" in testbot.say("/remind tomorrow 8am call Jane")
    assert "Mon 23 Nov 18:00 (in 2 hours)" in testbot.say("/remind in 2 hours call Jane")
