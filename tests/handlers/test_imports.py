"""/import: a file sent to the bot gets a preview; Import writes its good rows in one
change (undoable), the bad ones come back as a file; the same file twice adds nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from sqlalchemy import Engine, text
from sqlmodel import Session, col, func, select

import storage.imports
from handlers import imports
from handlers.context import SharedFile
from handlers.reply import Reply
from handlers.scoring import rules
from handlers.tabular import Sheet
from storage import scoring
from storage.db import transaction
from storage.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    ContactTag,
    Deal,
    ImportFile,
    Stage,
    Tag,
    Team,
)
from tests.conftest import TestBot
from tests.totals import assert_totals_match

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
    assert "1 row left out" in done.plain_text
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


def test_a_name_written_family_name_first_is_stored_as_people_say_it(
    testbot: TestBot, engine: Engine
) -> None:
    sheet = (
        'Name;Firma\n"Müller, Hans";Müller & Söhne GmbH\n"van der Berg, Jan";\n'
        '"Smith, Jr.";\n"Doe, CFO";\n"Lind-Åberg, Greta Maria";\n'
    )
    preview = send_file(testbot, "adressen.csv", sheet.encode())
    assert "• Hans Müller · company: Müller & Söhne GmbH" in preview.plain_text
    testbot.press("Import")
    assert sorted(c.name for c in contacts(engine)) == [
        "Doe, CFO",
        "Greta Maria Lind-Åberg",
        "Hans Müller",
        "Jan van der Berg",
        "Smith, Jr.",
    ]


def test_an_amount_without_a_deal_column_makes_a_deal_named_after_the_company(
    testbot: TestBot, engine: Engine
) -> None:
    rows = (
        "Name;Firma;Betrag;Abschluss\r\n"
        "Jürgen Weiß;Weiß GmbH;12.000;15.12.2026\r\n"
        "Anna Schmidt;;3.500;\r\n"
        "Otto Lang;Lang KG;;\r\n"
    )
    preview = send_file(testbot, "kontakte.csv", rows.encode("utf-8")).plain_text
    assert "• Betrag → amount" in preview and "• Abschluss → close" in preview
    assert "deal: Weiß GmbH €12,000" in preview and "deal: Anna Schmidt €3,500" in preview
    assert "3 contacts added" in testbot.press("Import").plain_text
    with Session(engine) as session:
        deals = session.exec(select(Deal).order_by(col(Deal.id))).all()
        assert [(d.title, d.amount, str(d.expected_close)) for d in deals] == [
            ("Weiß GmbH", 1_200_000, "2026-12-15"),
            ("Anna Schmidt", 350_000, "None"),
        ]


def test_a_company_with_or_without_its_legal_form_is_one_company(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.say("/add Greta Lind company:Nordic AB")
    rows = (
        "Name,Company\r\n"
        "Sven Berg,Nordic\r\n"
        "Hans Weber,Weber\r\n"
        "Eva Weber,Weber GmbH & Co. KG\r\n"
        "Kim Ek,Nordic Group\r\n"
    )
    send_file(testbot, "people.csv", rows.encode("utf-8"))
    assert "4 contacts added" in testbot.press("Import").plain_text
    with Session(engine) as session:
        names = session.exec(select(Company.name).order_by(col(Company.id))).all()
        assert names == ["Nordic AB", "Weber", "Nordic Group"]
        at = dict(
            session.exec(
                select(Contact.name, Company.name).join(
                    Company, col(Company.id) == col(Contact.company_id)
                )
            ).all()
        )
        assert at["Sven Berg"] == "Nordic AB" and at["Eva Weber"] == "Weber"


def test_the_same_file_twice_adds_nothing(testbot: TestBot, engine: Engine) -> None:
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    testbot.press("Import")
    again = send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    assert "2 rows to import; 2 match contacts you have" in again.plain_text
    done = testbot.press("Import")
    assert "0 contacts added" in done.plain_text
    assert "2 rows matched contacts you had and changed nothing" in done.plain_text
    assert count(engine, Contact) == 2 and count(engine, ContactTag) == 2


TWICE = (
    "Name,Email,Tags,Notes,Deal Name\r\n"
    "Anna Schmidt,anna@acme.de,hot,Met at the fair,Relaunch\r\n"
    "Bob Miller,bob@acme.de,,,\r\n"
    "Anna Schmidt,anna@acme.de,hot,Met at the fair,Relaunch\r\n"
)


def test_a_person_twice_in_one_file_is_written_once(
    testbot: TestBot, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.imports, "CHUNK", 1)  # the second time in a later chunk
    send_file(testbot, "twice.csv", TWICE.encode("utf-8"))
    done = testbot.press("Import").plain_text
    assert "2 contacts added" in done and "1 deal" in done
    assert count(engine, Contact) == 2 and count(engine, ContactTag) == 1
    assert count(engine, Deal) == 1
    with Session(engine) as session:
        notes = session.exec(select(Activity.text).where(Activity.kind == ActivityKind.note))
        assert list(notes) == ["Met at the fair"]


def test_a_row_fills_the_empty_fields_of_the_contact_it_matches(
    testbot: TestBot, engine: Engine
) -> None:
    testbot.say("/add Anna Schmidt company:Acme")
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    done = testbot.press("Import")
    assert "1 contact added" in done.plain_text
    assert "1 contact you had, with empty fields filled in" in done.plain_text
    anna = contacts(engine)[0]
    assert (anna.name, anna.email, anna.phone) == ("Anna Schmidt", "anna@acme.de", "+498912345678")


SCORED = (
    "Name,Email,Phone,Company,Status,Tags,Deal Name,Amount,Currency,Deal Stage\r\n"
    'Anna Alpha,anna@alpha.de,,Acme,Customer,"hot, vip",Big,150000,EUR,Proposal\r\n'
    'Ben Beta,,030 1234567,,Lead,"a, b, c, d, e",Small,2000,EUR,Won\r\n'
    "Cara Gamma,cara@gamma.de,,Initech,Sales Qualified Lead,cold,Abroad,90000,USD,Lead\r\n"
    "Dan Delta,,,,Marketing Qualified Lead,,,,,\r\n"
    "Old Timer,,,,,hot,,,,\r\n"
    "Dan Delta,dan@delta.de,,,,b,,,,\r\n"
    "Anna Alpha,anna@alpha.de,089 7654321,Acme,,expo,Second,20000,EUR,Qualified\r\n"
    'Eve Epsilon,eve@epsilon.de,040 1112223,,Inactive,"hot, cold",Lost one,5000,EUR,Lost\r\n'
)


def test_imported_contacts_are_stored_with_the_score_the_rescoring_gives(
    testbot: TestBot, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New contacts are scored as they are inserted (on PostgreSQL), the others rescored
    afterwards: either way each stored score is what the rescoring computes. Chunks of
    three rows: a contact is matched again in its own chunk (Dan) and in a later one
    (Anna), and a contact the team had (Old Timer, active: recency points) gets a tag."""
    monkeypatch.setattr(storage.imports, "CHUNK", 3)
    testbot.say("/scoring #hot 25")
    testbot.say("/scoring #cold -10")
    testbot.say("/add Old Timer")
    send_file(testbot, "scored.csv", SCORED.encode("utf-8"))
    done = testbot.press("Import").plain_text
    # Dan and Anna, matched again, were added by this import; Old Timer got a tag.
    assert "5 contacts added" in done and "1 contact you had" in done
    with Session(engine) as session:
        stored = dict(session.exec(select(Contact.name, Contact.score)).all())
    with transaction(engine) as session:
        team = session.exec(select(Team)).one()
        assert team.id is not None
        scoring.rescore_contacts(
            session,
            team_id=team.id,
            rules=rules(session, team),
            now=testbot.clock.now,
            scope=scoring.EVERYONE,
        )
    with Session(engine) as session:
        rescored = dict(session.exec(select(Contact.name, Contact.score)).all())
    assert stored == rescored
    # Every part of the score counts in one of them (the comparison is not of zeros).
    assert rescored == {
        "Anna Alpha": 20 + 25 + 5 + 5 + 5 + 5 + 10 + 20,  # status, #hot, #vip, #expo, ...
        "Ben Beta": 10 + 15 + 5,  # three tags of five count; the won deal does not
        "Cara Gamma": 30 - 10 + 5 + 10,  # an open deal in another currency: no value
        "Dan Delta": 30 + 5 + 5,
        "Old Timer": 10 + 25 + 20,  # recency: added just now
        "Eve Epsilon": 0 + 25 - 10 + 5 + 5,
    }


