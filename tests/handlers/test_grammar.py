"""The shared argument grammar: words, tags, options, phones, e-mails, amounts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.errors import Ambiguous, CommandError
from handlers.grammar import (
    MAX_INPUT,
    Money,
    limited,
    parse_args,
    parse_email,
    parse_phone,
    split_command,
)

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
        ("Jane +49 30 1234567 Doe", "DE", "+49301234567"),
        ("Jane 030 1234567", "DE", "+49301234567"),
        ("call (415) 555-2671 today", "US", "+14155552671"),
        ("Jane 12345", "DE", None),
    ],
)
def test_phones_are_found_anywhere(text: str, region: str, expected: str | None) -> None:
    args = parse_args(text)
    assert args.take_phone(region) == expected
    if expected:
        assert not any(ch.isdigit() for ch in args.rest)


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
    assert parse_phone("+1 415 555 2671", "DE") == "+14155552671"
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
