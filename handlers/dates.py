"""Natural-language dates and times, read in the member's timezone.

Numeric dates are read here, in the order the team's locale writes them (babel's short
date pattern: `M/d/yy` in en_US, `dd/MM/y` in en_GB): `15/12` and `12/15` are both 15
December, `05/06` is May 6 in en_US and 5 June in en_GB. A date with dots (`15.12.`,
`15.12.2026`) is day first unless the locale itself writes dates with dots month first
(hungarian `y. MM. dd.`): no locale writes month.day. Words go to dateparser.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from babel.dates import get_date_format

from handlers.errors import UsageError
from handlers.grammar import Args

if TYPE_CHECKING:
    import dateparser

Prefer = Literal["future", "past"]
EXAMPLES = "e.g. 15.12., 2026-12-15, Dec 15, next friday, in 3 weeks"
# The years a typed date may name: beyond them, time zones and date arithmetic overflow.
FIRST_YEAR, LAST_YEAR = 1900, 9000
# How far an expected close date may be from today.
CLOSE_WITHIN = timedelta(days=10 * 366)
_NUMERIC = re.compile(r"(\d{1,4})([./-])(\d{1,2})(?:\2(\d{2}|\d{4}))?\.?")
_NUMERIC_START = re.compile(r"(\d{1,4}[./-]\d{1,2}(?:[./-](?:\d{4}|\d{2}))?\.?)(?:\s+|$)")
# How sales people give a close date: "end of month", "EOQ", "Q1 2027", "end of March",
# "mid-April", "next quarter", "end of next year", "end of 2027". Matched on the phrase in
# English and lowercase, after `by`/`until`/`the`; a month or quarter without its year is
# the next one (looking ahead) or the last one (looking back).
_LEAD_IN = re.compile(r"^(?:(?:by|at|until|till|in)\s+)?(?:the\s+)?")
_THIS_PERIOD = re.compile(r"(?:end\s+of\s+(?:the\s+|this\s+)?(month|quarter|year)|eo([mqy]))")
_NEXT_PERIOD = re.compile(
    r"(?:end\s+of\s+(?:the\s+)?next\s+(month|quarter|year)|next\s+(quarter))"
)
_QUARTER = re.compile(r"(?:end\s+of\s+)?q([1-4])(?:\s*[/'’-]?\s*(\d{4}|\d{2}))?")
_IN_MONTH = re.compile(r"(end\s+of|mid-?)\s*([a-z]+)\.?(?:\s+(\d{4}))?")
_YEAR_END = re.compile(r"end\s+of\s+(\d{4})")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_NUMBER = {
    name: number
    for number, (day, short) in enumerate(
        zip(
            _WEEKDAYS,
            ("mon", "tue tues", "wed", "thu thur thurs", "fri", "sat", "sun"),
            strict=True,
        )
    )
    for name in (day, *short.split())
}
# A day of a named week, which dateparser reads as the week alone (`next week tuesday`: the
# Monday a week from now) or as the day alone (`tuesday next week`: tomorrow), and the end
# of a week (its Friday, as the working week ends).
DAY_OF_WEEK = re.compile(
    r"^(?:on\s+)?(?:(?P<day>" + "|".join(WEEKDAY_NUMBER) + r")\s+(?:of\s+)?(?P<week>this|next)"
    r"\s+week|(?P<week_first>this|next)\s+week\s+(?:on\s+)?(?P<day_after>"
    + "|".join(WEEKDAY_NUMBER)
    + r")|(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+)?(?P<end>this\s+|next\s+)?week|eow)\b"
)
_MONTH_ONLY = re.compile(r"([a-z]+)\.?(?:\s+(\d{4}))?")
# Month names and their short forms, as typed.
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}


# German date words, word for word in English, for teams whose locale is German: dateparser
# is asked in English only (in German it takes `Mo` and `Do` for other things), and a rep
# in Hamburg writes `Fr 14 Uhr`. `Uhr` makes the number before it an hour and is itself
# no word ("").
_GERMAN = {
    **dict.fromkeys(("montag", "mo"), "monday"),
    **dict.fromkeys(("dienstag", "di"), "tuesday"),
    **dict.fromkeys(("mittwoch", "mi"), "wednesday"),
    **dict.fromkeys(("donnerstag", "do"), "thursday"),
    **dict.fromkeys(("freitag", "fr"), "friday"),
    **dict.fromkeys(("samstag", "sonnabend", "sa"), "saturday"),
    **dict.fromkeys(("sonntag", "so"), "sunday"),
    "heute": "today",
    "morgen": "tomorrow",
    "übermorgen": "day after tomorrow",
    **dict.fromkeys(("früh", "morgens", "vormittag", "vormittags"), "morning"),
    **dict.fromkeys(("mittag", "mittags"), "noon"),
    **dict.fromkeys(("nachmittag", "nachmittags"), "afternoon"),
    **dict.fromkeys(("abend", "abends"), "evening"),
    "nacht": "night",
    **dict.fromkeys(
        ("nächste", "nächsten", "nächster", "nächstes", "kommende", "kommenden"), "next"
    ),
    "um": "at",
    "im": "in",
    "bis": "by",
    **dict.fromkeys(("einer", "einem"), "an"),
    **dict.fromkeys(("minute", "minuten"), "minutes"),
    **dict.fromkeys(("stunde", "stunden", "std"), "hours"),
    **dict.fromkeys(("tag", "tage", "tagen"), "days"),
    **dict.fromkeys(("woche", "kw"), "week"),
    "wochen": "weeks",
    **dict.fromkeys(("dieses", "diesen", "diese", "dieser"), "this"),
    **dict.fromkeys(
        ("letzte", "letzten", "letzter", "letztes", "vorige", "vorigen", "voriger", "voriges"),
        "last",
    ),
    **dict.fromkeys(("vergangene", "vergangenen", "vergangener", "vergangenes"), "last"),
    "seit": "since",
    "gestern": "yesterday",
    "monat": "month",
    **dict.fromkeys(("monate", "monaten"), "months"),
    "quartal": "quarter",
    "ende": "end of",
    "mitte": "mid",
    **dict.fromkeys(("des", "der"), "the"),
    "monatsende": "end of month",
    "quartalsende": "end of quarter",
    "jahresende": "end of year",
    "monats": "month",
    "quartals": "quarter",
    **dict.fromkeys(("jahr", "jahres"), "year"),
    **dict.fromkeys(("januar", "jänner"), "january"),
    "februar": "february",
    "märz": "march",
    "mai": "may",
    "juni": "june",
    "juli": "july",
    **dict.fromkeys(("oktober", "okt"), "october"),
    **dict.fromkeys(("dezember", "dez"), "december"),
    "uhr": "",
}
_GERMAN_DAYS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
)
# `so` is also an everyday word (`so bald wie möglich`): Sunday only next to a time or day.
_EVERYDAY = frozenset(["so"])
_HOUR = re.compile(r"(?:[01]?\d|2[0-3])")


def in_english(words: list[str], *, locale: str) -> list[str]:
    """`words` with a German team's date words in English, one for one (an
    English team's words as they are): `fr 14 uhr` -> `friday 14:00 ""`, `am montag` ->
    `on monday`, `am 15.12.` -> `"" 15.12.` (but `9 am` stays)."""
    if not locale.lower().startswith("de"):
        return words
    lower = [word.lower() for word in words]
    english = [_GERMAN.get(word, typed) for word, typed in zip(lower, words, strict=True)]
    for i, word in enumerate(lower):
        following = english[i + 1].lower() if i + 1 < len(words) else ""
        if word == "uhr" and i > 0 and _HOUR.fullmatch(words[i - 1]):
            english[i - 1] = f"{words[i - 1]}:00"
        elif word == "morgen" and i > 0 and lower[i - 1] == "heute":
            english[i] = "morning"  # `heute Morgen`: this morning, not tomorrow
        elif word == "am" and following in _GERMAN_DAYS:
            english[i] = "on"
        elif word == "am" and _NUMERIC.fullmatch(following):
            english[i] = ""  # `am 15.12.`: the date reads as one on its own
        elif word in _EVERYDAY and not (
            any(ch.isdigit() for ch in following)
            or (i > 0 and english[i - 1] in ("on", "next", "by"))
        ):
            english[i] = word
    return english


def parse_moment(
    text: str,
    *,
    tz: tzinfo,
    now: datetime,
    prefer: Prefer = "future",
    locale: str = "en_US",
) -> datetime | None:
    """`tomorrow 9am` -> an aware datetime in UTC terms, or None when unreadable.

    `prefer` settles phrases that could go either way (`monday`, `1 sep`): reminders and
    close dates look ahead, reports (`since monday`) look back."""
    text = " ".join(word for word in in_english(text.split(), locale=locale) if word)
    if not text:
        return None
    if "T" in text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=tz) if _sane(moment) else None
    numeric = _NUMERIC_START.match(text)
    today = now.astimezone(tz).date()
    day = (
        numeric_day(numeric.group(1), locale=locale, today=today, prefer=prefer)
        if numeric
        else None
    )
    if numeric is None or day is None:
        return _natural(text, tz=tz, now=now, prefer=prefer)  # `9.30` may be a time
    midnight = datetime.combine(day, datetime.min.time(), tz)
    rest = text[numeric.end() :].strip()
    if not rest:
        return midnight
    # The time after the date (`15.12. 3pm`), read as a time on that day.
    at = _natural(rest, tz=tz, now=midnight, prefer=prefer)
    return at if at is not None and at.date() == day else None


def read_day(
    text: str,
    *,
    tz: tzinfo,
    now: datetime,
    prefer: Prefer = "future",
    locale: str = "en_US",
) -> date | None:
    """A calendar day (`next friday`, `2026-12-15`, `15.12.`), or None when unreadable. An
    ISO date is taken as it is, whatever its year, for the caller to judge."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        pass
    english = " ".join(word for word in in_english(text.split(), locale=locale) if word)
    today = now.astimezone(tz).date()
    day = _sales_day(english.lower(), today, prefer) or _weekday(english.lower(), today, prefer)
    if day is not None:
        return day
    moment = parse_moment(text, tz=tz, now=now, prefer=prefer, locale=locale)
    return None if moment is None else moment.astimezone(tz).date()


