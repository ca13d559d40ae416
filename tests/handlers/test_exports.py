"""/export: CSV and Excel files of the team's records (a rep's own), cells a spreadsheet
would run as formulas neutralised, and an export imported into an empty team gives back
the same contacts, companies, tags and deals."""

from __future__ import annotations

import csv
import io

from python_calamine import CalamineWorkbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from handlers.context import SharedFile
from handlers.reply import Attachment
from storage.models import Company, Contact, Deal, Tag, Team
from tests.conftest import TestBot


def csv_rows(attachment: Attachment) -> list[list[str]]:
    assert attachment.read().startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(attachment.read().decode("utf-8-sig"))))


def seed(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe company:Acme Corp +49 30 1234567 jane@acme.de city:Berlin #hot")
    testbot.say('/add =HYPERLINK("http://x") company:@evil title:-2+3 #vip')
    testbot.say("/deal Website relaunch Jane 12.000 € close:15.12.2026")
    testbot.say("/note Jane called, wants a quote")


def test_csv_export_neutralises_formulas(testbot: TestBot) -> None:
    seed(testbot)
    reply = testbot.send("/export contacts csv")
    assert "the team's contacts" in reply.plain_text
    [attachment] = reply.attachments
    assert attachment.filename == "crm-2026-11-23-contacts.csv"
    header, jane, evil = csv_rows(attachment)
    assert header[:4] == ["Name", "Company", "Email", "Phone"]
    assert jane[:4] == ["Jane Doe", "Acme Corp", "jane@acme.de", "'+49301234567"]
    assert jane[header.index("Tags")] == "#hot"
    assert evil[0] == '\'=HYPERLINK("http://x")'
    assert evil[1] == "'@evil" and evil[header.index("Title")] == "'-2+3"


def test_xlsx_export_has_a_sheet_per_kind_and_text_stays_text(testbot: TestBot) -> None:
    seed(testbot)
    [attachment] = testbot.send("/export").attachments
    assert attachment.filename == "crm-2026-11-23-all.xlsx"
    book = CalamineWorkbook.from_filelike(io.BytesIO(attachment.read()))
    assert book.sheet_names == ["contacts", "deals", "activities"]
    contacts = book.get_sheet_by_name("contacts").to_python()
    assert contacts[2][0] == '=HYPERLINK("http://x")'  # a string cell, not a formula
    deals = book.get_sheet_by_name("deals").to_python()
    assert deals[1][:5] == ["Website relaunch", 12000.0, "EUR", "Lead", "2026-12-15"]
    activities = book.get_sheet_by_name("activities").to_python()
    assert any(row[-1] == "called, wants a quote" for row in activities)


def test_a_rep_exports_their_own(testbot: TestBot) -> None:
    seed(testbot)
    testbot.join("Bob")
    testbot.say("/add Bobs Lead", who="Bob")
    reply = testbot.send("/export contacts csv", who="Bob")
    assert "your contacts" in reply.plain_text
    [_, only] = csv_rows(reply.attachments[0])
    assert only[0] == "Bobs Lead"
    assert "Usage" in testbot.say("/export everything")


def test_teams_never_see_each_others_exports(open_signup_bot: TestBot) -> None:
    bot = open_signup_bot
    bot.say("/start Team A", who="Alice")
    bot.say("/start Team B", who="Zed")
    bot.say("/add Secret Person", who="Alice")
    [attachment] = bot.send("/export contacts csv", who="Zed").attachments
    assert csv_rows(attachment) == [csv_rows(attachment)[0]]


def test_an_export_imported_into_an_empty_team_gives_back_the_same(
    open_signup_bot: TestBot, engine: Engine
) -> None:
    bot = open_signup_bot
    bot.say("/start Team A", who="Alice")
    seed(bot)
    bot.say("/deal Support Jane $3,500 #renewal", who="Alice")
    bot.say("/won 2", who="Alice")
    files = bot.send("/export contacts", who="Alice").attachments
    files += bot.send("/export deals csv", who="Alice").attachments
    bot.say("/start Team B", who="Zed")
    for attachment in files:
        preview = bot.request("Zed", file=SharedFile(attachment.filename, attachment.read()))
        assert preview is not None and "rows to import" in preview.plain_text, preview
        assert "left out" not in preview.plain_text
        bot.press("Import", who="Zed")

    def team_data(team_name: str) -> tuple[object, ...]:
        with Session(engine) as session:
            team = session.exec(select(Team).where(Team.name == team_name)).one()
            people = session.exec(
                select(Contact).where(Contact.team_id == team.id).order_by(col(Contact.name))
            ).all()
            deals = session.exec(
                select(Deal).where(Deal.team_id == team.id).order_by(col(Deal.title))
            ).all()
            return (
                [(c.name, c.email, c.phone, c.title, c.city, c.status) for c in people],
                sorted(session.exec(select(Company.name).where(Company.team_id == team.id))),
                sorted(session.exec(select(Tag.name).where(Tag.team_id == team.id))),
                [
                    (d.title, d.amount, d.currency, str(d.expected_close), d.closed_at is None)
                    for d in deals
                ],
            )

    assert team_data("Team B") == team_data("Team A")
