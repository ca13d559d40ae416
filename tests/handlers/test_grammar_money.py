"""Money as people write it, read in the team's locale (babel's data for that locale)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel import Locale, localedata
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.errors import Ambiguous, CommandError, UsageError
from handlers.grammar import (
    AMOUNT,
    MAX_MINOR,
    Money,
    _may_be_sign,
    _native_signs,
    normalize,
    parse_args,
    read_amount,
)


@pytest.mark.parametrize(
    ("text", "money", "rest"),
    [
        ("Sofa 12.000 € Greta", Money(1_200_000, "EUR"), ["Sofa", "Greta"]),
        ("Kitchen 12 000 EUR Greta", Money(1_200_000, "EUR"), ["Kitchen", "Greta"]),
        ("Sofa €12.000,50", Money(1_200_050, "EUR"), ["Sofa"]),
        ("Rack 12,5k EUR", Money(1_250_000, "EUR"), ["Rack"]),
        ("Rack 3.5k", Money(350_000, "EUR"), ["Rack"]),
        ("Consulting Łukasz $3,500", Money(350_000, "USD"), ["Consulting", "Łukasz"]),
        ("Licence EUR 12000", Money(1_200_000, "EUR"), ["Licence"]),
        ("Licence 12k€", Money(1_200_000, "EUR"), ["Licence"]),
        ("Licence 12 k €", Money(1_200_000, "EUR"), ["Licence"]),
        ("Fleet 1.5m", Money(150_000_000, "EUR"), ["Fleet"]),
        ("Fleet 1,5 Mio", Money(150_000_000, "EUR"), ["Fleet"]),
        # German business writing: Tausend, TEUR / T€, Milliarden.
        ("Cloud 15 Tsd. EUR Greta", Money(1_500_000, "EUR"), ["Cloud", "Greta"]),
        ("Cloud 150 TEUR", Money(15_000_000, "EUR"), ["Cloud"]),
        ("Cloud 150T€", Money(15_000_000, "EUR"), ["Cloud"]),
        ("Cloud 2 TUSD", Money(200_000, "USD"), ["Cloud"]),
        ("Grid 1,2 Mrd €", Money(120_000_000_000, "EUR"), ["Grid"]),
        ("Fleet 1 200 000 EUR", Money(120_000_000, "EUR"), ["Fleet"]),
        ("Fleet 1.200.000", Money(120_000_000, "EUR"), ["Fleet"]),
        ("Fleet 1,200,000.50 USD", Money(120_000_050, "USD"), ["Fleet"]),
        ("Desk 12,- €", Money(1_200, "EUR"), ["Desk"]),
        ("Desk 12,50", Money(1_250, "EUR"), ["Desk"]),
        ("Desk 12.5", Money(1_250, "EUR"), ["Desk"]),
        ("Desk 1.500 JPY", Money(1_500, "JPY"), ["Desk"]),
        ("Desk JPY 1500", Money(1_500, "JPY"), ["Desk"]),
        ("Desk £3.2k", Money(320_000, "GBP"), ["Desk"]),
        ("Desk 12k usd", Money(1_200_000, "USD"), ["Desk"]),
        ("Desk 12000 chf", Money(1_200_000, "CHF"), ["Desk"]),
        # Written as money wins over a bare number, which is part of the title.
        ("Fleet 20 cars 12k", Money(1_200_000, "EUR"), ["Fleet", "20", "cars"]),
        ("Website 2026 relaunch €9.500", Money(950_000, "EUR"), ["Website", "2026", "relaunch"]),
        # A bare number counts when it is the last word.
        ("Renewal 3 seats 500", Money(50_000, "EUR"), ["Renewal", "3", "seats"]),
    ],
)
def test_amounts_as_people_write_them(text: str, money: Money, rest: list[str]) -> None:
    args = parse_args(text)
    assert args.take_amount("EUR", locale="en_US") == money
    assert args.words == rest


@pytest.mark.parametrize("text", ["Haul 15 tons", "Haul 2 t", "Haul 3 tea"])
def test_a_t_without_a_currency_is_no_thousand(text: str) -> None:
    args = parse_args(text)
    assert args.take_amount("EUR", locale="en_US") is None


@pytest.mark.parametrize(
    "text", ["Fleet 20 cars", "Website relaunch 2026", "Room 101 renovation", "Fleet 3.5"]
)
def test_a_bare_number_inside_a_title_or_a_year_is_no_amount(text: str) -> None:
    args = parse_args(text)
    expected = None if not text.endswith("3.5") else Money(350, "EUR")
    assert args.take_amount("EUR", locale="en_US") == expected
    assert parse_args(text).take_amount("EUR", locale="en_US", bare=False) is None


def test_a_currency_sign_the_locale_does_not_know_is_refused() -> None:
    with pytest.raises(UsageError, match="which currency ₿ is"):
        read_amount("₿2", "EUR", locale="en_US")
    with pytest.raises(UsageError, match="which currency ₿ is"):
        parse_args("Mining rig 5000₿").take_amount("EUR", locale="en_US")
    # Where the locale has a sign of its own, it is that currency.
    rouble = normalize(Locale.parse("ru_RU").currency_symbols["RUB"])
    assert read_amount(f"5000 {rouble}", "EUR", locale="ru_RU") == Money(500_000, "RUB")


def _eur(major: int) -> str:
    """A button's label, as babel writes euros in en_US."""
    return format_currency(Decimal(major), "EUR", locale="en_US")


