"""Wording helpers: money per locale, relative times, days."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from babel import Locale, numbers
from babel.localedata import locale_identifiers
from babel.numbers import (
    format_compact_currency,
    format_currency,
    get_currency_precision,
    parse_pattern,
)
from hypothesis import given
from hypothesis import strategies as st

from handlers import format as format_module
from handlers.format import (
    _affix,
    _compile,
    _compiled_money,
    ago,
    day,
    local_time,
    money,
    money_short,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (1_200_000, "EUR", "en_US", "€12,000"),
        (1_200_050, "EUR", "en_US", "€12,000.50"),
        (1_200_000, "EUR", "de_DE", "12.000\xa0€"),
        (100, "JPY", "en_US", "¥100"),
        (None, "EUR", "en_US", "no amount"),
    ],
)
def test_money(minor: int | None, currency: str, locale: str, expected: str) -> None:
    assert money(minor, currency, locale) == expected


# All of them rather than a sample (a few seconds): a pattern or symbol only one locale has is
# what a sample would miss.
LOCALES = sorted(locale_identifiers())
# Two, zero and three decimals; symbols before and after the number, ISO codes as symbols.
CURRENCIES = ["EUR", "USD", "JPY", "GBP", "CHF", "INR", "KWD", "SEK", "CZK"]
# With cents and without, for two and three decimals (KWD shows 105 as 0.105); negatives;
# groups of thousands, lakhs and crores.
AMOUNTS = [0, 1, 99, 100, 105, -1, -123_456, -1_200_000, 123_456_789_000, 123_456_789_012]
# Private-use characters, which no locale writes, for the group and decimal symbols.
GROUP, DECIMAL = "\ue000", "\ue001"

Reference = Callable[..., str]


@contextmanager
def babel_reference() -> Iterator[Reference]:
    """What money() should write, as the installed babel writes it: its pattern, grouping,
    affixes and symbols, and cents only when there are some.

    Except that babel unquotes the whole string it wrote, number included: a locale whose
    group symbol is a quote (de_CH in babel 2.19) loses its groups, CHF 1'234'567.50 comes
    out as CHF 1234567.50. So babel writes sentinels for the symbols, put back afterwards."""
    group_of, decimal_of = numbers.get_group_symbol, numbers.get_decimal_symbol

    def reference(minor: int, currency: str, locale: str, pattern: str | None = None) -> str:
        precision = get_currency_precision(currency)
        cents = bool(precision and minor % (10**precision))
        pattern = pattern or Locale.parse(locale).currency_formats["standard"].pattern
        if not cents:
            pattern = re.sub(r"\.0+", "", pattern)
        with localcontext() as context:
            context.prec = 100  # every digit: the default context rounds from 28 on
            value = Decimal(minor).scaleb(-precision)
            text = format_currency(value, currency, pattern, locale=locale, currency_digits=cents)
        return text.replace(GROUP, group_of(locale)).replace(DECIMAL, decimal_of(locale))

    with (
        mock.patch.object(numbers, "get_group_symbol", new=lambda *_, **__: GROUP),
        mock.patch.object(numbers, "get_decimal_symbol", new=lambda *_, **__: DECIMAL),
    ):
        yield reference


@pytest.mark.parametrize("currency", CURRENCIES)
def test_money_is_babels_in_every_locale(currency: str) -> None:
    differences = []
    with babel_reference() as reference:
        for locale in LOCALES:
            for minor in AMOUNTS:
                written, expected = (
                    money(minor, currency, locale),
                    reference(minor, currency, locale),
                )
                if written != expected:
                    differences.append((locale, minor, written, expected))
    assert differences == []


@pytest.mark.parametrize("currency", CURRENCIES)
def test_no_locale_falls_back_to_babel(currency: str) -> None:
    """babel unquotes the number it wrote: the compiled form is what writes every locale
    right."""
    fallbacks = [
        (locale, cents)
        for locale in LOCALES
        for cents in (False, True)
        if _compiled_money(locale, currency, cents=cents) is None
    ]
    assert fallbacks == []


@given(
    minor=st.integers(min_value=-(10**40), max_value=10**40),
    currency=st.sampled_from([*CURRENCIES, "BHD", "XXX"]),
    locale=st.sampled_from(["en_US", "de_DE", "fr_CH", "de_CH", "hi_IN", "ar_EG", "he_IL"]),
)
def test_money_is_babels_for_any_amount(minor: int, currency: str, locale: str) -> None:
    with babel_reference() as reference:
        assert money(minor, currency, locale) == reference(minor, currency, locale)


@pytest.mark.parametrize("minor", [10**28 - 1, 10**28, 10**28 + 1, -(10**30) - 1])
@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
def test_money_writes_every_digit_of_any_amount(minor: int, currency: str) -> None:
    """Where babel, in the default Decimal context, rounds or raises (28 digits on)."""
    with babel_reference() as reference:
        assert money(minor, currency, "en_US") == reference(minor, currency, "en_US")


@pytest.mark.parametrize(
    "pattern",
    [
        "¤¤\xa0#,##0.00",  # the ISO code
        "#,##0.00 ¤;(#,##0.00 ¤)",  # a negative pattern of its own
        "¤000.00",  # a minimum of integer digits, no grouping
        "#,###0.00\xa0¤",  # groups of four
        "¤#,##,##0.00",  # 12,34,567
        "¤#,#0.00",  # groups of two
        "'Total:' ¤#,##0.00",  # quoted text
        "#,##0.00 ''¤''",  # quotes themselves
    ],
)
@pytest.mark.parametrize("locale", ["en_US", "de_CH", "ar_EG"])
def test_compiled_patterns_write_what_babel_writes(pattern: str, locale: str) -> None:
    with babel_reference() as reference:
        for currency in ["EUR", "JPY", "BHD"]:
            precision = get_currency_precision(currency)
            for minor in AMOUNTS:
                cents = bool(precision and minor % (10**precision))
                parsed = parse_pattern(pattern if cents else re.sub(r"\.0+", "", pattern))
                compiled = _compile(Locale.parse(locale), parsed, currency, cents=cents)
                assert compiled is not None
                assert compiled.format(minor) == reference(minor, currency, locale, pattern)


@pytest.mark.parametrize(("group", "decimal"), [("'", "."), ("’", "."), ("'", "'")])
def test_symbols_are_written_as_they_are(
    group: str, decimal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quotes included: de_CH's group is `'` in babel 2.19 and `’` before."""
    monkeypatch.setattr(format_module, "get_group_symbol", lambda locale: group)
    monkeypatch.setattr(format_module, "get_decimal_symbol", lambda locale: decimal)
    pattern = parse_pattern("¤¤\xa0#,##0.00;¤¤-#,##0.00")
    compiled = _compile(Locale.parse("en_US"), pattern, "CHF", cents=True)
    assert compiled is not None
    assert compiled.format(123_456_750) == f"CHF\xa01{group}234{group}567{decimal}50"
    assert compiled.format(-123_456_750) == f"CHF-1{group}234{group}567{decimal}50"


