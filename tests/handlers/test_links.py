"""One member across platforms: /link codes (one use, ten minutes, one team, guesses
limited), merging two teammates, /unlink, and /notify choosing where reminders go."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import col, func, select

from bot.senders import PermanentError, RecordingSender
from handlers.context import ChatType, Request
from handlers.notices import queue_agendas
from handlers.reply import Reply
from storage.db import transaction
from storage.links import CODE_LENGTH
from storage.models import (
    Activity,
    Contact,
    Deal,
    DealTotal,
    Member,
    OutboxKind,
    OutboxStatus,
    Platform,
    Reminder,
    StageChange,
)
from tests.conftest import Clock, TestBot
from tests.delivery import deliver, outbox_rows


@pytest.fixture
def slack(testbot: TestBot) -> TestBot:
    """The same installation, spoken to from Slack (user ids are the lowered names)."""
    return TestBot(testbot.dispatcher, testbot.clock, platform=Platform.slack)


def link_code(reply: Reply) -> str:
    return next(
        span.text
        for line in reply.lines
        for span in line.spans
        if span.style == "code" and not span.text.startswith("/")
    )


def join_on(bot: TestBot, who: str, inviter: TestBot, role: str = "rep") -> None:
    invite = link_code(inviter.send(f"/invite {role}"))
    assert "Welcome" in bot.say(f"/join {invite}", who=who)


def in_telegram_group(bot: TestBot, text: str) -> str:
    """What Alice is answered in the Telegram group "Sales"."""
    request = Request(
        platform=Platform.telegram,
        user_id="alice",
        user_name="Alice",
        chat_id="-100",
        chat_type=ChatType.group,
        chat_name="Sales",
        text=text,
    )
    reply = bot.dispatcher.handle_sync(request)
    assert reply is not None
    return reply.plain_text


def test_a_new_account_joins_the_member_who_asked(testbot: TestBot, slack: TestBot) -> None:
    asked = testbot.send("/link")
    code = link_code(asked)
    assert len(code) == CODE_LENGTH
    assert "within 10 minutes" in asked.plain_text and "on Slack" in asked.plain_text
    reply = slack.say(f"/link {code.lower()}", who="Alice S")
    assert "Linked: you are Alice (admin) in Acme Sales on Telegram and Slack." in reply
    # The Slack account is Alice now: what she adds there is hers, seen from Telegram.
    assert "Added" in slack.say("/add Jane Doe company:Acme", who="Alice S")
    assert "Jane Doe" in testbot.say("/find Jane")
    team = testbot.say("/team")
    assert "Alice · admin · telegram, slack" in team and "(1)" in team
    # Used once.
    again = slack.say(f"/link {code}", who="Mallory")
    assert "already" in again and "Linked" not in again


def test_expired_reused_and_foreign_team_codes_are_refused(
    open_signup_bot: TestBot, clock: Clock
) -> None:
    bot = open_signup_bot
    slack = TestBot(bot.dispatcher, clock, platform=Platform.slack)
    assert "created the team" in bot.say("/start Acme Sales")
    assert "created the team" in bot.say("/start Other Co", who="Zed")
    expired = link_code(bot.send("/link"))
    clock.advance(minutes=10, seconds=1)
    assert "has expired" in slack.say(f"/link {expired}", who="Alice S")
    fresh = link_code(bot.send("/link"))
    foreign = bot.say(f"/link {fresh}", who="Zed")
    assert "another team" in foreign
    assert "Linked" in slack.say(f"/link {fresh}", who="Alice S")
    assert "used already" in slack.say(f"/link {fresh}", who="Eve")
    # Zed's team never saw Acme's member, and Acme's team list is Alice's alone.
    assert "Alice" not in bot.say("/team", who="Zed")
    assert "(1)" in bot.say("/team")


def test_a_new_code_retires_the_previous_one(testbot: TestBot, slack: TestBot) -> None:
    first = link_code(testbot.send("/link"))
    second = link_code(testbot.send("/link"))
    assert "used already" in slack.say(f"/link {first}", who="Alice S")
    assert "Linked" in slack.say(f"/link {second}", who="Alice S")


def test_wrong_codes_are_limited_per_sender(
    testbot: TestBot, slack: TestBot, clock: Clock
) -> None:
    code = link_code(testbot.send("/link"))
    for guess in ("AAAAAAAAAA", "BBBBBBBBBB", "CCCCCCCCCC", "DDDDDDDDDD", "EEEEEEEEEE"):
        assert "no such link code" in slack.say(f"/link {guess}", who="Mallory")
    assert "Too many wrong link codes" in slack.say(f"/link {code}", who="Mallory")
    # Someone else is not held back by Mallory's guesses.
    assert "Linked" in slack.say(f"/link {code}", who="Alice S")
    clock.advance(minutes=15)
    later = link_code(testbot.send("/link"))
    assert "Linked" not in slack.say(f"/link {later}", who="Alice S")  # already Alice


def test_codes_come_from_members_and_go_to_the_other_platform(
    testbot: TestBot, slack: TestBot
) -> None:
    assert "where you already use crmbot" in slack.say("/link", who="Stranger")
    assert "in a direct message" in in_telegram_group(testbot, "/link")
    code = link_code(testbot.send("/link"))
    assert "already is Alice" in testbot.say(f"/link {code}")
    assert "Linked" in slack.say(f"/link {code}", who="Alice S")
    code = link_code(testbot.send("/link"))
    refused = slack.say(f"/link {code}", who="Another Slack")
    assert "already uses crmbot on Slack" in refused


def _counts(engine: Engine) -> dict[str, Counter[int]]:
    with transaction(engine) as session:
        return {
            "contacts": Counter(session.exec(select(Contact.owner_id)).all()),  # type: ignore[arg-type]
            "deals": Counter(session.exec(select(Deal.owner_id)).all()),
            "activities": Counter(session.exec(select(Activity.member_id)).all()),  # type: ignore[arg-type]
            "reminders": Counter(session.exec(select(Reminder.member_id)).all()),
            "moves": Counter(session.exec(select(StageChange.member_id)).all()),  # type: ignore[arg-type]
        }


def test_two_teammates_merge_into_one_after_the_preview(
    testbot: TestBot, slack: TestBot, engine: Engine
) -> None:
    # Bob is a rep on Slack with his own records; Alice, the admin, works on Telegram.
    join_on(slack, "Bob", testbot)
    slack.say("/add Jane Doe company:Acme", who="Bob")
    slack.say("/deal Acme renewal Jane 12.000 €", who="Bob")
    slack.say("/stage Acme renewal Proposal", who="Bob")
    slack.say("/note Jane asked for the 📞 quote", who="Bob")
    slack.say("/remind Jane tomorrow 9am call", who="Bob")
    testbot.say("/add Łukasz Nowak")
    testbot.say("/deal Nowak website 3k Łukasz")
    before = _counts(engine)
    totals = {kind: sum(counter.values()) for kind, counter in before.items()}

    # Bob asks on Slack; Alice's Telegram account is Bob too.
    code = link_code(slack.send("/link", who="Bob"))
    preview = testbot.send(f"/link {code}")
    text = preview.plain_text
    assert "This account is Alice (admin). Link it to Bob (rep)?" in text
    # What moves is what the sender's member (Alice) has.
    assert "1 contact, 1 deal, 3 activities and 0 reminders move to Bob" in text
    assert "Bob is then an admin" in text
    assert [b.label for b in preview.all_buttons] == ["Link", "Cancel"]
    # The code is spoken for while the preview waits.
    assert "used already" in slack.say(f"/link {code}", who="Eve")

    done = testbot.press("Link")
    assert done.edit and "Linked: you are Bob (admin) in Acme Sales" in done.plain_text
    assert "on Telegram and Slack" in done.plain_text
    after = _counts(engine)
    with transaction(engine) as session:
        bob = session.exec(select(Member).where(Member.name == "Bob")).one()
        alice = session.exec(select(Member).where(Member.name == "Alice")).one()
        assert not alice.active and bob.role == "admin" and bob.id is not None
        gone_totals = session.exec(
            select(func.coalesce(func.sum(DealTotal.deals), 0)).where(
                col(DealTotal.owner_id) == alice.id
            )
        ).one()
    assert gone_totals == 0
    for kind, counter in after.items():
        assert sum(counter.values()) == totals[kind], kind  # every record kept
        assert set(counter) <= {bob.id, None}, kind
    assert after["deals"][bob.id] == 2 and after["contacts"][bob.id] == 2

    # The pending action is consumed once.
    link = preview.all_buttons[0].encode()
    assert "done or cancelled already" in testbot.press_encoded(link).plain_text
    team = testbot.say("/team")
    assert "Bob · admin · telegram, slack" in team and "Alice" not in team
    assert "Acme renewal" in testbot.say("/deals mine") and "Nowak website" in slack.say(
        "/deals mine", who="Bob"
    )


def test_cancel_merges_nothing(testbot: TestBot, slack: TestBot, engine: Engine) -> None:
    join_on(slack, "Bob", testbot)
    slack.say("/add Jane Doe", who="Bob")
    before = _counts(engine)
    preview = testbot.send(f"/link {link_code(slack.send('/link', who='Bob'))}")
    assert "Cancelled" in testbot.press("Cancel").plain_text
    link = preview.all_buttons[0].encode()
    assert "done or cancelled already" in testbot.press_encoded(link).plain_text
    assert _counts(engine) == before
    assert "(2)" in testbot.say("/team")


def test_unlink_takes_a_platform_off(testbot: TestBot, slack: TestBot) -> None:
    assert "only place you use crmbot" in testbot.say("/unlink telegram")
    assert "not on Slack" in testbot.say("/unlink slack")
    assert "Which platform" in testbot.say("/unlink fax")
    slack.say(f"/link {link_code(testbot.send('/link'))}", who="Alice S")
    reply = testbot.say("/unlink slack")
    assert "Unlinked Slack: you use crmbot on Telegram now." in reply
    assert "not in a team yet" in slack.say("/find Jane", who="Alice S")
    assert "Alice · admin · telegram" in testbot.say("/team")


def test_notify_moves_reminders_and_both_platforms_share_done(
    testbot: TestBot, slack: TestBot, engine: Engine
) -> None:
    assert "not on Slack yet" in testbot.say("/notify slack")
    slack.say(f"/link {link_code(testbot.send('/link'))}", who="Alice S")
    testbot.say("/remind tomorrow 9am call Jane back")
    [row] = outbox_rows(engine)
    assert (row.platform, row.chat_id) == ("telegram", "alice")

    assert "I reach you on Slack (/notify slack)." in testbot.say("/notify slack")
    [row] = [r for r in outbox_rows(engine) if r.status == OutboxStatus.pending]
    assert (row.platform, row.chat_id) == ("slack", "alice s")

    assert "Telegram, Slack" in testbot.say("/notify both")
    rows = [r for r in outbox_rows(engine) if r.status == OutboxStatus.pending]
    assert sorted(r.platform for r in rows) == ["slack", "telegram"]
    done = next(b for b in Reply.of_message(rows[0].payload).all_buttons if b.label == "Done")

    assert "Done" in slack.press_encoded(done.encode(), who="Alice S").plain_text
    assert "already done" in testbot.press_encoded(done.encode()).plain_text
    assert not [r for r in outbox_rows(engine) if r.status == OutboxStatus.pending]
    # Automatic again: wherever she was last active (Telegram, just now).
    assert "on Telegram (wherever you were last active)" in testbot.say("/notify auto")
    assert "on Slack (wherever" in slack.say("/notify", who="Alice S")


def test_the_agenda_and_failure_notices_follow_notify(
    testbot: TestBot, slack: TestBot, engine: Engine, clock: Clock
) -> None:
    slack.say(f"/link {link_code(testbot.send('/link'))}", who="Alice S")
    testbot.say("/remind tomorrow 3pm call Jane")
    testbot.say("/notify both")
    with transaction(engine) as session:
        assert queue_agendas(session, now=datetime(2026, 11, 24, 8, 0, tzinfo=UTC)) == 2
    agendas = [r for r in outbox_rows(engine) if r.kind == OutboxKind.digest]
    assert sorted((r.platform, r.chat_id, r.dedupe_key) for r in agendas) == [
        ("slack", "alice s", "agenda:1:2026-11-24:slack"),
        ("telegram", "alice", "agenda:1:2026-11-24:telegram"),
    ]

    # The Telegram group refuses the announcement: Alice, who set it up, hears it on Slack,
    # where she asked to be reached, not in her Telegram chat.
    assert "hears about every won deal" in in_telegram_group(testbot, "/announce here")
    testbot.say("/notify slack")
    testbot.say("/deal Website 12k")
    testbot.say("/won Website")
    gone = RecordingSender(
        platform=Platform.telegram,
        answer=lambda chat, _: PermanentError("chat not found") if chat == "-100" else None,
    )
    deliver(engine, clock, gone, RecordingSender(platform=Platform.slack))
    [notice] = [r for r in outbox_rows(engine) if r.kind == OutboxKind.notice]
    assert (notice.platform, notice.chat_id) == ("slack", "alice s")
    assert (
        "could not deliver the announcement of Website"
        in Reply.of_message(notice.payload).plain_text
    )


def test_a_merge_never_gives_a_member_two_accounts_on_one_platform(
    testbot: TestBot, slack: TestBot
) -> None:
    slack.say(f"/link {link_code(testbot.send('/link'))}", who="Alice S")
    join_on(slack, "Bob", testbot)
    refused = testbot.say(f"/link {link_code(slack.send('/link', who='Bob'))}")
    assert "Bob already uses crmbot on Slack" in refused and "/unlink slack" in refused
    assert "(2)" in testbot.say("/team")


def in_new_workspace(bot: TestBot, text: str, *, user: str) -> str:
    """What `user` is answered in a direct message from a Slack workspace no team has."""
    request = Request(
        platform=Platform.slack,
        user_id=user,
        user_name=user.capitalize(),
        workspace_id="T0NEW",
        chat_id=f"D0{user}",
        chat_type=ChatType.private,
        text=text,
    )
    reply = bot.dispatcher.handle_sync(request)
    assert reply is not None
    return reply.plain_text


def test_only_an_admins_link_brings_a_new_workspace_into_the_team(testbot: TestBot) -> None:
    join_on(testbot, "Rob", testbot)
    code = link_code(testbot.send("/link", who="Rob"))
    linked = in_new_workspace(testbot, f"/link {code}", user="rob")
    assert "Linked" in linked and "other people are not in your team" in linked
    # A colleague of Rob's in that workspace is not let in by Rob's link.
    assert "Ask a teammate for an invite code" in in_new_workspace(testbot, "/start", user="eve")
    assert "Welcome" not in in_new_workspace(testbot, "/team", user="eve")
    # The admin's link does bring it in: everyone there joins on first use.
    code = link_code(testbot.send("/link"))
    assert "other people" not in in_new_workspace(testbot, f"/link {code}", user="alice")
    assert "You joined" in in_new_workspace(testbot, "/team", user="eve")


def test_a_reminder_refused_on_one_platform_but_delivered_on_the_other_is_delivered(
    testbot: TestBot, slack: TestBot, engine: Engine, clock: Clock
) -> None:
    slack.say(f"/link {link_code(testbot.send('/link'))}", who="Alice S")
    testbot.say("/notify both")
    testbot.say("/remind in 1 hour call Jane back")
    clock.advance(hours=1)
    # Telegram refuses first (she blocked the bot there); Slack delivers afterwards.
    blocked = RecordingSender(
        platform=Platform.telegram, answer=lambda *_: PermanentError("bot was blocked")
    )
    deliver(engine, clock, blocked)
    assert "Could not be delivered" in testbot.say("/reminders")
    deliver(engine, clock, RecordingSender(platform=Platform.slack))
    with transaction(engine) as session:
        [reminder] = session.exec(select(Reminder)).all()
    assert reminder.status == "sent"
    assert "Could not be delivered" not in testbot.say("/reminders")