def test_never_zero_or_twelve_for_twelve_thousand() -> None:
    for typed in ("12.000", "12 000", "12,000", "12.000 €", "12 000 EUR", "12k", "€12.000"):
        assert read_amount(typed, "EUR", locale="en_US") == Money(1_200_000, "EUR"), typed
        assert read_amount(typed, "EUR", locale="de_DE") == Money(1_200_000, "EUR"), typed


def test_three_digits_after_one_separator() -> None:
    # Thousands, for a currency with two decimals or none.
    assert read_amount("1.500", "EUR", locale="en_US") == Money(150_000, "EUR")
    assert read_amount("1,500", "JPY", locale="de_DE") == Money(1_500, "JPY")
    # With three decimals, as the locale writes them (the locale's own symbols, from babel).
    for locale in ("en_US", "de_DE"):
        point = get_decimal_symbol(locale)
        assert read_amount(f"1{point}500 KWD", "EUR", locale=locale) == Money(1_500, "KWD")
        group = get_group_symbol(locale)
        assert read_amount(f"1{group}500 KWD", "EUR", locale=locale) == Money(1_500_000, "KWD")
    # Other counts of digits are decimals; more than the currency has is refused.
    assert read_amount("12,5", "EUR", locale="en_US") == Money(1_250, "EUR")
    with pytest.raises(UsageError, match="more decimals than EUR has"):
        read_amount("12.5555 €", "EUR", locale="en_US")
    with pytest.raises(UsageError, match="more decimals than JPY has"):
        read_amount("12.5 JPY", "EUR", locale="en_US")


def test_a_figure_that_reads_two_ways_is_asked_about() -> None:
    with pytest.raises(Ambiguous) as asked:
        read_amount("1.500k", "EUR", locale="en_US")
    assert [c.label for c in asked.value.candidates] == [_eur(1_500), _eur(1_500_000)]
    assert read_amount("1.500k", "EUR", locale="en_US", picks={"1.500k": "a1"}) == Money(
        150_000_000, "EUR"
    )
    # Two figures written as money: which is the deal's?
    args = parse_args("Pilot 5k then 20k")
    with pytest.raises(Ambiguous) as which:
        args.take_amount("EUR", locale="en_US")
    assert which.value.ref == "5k / 20k"
    assert [c.label for c in which.value.candidates] == [_eur(5_000), _eur(20_000)]
    picked = parse_args("Pilot 5k then 20k")
    assert picked.take_amount("EUR", locale="en_US", picks={"5k / 20k": "a1"}) == Money(
        2_000_000, "EUR"
    )
    assert picked.words == ["Pilot", "5k", "then"]


def test_the_largest_amount() -> None:
    assert read_amount("100bn", "EUR", locale="en_US") == Money(MAX_MINOR, "EUR")
    for typed in ("100,000,000,000.01", "999999999999m", "1,000,000,000,000,000,000,000"):
        with pytest.raises(UsageError, match="more than one deal can hold"):
            read_amount(typed, "EUR", locale="en_US")
    # Even the largest amounts of the most deals a total could hold fit a 64-bit sum.
    assert MAX_MINOR * 900_000 < 2**63


