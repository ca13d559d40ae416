"""Wording helpers: money per locale, relative times, days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.localedata import locale_identifiers
from babel.numbers import get_currency_precision, parse_pattern
from hypothesis import given
from hypothesis import strategies as st

from handlers.format import (
    _compile,
    _compiled_money,
    _money_by_babel,
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


@pytest.mark.parametrize("currency", CURRENCIES)
def test_money_is_babels_in_every_locale(currency: str) -> None:
    differences = []
    for locale in LOCALES:
        for minor in AMOUNTS:
            fast, slow = money(minor, currency, locale), _money_by_babel(minor, currency, locale)
            if fast != slow:
                differences.append((locale, minor, fast, slow))
    assert differences == []


@pytest.mark.parametrize("currency", CURRENCIES)
def test_no_locale_falls_back_to_babel(currency: str) -> None:
    """Else the test above would compare babel with itself there."""
    fallbacks = [
        (locale, cents)
        for locale in LOCALES
        for cents in (False, True)
        if _compiled_money(locale, currency, cents=cents) is None
    ]
    assert fallbacks == []


@given(
    minor=st.integers(min_value=-(10**28) + 1, max_value=10**28 - 1),
    currency=st.sampled_from([*CURRENCIES, "BHD", "XXX"]),
    locale=st.sampled_from(["en_US", "de_DE", "fr_CH", "de_CH", "hi_IN", "ar_EG", "he_IL"]),
)
def test_money_is_babels_for_any_amount(minor: int, currency: str, locale: str) -> None:
    assert money(minor, currency, locale) == _money_by_babel(minor, currency, locale)


@pytest.mark.parametrize("minor", [10**28 - 1, 10**28, 10**28 + 1, -(10**30)])
@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
def test_money_beyond_decimals_precision_is_babels(minor: int, currency: str) -> None:
    """Babel rounds or raises from 28 digits on (the default Decimal context)."""
    try:
        expected = _money_by_babel(minor, currency, "en_US")
    except InvalidOperation:
        with pytest.raises(InvalidOperation):
            money(minor, currency, "en_US")
    else:
        assert money(minor, currency, "en_US") == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "¤¤\xa0#,##0.00",  # the ISO code
        "#,##0.00 ¤;(#,##0.00 ¤)",  # a negative pattern of its own
        "¤000.00",  # a minimum of integer digits, no grouping
        "#,###0.00\xa0¤",  # groups of four
        "¤#,##,##0.00",  # 12,34,567
        "¤#,#0.00",  # groups of two
    ],
)
@pytest.mark.parametrize("locale", ["en_US", "de_CH", "ar_EG"])
def test_compiled_patterns_write_what_babel_writes(pattern: str, locale: str) -> None:
    for currency in ["EUR", "JPY", "BHD"]:
        precision = get_currency_precision(currency)
        for minor in AMOUNTS:
            cents = bool(precision and minor % (10**precision))
            parsed = parse_pattern(pattern if cents else re.sub(r"\.0+", "", pattern))
            compiled = _compile(Locale.parse(locale), parsed, currency, cents=cents)
            assert compiled is not None
            value = Decimal(minor).scaleb(-precision)
            expected = parsed.apply(value, locale, currency=currency, currency_digits=cents)
            assert compiled.format(minor) == expected


@pytest.mark.parametrize(
    ("pattern", "cents"),
    [
        ("¤¤¤ #,##0.00", True),  # the currency's name, singular or plural by the amount
        ("#,##0.00%", True),  # scaled by a hundred
        ("'EUR' #,##0.00", True),  # quoted text
        ("¤#E0", False),  # scientific notation
        ("¤@@#", False),  # significant digits
        ("#,##0.#0 ¤", False),  # decimals without cents
    ],
)
def test_patterns_not_compiled_are_left_to_babel(pattern: str, cents: bool) -> None:
    compiled = _compile(Locale.parse("en_US"), parse_pattern(pattern), "EUR", cents=cents)
    assert compiled is None


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (16_323_844_006, "EUR", "en_US", "€163.2M"),
        (16_323_844_006, "EUR", "de_DE", "163,2\xa0Mio.\xa0€"),
        (1_234_599, "USD", "en_US", "$12.3K"),
        (3_037_860, "JPY", "en_US", "¥3M"),
        (99_950, "EUR", "en_US", "€999.50"),  # small sums stay exact
    ],
)
def test_short_money_for_charts(minor: int, currency: str, locale: str, expected: str) -> None:
    assert money_short(minor, currency, locale) == expected


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