def _sales_day(phrase: str, today: date, prefer: Prefer) -> date | None:
    """The day a sales phrase names (`end of month`, `Q1`, `mid-March`), or None."""
    if found := DAY_OF_WEEK.fullmatch(phrase):
        return day_of_week(found, today)[0]
    phrase = _LEAD_IN.sub("", phrase, count=1)
    if found := CALENDAR_WEEK.fullmatch(phrase):
        monday = calendar_week(found, today, prefer)
        return None if monday is None else monday + timedelta(days=4)  # its working week's end
    if found := _THIS_PERIOD.fullmatch(phrase):
        return _period_end(found.group(1) or found.group(2), today, ahead=0)
    if found := _NEXT_PERIOD.fullmatch(phrase):
        return _period_end(found.group(1) or found.group(2), today, ahead=1)
    if found := _YEAR_END.fullmatch(phrase):
        return _day(int(found.group(1)), 12, 31)
    if found := _QUARTER.fullmatch(phrase):
        last_month = int(found.group(1)) * 3
        year = _full_year(found.group(2))
        return _nearest(today, prefer, year, lambda y: _month_end(y, last_month))
    if (found := _IN_MONTH.fullmatch(phrase)) and found.group(2) in MONTHS:
        month = MONTHS[found.group(2)]
        year = _full_year(found.group(3))
        if found.group(1).startswith("mid"):
            return _nearest(today, prefer, year, lambda y: date(y, month, 15))
        return _nearest(today, prefer, year, lambda y: _month_end(y, month))
    # A deal closes in a month (`close:March`, `close:Dec 2027`) by its end, as in a quarter;
    # the day of the month is not today's, nor is December a year away in December.
    found = _MONTH_ONLY.fullmatch(phrase) if prefer == "future" else None
    if found and found.group(1) in MONTHS:
        month = MONTHS[found.group(1)]
        return _nearest(today, prefer, _full_year(found.group(2)), lambda y: _month_end(y, month))
    return None


