"""Shared wording: money, relative times, ids as people type them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

from babel import Locale
from babel.numbers import (
    NumberPattern,
    format_compact_currency,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)

from handlers.grammar import Money
from storage.models import Contact, Deal

if TYPE_CHECKING:
    from storage.contacts import Candidate


def money(minor: int | None, currency: str | None, locale: str = "en_US") -> str:
    """`1200000, "EUR"` -> `€12,000` (en_US) or `12.000 €` (de_DE); cents only when there
    are some."""
    if minor is None or currency is None:
        return "no amount"
    precision = get_currency_precision(currency)
    cents = bool(precision and minor % (10**precision))
    # /stats writes a dozen amounts per rep, hundreds per reply, and babel's generic
    # NumberPattern.apply costs over 10 µs each; the compiled pattern is a few str operations.
    compiled = _compiled_money(locale, currency, cents=cents)
    if compiled is None:
        return _money_by_babel(minor, currency, locale, cents=cents)
    return compiled.format(minor)


def _money_by_babel(minor: int, currency: str, locale: str, *, cents: bool) -> str:
    """What babel writes, for a pattern the compiled form does not reproduce (none of the
    currency patterns of the installed babel: a test says so)."""
    parsed, pattern = _currency_pattern(locale, cents=cents)
    # What format_currency does, without parsing the locale and the pattern on each call.
    value = Money(minor, currency).major
    return pattern.apply(value, parsed, currency=currency, currency_digits=cents)


@dataclass(frozen=True, slots=True)
class _CompiledMoney:
    """A locale's currency pattern for one currency, reduced to the strings and group sizes
    it writes, so an amount is a few str operations on its minor units rather than Decimal
    arithmetic and the pattern's interpretation on every call (and exact at any size, where
    babel's Decimal context rounds from 28 digits on)."""

    precision: int  # the currency's decimals: where the minor units' digits are cut
    cents: bool  # the decimals are shown
    min_digits: int  # zero-padded width of minor units with the integer part's minimum digits
    primary: int  # the group nearest the decimal point (3 in 12,34,567)
    secondary: int  # the groups further left (2 in 12,34,567)
    group: str
    decimal: str
    prefixes: tuple[str, str]  # positive, negative: with the currency and quoting resolved
    suffixes: tuple[str, str]

    def format(self, minor: int) -> str:
        negative = minor < 0
        digits = str(-minor if negative else minor).zfill(self.min_digits)
        cut = len(digits) - self.precision
        number = self._grouped(digits[:cut])
        if self.cents:
            number += self.decimal + digits[cut:]
        return self.prefixes[negative] + number + self.suffixes[negative]

    def _grouped(self, whole: str) -> str:
        if len(whole) <= self.primary:
            return whole
        head = whole[: -self.primary]
        groups = [whole[-self.primary :]]
        while len(head) > self.secondary:
            groups.append(head[-self.secondary :])
            head = head[: -self.secondary]
        groups.append(head)
        groups.reverse()
        return self.group.join(groups)


@lru_cache(maxsize=256)
def _compiled_money(locale: str, currency: str, *, cents: bool) -> _CompiledMoney | None:
    parsed, pattern = _currency_pattern(locale, cents=cents)
    return _compile(parsed, pattern, currency, cents=cents)


def _compile(
    parsed: Locale, pattern: NumberPattern, currency: str, *, cents: bool
) -> _CompiledMoney | None:
    """The pattern compiled for money(), or None when it uses something the compiled form
    does not write: then money() asks babel."""
    if (
        pattern.exp_prec  # scientific notation
        or pattern.scale  # per cent, per mille
        or "@" in pattern.pattern  # significant digits
        or pattern.number_pattern == ""  # a pattern of affixes alone
        or min(pattern.grouping) < 1
        # Without cents apply pads the pattern's own minimum decimals, never seen in CLDR.
        or (not cents and pattern.frac_prec[0])
    ):
        return None
    symbol = get_currency_symbol(currency, parsed)
    prefix, negative_prefix, suffix, negative_suffix = (
        _affix(text, symbol, currency.upper()) for text in (*pattern.prefix, *pattern.suffix)
    )
    if prefix is None or negative_prefix is None or suffix is None or negative_suffix is None:
        return None
    precision = get_currency_precision(currency)
    return _CompiledMoney(
        precision=precision,
        cents=cents,
        min_digits=precision + max(pattern.int_prec[0], 1),
        primary=pattern.grouping[0],
        secondary=pattern.grouping[1],
        # The symbols are text, written as they are: de_CH's group is an ASCII quote in
        # babel 2.19, which babel's own apply takes for quoting (it unquotes the whole string
        # it wrote, number included, and writes CHF 1'234'567.50 as CHF 1234567.50).
        group=get_group_symbol(parsed),
        decimal=get_decimal_symbol(parsed),
        prefixes=(prefix, negative_prefix),
        suffixes=(suffix, negative_suffix),
    )


# A part of an affix, as CLDR's number patterns quote: `''` is a quote; `'...'` is its text
# as it stands (a doubled quote inside is one quote); a run of currency signs; other text.
_AFFIX_PART = re.compile(
    r"(?P<quote>'')|'(?P<quoted>(?:[^']|'')*)'|(?P<signs>¤+)|(?P<text>[^'¤]+)"
)


def _affix(pattern: str, symbol: str, code: str) -> str | None:
    """An affix of a pattern as written: `¤` is the currency's symbol, `¤¤` its ISO code,
    quoted text is literal (`'¤'` is the sign itself). None for the currency's name (`¤¤¤`,
    singular or plural by the amount), a longer run of signs or a quote left open."""
    written = []
    position = 0
    while position < len(pattern):
        part = _AFFIX_PART.match(pattern, position)
        if part is None:
            return None
        position = part.end()
        if part["quote"]:
            written.append("'")
        elif part["quoted"] is not None:
            written.append(part["quoted"].replace("''", "'"))
        elif part["signs"]:
            sign = {1: symbol, 2: code}.get(len(part["signs"]))
            if sign is None:
                return None
            written.append(sign)
        else:
            written.append(part["text"])
    return "".join(written)


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


def contact_ref(contact: Contact | Candidate | int) -> str:
    """`c42`, of a contact or of its id."""
    return f"c{contact if isinstance(contact, int) else contact.id}"


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
            text = counted(count, unit)
            return f"in {text}" if future else f"{text} ago"
    return "just now"  # unreachable: the loop ends at one minute


def counted(n: int, one: str, many: str = "") -> str:
    """`1 reminder`, `2 reminders`, `1,200 contacts` (`many` for a plural that is not
    one + s)."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def day(value: date, tz: tzinfo | None = None, today: date | None = None) -> str:
    """`Fri 12 Dec 2026`, without the year when it is this year."""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date() if tz else value.date()
    if today is not None and value.year == today.year:
        return value.strftime("%a %-d %b")
    return value.strftime("%a %-d %b %Y")


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%a %-d %b %H:%M")
