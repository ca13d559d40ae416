"""Wording helpers: money per locale, relative times, days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.format import ago, day, local_time, money, money_short

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
