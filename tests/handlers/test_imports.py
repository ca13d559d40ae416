"""/import: a file sent to the bot gets a preview; Import writes its good rows in one
change (undoable), the bad ones come back as a file; the same file twice adds nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from handlers.context import SharedFile
from handlers.reply import Reply
from storage.models import Company, Contact, ContactTag, ImportFile, Tag
from tests.conftest import TestBot

SAMPLES = Path(__file__).parent / "imports"


def send_file(testbot: TestBot, name: str, content: bytes, *, who: str = "Alice") -> Reply:
    reply = testbot.request(who, file=SharedFile(name, content))
    assert reply is not None
    return reply


def contacts(engine: Engine) -> list[Contact]:
    with Session(engine) as session:
        return list(session.exec(select(Contact).order_by(col(Contact.id))))


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


GERMAN = (
    "Vorname;Nachname;Firma;Telefon;E-Mail;Stadt;Tags\r\n"
    "Jürgen;Weiß;Bäckerei Weiß GmbH;030 1234567;juergen@weiss.de;Berlin;hot, bäcker\r\n"
    "Anna;Schmidt;Acme;+49 (0) 89 123 456 78;anna@acme.de;München;\r\n"
    "Kaputt;Nummer;Acme;12;kaputt@acme.de;;\r\n"
)


def test_a_german_excel_csv_is_previewed_then_imported(testbot: TestBot, engine: Engine) -> None:
    preview = send_file(testbot, "kontakte.csv", GERMAN.encode("cp1252"))
    text = preview.plain_text
    assert "kontakte.csv: 3 rows (CSV, cp1252)" in text
    assert "• Vorname → first name" in text and "• Telefon → phone" in text
    assert "Jürgen Weiß · company: Bäckerei Weiß GmbH · email: juergen@weiss.de" in text
    assert "phone: +49301234567" in text and "#hot #bäcker" in text
    assert "line 4: “12” is not a valid phone number" in text
    assert "2 rows to import." in text
    assert [b.label for b in preview.all_buttons] == ["Import", "Cancel"]
    assert count(engine, Contact) == 0  # nothing written before Import

    done = testbot.press("Import")
    assert done.edit
    assert "2 contacts added" in done.plain_text
    assert "1 rows left out" in done.plain_text
    [rejects] = done.attachments
    assert rejects.filename == "kontakte-rejected.csv"
    rows = list(csv.reader(io.StringIO(rejects.content.decode("utf-8-sig"))))
    assert rows[0][-1] == "Problem" and rows[1][:3] == ["Kaputt", "Nummer", "Acme"]
    assert "line 4" in rows[1][-1]

    stored = contacts(engine)
    assert [(c.name, c.phone, c.email, c.city) for c in stored] == [
        ("Jürgen Weiß", "+49301234567", "juergen@weiss.de", "Berlin"),
        ("Anna Schmidt", "+498912345678", "anna@acme.de", "München"),
    ]
    with Session(engine) as session:
        assert sorted(session.exec(select(Company.name))) == ["Acme", "Bäckerei Weiß GmbH"]
        assert sorted(session.exec(select(Tag.name))) == ["bäcker", "hot"]
    assert "Jürgen Weiß" in testbot.say("/find weiss")


def test_the_same_file_twice_adds_nothing(testbot: TestBot, engine: Engine) -> None:
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    testbot.press("Import")
    again = send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    assert "2 rows to import; 2 match contacts you have" in again.plain_text
    done = testbot.press("Import")
    assert "0 contacts added" in done.plain_text
    assert "2 rows matched contacts you had and changed nothing" in done.plain_text
    assert count(engine, Contact) == 2 and count(engine, ContactTag) == 2


def test_a_row_fills_the_empty_fields_of_the_contact_it_matches(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.say("/add Anna Schmidt company:Acme")
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    done = testbot.press("Import")
    assert "1 contacts added" in done.plain_text
    assert "1 contacts you had, with empty fields filled in" in done.plain_text
    anna = contacts(engine)[0]
    assert (anna.name, anna.email, anna.phone) == ("Anna Schmidt", "anna@acme.de", "+498912345678")


def test_undo_takes_the_import_back(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Anna Schmidt company:Acme")
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    testbot.press("Import")
    assert testbot.say("/undo") == "Undone: the import of kontakte.csv."
    [anna] = contacts(engine)
    assert (anna.name, anna.email, anna.phone) == ("Anna Schmidt", None, None)
    assert count(engine, Tag) == 0 and count(engine, Company) == 1


def test_cancel_forgets_the_file_and_its_buttons_work_once(
    testbot: TestBot, engine: Engine
) -> None:
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    import_button = testbot.button("Import")
    cancelled = testbot.press("Cancel")
    assert cancelled.plain_text == "Cancelled: nothing imported from kontakte.csv."
    again = testbot.press_encoded(import_button.encode())
    assert "cancelled" in again.plain_text and count(engine, Contact) == 0
    with Session(engine) as session:
        [pending] = session.exec(select(ImportFile))
        assert pending.content == b""

    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    import_button = testbot.button("Import")
    testbot.press("Import")
    twice = testbot.press_encoded(import_button.encode())
    assert twice.plain_text == "Already imported: kontakte.csv."
    assert count(engine, Contact) == 2


def test_someone_elses_import_button_does_nothing(testbot: TestBot, engine: Engine) -> None:
    testbot.join("Bob")
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    button = testbot.button("Import")
    refused = testbot.press_encoded(button.encode(), who="Bob")
    assert "not yours" in refused.plain_text and count(engine, Contact) == 0