# A calendar week (ISO 8601, Monday to Sunday), as German and Nordic offices name weeks:
# `KW 50`, `KW50/2027`, `week 3`, `CW 12 2027`.
CALENDAR_WEEK = re.compile(r"(?:kw|cw|calendar\s+week|week)\s*(\d{1,2})(?:\s*[/'-]?\s*(\d{4}))?")


def calendar_week(match: re.Match[str], today: date, prefer: Prefer) -> date | None:
    """The Monday of the calendar week `match` names; without a year, the nearest such
    week that has not ended (looking ahead) or has begun (looking back)."""
    week = int(match.group(1))
    year = int(match.group(2)) if match.group(2) else None

    def monday(in_year: int) -> date | None:
        try:
            return date.fromisocalendar(in_year, week, 1)
        except ValueError:
            return None  # no week 0, nor a week 53 in most years

    if year is not None:
        return monday(year) if FIRST_YEAR <= year <= LAST_YEAR else None
    this_year = monday(today.isocalendar().year)
    if prefer == "future":
        if this_year is not None and this_year + timedelta(days=6) >= today:
            return this_year
        return monday(today.isocalendar().year + 1)
    if this_year is not None and this_year <= today:
        return this_year
    return monday(today.isocalendar().year - 1)


def day_of_week(match: re.Match[str], today: date) -> tuple[date, bool]:
    """The day a `DAY_OF_WEEK` phrase names, and whether it is a week's end (its Friday):
    this week runs from Monday to Sunday; a week's end said at the weekend, without
    `this` or `next`, is the coming one."""
    weeks = match.group("week") or match.group("week_first") or match.group("end") or ""
    named = match.group("day") or match.group("day_after")
    monday = today - timedelta(days=today.weekday())
    if weeks.strip() == "next":
        monday += timedelta(weeks=1)
    if named is not None:
        return monday + timedelta(days=WEEKDAY_NUMBER[named]), False
    friday = monday + timedelta(days=4)
    if not weeks and friday < today:
        friday += timedelta(weeks=1)
    return friday, True


