"""What the bot says first: won-deal announcements, the morning agenda, the Monday
digest (at the right local hours, once), and their opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from bot.senders import RecordingSender
from handlers.context import ChatType, Request
from handlers.notices import queue_agendas, queue_weekly_digests
from storage.db import transaction
from storage.models import Outbox, OutboxKind, Platform
from tests.conftest import Clock, TestBot
from tests.delivery import deliver, outbox_rows, telegram


def _in_group(
    bot: TestBot, who: str, text: str, *, platform: Platform, chat_id: str, name: str
) -> str:
    reply = bot.dispatcher.handle_sync(
        Request(
            platform=platform,
            user_id=who.lower(),
            user_name=who,
            chat_id=chat_id,
            chat_type=ChatType.group,
            chat_name=name,
            text=text,
        )
    )
    assert reply is not None
    return reply.plain_text


def _join_on_slack(bot: TestBot, who: str, role: str) -> None:
    invite = bot.send(f"/invite {role}")
    code = next(span.text for line in invite.lines for span in line.spans if span.style == "code")
    assert "Welcome" in _in_group(
        bot, who, f"/join {code}", platform=Platform.slack, chat_id="D1", name=""
    )


def test_a_won_deal_is_announced_once_in_each_channel_of_its_team(
    testbot: TestBot, open_signup_bot: TestBot, engine: Engine, clock: Clock
) -> None:
    _in_group(
        testbot,
        "Alice",
        "/announce here",
        platform=Platform.telegram,
        chat_id="-100",
        name="Sales",
    )
    _join_on_slack(testbot, "Carla", "manager")
    _in_group(
        testbot, "Carla", "/announce here", platform=Platform.slack, chat_id="C1", name="#wins"
    )
    open_signup_bot.say("/start Blue", who="Zoe")
    _in_group(
        open_signup_bot,
        "Zoe",
        "/announce here",
        platform=Platform.telegram,
        chat_id="-200",
        name="Blue",
    )
    testbot.say("/add Jane Doe company:Acme")
    testbot.say("/deal Website Jane Doe 12k")
    clock.advance(days=3)
    assert "Won €12,000! Congratulations. Announced in 2 channels." in testbot.say("/won 1")
    tg, slack = telegram(), RecordingSender(platform=Platform.slack)
    deliver(engine, clock, tg, slack)
    deliver(engine, clock, tg, slack)  # a second run sends nothing twice
    expected = "🎉 Alice won Website (d1) for €12,000\nWith Jane Doe · Acme, after 3 days."
    assert [r.plain_text for r in tg.to("-100")] == [expected]
    assert [r.plain_text for r in slack.to("C1")] == [expected]
    assert tg.to("-200") == []  # another team's channel hears nothing

    # Reopened and won again: a new win, a new announcement.
    testbot.say("/stage 1 proposal")
    testbot.say("/won 1")
    open_signup_bot.say("/deal Blue thing 1k", who="Zoe")
    open_signup_bot.say("/won Blue thing", who="Zoe")
    deliver(engine, clock, tg, slack)
    assert len(tg.to("-100")) == len(slack.to("C1")) == 2
    assert [r.plain_text.splitlines()[0] for r in tg.to("-200")] == [
        "🎉 Zoe won Blue thing (d2) for €1,000"
    ]


def test_no_channel_no_announcement(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/deal Website")
    won = testbot.say("/won 1")
    assert "Announced" not in won
    assert outbox_rows(engine) == []


def _queue(engine: Engine, job: str, now: datetime) -> int:
    with transaction(engine) as session:
        return (queue_agendas if job == "agenda" else queue_weekly_digests)(session, now=now)


def test_the_agenda_comes_at_eight_local_time_once(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.join("Bob")
    testbot.join("Carla")
    testbot.say("/tz Berlin")
    testbot.say("/tz New York", who="Bob")
    testbot.say("/remind tomorrow 3pm call Jane")
    testbot.say("/remind tomorrow 10am demo", who="Bob")
    testbot.say("/remind in 1 hour Carla's is today, not tomorrow", who="Carla")

    assert _queue(engine, "agenda", datetime(2026, 11, 24, 6, 59, tzinfo=UTC)) == 0
    assert _queue(engine, "agenda", datetime(2026, 11, 24, 7, 0, tzinfo=UTC)) == 1  # Alice
    assert _queue(engine, "agenda", datetime(2026, 11, 24, 7, 5, tzinfo=UTC)) == 0  # once
    # Carla (UTC) has nothing due on the 24th: no agenda at her 08:00.
    assert _queue(engine, "agenda", datetime(2026, 11, 24, 8, 0, tzinfo=UTC)) == 0
    testbot.say("/today off", who="Bob")
    assert _queue(engine, "agenda", datetime(2026, 11, 24, 13, 0, tzinfo=UTC)) == 0
    testbot.say("/today on", who="Bob")
    assert _queue(engine, "agenda", datetime(2026, 11, 24, 13, 0, tzinfo=UTC)) == 1  # 08:00 NY
    # After 11:00 local it is too late for a morning agenda.
    assert _queue(engine, "agenda", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)) == 0

    agendas = [row for row in outbox_rows(engine) if row.kind == OutboxKind.digest]
    assert [(row.chat_id, row.dedupe_key) for row in agendas] == [
        ("alice", "agenda:1:2026-11-24"),
        ("bob", "agenda:2:2026-11-24"),
    ]
    clock.now = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    sender = telegram()
    deliver(engine, clock, sender)
    [alice] = sender.to("alice")
    assert alice.plain_text.splitlines()[:3] == [
        "Good morning, Alice! Your Tuesday 24 Nov",
        "Reminders",
        "• #1 · 15:00 · call Jane",
    ]
    assert "#2 · 10:00 · demo" in sender.to("bob")[0].plain_text


def test_a_late_start_still_sends_the_mornings_agenda(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/remind tomorrow 5pm call Jane")
    assert _queue(engine, "agenda", datetime(2026, 11, 24, 10, 30, tzinfo=UTC)) == 1


def test_the_weekly_digest_on_monday_morning_team_time(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.say("/tz team Europe/Berlin")
    _in_group(
        testbot,
        "Alice",
        "/announce here",
        platform=Platform.telegram,
        chat_id="-100",
        name="Sales",
    )
    clock.now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    testbot.say("/deal Hosting 2k stage:proposal")
    testbot.say("/deal Big one 50k stage:negotiation")
    clock.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    testbot.say("/deal Website 12k")
    testbot.say("/won Website")
    testbot.say("/note Big one budget approved")
    for outbox in outbox_rows(engine):
        assert outbox.kind == OutboxKind.announcement

    monday_nine = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert _queue(engine, "digest", datetime(2026, 12, 6, 8, 0, tzinfo=UTC)) == 0  # Sunday
    assert _queue(engine, "digest", datetime(2026, 12, 7, 7, 59, tzinfo=UTC)) == 0
    assert _queue(engine, "digest", monday_nine) == 1
    assert _queue(engine, "digest", datetime(2026, 12, 7, 10, 0, tzinfo=UTC)) == 0  # once
    [digest] = [row for row in outbox_rows(engine) if row.kind == OutboxKind.digest]
    assert (digest.chat_id, digest.dedupe_key) == ("-100", "digest:1:2026-W50:1")
    clock.now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    sender = telegram()
    deliver(engine, clock, sender)
    text = [r.plain_text for r in sender.to("-100")][-1]
    assert text.splitlines() == [
        "Pipeline digest · week 49 of 2026",
        "Won last week: 1 · €12,000",
        "• Website (d3) · €12,000 · Alice",
        "Open pipeline",
        "• Lead: 0 deals",
        "• Qualified: 0 deals",
        "• Proposal: 1 deal · €2,000",
        "• Negotiation: 1 deal · €50,000",
        "Weighted: €38,500",
        "Rotting: 1",
        "• Hosting (d1) · €2,000 · Proposal · rotting, no activity for 14 days · Alice",
    ]


def test_the_digest_can_be_turned_off_and_previewed(testbot: TestBot, engine: Engine) -> None:
    _in_group(
        testbot,
        "Alice",
        "/announce here",
        platform=Platform.telegram,
        chat_id="-100",
        name="Sales",
    )
    preview = testbot.say("/digest")
    assert (
        "Pipeline digest · week 47 of 2026" in preview and "every Monday at 09:00: on" in preview
    )
    assert "digest is now off" in testbot.say("/digest off")
    assert _queue(engine, "digest", datetime(2026, 11, 30, 9, 30, tzinfo=UTC)) == 0
    assert "digest is now on" in testbot.say("/digest on")
    assert _queue(engine, "digest", datetime(2026, 11, 30, 9, 30, tzinfo=UTC)) == 1
    testbot.join("Bob")
    assert "Only managers" in testbot.say("/digest", who="Bob")
    assert "I don't understand" in testbot.say("/digest sometimes")


def test_no_channel_no_digest(testbot: TestBot, engine: Engine) -> None:
    assert _queue(engine, "digest", datetime(2026, 11, 30, 9, 30, tzinfo=UTC)) == 0
    with transaction(engine) as session:
        assert session.get(Outbox, 1) is None
