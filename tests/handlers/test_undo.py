"""/undo and the Undo button: a member takes back their own last change within 10 minutes,
exactly, once; a change something later depends on is refused and nothing is written."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from handlers.context import Request
from storage.models import (
    Activity,
    Change,
    Company,
    Contact,
    ContactTag,
    Deal,
    Outbox,
    OutboxStatus,
    Platform,
    StageChange,
    Tag,
)
from tests.conftest import START, TestBot
from tests.delivery import deliver, outbox_rows, telegram
from tests.phones import LANDLINE
from tests.totals import assert_totals_match


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _contact(engine: Engine, contact_id: int) -> Contact | None:
    with Session(engine) as session:
        return session.get(Contact, contact_id)


def _deal(engine: Engine, deal_id: int) -> Deal:
    with Session(engine) as session:
        deal = session.get(Deal, deal_id)
        assert deal is not None
        return deal


def _totals_match(engine: Engine) -> None:
    with Session(engine) as session:
        assert_totals_match(session)


def test_an_added_contact_disappears_with_what_came_with_it(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.say("/add Old Friend company:Acme")
    added = testbot.send("/add Jane Doe company:Initech jane@initech.com #hot")
    assert [b.label for b in added.all_buttons] == ["Undo", "Open c2"]
    assert testbot.say("/undo") == "Undone: added Jane Doe (c2)."
    assert _contact(engine, 2) is None
    assert "No contact or deal matches" in testbot.say("/show Jane Doe")
    # The company and the tag it made go too; the company another contact uses stays.
    with Session(engine) as session:
        assert [c.name for c in session.exec(select(Company))] == ["Acme"]
        assert list(session.exec(select(Tag))) == []
    assert "added Jane Doe" not in testbot.say("/feed")
    assert "Added Jane Doe (c" in testbot.say("/add Jane Doe")  # no duplicate warning


def test_the_undo_button_has_one_effect(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    undone = testbot.press("Undo")
    assert undone.edit and undone.plain_text == "Undone: added Jane Doe (c1)."
    assert not undone.buttons
    again = testbot.press_encoded("un:1")  # the same button again
    assert again.plain_text == "Already undone: added Jane Doe (c1)."
    assert testbot.say("/undo") == "Already undone: added Jane Doe (c1)."
    assert _count(engine, Contact) == 0 and _count(engine, Activity) == 1  # Alice joined


def test_an_edit_is_put_back_field_by_field(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe company:Acme title:CTO city:Potsdam")
    before = _contact(engine, 1)
    assert before is not None and before.lat is not None
    testbot.say("/edit Jane Doe title:CEO city:Xyzzyville company:Initech name:'Jane Roe'")
    assert testbot.say("/undo") == "Undone: edited Jane Roe (c1)."
    after = _contact(engine, 1)
    assert after is not None
    for field in ("name", "name_key", "title", "city", "company_id", "lat", "lon", "score"):
        assert getattr(after, field) == getattr(before, field), field
    assert "CTO at Acme" in testbot.say("/show Jane Doe")
    assert "edited" not in testbot.say("/feed")
    with Session(engine) as session:
        assert [c.name for c in session.exec(select(Company))] == ["Acme"]


def test_a_stage_move_goes_back_and_the_totals_follow(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/deal Website 12k close:2026-12-15")
    testbot.say("/deal Hosting 2k")
    testbot.say("/won Hosting")
    testbot.clock.advance(minutes=1)
    moved = testbot.send("/stage Website proposal")
    assert [b.label for b in moved.buttons[0]] == ["Undo", "Open d1"]
    before_changes = _count(engine, StageChange)
    assert testbot.say("/undo") == "Undone: moved Website (d1) to Proposal."
    website = _deal(engine, 1)
    assert website.stage_id == 1 and website.stage_entered_at == START
    assert website.last_activity_at == START
    assert _count(engine, StageChange) == before_changes - 1
    _totals_match(engine)
    assert "Lead: 1 deal · €12,000" in testbot.say("/pipeline")


def test_a_win_goes_back_and_its_announcement_is_withdrawn_or_corrected(
    testbot: TestBot, engine: Engine, clock: object
) -> None:
    assert "hears about every won deal" in testbot.in_group("/announce here")
    testbot.say("/deal Website 12k close:2026-12-15")
    testbot.say("/won 1")
    assert [row.status for row in outbox_rows(engine)] == [OutboxStatus.pending]
    assert testbot.say("/undo") == "Undone: moved Website (d1) to Won."
    assert outbox_rows(engine) == []  # withdrawn before it went out
    assert _deal(engine, 1).closed_at is None
    # Won again, announced, then taken back: the chat gets a correction.
    testbot.say("/won 1")
    sender = telegram()
    deliver(engine, testbot.clock, sender)
    undone = testbot.say("/undo")
    assert undone.startswith("Undone: moved Website (d1) to Won.")
    assert "I sent a correction to 1 chat" in undone
    deliver(engine, testbot.clock, sender)
    texts = [reply.plain_text for reply in sender.to("-100")]
    assert "won Website" in texts[0]
    assert texts[1] == "Correction: Website (d1) is not won after all; Alice took it back."
    # Won for real at last: announced again, though SQLite may hand out the same ids.
    testbot.say("/won 1")
    deliver(engine, testbot.clock, sender)
    assert len(sender.to("-100")) == 3 and "won Website" in sender.to("-100")[2].plain_text
    testbot.say("/deal Hosting 1k")
    testbot.say("/lost Hosting")
    _totals_match(engine)


def test_tags_notes_and_untags_are_reverted(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe #hot")
    testbot.clock.advance(minutes=1)
    testbot.say("/tag Jane Doe #vip")
    assert testbot.say("/undo") == "Undone: tagged Jane Doe (c1) #vip."
    testbot.say("/untag Jane Doe #hot")
    assert testbot.say("/undo") == "Undone: untagged Jane Doe (c1) #hot."
    assert "Tags: #hot" in testbot.say("/show c1")
    with Session(engine) as session:
        assert [t.name for t in session.exec(select(Tag))] == ["hot"]
        assert len(list(session.exec(select(ContactTag)))) == 1
    testbot.clock.advance(minutes=1)
    testbot.say("/note Jane Doe wants a quote")
    assert testbot.say("/undo") == "Undone: a note on Jane Doe (c1)."
    jane = _contact(engine, 1)
    assert jane is not None and jane.last_activity_at == START
    assert "wants a quote" not in testbot.say("/feed")


def test_only_my_own_changes_within_ten_minutes(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    testbot.join("Bob", "manager")
    refused = testbot.press_encoded("un:1", who="Bob")
    assert refused.error and refused.plain_text == "Only Alice can undo that."
    assert "Nothing to undo" in testbot.say("/undo", who="Bob")
    testbot.clock.advance(minutes=10, seconds=1)
    assert "Nothing to undo: you changed nothing in the last 10 minutes." in testbot.say("/undo")
    late = testbot.press_encoded("un:1")
    assert "too late to undo “added Jane Doe (c1)”: that was 10 minutes ago" in late.plain_text
    assert _contact(engine, 1) is not None


def test_another_team_cannot_undo_by_id(open_signup_bot: TestBot, engine: Engine) -> None:
    open_signup_bot.say("/start Acme", who="Alice")
    open_signup_bot.say("/add Jane Doe", who="Alice")
    open_signup_bot.say("/start Initech", who="Mallory")
    refused = open_signup_bot.press_encoded("un:1", who="Mallory")
    assert refused.error and "too old to undo" in refused.plain_text
    assert _contact(engine, 1) is not None


def test_what_a_later_change_depends_on_is_refused_clearly(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.join("Bob", "manager")
    testbot.say("/add Jane Doe")
    add = testbot.button("Undo").encode()
    testbot.say("/note Jane Doe met at the fair", who="Bob")
    refused = testbot.press_encoded(add)
    assert refused.error
    assert refused.plain_text == (
        "I can't undo “added Jane Doe (c1)”: Jane Doe (c1) has an activity since. "
        "Nothing was changed."
    )
    assert _contact(engine, 1) is not None
    # A deal moved on since it was opened; an edit of a field changed again since.
    testbot.say("/deal Website Jane Doe 5k")
    opened = testbot.button("Undo").encode()
    testbot.say("/stage Website qualified", who="Bob")
    assert (
        "Website (d1) has been changed since (stage)." in testbot.press_encoded(opened).plain_text
    )
    testbot.say("/edit Jane Doe title:CTO")
    edit = testbot.button("Undo").encode()
    reply = testbot.say(f"/edit Jane Doe phone:{LANDLINE.e164}", who="Bob")
    assert f"phone: {LANDLINE.international}" in reply
    testbot.say("/edit Jane Doe title:CEO", who="Bob")
    refused_edit = testbot.press_encoded(edit).plain_text
    assert "Jane Doe (c1) has been changed since (title)." in refused_edit
    assert "CEO" in testbot.say("/show Jane Doe")
    _counts = (_count(engine, Contact), _count(engine, Deal), _count(engine, Activity))
    assert _counts == (1, 1, 1 + 2 + 1 + 1 + 1 + 2 + 1)  # joins, add, note, deal, stage, edits


def test_an_edit_is_undone_though_a_teammate_changed_another_field(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.join("Bob", "manager")
    testbot.say("/add Jane Doe city:Potsdam")
    testbot.say("/edit Jane Doe city:Berlin title:CTO")
    edit = testbot.button("Undo").encode()
    testbot.say(f"/edit Jane Doe phone:{LANDLINE.e164}", who="Bob")
    assert testbot.press_encoded(edit).plain_text == "Undone: edited Jane Doe (c1)."
    jane = _contact(engine, 1)
    assert jane is not None
    assert (jane.city, jane.title, jane.phone) == ("Potsdam", None, LANDLINE.e164)


def test_what_did_not_change_anything_offers_no_undo(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe #hot")
    assert [b.label for b in testbot.send("/tag Jane Doe #hot").all_buttons] == []
    assert "Undo" not in [b.label for b in testbot.send("/show c1").all_buttons]
    warned = testbot.send("/add Jane Doe")
    assert "Undo" not in [b.label for b in warned.all_buttons]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Change)).one() == 1
        assert list(session.exec(select(col(Change.label)))) == ["added Jane Doe (c1)"]


def test_add_anyway_and_a_shared_card_are_undone_too(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe jane@acme.de")
    testbot.say("/add Jane Dough jane@acme.de")
    added = testbot.press("Add anyway")
    assert [b.label for b in added.all_buttons] == ["Undo", "Open c2"]
    assert testbot.say("/undo") == "Undone: added Jane Dough (c2)."
    assert _contact(engine, 2) is None
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Outbox)).one() == 0


async def test_two_presses_at_once_have_one_effect(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/deal Website 12k close:2026-12-15")
    testbot.say("/won Website")
    press = Request(
        platform=Platform.telegram,
        user_id="alice",
        user_name="Alice",
        chat_id="alice",
        button=testbot.button("Undo").encode(),
    )
    replies = await asyncio.gather(*(testbot.dispatcher.handle(press) for _ in range(3)))
    assert sorted(reply.plain_text for reply in replies if reply is not None) == [
        "Already undone: moved Website (d1) to Won.",
        "Already undone: moved Website (d1) to Won.",
        "Undone: moved Website (d1) to Won.",
    ]
    assert _count(engine, StageChange) == 1
    testbot.say("/deal Hosting 1k")
    testbot.say("/won Hosting")
    _totals_match(engine)


def test_a_reminder_is_undone_with_its_delivery(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    reply = testbot.send("/remind Jane tomorrow 9am call back")
    assert [b.label for b in reply.all_buttons] == ["Undo"]
    assert testbot.say("/undo") == "Undone: reminder #1 for Tue 24 Nov 09:00: call back."
    assert outbox_rows(engine) == []
    assert "call back" not in testbot.say("/reminders")
    # Delivered already: that is a change since, said as it is.
    testbot.say("/remind Jane in 1 minute call back")
    testbot.clock.advance(minutes=2)
    deliver(engine, testbot.clock, telegram())
    refused = testbot.say("/undo")
    # SQLite hands the undone reminder's id out again, PostgreSQL does not.
    number = re.search(r"“reminder #(\d+) for Mon 23 Nov 09:01: call back”", refused)
    assert number, refused
    assert f"Reminder #{number[1]} has been changed since (status). Nothing was" in refused
