"""The shared argument grammar: words, tags, options, phones, e-mails, amounts."""

from __future__ import annotations

import unicodedata
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from handlers.cards import phone_display
from handlers.errors import Ambiguous, CommandError, UsageError
from handlers.grammar import (
    AMOUNT,
    EMAIL,
    MAX_INPUT,
    PHONE,
    Money,
    invisible_words,
    limited,
    normalize,
    parse_args,
    parse_coordinates,
    parse_email,
    parse_phone,
    phone_number,
    split_command,
)
from tests.phones import LANDLINE, MOBILE, US, example, typed

KEYS = frozenset({"company", "city", "close"})


def test_words_tags_and_options() -> None:
    args = parse_args('Jane Doe company:"Acme GmbH" #Hot #hot city:Berlin', keys=KEYS)
    assert args.words == ["Jane", "Doe"]
    assert args.tags == ["hot"]
    assert args.options == {"company": "Acme GmbH", "city": "Berlin"}
    # A command without fields reads key:value as words (a note's "re:pricing").
    assert parse_args("re:pricing note:x").words == ["re:pricing", "note:x"]


def test_quoted_words_and_apostrophes() -> None:
    args = parse_args("\"Jane van Doe\" O'Brien company:'Smith & Sons' “Curly quotes”", keys=KEYS)
    assert args.words == ["Jane van Doe", "O'Brien", "Curly quotes"]
    assert args.options["company"] == "Smith & Sons"


def test_unclosed_quote_runs_to_the_end() -> None:
    args = parse_args('company:"Acme never closed', keys=KEYS)
    assert args.options["company"] == "Acme never closed"


def test_text_after_keeps_the_text_as_typed() -> None:
    args = parse_args("Jane Doe   talked about #pricing, re: renewal", keys=frozenset())
    assert args.text_after(2) == "talked about #pricing, re: renewal"
    assert args.text_after(9) == ""


def test_numbers_and_urls_are_not_tags_or_options() -> None:
    args = parse_args("#42 https://acme.com 9:30 #", keys=KEYS)
    assert args.tags == []
    assert args.words == ["#42", "https://acme.com", "9:30", "#"]


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        (f"Jane {LANDLINE.international} Doe", "DE", LANDLINE.e164),
        (f"Jane {LANDLINE.national}", "DE", LANDLINE.e164),
        (f"call {US.national} today", "US", US.e164),
        ("Jane 12345", "DE", None),
    ],
)
def test_phones_are_found_anywhere(text: str, region: str, expected: str | None) -> None:
    args = parse_args(text)
    assert args.take_phone(region) == expected
    if expected:
        assert not any(ch.isdigit() for ch in args.rest)


def test_two_phones_side_by_side_stay_two() -> None:
    """phonenumbers' matcher can run a number on into the first digits of the next word
    (found by the property test: `+49 30 123456 01512/3456789`); only whole words count."""
    args = parse_args(f"Jane {LANDLINE.international} {typed(MOBILE, 'slash')}")
    assert args.take_phone("DE") == LANDLINE.e164
    assert args.take_phone("DE") == MOBILE.e164
    assert args.words == ["Jane"]


def test_email_is_found_and_lowercased() -> None:
    args = parse_args("Jane <Jane.Doe@Acme.de>, Doe")
    assert args.take_email() == "jane.doe@acme.de"
    assert args.words == ["Jane", "Doe"]


@pytest.mark.parametrize(
    ("text", "minor", "currency", "rest"),
    [
        ("Website 12k", 1_200_000, "EUR", ["Website"]),
        ("Web €12,000", 1_200_000, "EUR", ["Web"]),
        ("x 12000 EUR", 1_200_000, "EUR", ["x"]),
        ("x EUR 12000", 1_200_000, "EUR", ["x"]),
        ("x 1.5m", 150_000_000, "EUR", ["x"]),
        ("x $5,000.50", 500_050, "USD", ["x"]),
        ("x 12.000,50 EUR", 1_200_050, "EUR", ["x"]),
        ("x 100 JPY", 100, "JPY", ["x"]),
        ("x 12k usd", 1_200_000, "USD", ["x"]),
        ("deal 12k Bob", 1_200_000, "EUR", ["deal", "Bob"]),
        ("x £3.2k", 320_000, "GBP", ["x"]),
    ],
)
def test_amounts(text: str, minor: int, currency: str, rest: list[str]) -> None:
    args = parse_args(text)
    assert args.take_amount("EUR") == Money(minor, currency)
    assert args.words == rest