@pytest.mark.parametrize("locale", ["de_CH", "fr_FR", "sv_SE", "pl_PL", "en_IN", "es_ES"])
def test_the_locales_own_group_and_decimal_symbols(locale: str) -> None:
    group = normalize(get_group_symbol(locale))
    point = normalize(get_decimal_symbol(locale))
    assert read_amount(f"12{group}000{point}50", "EUR", locale=locale) == Money(1_200_050, "EUR")
    assert read_amount(f"1{group}234{group}567", "EUR", locale=locale) == Money(123_456_700, "EUR")


def test_indian_grouping_where_the_locale_groups_so() -> None:
    assert Locale.parse("en_IN").decimal_formats[None].grouping == (3, 2)
    assert read_amount("₹1,00,000", "INR", locale="en_IN") == Money(10_000_000, "INR")
    assert read_amount("1,00,000", "EUR", locale="en_US") is None


@pytest.mark.parametrize(
    ("locale", "code"), [("en_CA", "CAD"), ("zh_CN", "CNY"), ("pl_PL", "PLN")]
)
def test_the_locales_own_currency_symbols(locale: str, code: str) -> None:
    symbol = normalize(Locale.parse(locale).currency_symbols[code])
    assert read_amount(f"12 000 {symbol}", "EUR", locale=locale) == Money(1_200_000, code)
    # And the symbols of English stay: € is EUR everywhere.
    assert read_amount("€12.000", "USD", locale=locale) == Money(1_200_000, "EUR")


def test_amount_words_stop_a_value_only_when_written_as_money() -> None:
    keys = frozenset({"company"})
    shapes = frozenset({AMOUNT})
    args = parse_args("Tape company:3M Europe 12.000 €", keys=keys, shapes=shapes)
    assert args.options == {"company": "3M Europe"}
    assert args.take_amount("EUR", locale="en_US") == Money(1_200_000, "EUR")


_LOCALES = sorted(localedata.locale_identifiers())


@settings(max_examples=400, deadline=None)
@given(
    locale=st.sampled_from(_LOCALES),
    currency=st.sampled_from(["EUR", "USD", "JPY", "KWD", "INR"]),
    minor=st.integers(min_value=0, max_value=10**12),
)
def test_whatever_babel_writes_in_a_locale_is_read_back(
    locale: str, currency: str, minor: int
) -> None:
    """A figure written the way the team's locale writes money (babel's format, after the
    dispatcher's normalisation) is read as that amount, never as a tenth or a thousandth."""
    value = Decimal(minor).scaleb(-get_currency_precision(currency))
    typed = normalize(format_currency(value, currency, locale=locale))
    assert read_amount(typed, "EUR", locale=locale) == Money(minor, currency), typed


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.,' k€$EURm-", max_size=16))
def test_any_figure_is_read_refused_or_asked_about(text: str) -> None:
    try:
        money = read_amount(text, "EUR", locale="en_US")
    except (CommandError, Ambiguous):
        return
    assert money is None or 0 <= money.minor <= MAX_MINOR


@pytest.mark.parametrize("locale", ["en_US", "de_DE"])
def test_a_sign_its_own_country_writes_after_an_amount_is_its_currency(locale: str) -> None:
    """`5000 zł` is złoty in any team: the sign is only written for one currency."""
    assert read_amount("5000 zł", "EUR", locale=locale) == Money(500_000, "PLN")
    assert read_amount("12.000 Kč", "EUR", locale=locale) == Money(1_200_000, "CZK")
    assert read_amount("250 000 Ft", "EUR", locale=locale) == Money(250_000, "HUF")
    # A sign several currencies write is asked to be written as a code, never guessed.
    with pytest.raises(UsageError, match=r"which currency kr is.*NOK or SEK"):
        read_amount("12 000 kr", "EUR", locale=locale)
    assert parse_args("Fleet 20 cars").take_amount("EUR", locale=locale) is None


def test_a_locale_s_own_sign_wins_over_another_country_s() -> None:
    assert read_amount("12 000 kr", "EUR", locale="sv_SE") == Money(1_200_000, "SEK")


def test_the_words_after_a_figure_that_are_never_a_sign_are_told_without_locale_data() -> None:
    assert all(_may_be_sign(sign) for sign in _native_signs())
    assert not _may_be_sign("cars") and _may_be_sign("kr") and _may_be_sign("Ft")