_WEEKDAY = re.compile(rf"(next |on |this )?({'|'.join(_WEEKDAYS)})")


def _weekday(phrase: str, today: date, prefer: Prefer) -> date | None:
    """Looking ahead, `friday`, `next friday` or `on friday`: the first Friday after today;
    `this friday`: this week's, today included (on a Saturday, the next). What dateparser
    reads them as (checked against it over a year of days, in four time zones), without
    its millisecond, the most of a `/deal ... close:next friday`. Looking back, and other
    phrasings (`fri`, `friday 3pm`), are dateparser's."""
    found = _WEEKDAY.fullmatch(phrase)
    if found is None or prefer != "future":
        return None
    ahead = (WEEKDAY_NUMBER[found.group(2)] - today.weekday()) % 7
    if found.group(1) != "this ":
        ahead = ahead or 7
    return today + timedelta(days=ahead)


def _full_year(typed: str | None) -> int | None:
    return None if typed is None else int(typed) + (2000 if len(typed) == 2 else 0)


def _nearest(
    today: date, prefer: Prefer, year: int | None, day_in: Callable[[int], date]
) -> date | None:
    """`day_in(year)`, or without a year the first such day from today on (looking
    ahead) or the last one up to today (looking back)."""
    if year is not None:
        return day_in(year) if FIRST_YEAR <= year <= LAST_YEAR else None
    if prefer == "future":
        return day_in(today.year) if day_in(today.year) >= today else day_in(today.year + 1)
    return day_in(today.year) if day_in(today.year) <= today else day_in(today.year - 1)


def _period_end(period: str, today: date, *, ahead: int) -> date:
    """The last day of the month, quarter or year `today` is in, or `ahead` after it."""
    unit = {"m": 1, "q": 3, "y": 12}[period[0]]
    last_month = (today.month - 1) // unit * unit + unit
    return _month_end(*add_months(today.year, last_month, ahead * unit))


