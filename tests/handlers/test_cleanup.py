"""/delete, /deleted, /merge and /forget: permissions, team isolation, undo, and an
erasure that leaves nothing of the person in any text column of the database."""

from __future__ import annotations

import json

from sqlalchemy import JSON, Engine, LargeBinary, String, Text, select
from sqlmodel import Session, SQLModel, col, func

from handlers.context import SharedFile
from storage.models import Activity, Company, Contact, ContactTag, Deal, Erasure
from tests.conftest import Clock, TestBot
from tests.delivery import deliver, telegram
from tests.totals import assert_totals_match


def contact(engine: Engine, contact_id: int) -> Contact:
    with Session(engine) as session:
        found = session.get(Contact, contact_id)
        assert found is not None
        return found


def test_delete_archives_and_undo_brings_back(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe company:Acme")
    assert testbot.say("/delete Jane Doe") == "Deleted Jane Doe (c1)."
    assert contact(engine, 1).archived
    assert "No contact or deal matches" in testbot.say("/show Jane")
    assert "Nothing matches" in testbot.say("/find Jane Doe")
    assert testbot.say("/undo") == "Undone: deleted Jane Doe (c1)."
    assert "Jane Doe" in testbot.say("/show Jane")


def test_admins_see_deleted_contacts_and_restore_them(testbot: TestBot, engine: Engine) -> None:
    testbot.join("Bob")
    testbot.say("/add Jane Doe", who="Bob")
    testbot.say("/add Alices Own")
    assert "belongs to a teammate" in testbot.say("/delete Alices Own", who="Bob")
    assert "belongs to a teammate" in testbot.say("/merge c1 c2", who="Bob")
    assert "belongs to a teammate" in testbot.press_encoded("mg:1:2", who="Bob").plain_text
    testbot.say("/delete Jane Doe", who="Bob")
    assert "Only admins" in testbot.say("/deleted", who="Bob")
    listing = testbot.send("/deleted")
    assert "Jane Doe (c1)" in listing.plain_text
    assert testbot.press("Restore c1").plain_text == "Restored Jane Doe (c1)."
    assert not contact(engine, 1).archived


def deal(engine: Engine, deal_id: int) -> Deal:
    with Session(engine) as session:
        found = session.get(Deal, deal_id)
        assert found is not None
        return found


def totals_match(engine: Engine) -> None:
    with Session(engine) as session:
        assert_totals_match(session)


def test_a_deleted_deal_leaves_lists_search_and_the_pipeline(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.join("Bob")
    testbot.say("/add Jane Doe company:Acme")
    testbot.say("/deal Website relaunch Jane Doe 12.000 € close:2026-12-20")
    testbot.say("/deal Shop Jane Doe 5k close:2026-12-24", who="Bob")
    testbot.say("/won d2", who="Bob")
    pipeline = testbot.say("/pipeline")
    assert "belongs to a teammate" in testbot.say("/delete Website relaunch", who="Bob")
    assert testbot.say("/delete Website relaunch") == "Deleted Website relaunch (d1)."
    assert deal(engine, 1).archived
    totals_match(engine)
    assert "Website" not in testbot.say("/deals")
    assert "Nothing matches" in testbot.say("/find Website relaunch")
    assert "There is no deal d1" in testbot.say("/show d1")
    assert "Website" not in testbot.say("/show Jane Doe")
    assert testbot.say("/pipeline") != pipeline
    assert testbot.say("/undo") == "Undone: deleted Website relaunch (d1)."
    assert testbot.say("/pipeline") == pipeline
    totals_match(engine)
    # A rep deletes their own; an admin sees it and restores it; twice is once.
    assert testbot.say("/delete d2", who="Bob") == "Deleted Shop (d2)."
    listing = testbot.send("/deleted")
    assert "Deleted deals" in listing.plain_text and "Shop (d2)" in listing.plain_text
    assert testbot.press("Restore d2").plain_text == "Restored Shop (d2)."
    assert "not deleted" in testbot.press_encoded("rsd:2").plain_text
    assert "Only admins" in testbot.press_encoded("rsd:2", who="Bob").plain_text
    assert not deal(engine, 2).archived and testbot.say("/pipeline") == pipeline
    totals_match(engine)


def test_deleting_cancels_its_reminders_and_undo_brings_them_back(
    testbot: TestBot, engine: Engine, clock: Clock
) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Website relaunch Jane Doe 5k")
    testbot.say("/remind Website relaunch in 5 minutes send the offer")
    testbot.say("/remind Website relaunch in 7 minutes call back")
    testbot.say("/remind Jane Doe in 5 minutes ask about the budget")
    assert testbot.say("/delete Website relaunch") == (
        "Deleted Website relaunch (d1).\n2 reminders about it cancelled; /undo brings them back."
    )
    sender = telegram()
    clock.advance(minutes=8)  # all due; /undo still in time
    deliver(engine, clock, sender)
    assert [m.reply.plain_text.splitlines()[0] for m in sender.sent] == ["⏰ ask about the budget"]
    assert "send the offer" not in testbot.say("/reminders")
    assert testbot.say("/undo") == "Undone: deleted Website relaunch (d1)."
    deliver(engine, clock, sender)
    assert sorted(m.reply.plain_text.splitlines()[0] for m in sender.sent[1:]) == [
        "⏰ call back",
        "⏰ send the offer",
    ]
    # A deleted contact's reminders too (delivered ones not done yet among them), but not
    # those about its deals; an admin's Restore does not bring them back.
    testbot.say("/remind Jane Doe in 10 minutes visit")
    assert "2 reminders about it cancelled" in testbot.say("/delete Jane Doe")
    testbot.press_encoded("rs:1")
    clock.advance(minutes=30)
    deliver(engine, clock, sender)
    assert len(sender.sent) == 3


def test_merging_companies_moves_contacts_and_deals(testbot: TestBot, engine: Engine) -> None:
    testbot.join("Bob")
    testbot.join("Carol", "manager")
    testbot.say("/add Jane Doe company:Acme, Inc.")
    testbot.say("/add John Roe company:ACME GmbH city:Köln", who="Bob")
    testbot.say("/deal Website John Roe 12k", who="Bob")
    assert "Only managers" in testbot.say("/merge companies Acme, Inc., ACME GmbH", who="Bob")
    assert "No company is named “Acme Ltd”" in testbot.say("/merge companies Acme Ltd, ACME GmbH")
    assert "comma" in testbot.say("/merge companies Acme")
    assert "same company twice" in testbot.say("/merge companies acme gmbh, ACME GmbH")
    preview = testbot.send("/merge companies Acme, Inc., ACME GmbH", who="Carol")
    assert "Merge company ACME GmbH into Acme, Inc.?" in preview.plain_text
    assert "1 contact and 1 deal move to Acme, Inc." in preview.plain_text
    assert "Only managers" in testbot.press_encoded("mco:1:2", who="Bob").plain_text
    assert testbot.press("Merge", who="Carol").plain_text == "Merged ACME GmbH into Acme, Inc.."
    assert "no longer there" in testbot.press_encoded("mco:1:2", who="Carol").plain_text
    with Session(engine) as session:
        assert session.execute(select(col(Contact.company_id))).all() == [(1,), (1,)]
        assert session.execute(select(col(Deal.company_id))).all() == [(1,)]
        assert session.execute(select(func.count()).select_from(Company)).one() == (1,)
    assert "Acme, Inc." in testbot.say("/show John Roe")
    assert testbot.say("/undo", who="Carol") == "Undone: merged company ACME GmbH into Acme, Inc.."
    assert "ACME GmbH" in testbot.say("/show John Roe")


def test_merge_moves_everything_and_fills_empty_fields(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe company:Acme #hot")
    testbot.say("/add J. Doe jane@acme.de +49 30 1234567 #vip")
    testbot.say("/deal Website J. Doe 12k")
    testbot.say("/note J. Doe likes blue")
    preview = testbot.send("/merge c1 c2")
    assert "Merge J. Doe (c2) into Jane Doe (c1)?" in preview.plain_text
    assert "email: jane@acme.de" in preview.plain_text
    assert contact(engine, 2).archived is False  # nothing before the button
    done = testbot.press("Merge")
    assert done.plain_text == "Merged J. Doe into Jane Doe (c1)."
    jane = contact(engine, 1)
    assert (jane.email, jane.phone) == ("jane@acme.de", "+49301234567")
    assert contact(engine, 2).archived
    with Session(engine) as session:
        assert session.execute(select(col(Deal.contact_id))).all() == [(1,)]
        notes = session.execute(
            select(col(Activity.contact_id)).where(col(Activity.kind) == "note")
        ).all()
        assert notes == [(1,)]
        assert session.execute(select(func.count()).select_from(ContactTag)).one() == (2,)
    assert testbot.say("/undo") == "Undone: merged J. Doe into Jane Doe (c1)."
    assert contact(engine, 1).email is None and not contact(engine, 2).archived


def test_merge_one_contact_into_another_as_said(testbot: TestBot) -> None:
    testbot.say("/add Greta Lind")
    assert "similar name" in testbot.say("/add Greta Lindh company:Nordic AB")
    testbot.press("Add anyway")
    preview = testbot.say("/merge Greta Lindh into Greta Lind")
    assert "Merge Greta Lindh (c2) into Greta Lind (c1)?" in preview
    assert "Merge Greta Lindh (c2) into Greta Lind (c1)?" in testbot.say("/merge c2 -> c1")
    # Without "into", the first is kept.
    assert "Merge Greta Lind (c1) into Greta Lindh (c2)?" in testbot.say("/merge c2 c1")


def test_merge_and_forget_respect_roles_and_teams(open_signup_bot: TestBot) -> None:
    bot = open_signup_bot
    bot.say("/start Team A", who="Alice")
    bot.say("/add Jane Doe", who="Alice")
    bot.say("/add John Roe", who="Alice")
    bot.say("/start Team B", who="Zed")
    bot.say("/add Other Person", who="Zed")
    assert "no contact c1 in your team" in bot.say("/merge c1 c3", who="Zed")
    assert "Merged" not in bot.press_encoded("mg:3:1", who="Zed").plain_text
    assert "not here" in bot.press_encoded("fg:1", who="Zed").plain_text
    assert "not deleted" in bot.press_encoded("rs:1", who="Zed").plain_text
    bot.say("/add Acme Person company:Acme", who="Alice")
    bot.say("/add Other Guy company:Other Co", who="Alice")
    bot.say("/deal Website Jane Doe 5k", who="Alice")
    bot.say("/delete d1", who="Alice")
    assert "not deleted" in bot.press_encoded("rsd:1", who="Zed").plain_text
    assert "There is no deal d1" in bot.say("/delete d1", who="Zed")
    assert "No company is named" in bot.say("/merge companies Acme, Other Co", who="Zed")
    assert "no longer there" in bot.press_encoded("mco:1:2", who="Zed").plain_text


def test_only_admins_forget(testbot: TestBot) -> None:
    testbot.join("Bob", "manager")
    testbot.say("/add Jane Doe")
    assert "Only admins" in testbot.say("/forget Jane Doe", who="Bob")
    assert "Only admins" in testbot.press_encoded("fg:1", who="Bob").plain_text


NAME, EMAIL, PHONE = "Jane Quixote", "jane.quixote@acme.de", "+49301234567"


def test_forget_leaves_no_trace_in_any_text_column(testbot: TestBot, engine: Engine) -> None:
    testbot.say(f"/add {NAME} company:Acme {EMAIL} +49 30 1234567 city:Berlin #hot")
    testbot.say("/deal Quixote Website Jane Quixote 12k close:15.12.")
    testbot.say("/note Jane Quixote called about the quote")
    testbot.say("/note c1 she is fine")
    testbot.say("/remind Jane Quixote tomorrow 9am call Jane Quixote back")
    testbot.say("/edit c1 city:Hamburg")
    testbot.say("/won 1")
    bad = f"Name,Phone\n{NAME} Clone,12\nOther,030 7654321\n".encode()
    testbot.request("Alice", file=SharedFile("people.csv", bad))
    testbot.press("Import")
    testbot.say(f"/add {NAME}")  # a duplicate warning: a command waits for its button
    confirm = testbot.send("/forget c1")
    assert "Erase Jane Quixote (c1) for good?" in confirm.plain_text
    done = testbot.press("Erase")
    assert done.plain_text == "Erased: c1 holds nothing of the person any more."
    found = traces(engine, [NAME, "Quixote", EMAIL, PHONE, "1234567", "Hamburg"])
    assert found == [], found
    with Session(engine) as session:
        [erasure] = session.execute(select(Erasure)).all()
        assert erasure[0].contact_id == 1 and erasure[0].member_id == 1
        # The deal stays as a figure, and the running totals still add up.
        [deal] = session.execute(select(Deal)).all()
        assert deal[0].amount == 1_200_000 and deal[0].title == "deal d1"
        assert_totals_match(session)
    assert "not here" in testbot.press_encoded("fg:1").plain_text


def traces(engine: Engine, needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, value) of a text, JSON or binary column that holds a needle."""
    found = []
    with Session(engine) as session:
        for table in SQLModel.metadata.sorted_tables:
            columns = [
                c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)
            ]
            for column in columns:
                for (value,) in session.execute(select(column).where(column.is_not(None))):
                    text = (
                        value.decode("utf-8", "replace")
                        if isinstance(value, bytes)
                        else value
                        if isinstance(value, str)
                        else json.dumps(value, ensure_ascii=False)
                    )
                    for needle in needles:
                        if needle.casefold() in text.casefold():
                            found.append((table.name, column.name, text[:80]))
    return found


def test_the_duplicate_warning_offers_merge(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe company:Acme")
    warning = testbot.send("/add Jane Doe jane@acme.de +49 30 1234567 #hot")
    assert "This looks like a contact you already have" in warning.plain_text
    merged = testbot.press("Merge into c1")
    assert "Updated Jane Doe (c1)" in merged.plain_text and "jane@acme.de" in merged.plain_text
    jane = contact(engine, 1)
    assert (jane.email, jane.phone) == ("jane@acme.de", "+49301234567")
    assert "#hot" in testbot.say("/show c1")
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Contact)).one() == (1,)
    assert testbot.say("/undo") == "Undone: merged into Jane Doe (c1)."
    assert contact(engine, 1).email is None