def test_searches_after_an_import_read_no_pending_list(testbot: TestBot, engine: Engine) -> None:
    """PostgreSQL's trigram indexes take an import's rows through their pending lists
    (migration 0022); the import moves what is left there into the indexes."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's GIN indexes")
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    testbot.press("Import")
    with engine.begin() as connection:
        for index in ("ix_contact_name_key_trgm", "ix_company_name_key_trgm"):
            pending = connection.execute(
                text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": index}
            ).scalar_one()
            assert pending == 0, index
    testbot.say("/add Jürgen Weiß Junior")  # a single write waits in the pending list
    assert "Jürgen Weiß Junior" in testbot.say("/find weiss junior")
    with engine.begin() as connection:
        pending = connection.execute(
            text("SELECT gin_clean_pending_list('ix_contact_name_key_trgm'::regclass)")
        ).scalar_one()
    assert pending > 0


def test_undo_takes_the_import_back(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Anna Schmidt company:Acme")
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    testbot.press("Import")
    assert testbot.say("/undo") == "Undone: the import of kontakte.csv."
    [anna] = contacts(engine)
    assert (anna.name, anna.email, anna.phone) == ("Anna Schmidt", None, None)
    assert count(engine, Tag) == 0 and count(engine, Company) == 1


def test_a_person_twice_in_the_file_is_one_contact_and_undone_with_the_rest(
    testbot: TestBot, engine: Engine
) -> None:
    """The second row fills what the first left empty, in the contact the import made:
    counted as added once, and /undo takes it back like any other."""
    both = "Name;E-Mail;Telefon\nAnna Alpha;anna@alpha.de;\nAnna Alpha;anna@alpha.de;030 1234567\n"
    send_file(testbot, "twice.csv", both.encode("utf-8"))
    done = testbot.press("Import").plain_text
    assert "1 contact added" in done and "filled" not in done
    [anna] = contacts(engine)
    assert (anna.email, anna.phone) == ("anna@alpha.de", "+49301234567")
    assert testbot.say("/undo") == "Undone: the import of twice.csv."
    assert contacts(engine) == []


def test_import_writes_the_rows_its_preview_read(
    testbot: TestBot, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    read_sheet = imports.read_sheet

    def counted(filename: str, content: bytes, *, max_rows: int) -> Sheet:
        read.append(filename)
        return read_sheet(filename, content, max_rows=max_rows)

    monkeypatch.setattr(imports, "read_sheet", counted)
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    assert "2 contacts added" in testbot.press("Import").plain_text
    assert read == ["kontakte.csv"]  # for the preview, not again for Import


DEALS = "Name;Deal Name;Deal Stage\r\nAnna Schmidt;Relaunch;Demo\r\nBob Miller;;\r\n"


def test_a_pipeline_changed_since_the_preview_has_the_file_read_again(
    testbot: TestBot, engine: Engine
) -> None:
    preview = send_file(testbot, "deals.csv", DEALS.encode("utf-8"))
    assert "There is no stage “Demo”" in preview.plain_text
    with Session(engine) as session:
        stage = session.exec(select(Stage).where(Stage.name == "Proposal")).one()
        stage.name = "Demo"
        session.add(stage)
        session.commit()
    done = testbot.press("Import").plain_text
    assert "2 contacts added" in done and "1 deal" in done and "left out" not in done


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


def import_sample(testbot: TestBot, name: str) -> tuple[str, str]:
    """The preview's and the import's text for a sample file of tests/handlers/imports."""
    preview = send_file(testbot, name, (SAMPLES / name).read_bytes()).plain_text
    return preview, testbot.press("Import").plain_text


def test_hubspot_contacts(testbot: TestBot, engine: Engine) -> None:
    preview, done = import_sample(testbot, "hubspot-contacts.csv")
    assert "Lifecycle Stage → status" in preview and "Contact owner → owner" in preview
    assert "ignored: Record ID, Create Date" in preview
    assert "2 contacts added" in done
    jane, tom = contacts(engine)
    # National numbers are read in the row's country, not the team's (Germany).
    assert (jane.phone, jane.status, jane.title) == ("+14155552671", "qualified", "Head of Sales")
    assert (tom.phone, tom.status, tom.city) == ("+12125550147", "customer", "New York")
    assert tom.owner_id == jane.owner_id  # an owner nobody is called: the importer


def test_pipedrive_deals(testbot: TestBot, engine: Engine) -> None:
    preview, done = import_sample(testbot, "pipedrive-deals.csv")
    assert "Deal - Title → deal" in preview and "Deal - Contact person → name" in preview
    assert "deal: Website relaunch €12,000" in preview
    assert "2 contacts added" in done and "3 deals" in done
    with Session(engine) as session:
        deals = session.exec(select(Deal).order_by(col(Deal.id))).all()
        assert [(d.title, d.amount, d.currency, str(d.expected_close)) for d in deals] == [
            ("Website relaunch", 1_200_000, "EUR", "2026-12-15"),
            ("Support contract", 350_050, "USD", "None"),
            ("Old win", 90_000, "EUR", "2026-10-01"),
        ]
        assert deals[2].closed_at is not None and deals[1].contact_id == deals[2].contact_id
    assert "Won" in testbot.say("/show d3")
    assert_totals(engine)


def test_salesforce_contacts(testbot: TestBot, engine: Engine) -> None:
    _, done = import_sample(testbot, "salesforce-contacts.csv")
    assert "1 contact added" in done
    [maria] = contacts(engine)
    assert (maria.name, maria.phone, maria.address, maria.source) == (
        "María García",
        "+34912345678",
        "Calle Mayor 1",
        "Web",
    )
    assert "Other phone: +34 612 345 678" in testbot.say("/show María")


def test_zoho_deals(testbot: TestBot, engine: Engine) -> None:
    preview, done = import_sample(testbot, "zoho-deals.csv")
    assert "Deal Name → deal" in preview and "Closing Date → close" in preview
    assert "1 contact added" in done and "1 deal" in done
    with Session(engine) as session:
        [deal] = session.exec(select(Deal))
        assert (deal.title, deal.amount, deal.currency) == ("Fleet renewal", 4_500_000, "EUR")


def test_google_contacts(testbot: TestBot, engine: Engine) -> None:
    preview, done = import_sample(testbot, "google-contacts.csv")
    assert "ignored: E-mail 1 - Type, E-mail 2 - Type, Phone 1 - Type" in preview
    assert "1 contact added" in done
    [hans] = contacts(engine)
    assert (hans.name, hans.email, hans.phone, hans.title) == (
        "Hans Müller",
        "hans@mueller.de",
        "+4915123456789",
        "Geschäftsführer",
    )
    card = testbot.say("/show Hans")
    assert "#trade-fair-2026" in card and "myContacts" not in card
    assert "Met at the fair" in card


def test_outlook_contacts(testbot: TestBot, engine: Engine) -> None:
    preview, _ = import_sample(testbot, "outlook-contacts.csv")
    assert "Job Title → title" in preview and "Title → title" not in preview.replace(
        "Job Title", ""
    )
    [peter] = contacts(engine)
    assert (peter.title, peter.phone, peter.city) == ("Photographer", "+12125550199", "New York")
    assert "#press #vip" in testbot.say("/show Peter")


def test_excel_unicode_text_is_utf16_with_tabs(testbot: TestBot, engine: Engine) -> None:
    preview, _ = import_sample(testbot, "excel-unicode-text.txt")
    assert "(CSV, utf-16)" in preview
    assert [(c.name, c.email) for c in contacts(engine)] == [("Zoë Åberg", "zoe@nordisk.se")]


def test_utf8_with_a_bom(testbot: TestBot, engine: Engine) -> None:
    content = "\ufeffName,Email\nJosé Núñez,jose@example.com\n".encode()
    preview = send_file(testbot, "export.csv", content).plain_text
    assert "(CSV, utf-8-sig)" in preview and "• Name → name" in preview
    testbot.press("Import")
    assert [c.name for c in contacts(engine)] == ["José Núñez"]


def assert_totals(engine: Engine) -> None:
    with Session(engine) as session:
        assert_totals_match(session)


def xlsx(build: Callable[[Any, Any], None]) -> bytes:
    """A workbook made with xlsxwriter, its first sheet filled by `build(sheet, book)`."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    build(workbook.add_worksheet(), workbook)
    workbook.close()
    return out.getvalue()