def _month_end(year: int, month: int) -> date:
    return date(year, month, monthrange(year, month)[1])


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    """The year and month `months` after `month` of `year` (before it, when negative)."""
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def numeric_day(text: str, *, locale: str, today: date, prefer: Prefer) -> date | None:
    """`15.12.`, `15/12`, `12/15/2026`, `2026/12/15`, `15-12-26`: a day in the order the
    locale writes them, or with / and -, the other order when only that one is a date.
    Without a year, the next such day (or, preferring the past, the last one)."""
    match = _NUMERIC.fullmatch(text.strip())
    if match is None:
        return None
    first, separator, second, year_text = match.groups()
    if len(first) == 4:  # year first: 2026/12/15
        if year_text is None:
            return None
        return _day(int(first), int(second), int(year_text))
    if len(first) == 3:
        return None
    orders = [(first, second), (second, first)]
    if not _day_first(locale, separator):
        orders.reverse()
    if separator == ".":
        del orders[1:]  # `9.30` is half past nine, not the 30th of September
    for day_text, month_text in orders:
        day_number, month = int(day_text), int(month_text)
        if not (1 <= month <= 12 and 1 <= day_number <= 31):
            continue
        if year_text is not None:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            return _day(year, month, day_number)
        return _next_day(month, day_number, today, prefer)
    return None


@lru_cache(maxsize=64)
def _day_first(locale: str, separator: str) -> bool:
    """Whether `locale` writes the day before the month in numeric dates; with dots, day
    first unless the locale writes its own dates with dots."""
    pattern = get_date_format("short", locale=locale).pattern
    letters = [ch for ch in pattern if ch in "dM"]
    day_first = letters.index("d") < letters.index("M")
    if separator == "." and "." not in pattern:
        return True
    return day_first


def _day(year: int, month: int, day_number: int) -> date | None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    try:
        return date(year, month, day_number)
    except ValueError:
        return None


def _next_day(month: int, day_number: int, today: date, prefer: Prefer) -> date | None:
    """The day with that month and number nearest `today` going the preferred way (29 Feb:
    the nearest leap year's)."""
    step = 1 if prefer == "future" else -1
    for offset in range(9):
        candidate = _day(today.year + step * offset, month, day_number)
        if candidate is not None and (candidate >= today if step > 0 else candidate <= today):
            return candidate
    return None


def take_day(
    args: Args, name: str, *, tz: tzinfo, now: datetime, locale: str = "en_US"
) -> date | None:
    """Option `name` as a day (`close:next friday`, also unquoted); None when not given.
    An expected close more than ten years away, either way, is refused."""
    if name not in args.options:
        return None
    typed = args.options[name]
    day = args.take_phrase(name, lambda text: read_day(text, tz=tz, now=now, locale=locale))
    if day is None:
        raise UsageError(f"I can't read the date “{typed}” ({EXAMPLES}).")
    today = now.astimezone(tz).date()
    if abs(day - today) > CLOSE_WITHIN:
        raise UsageError(
            f"{day.isoformat()} is more than ten years from today; give a date between "
            f"{(today - CLOSE_WITHIN).year} and {(today + CLOSE_WITHIN).year}."
        )
    return day


@lru_cache(maxsize=1)
def _parts_of_day() -> dateparser.PartsOfDay:
    """What `tomorrow morning` and `tonight` mean is ours to say rather than a default that
    a release of dateparser may change (these are 1.5's): the morning starts the working
    day at nine, as a day named without a time does."""
    import dateparser

    return dateparser.PartsOfDay(
        morning=time(9), afternoon=time(15), evening=time(18), night=time(20)
    )


def _natural(text: str, *, tz: tzinfo, now: datetime, prefer: Prefer) -> datetime | None:
    # dateparser (0.1 s to import, and its language data) only for dates typed in words.
    import dateparser

    local_now = now.astimezone(tz)
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "PREFER_DATES_FROM": prefer,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "PARTS_OF_DAY": _parts_of_day(),
        },
    )
    if parsed is None or not _sane(parsed):
        return None
    return parsed.replace(tzinfo=tz)


def _sane(moment: datetime) -> bool:
    return FIRST_YEAR <= moment.year <= LAST_YEAR