def test_bare_numbers_are_amounts_only_when_asked() -> None:
    assert parse_args("Renewal 500").take_amount("EUR", bare=False) is None
    assert parse_args("Renewal 500").take_amount("EUR") == Money(50_000, "EUR")
    assert parse_args("abc123").take_amount("EUR") is None


def test_money_major_units() -> None:
    assert str(Money(1_200_050, "EUR").major) == "12000.50"
    assert str(Money(100, "JPY").major) == "100"


def test_strict_email_and_phone() -> None:
    assert parse_email(" Jane@Acme.DE ") == "jane@acme.de"
    assert parse_phone(US.international.replace("-", " "), "DE") == US.e164
    with pytest.raises(CommandError, match="e-mail"):
        parse_email("jane at acme")
    with pytest.raises(CommandError, match="phone"):
        parse_phone("+49 12", "DE")


def test_limits() -> None:
    assert limited("  x  ", 3, "A name") == "x"
    with pytest.raises(CommandError, match="at most 3 characters"):
        limited("abcd", 3, "A name")
    with pytest.raises(CommandError, match="too long"):
        parse_args("x" * (MAX_INPUT + 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Stage@crm_bot 42 won", ("stage", "42 won")),
        ("  /add Jane", ("add", "Jane")),
        ("/help", ("help", "")),
        ("hello", None),
        ("/", None),
        ("/ add", None),
        ("/123", None),
    ],
)
def test_split_command(text: str, expected: tuple[str, str] | None) -> None:
    assert split_command(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_no_text_makes_the_parser_raise(text: str) -> None:
    """Whatever is typed, the parser reads it or says what is wrong (a CommandError, or
    a question with buttons); nothing else escapes."""
    try:
        args = parse_args(text, keys=KEYS)
        args.take_email()
        args.take_phone("DE")
        args.take_amount("EUR")
    except (CommandError, Ambiguous):
        pass
    else:
        args.text_after(1)
    split_command(text)


# --- values run on ---------------------------------------------------------------------------

CONTACT = frozenset({"company", "title", "city", "addr", "phone", "email", "name", "close"})
FIELDS_AND_SHAPES: dict[str, Any] = {
    "keys": CONTACT,
    "shapes": frozenset({PHONE, EMAIL}),
    "region": "DE",
}


def test_a_value_runs_on_until_the_next_key() -> None:
    args = parse_args(
        "Hans Müller company:Acme Corp city:San Francisco title:Head of Sales",
        **FIELDS_AND_SHAPES,
    )
    assert args.words == ["Hans", "Müller"]
    assert args.options == {
        "company": "Acme Corp",
        "city": "San Francisco",
        "title": "Head of Sales",
    }


@pytest.mark.parametrize(
    ("text", "company", "rest"),
    [
        ("Jane company:Acme Corp #hot Doe", "Acme Corp", ["Jane", "Doe"]),
        (
            f"Jane company:Acme Corp {LANDLINE.international}",
            "Acme Corp",
            ["Jane", *LANDLINE.international.split()],
        ),
        (
            f"Jane company:Acme Corp {LANDLINE.national}",
            "Acme Corp",
            ["Jane", *LANDLINE.national.split()],
        ),
        ("Jane company:Acme Corp jane@acme.de", "Acme Corp", ["Jane", "jane@acme.de"]),
        ("Jane company: Acme Corp, city:Berlin", "Acme Corp", ["Jane"]),  # a space, a comma
        ("Jane company:3M Deutschland", "3M Deutschland", ["Jane"]),
        ("Jane company:Route 66 Diner", "Route 66 Diner", ["Jane"]),
    ],
)
def test_a_value_stops_at_a_tag_or_a_word_the_command_recognises(
    text: str, company: str, rest: list[str]
) -> None:
    args = parse_args(text, **FIELDS_AND_SHAPES)
    assert args.option("company") == company
    assert args.words == rest


def test_amounts_stop_a_value_where_the_command_takes_them() -> None:
    deal: dict[str, Any] = {"keys": frozenset({"company", "close"}), "shapes": frozenset({AMOUNT})}
    args = parse_args("Tape company:3M Europe 12k", **deal)
    assert (args.option("company"), args.words) == ("3M Europe", ["Tape", "12k"])
    # A bare number is no amount to stop at: it could be part of a name.
    assert parse_args("x company:Route 66", **deal).options == {"company": "Route 66"}
    # Without the amount shape, "12k" is just a word of the value.
    assert parse_args("x company:Acme 12k", keys=deal["keys"]).options == {"company": "Acme 12k"}


def test_a_reader_takes_what_it_reads_and_gives_back_the_rest() -> None:
    args = parse_args(f"Jane phone:{MOBILE.international} Doe #vip", **FIELDS_AND_SHAPES)
    assert args.take_phone_field("DE") == MOBILE.e164
    assert args.words == ["Jane", "Doe"]
    assert args.tags == ["vip"]
    trunk_spaced = typed(LANDLINE, "trunk-spaced")
    trunk = parse_args(f"Jane tel:{trunk_spaced} city:Berlin", **FIELDS_AND_SHAPES)
    assert trunk.take_phone_field("DE") == LANDLINE.e164
    assert trunk.words == ["Jane"]
    # Letters are not a phone keypad's: "Doe" is not 363.
    vanity = parse_args(f"Jane tel:{LANDLINE.national} Doe", **FIELDS_AND_SHAPES)
    assert vanity.take_phone_field("DE") == LANDLINE.e164
    assert vanity.words == ["Jane", "Doe"]
    email = parse_args("x email:Jane@Acme.de Doe", **FIELDS_AND_SHAPES)
    assert (email.take_email_field(), email.words) == ("jane@acme.de", ["x", "Doe"])


def test_a_field_that_does_not_read_is_refused() -> None:
    with pytest.raises(CommandError, match="“12” is not a valid phone number"):
        parse_args("Jane phone:12 Doe", **FIELDS_AND_SHAPES).take_phone_field("DE")
    with pytest.raises(CommandError, match="“jane-at-acme” is not an e-mail"):
        parse_args("Jane email:jane-at-acme", **FIELDS_AND_SHAPES).take_email_field()
    empty = parse_args("Jane phone:", **FIELDS_AND_SHAPES)
    assert empty.take_phone_field("DE") is None and empty.words == ["Jane"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("compnay", "company"), ("cyti", "city"), ("tilte", "title"), ("emial", "email")],
)
def test_a_misspelt_field_gets_a_did_you_mean(typed: str, meant: str) -> None:
    with pytest.raises(UsageError, match=f"don't know the field {typed}: — did you mean {meant}:"):
        parse_args(f"Jane {typed}:Acme city:Berlin", **FIELDS_AND_SHAPES)