def test_xlsx_with_formulas_numbers_dates_and_merged_cells(
    testbot: TestBot, engine: Engine
) -> None:
    def build(sheet: Any, book: Any) -> None:
        sheet.write_row(0, 0, ["Name", "Company", "Phone", "Deal", "Amount", "Close Date"])
        sheet.write_row(1, 0, ["Jane Doe", "Acme"])
        sheet.write_number(1, 2, 4930123456)  # a phone typed into a number cell
        sheet.write_string(1, 3, "Relaunch")
        # A formula: its computed value is imported, the formula is never run.
        sheet.write_formula(1, 4, "=1000*12", None, 12000)
        sheet.write_datetime(
            1, 5, datetime(2026, 12, 15), book.add_format({"num_format": "d mmm yy"})
        )
        sheet.merge_range(2, 0, 2, 1, "Merged Name")
        sheet.write_formula(3, 0, '=HYPERLINK("http://evil.example","Click")', None, "Click")

    preview = send_file(testbot, "deals.xlsx", xlsx(build)).plain_text
    assert "deals.xlsx: 3 rows (Excel)" in preview
    assert "Jane Doe · company: Acme · phone: +494930123456" not in preview
    done = testbot.press("Import").plain_text
    assert "3 contacts added" in done and "1 deal" in done
    names = [(c.name, c.phone) for c in contacts(engine)]
    assert names == [("Jane Doe", "+4930123456"), ("Merged Name", None), ("Click", None)]
    with Session(engine) as session:
        [deal] = session.exec(select(Deal))
        assert (deal.amount, str(deal.expected_close)) == (1_200_000, "2026-12-15")


