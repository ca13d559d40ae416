"""Issue 14's messages, typed the way a rep types on a phone, through the dispatcher: every
field lands where it was meant, or the bot says what it could not read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from babel.numbers import format_currency
from phonenumbers import PhoneNumberType
from sqlalchemy import Engine

from tests.conftest import TestBot
from tests.delivery import outbox_rows
from tests.handlers.stored import last_contact, last_deal, last_reminder
from tests.phones import LANDLINE, MOBILE, example, typed
from tests.towns import BERLIN, point

TEAM = 1  # Alice's, the first on a fresh database


def test_a_value_runs_on_over_several_words(testbot: TestBot, engine: Engine) -> None:
    reply = testbot.say(
        "/add Hans Müller company:Acme Corp city:San Francisco title:Head of Sales"
    )
    assert "Added Hans Müller (c1)" in reply
    assert last_contact(engine, TEAM) == {
        "name": "Hans Müller",
        "company": "Acme Corp",
        "city": "San Francisco",
        "title": "Head of Sales",
        "status": "lead",
    }
    assert "not find" not in reply  # San Francisco is on the map, not San in Mali


def test_edit_runs_on_too(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Anna company:Foo")
    reply = testbot.say("/edit c1 name:Anna Schmidt company:Bäckerei Schmidt GmbH")
    assert "name: Anna Schmidt, was Anna" in reply
    assert "company: Bäckerei Schmidt GmbH, was" in reply
    stored = last_contact(engine, TEAM)
    assert (stored["name"], stored["company"]) == ("Anna Schmidt", "Bäckerei Schmidt GmbH")


def test_a_spaced_phone_after_phone(testbot: TestBot, engine: Engine) -> None:
    assert "Added Jane Doe" in testbot.say(f"/add Jane Doe phone:{MOBILE.international}")
    assert last_contact(engine, TEAM)["phone"] == MOBILE.e164
    area, _, subscriber = LANDLINE.national.partition(" ")
    testbot.say(
        f"/add Max Weber tel:{area} / {subscriber[:3]} {subscriber[3:5]}-{subscriber[5:]} #fair"
    )
    assert last_contact(engine, TEAM) | {"status": ""} == {
        "name": "Max Weber",
        "phone": LANDLINE.e164,
        "tags": "#fair",
        "status": "",
    }
    british = example("GB", PhoneNumberType.FIXED_LINE)  # another number: no duplicate
    testbot.say(f"/add Lena Wolf {typed(british, 'trunk-spaced')} lena@wolf.de")
    stored = last_contact(engine, TEAM)
    assert (stored["phone"], stored["email"]) == (british.e164, "lena@wolf.de")


def test_money_as_written(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Greta")
    testbot.say("/deal Sofa 12.000 € Greta")
    assert last_deal(engine, TEAM) | {"stage": ""} == {
        "title": "Sofa",
        "amount": "12000.00 EUR",
        "contact": "Greta",
        "stage": "",
    }
    testbot.say("/deal Kitchen 12 000 EUR Greta")
    stored = last_deal(engine, TEAM)
    assert (stored["title"], stored["amount"], stored["contact"]) == (
        "Kitchen",
        "12000.00 EUR",
        "Greta",
    )
    testbot.say("/deal Consulting Łukasz $3,500")
    assert last_deal(engine, TEAM)["amount"] == "3500.00 USD"


def test_an_amount_and_a_date_after_close(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/deal Rack 12,5k EUR close:Dec 15")
    stored = last_deal(engine, TEAM)
    assert (stored["title"], stored["amount"], stored["close"]) == (
        "Rack",
        "12500.00 EUR",
        "2026-12-15",
    )
    testbot.say("/deal Shelf 3.5k close:in 2 weeks")
    stored = last_deal(engine, TEAM)
    assert (stored["title"], stored["amount"], stored["close"]) == (
        "Shelf",
        "3500.00 EUR",
        "2026-12-07",
    )
    testbot.say("/deal Desk due:15.12. 900")
    assert last_deal(engine, TEAM)["close"] == "2026-12-15"


def test_a_dotted_day_in_a_reminder(testbot: TestBot, engine: Engine) -> None:
    reply = testbot.say("/remind 15.12. call Łukasz")
    assert "Tue 15 Dec 09:00" in reply
    assert last_reminder(engine, TEAM) == {"due": "2026-12-15 09:00", "text": "call Łukasz"}


def test_phone_keyboards_quotes(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Klara Lange company:„Lange Möbel GmbH“ city:Berlin")
    stored = last_contact(engine, TEAM)
    assert (stored["name"], stored["company"], stored["city"]) == (
        "Klara Lange",
        "Lange Möbel GmbH",
        "Berlin",
    )
    testbot.say("/add Tom Berg company:‘Berg Sports’ #outdoor")
    stored = last_contact(engine, TEAM)
    assert (stored["name"], stored["company"], stored["tags"]) == (
        "Tom Berg",
        "Berg Sports",
        "#outdoor",
    )
    testbot.say("/add Seán O’Brien company:D'Angelo & Sons")
    stored = last_contact(engine, TEAM)
    assert (stored["name"], stored["company"]) == ("Seán O’Brien", "D'Angelo & Sons")


def test_a_misspelt_field_is_named_not_dropped(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe city:Munich")
    reply = testbot.send("/edit c1 compnay:Acme city:Berlin")
    assert reply.error
    assert "did you mean company:?" in reply.plain_text
    assert last_contact(engine, TEAM)["city"] == "Munich"  # nothing half-written
    refused = testbot.say("/add Max colour:red")
    assert "don't know the field colour: here" in refused
    assert last_contact(engine, TEAM)["name"] == "Jane Doe"


def test_unlabelled_phone_email_and_amount_in_edit(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/add Jane Doe")
    edited = testbot.say(f"/edit c1 {MOBILE.international} jane@doe.de")
    assert f"phone: {MOBILE.international}" in edited
    assert "email: jane@doe.de" in edited
    stored = last_contact(engine, TEAM)
    assert (stored["phone"], stored["email"]) == (MOBILE.e164, "jane@doe.de")
    testbot.say("/deal Website 5k")
    assert "amount: €12,000, was €5,000" in testbot.say("/edit d1 12.000 €")
    assert last_deal(engine, TEAM)["amount"] == "12000.00 EUR"
    assert "A deal has no phone" in testbot.say(f"/edit d1 {LANDLINE.national}")
    assert "don't know what “Doe” is for" in testbot.say("/edit c1 Doe city:Rome")


def test_a_figure_that_reads_two_ways_gets_buttons(testbot: TestBot, engine: Engine) -> None:
    question = testbot.send("/deal Fleet 1.500k")
    thousands, millions = (
        format_currency(Decimal(major), "EUR", locale="en_US") for major in (1_500, 1_500_000)
    )
    assert [b.label for b in question.all_buttons] == [thousands, millions]
    assert last_deal(engine, TEAM) == {}  # nothing stored before the answer
    testbot.press(millions)
    assert last_deal(engine, TEAM)["amount"] == "1500000.00 EUR"


def test_numbers_out_of_range_are_refused_clearly(testbot: TestBot, engine: Engine) -> None:
    assert "more than one deal can hold" in testbot.say("/deal Huge 999999999999m")
    assert "more than one deal can hold" in testbot.say("/deal Huge 1,000,000,000,000,000,000,000")
    assert "more than ten years from today" in testbot.say("/deal Old close:0001-01-01")
    assert "more than ten years from today" in testbot.say("/deal Far close:9999-12-31")
    assert "has already passed" in testbot.say("/remind in -5 minutes x")
    assert "Reports cover the years" in testbot.say("/stats since 0001-01-01")
    assert last_deal(engine, TEAM) == {}


def test_snooze_never_moves_a_reminder_earlier(testbot: TestBot, engine: Engine) -> None:
    testbot.say("/remind friday 10am call Jane")
    assert "moved to Fri 27 Nov 11:00" in testbot.say("/snooze 1")
    testbot.say("/remind friday 10am call Max")
    reply = testbot.press_encoded("rz:2:60")
    assert "snoozed until Fri 27 Nov 11:00" in reply.plain_text
    due = {row.reminder_id: row.due_at for row in outbox_rows(engine) if row.status == "pending"}
    assert due == {
        1: datetime(2026, 11, 27, 11, 0, tzinfo=UTC),
        2: datetime(2026, 11, 27, 11, 0, tzinfo=UTC),
    }


def test_one_normalisation_for_all_text(testbot: TestBot, engine: Engine) -> None:
    reply = testbot.say("/add \u200b\u200b")
    assert "Give a name" in reply and "only of invisible characters" in reply
    testbot.say("/add Ｊａｎｅ Ｄｏｅ ｊａｎｅ＠ａｃｍｅ．ｄｅ")
    assert last_contact(engine, TEAM) | {"status": ""} == {
        "name": "Jane Doe",
        "email": "jane@acme.de",
        "status": "",
    }
    testbot.say("/add \u202eMallory\u202c company:\u2066Evil\u2069 Corp")
    stored = last_contact(engine, TEAM)
    assert (stored["name"], stored["company"]) == ("Mallory", "Evil Corp")


def test_coordinates_with_decimal_commas(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe city:Berlin")
    lat, lon = (f"{value:.2f}" for value in point(BERLIN))  # the gazetteer's Berlin
    assert "Jane Doe" in testbot.say(f"/nearby {lat.replace('.', ',')} {lon.replace('.', ',')}")
    assert "Jane Doe" in testbot.say(f"/nearby 5km {lat}, {lon}")