def test_unknown_fields_other_spellings_and_repeats() -> None:
    with pytest.raises(UsageError, match=r"field colour: here .*put it in quotes"):
        parse_args("Jane colour:red", **FIELDS_AND_SHAPES)
    # Other spellings of a field the command takes.
    aliased = parse_args(
        f"Jane mobile:{MOBILE.national} mail:j@acme.de org:Acme", **FIELDS_AND_SHAPES
    )
    assert aliased.take_phone_field("DE") == MOBILE.e164
    assert aliased.take_email_field() == "j@acme.de"
    assert aliased.option("company") == "Acme"
    with pytest.raises(UsageError, match="city: is there twice"):
        parse_args("Jane city:Berlin city:Munich", **FIELDS_AND_SHAPES)
    # A colon with nothing after it, a URL, and anything quoted stay words.
    kept = parse_args('Acme: https://acme.com "re:launch"', **FIELDS_AND_SHAPES)
    assert kept.words == ["Acme:", "https://acme.com", "re:launch"]


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ('company:"Acme GmbH"', "Acme GmbH"),
        ("company:“Acme GmbH”", "Acme GmbH"),  # English, iOS and Android
        ("company:„Lange Möbel GmbH“", "Lange Möbel GmbH"),  # German
        ("company:„Wójcik i Synowie”", "Wójcik i Synowie"),  # Polish
        ("company:‚Lange Möbel‘", "Lange Möbel"),  # German single
        ("company:‘Berg Sports’", "Berg Sports"),  # English single
        ("company:«Société Générale»", "Société Générale"),  # French
        ("company:»Nordisk Design«", "Nordisk Design"),  # Danish
        ("company:”Svensk Design”", "Svensk Design"),  # Swedish
        ("company:「トヨタ 自動車」", "トヨタ 自動車"),  # Japanese
        ("company:'Smith & Sons'", "Smith & Sons"),
        ("company:‘O’Brien Ltd’", "O’Brien Ltd"),  # an apostrophe inside single quotes
    ],
)
def test_every_quote_a_phone_keyboard_types(text: str, company: str) -> None:
    args = parse_args(f"Jane {text}, Doe", **FIELDS_AND_SHAPES)
    assert args.options["company"] == company
    assert args.words == ["Jane", "Doe"]  # after a quoted value, words are free again