def test_a_vcf_with_500_cards(testbot: TestBot, engine: Engine) -> None:
    cards = "".join(
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        f"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller {i};J=C3=BCrgen\r\n"
        f"TEL;CELL:+49 151 {20000000 + i}\r\n"
        "END:VCARD\r\n"
        for i in range(500)
    )
    preview = send_file(testbot, "contacts.vcf", cards.encode("ascii")).plain_text
    assert "contacts.vcf: 500 rows (vCard)" in preview
    assert "Jürgen Müller 0 · phone: +4915120000000" in preview
    assert "500 contacts added" in testbot.press("Import").plain_text
    assert count(engine, Contact) == 500


def test_a_file_over_the_limits_is_refused(testbot: TestBot, engine: Engine) -> None:
    big = b"Name\n" + b"x" * (21 * 1024 * 1024)
    refused = send_file(testbot, "huge.csv", big)
    assert refused.error and "I import files of up to 20 MB" in refused.plain_text
    testbot.dispatcher.defaults = replace(testbot.dispatcher.defaults, import_max_rows=3)
    refused = send_file(testbot, "long.csv", b"Name\n" + b"A\n" * 4)
    assert "more than 3 rows" in refused.plain_text
    assert count(engine, ImportFile) == 0


def test_a_10_mb_file_with_bad_rows(testbot: TestBot, engine: Engine) -> None:
    lines = ["Name,Email,Phone,Notes"]
    filler = "x" * 1100  # long notes: ten megabytes in few rows, so that the test is quick
    for i in range(10_000):
        phone = f"+49 30 {2000000 + i}" if i % 1000 else "not a phone 12"
        lines.append(f"Person {i},p{i}@example.com,{phone},{filler}")
    content = "\n".join(lines).encode()
    assert len(content) > 10 * 1024 * 1024
    preview = send_file(testbot, "big.csv", content).plain_text
    assert "big.csv: 10,000 rows" in preview and "10 rows will be left out" in preview
    done = testbot.press("Import").plain_text
    assert "9,990 contacts added" in done and "10 rows left out" in done