@pytest.mark.parametrize(
    ("affix", "written"),
    [
        ("¤\xa0", "€\xa0"),
        ("-¤¤ ", "-EUR "),
        ("'¤'", "¤"),  # quoted: the sign itself
        ("''", "'"),
        ("'o''clock' ¤", "o'clock €"),  # a doubled quote inside quotes is one quote
        ("''¤''", "'€'"),
        ("'#,0.' ", "#,0. "),
        ("", ""),
    ],
)
def test_affixes_are_unquoted_as_cldr_says(affix: str, written: str) -> None:
    assert _affix(affix, "€", "EUR") == written


@pytest.mark.parametrize("affix", ["¤¤¤", " ¤¤¤¤", "'open", "a'b"])
def test_affixes_not_compiled(affix: str) -> None:
    assert _affix(affix, "€", "EUR") is None


@pytest.mark.parametrize(
    ("pattern", "cents"),
    [
        ("¤¤¤ #,##0.00", True),  # the currency's name, singular or plural by the amount
        ("#,##0.00%", True),  # scaled by a hundred
        ("#,##0.00 'EUR", True),  # a quote left open
        ("¤#E0", False),  # scientific notation
        ("¤@@#", False),  # significant digits
        ("#,##0.#0 ¤", False),  # decimals without cents
    ],
)
def test_patterns_not_compiled_are_left_to_babel(
    pattern: str, cents: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = parse_pattern(pattern)
    assert _compile(Locale.parse("en_US"), parsed, "EUR", cents=cents) is None
    monkeypatch.setattr(
        format_module, "_currency_pattern", lambda locale, cents: (Locale.parse(locale), parsed)
    )
    _compiled_money.cache_clear()
    try:
        minor = 123_450 if cents else 123_400
        value = Decimal(minor).scaleb(-2)
        expected = format_currency(value, "EUR", parsed, locale="en_US", currency_digits=cents)
        assert money(minor, "EUR", "en_US") == expected
    finally:
        _compiled_money.cache_clear()


@pytest.mark.parametrize("locale", ["en_US", "de_DE", "de_CH", "hi_IN", "ja_JP", "ar_EG"])
@pytest.mark.parametrize(
    ("minor", "currency"),
    [(16_323_844_006, "EUR"), (1_234_599, "USD"), (3_037_860, "JPY"), (-250_000_000, "EUR")],
)
def test_short_money_for_charts(minor: int, currency: str, locale: str) -> None:
    """Babel's compact form (`€163.2M`, `163,2 Mio. €`) of the amount rounded to whole
    units, with at most one decimal."""
    whole = Decimal(minor).scaleb(-get_currency_precision(currency)).to_integral_value()
    expected = format_compact_currency(whole, currency, locale=locale, fraction_digits=1)
    assert money_short(minor, currency, locale) == expected


@pytest.mark.parametrize("locale", ["en_US", "de_CH"])
@pytest.mark.parametrize(("minor", "currency"), [(99_950, "EUR"), (-99_999, "USD"), (999, "JPY")])
def test_short_money_keeps_small_sums_exact(minor: int, currency: str, locale: str) -> None:
    assert money_short(minor, currency, locale) == money(minor, currency, locale)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(hours=3), "3 hours ago"),
        (timedelta(days=1, hours=2), "yesterday"),
        (timedelta(days=12), "12 days ago"),
        (timedelta(days=70), "2 months ago"),
        (timedelta(days=800), "2 years ago"),
        (-timedelta(hours=2), "in 2 hours"),
        (-timedelta(days=1), "tomorrow"),
    ],
)
def test_ago(delta: timedelta, expected: str) -> None:
    assert ago(NOW - delta, NOW) == expected
    assert ago(None, NOW) == "never"


def test_day_and_local_time() -> None:
    assert day(date(2026, 12, 15), today=date(2026, 11, 23)) == "Tue 15 Dec"
    assert day(date(2027, 1, 5), today=date(2026, 11, 23)) == "Tue 5 Jan 2027"
    berlin = ZoneInfo("Europe/Berlin")
    assert local_time(NOW, berlin) == "Mon 23 Nov 13:00"