def test_apostrophes_are_letters() -> None:
    args = parse_args(
        "Seán O’Brien D'Angelo company:D’Angelo & Sons city:'s-Hertogenbosch", **FIELDS_AND_SHAPES
    )
    assert args.words == ["Seán", "O’Brien", "D'Angelo"]
    assert args.options == {"company": "D’Angelo & Sons", "city": "'s-Hertogenbosch"}
    # A quoted name as one word.
    assert parse_args("„Jürgen Weiß“ #hot").words == ["Jürgen Weiß"]


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("Ｊａｎｅ Ｄｏｅ", "Jane Doe"),  # fullwidth
        ("１２ ０００ ＥＵＲ", "12 000 EUR"),
        ("Jane\u200b Doe\u200d", "Jane Doe"),  # zero-width space and joiner
        ("\u202eeoD enaJ", "eoD enaJ"),  # a right-to-left override
        ("\u2066Jane\u2069 \u200fDoe\u200e", "Jane Doe"),  # isolates and marks
        ("Jane\u00a0Doe", "Jane Doe"),  # a no-break space
        ("Ja\u00adne", "Jane"),  # a soft hyphen
        ("Jane \ud83d Doe", "Jane  Doe"),  # a lone surrogate
        ("a\x00b\x07c\td\ne", "abc\td\ne"),  # control characters but tab and newline
        ("👩\u200d💻 Jane", "👩\u200d💻 Jane"),  # a joiner inside an emoji stays
        (
            "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scot",
            "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scot",
        ),
        ("Łukasz Wójcik", "Łukasz Wójcik"),
    ],
)
def test_normalize(typed: str, read: str) -> None:
    assert normalize(typed) == read


def test_words_of_only_invisible_characters_are_counted() -> None:
    assert invisible_words("/add \u200b\u200b") == 1
    assert invisible_words("/add \u200b \u2800 \u3164 Jane") == 3
    assert invisible_words("/add Jane Doe") == 0


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_normalize_is_idempotent_and_leaves_nothing_invisible(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert all(unicodedata.category(ch) not in ("Cc", "Cs") or ch in "\t\n" for ch in once)


# --- coordinates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("52.52 13.40", (52.52, 13.4)),
        ("52,52 13,40", (52.52, 13.4)),  # decimal commas
        ("52.52, 13.40", (52.52, 13.4)),
        ("52,52, 13,40", (52.52, 13.4)),
        ("52,52; 13,40", (52.52, 13.4)),
        ("52.52,13.40", (52.52, 13.4)),
        ("52,52,13,40", (52.52, 13.4)),
        ("52.52°N 13.40°E", (52.52, 13.4)),
        ("33.87 S 151.21 E", (-33.87, 151.21)),
        ("-33.87 151.21", (-33.87, 151.21)),
        ("52,5", None),  # one number with a decimal comma
        ("95 10", None),  # no such latitude
        ("Route 66", None),
        ("Munich", None),
    ],
)
def test_coordinates(text: str, point: tuple[float, float] | None) -> None:
    assert parse_coordinates(text) == point


def test_a_phone_before_punctuation_is_whole() -> None:
    """Punctuation closing the word after a number is not more of the number."""
    args = parse_args(f"Jane Doe; {LANDLINE.international}; jane@doe.de")
    assert args.take_phone("DE") == LANDLINE.e164


@pytest.mark.parametrize(
    ("region", "kind"),
    [
        ("DE", PhoneNumberType.FIXED_LINE),
        ("IT", PhoneNumberType.FIXED_LINE),  # a leading zero kept after +39
        ("US", PhoneNumberType.MOBILE),
        ("GB", PhoneNumberType.MOBILE),
    ],
)
@pytest.mark.parametrize("form", ["intl", "national", "dashes"])
def test_a_number_just_read_shows_as_its_stored_form_shows(
    region: str, kind: int, form: str
) -> None:
    """The answer shows a number it just read from what was read (not parsed again from
    the stored E.164): as the stored form shows, whatever was typed around it."""
    typed_number = typed(example(region, kind), form)
    for text, take in (
        (f"Jane Doe {typed_number} ext. 12", lambda args: args.take_phone(region)),
        (f"Jane phone:{typed_number}", lambda args: args.take_phone_field(region)),
    ):
        stored = take(parse_args(text, keys=frozenset({"phone"})))
        assert stored is not None
        parsed = phonenumbers.parse(stored)
        assert phone_display(stored) == phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        assert phone_number(stored).extension is None
