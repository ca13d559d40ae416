"""Contact cards as phones export them."""

from __future__ import annotations

from bot.vcard import VCard, parse_vcard


def test_vcard_3_from_an_iphone() -> None:
    card = parse_vcard(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n"
        "N:Doe;Jane;;;\r\nFN:Jane Doe\r\nORG:Acme\\, Inc.;Sales;\r\n"
        "TITLE:Head of Purchasing\r\n"
        "item1.EMAIL;type=INTERNET;type=pref:jane@acme.de\r\n"
        "item2.EMAIL;type=INTERNET:jane.doe@example.org\r\n"
        "TEL;type=CELL;type=VOICE;type=pref:+49 170 1234567\r\n"
        "TEL;type=WORK:+49 30 7654321\r\nEND:VCARD\r\n"
    )
    assert card == VCard(
        name="Jane Doe",
        phone="+49 170 1234567",
        email="jane@acme.de",
        company="Acme, Inc.",
        title="Head of Purchasing",
    )


def test_vcard_2_1_quoted_printable_from_android() -> None:
    card = parse_vcard(
        "BEGIN:VCARD\nVERSION:2.1\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller-L=C3=BC=\n"
        "denscheidt\n"
        "TEL;CELL:0170 1234567\nEND:VCARD"
    )
    assert card.name == "Jürgen Müller-Lüdenscheidt"
    assert card.phone == "0170 1234567"
    assert card.email is None and card.company is None


def test_vcard_4_folded_lines_and_tel_uris() -> None:
    card = parse_vcard(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Smith;John;;;\r\n"
        "TEL;VALUE=uri;TYPE=cell:tel:+1-555-555-0100\r\n"
        "TITLE:Vice President of Sales and Busi\r\n ness Development\r\nEND:VCARD"
    )
    assert card.name == "John Smith"  # no FN: from N, given name first
    assert card.phone == "+1-555-555-0100"
    assert card.title == "Vice President of Sales and Business Development"


def test_not_a_vcard() -> None:
    assert parse_vcard("") == VCard()
    assert parse_vcard("hello\nworld") == VCard()