def test_what_is_not_a_table_is_refused_clearly(testbot: TestBot, engine: Engine) -> None:
    assert "I can't import a .pdf file" in send_file(testbot, "a.pdf", b"%PDF-1.4").plain_text
    broken = send_file(testbot, "a.xlsx", b"PK\x03\x04 not really a zip").plain_text
    assert "I can't read this workbook" in broken
    assert "no column with a name" in send_file(testbot, "a.csv", b"foo,bar\n1,2\n").plain_text
    # Bytes that are no text at all are read as cp1252 and refused by the fields.
    noise = bytes(range(256)) * 4
    assert send_file(testbot, "noise.csv", b"Name,Phone\n" + noise).plain_text
    assert count(engine, Contact) == 0


def test_a_preview_nobody_acts_on_is_emptied_after_two_days(
    testbot: TestBot, engine: Engine
) -> None:
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"))
    old = testbot.button("Import")
    testbot.clock.advance(days=3)
    send_file(testbot, "other.csv", b"Name\nSomeone\n")
    with Session(engine) as session:
        first = session.get(ImportFile, 1)
        assert first is not None and first.content == b"" and first.status == "cancelled"
    assert "cancelled" in testbot.press_encoded(old.encode()).plain_text


def test_imports_lists_them_with_undo_for_a_day(testbot: TestBot, engine: Engine) -> None:
    testbot.join("Bob")
    send_file(testbot, "kontakte.csv", GERMAN.encode("utf-8"), who="Bob")
    testbot.press("Import", who="Bob")
    mine = testbot.send("/imports", who="Bob")
    assert "kontakte.csv (#1): 2 added, 0 filled in, 0 deals, 1 left out" in mine.plain_text
    assert [b.label for b in mine.all_buttons] == ["Undo #1", "Rejects #1"]
    team = testbot.send("/imports")  # the admin sees the team's, but undoes only her own
    assert "kontakte.csv (#1)" in team.plain_text
    assert [b.label for b in team.all_buttons] == ["Rejects #1"]
    rejects = testbot.press("Rejects #1")
    assert rejects.attachments[0].filename == "kontakte-rejected.csv"
    assert "Only who made an import" in testbot.press_encoded("iu:1").plain_text
    testbot.clock.advance(hours=3)  # past /undo's 10 minutes, within the import's day
    assert "Nothing to undo" in testbot.say("/undo", who="Bob")
    testbot.say("/imports", who="Bob")
    undone = testbot.press("Undo #1", who="Bob")
    assert undone.plain_text == "Undone: the import of kontakte.csv."
    assert count(engine, Contact) == 0
    assert "undone" in testbot.say("/imports", who="Bob")


def test_another_teams_imports_are_out_of_reach(open_signup_bot: TestBot) -> None:
    bot = open_signup_bot
    bot.say("/start Team A", who="Alice")
    bot.request("Alice", file=SharedFile("kontakte.csv", GERMAN.encode("utf-8")))
    bot.press("Import", who="Alice")
    bot.say("/start Team B", who="Zed")
    assert "No imports yet" in bot.say("/imports", who="Zed")
    for button in ("im:1", "ic:1", "iu:1", "ir:1"):
        reply = bot.press_encoded(button, who="Zed").plain_text
        assert "kontakte" not in reply and (
            "not yours" in reply or "no longer" in reply or "Only" in reply
        ), reply
