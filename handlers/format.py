"""Shared wording: money, relative times, ids as people type them."""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from functools import lru_cache

from babel import Locale
from babel.numbers import (
    NumberPattern,
    format_compact_currency,
    get_currency_precision,
    parse_pattern,
)

from handlers.grammar import Money
from storage.models import Contact, Deal


def money(minor: int | None, currency: str | None, locale: str = "en_US") -> str:
    """`1200000, "EUR"` -> `€12,000` (en_US) or `12.000 €` (de_DE); cents only when there
    are some."""
    if minor is None or currency is None:
        return "no amount"
    value = Money(minor, currency).major
    precision = get_currency_precision(currency)
    cents = bool(precision and minor % (10**precision))
    parsed, pattern = _currency_pattern(locale, cents=cents)
    # What format_currency does, without parsing the locale and the pattern on each call:
    # /stats writes a dozen amounts per rep, thousands at a million contacts.
    return pattern.apply(value, parsed, currency=currency, currency_digits=cents)


def money_short(minor: int, currency: str, locale: str = "en_US") -> str:
    """For charts: `€163.2M`, `$16.3K` (`163,2 Mio. €` in de_DE); small sums as money()."""
    value = Money(minor, currency).major
    if abs(value) < 1000:
        return money(minor, currency, locale)
    return format_compact_currency(
        value.to_integral_value(), currency, locale=locale, fraction_digits=1
    )


@lru_cache(maxsize=64)
def _currency_pattern(locale: str, *, cents: bool) -> tuple[Locale, NumberPattern]:
    """The locale and its currency pattern, without the decimals unless `cents`:
    `#,##0.00 ¤` -> `#,##0 ¤`."""
    parsed = Locale.parse(locale)
    pattern = parsed.currency_formats["standard"]
    if cents:
        return parsed, pattern
    return parsed, parse_pattern(re.sub(r"\.0+", "", pattern.pattern))


def contact_ref(contact: Contact) -> str:
    return f"c{contact.id}"


def deal_ref(deal: Deal) -> str:
    return f"d{deal.id}"


def map_url(lat: float, lon: float) -> str:
    """An OpenStreetMap page with a marker on the point."""
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"
    )


def distance(km: float) -> str:
    """`850 m`, `2.4 km`, `37 km`."""
    if km < 1:
        return f"{km * 1000:.0f} m"
    if km >= 10:
        return f"{km:.0f} km"
    return f"{km:.1f}".removesuffix(".0") + " km"


def ago(moment: datetime | None, now: datetime) -> str:
    """`3 days ago`, `yesterday`, `just now`, `in 2 hours`."""
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    for size, unit in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            count = int(seconds // size)
            if unit == "day" and count == 1:
                return "tomorrow" if future else "yesterday"
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"  # unreachable: the loop ends at one minute


def day(value: date, tz: tzinfo | None = None, today: date | None = None) -> str:
    """`Fri 12 Dec 2026`, without the year when it is this year."""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date() if tz else value.date()
    if today is not None and value.year == today.year:
        return value.strftime("%a %-d %b")
    return value.strftime("%a %-d %b %Y")


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%a %-d %b %H:%M")
